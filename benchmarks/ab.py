"""Interleaved A/B of sync CPU per call and per chunk: ``python -m benchmarks.ab [--rounds N] VARIANT...``.

A variant is ``label=client`` or ``label=client@DIR``, where DIR holds the ``shared_core`` package to measure
(for instance ``mkdir /tmp/before && git archive HEAD shared_core | tar -x -C /tmp/before``); ``benchmarks`` and
the framework packages always come from this tree. Each variant runs in its own persistent process; every
round, each runs one batch in shuffled order, so a spell of load from elsewhere hits all of them alike. On a
shared machine this resolves differences of about 3% where whole runs of ``benchmarks.run`` move by 20%.
Ratios are against the first variant.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.clients import ADAPTERS, Target

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
_SCENARIOS = (("call", 30), ("stream", 3))


def _serve(client: str) -> None:
    """Child: build ``client`` for the target on stdin, warm it up, then run ``<call|stream> <n>`` batches."""
    raw = json.loads(sys.stdin.readline())
    target = Target(**{**raw, "body": raw["body"].encode(), "stream_body": raw["stream_body"].encode()})
    adapter = ADAPTERS[client]()
    adapter.setup(target)
    for _ in range(20):
        adapter.call()
    for _ in range(3):
        adapter.stream()
    core = sys.modules.get("shared_core")
    print(json.dumps({"shared_core": getattr(core, "__file__", None)}), flush=True)
    for line in sys.stdin:
        kind, count = line.split()
        run = adapter.call if kind == "call" else adapter.stream
        started = time.process_time()
        for _ in range(int(count)):
            run()
        print(json.dumps((time.process_time() - started) / int(count)), flush=True)


def _spawn(client: str, where: str | None, target: dict[str, str]) -> subprocess.Popen[str]:
    # In DIR (``-c`` puts the working directory first on sys.path), this tree appended last: shared_core comes
    # from DIR, benchmarks and the framework packages from here.
    env = {**os.environ, "PYTHONPATH": where or "", "PYTHONWARNINGS": "ignore"}
    code = f"import sys; sys.path.append({str(ROOT)!r}); from benchmarks.ab import _serve; _serve({client!r})"
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=where or ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(json.dumps(target) + "\n")
    child.stdin.flush()
    print(f"{client} ready: {child.stdout.readline().strip()}", file=sys.stderr)
    return child


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    from benchmarks.run import API_KEY, API_VERSION, FULL, bench_server, gateway_bodies

    parser = argparse.ArgumentParser(description="Interleaved A/B of client CPU per call and per chunk.")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("variants", nargs="+", help="label=client or label=client@DIR (DIR holds shared_core)")
    args = parser.parse_args(argv)
    variants = [(label, *spec.partition("@")[::2]) for label, _, spec in (v.partition("=") for v in args.variants)]
    with bench_server(FULL) as endpoint:
        body, stream_body = gateway_bodies(endpoint)
        target = {"endpoint": endpoint, "api_key": API_KEY, "api_version": API_VERSION, "deployment": "bench"}
        target |= {"held_deployment": "held", "body": body.decode(), "stream_body": stream_body.decode()}
        children = {label: _spawn(client, where or None, target) for label, client, where in variants}
        cpu: dict[tuple[str, str], list[float]] = {(label, kind): [] for label in children for kind, _ in _SCENARIOS}
        for _ in range(args.rounds):
            for kind, count in _SCENARIOS:
                for label in random.sample(list(children), len(children)):
                    child = children[label]
                    assert child.stdin is not None and child.stdout is not None
                    child.stdin.write(f"{kind} {count}\n")
                    child.stdin.flush()
                    cpu[(label, kind)].append(json.loads(child.stdout.readline()))
        for child in children.values():
            assert child.stdin is not None
            child.stdin.close()
            child.wait()
    first = variants[0][0]
    for kind, _ in _SCENARIOS:
        base = statistics.median(cpu[(first, kind)])
        for label in children:
            value = statistics.median(cpu[(label, kind)])
            shown = f"{value * 1e6:8.1f} µs/call" if kind == "call" else f"{value * 1e6 / 104:8.1f} µs/chunk"
            print(f"{kind:6} {label:14} {shown}  {value / base:.3f}x {first}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
