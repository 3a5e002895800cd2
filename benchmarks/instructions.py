"""Instructions per call and per stream chunk, counted by callgrind: a ratio that holds on a noisy machine.

CPU time on a shared machine moves by 10-30% from one run to the next; the number of instructions a call
executes barely moves. Each figure here is the difference between two runs of one client under
``valgrind --tool=callgrind`` that differ only in how many calls they make (``--calls`` and five times as many
after the same warm-up), divided by the difference: start-up and imports cancel out. The server
(``benchmarks.server``) runs outside valgrind in its own process.

Variants are ``label=client``, ``label=client@DIR`` (``shared_core`` taken from DIR, as in ``benchmarks.ab``)
or ``label=client+otel-imported`` / ``+otel-sdk`` (the application imports OpenTelemetry's API without
configuring a provider, or configures the SDK: a tracer provider with no exporter and a meter provider with an
in-memory reader, so the SDK's own span and metric work is counted and no exporter's)::

    python -m benchmarks.instructions gateway off=gateway api=gateway+otel-imported sdk=gateway+otel-sdk
    python -m benchmarks.instructions --workload realistic --scenario stream gateway langchain-gateway langchain-floor

``--workload realistic`` asks with a system and a user message and the server answers 64 words, streamed in
200 chunks; ``one-word`` (the default) is the benchmark's usual "hi" and 100-chunk stream.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["count", "main", "measure"]

ROOT = Path(__file__).resolve().parents[1]
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")
WORKLOADS = {"one-word": 100, "realistic": 200}  # stream chunks per workload


@contextmanager
def running_server(chunks: int, words: int) -> Iterator[str]:
    """``benchmarks.server`` in its own process; yields its endpoint."""
    command = [sys.executable, "-m", "benchmarks.server", "--port", "0", "--print-endpoint", "--api-key", "bench-key"]
    command += ["--chunks", str(chunks), "--stop-on-stdin-eof"]
    if words:
        command += ["--answer-words", str(words)]
    process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=10)


def count(variant: str, endpoint: str, *, scenario: str, calls: int, workload: str) -> int:
    """Instructions one process executes for ``calls`` calls (after the warm-up), start-up included."""
    label_client = variant.partition("=")[2] or variant
    client, _, root = label_client.partition("@")
    client, _, otel = client.partition("+")
    plan = json.dumps({"client": client, "otel": otel, "endpoint": endpoint, "scenario": scenario, "calls": calls,
                       "workload": workload})  # fmt: skip
    code = f"import sys; sys.path.append({str(ROOT)!r}); from benchmarks.instructions_child import run; run({plan!r})"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out", sys.executable, "-c", code]
        done = subprocess.run(command, cwd=root or ROOT, env=env, capture_output=True, text=True, check=False)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{variant}: callgrind run failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def measure(variant: str, endpoint: str, *, scenario: str, calls: int, workload: str) -> float:
    """Instructions per call (``call``) or per stream chunk (``stream``)."""
    few = count(variant, endpoint, scenario=scenario, calls=calls, workload=workload)
    many = count(variant, endpoint, scenario=scenario, calls=calls * 5, workload=workload)
    per_call = (many - few) / (calls * 4)
    if scenario == "stream":
        return per_call / (WORKLOADS[workload] + 4)  # the text chunks and the four framing events
    return per_call


def main(argv: list[str] | None = None) -> None:
    """Print instructions per call or chunk for each variant, and each variant's ratio to the first."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", help="label=client[+otel-imported|+otel-sdk][@DIR]")
    parser.add_argument("--scenario", choices=("call", "stream"), default="call")
    parser.add_argument("--workload", choices=tuple(WORKLOADS), default="one-word")
    parser.add_argument("--calls", type=int, default=20, help="calls in the shorter run (the longer makes 5x)")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    words = 64 if args.workload == "realistic" else 0
    figures: dict[str, float] = {}
    with running_server(WORKLOADS[args.workload], words) as endpoint:
        for variant in args.variants:
            figures[variant.partition("=")[0]] = measure(
                variant, endpoint, scenario=args.scenario, calls=args.calls, workload=args.workload
            )
    unit = "call" if args.scenario == "call" else "chunk"
    first = next(iter(figures.values()))
    print(f"instructions per {unit} ({args.workload} workload, callgrind)")
    for label, value in figures.items():
        print(f"  {label:<28} {value:>14,.0f}   {value / first:6.4f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({"unit": unit, "workload": args.workload, "figures": figures}))


if __name__ == "__main__":
    main()
