"""Instructions per call and per stream chunk, counted by callgrind: a ratio that holds on a noisy machine.

CPU time on a shared machine moves by 10-30% from one run to the next; the number of instructions a call
executes barely moves. Each client runs in its own process under ``valgrind --tool=callgrind``, uninstrumented
(``--instr-atstart=no``, about 5x faster) through its imports, set-up and warm-up; then ``callgrind_control -i
on`` turns instrumentation on and the child makes its ``--calls`` calls from one ``functools.reduce``, the only
place where instructions are counted (``--collect-atstart=no --toggle-collect=functools_reduce``; none of the
measured paths nests a ``reduce`` of its own). Before that, ``gc.freeze()`` takes what the warm process holds
out of the collector's reach, so a full collection landing in one variant's window and not another's does not
decide a ratio. The server
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

from benchmarks.workloads import SERVED

__all__ = ["count", "count_client", "main", "measure"]

ROOT = Path(__file__).resolve().parents[1]
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


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
    """Instructions one process executes for ``calls`` calls, after its warm-up."""
    label_client = variant.partition("=")[2] or variant
    client, _, root = label_client.partition("@")
    client, _, otel = client.partition("+")
    plan = json.dumps({"client": client, "otel": otel, "endpoint": endpoint, "scenario": scenario, "calls": calls,
                       "workload": workload})  # fmt: skip
    code = f"import sys; sys.path.append({str(ROOT)!r}); from benchmarks.instructions_child import run; run({plan!r})"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        # Uninstrumented until the child is warm (5x faster through the imports), then counted only inside
        # functools.reduce.
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out", "--instr-atstart=no"]
        command += ["--collect-atstart=no", "--toggle-collect=functools_reduce", sys.executable, "-c", code]
        child = subprocess.Popen(
            command, cwd=root or ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert child.stdin is not None and child.stdout is not None
        if child.stdout.readline().strip() == "ready":
            subprocess.run(["callgrind_control", "-i", "on", str(child.pid)], capture_output=True, check=False)
            child.stdin.write("go\n")
            child.stdin.flush()
        _, stderr = child.communicate(timeout=1800)
    done = subprocess.CompletedProcess(command, child.returncode, "", stderr)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{variant}: callgrind run failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def count_client(client: str, endpoint: str, *, scenario: str, calls: int, workload: str) -> int:
    """:func:`count` for one client of this tree, with no telemetry (what ``benchmarks.run --instructions`` uses)."""
    return count(client, endpoint, scenario=scenario, calls=calls, workload=workload)


def measure(variant: str, endpoint: str, *, scenario: str, calls: int, workload: str) -> float:
    """Instructions per call (``call``) or per stream chunk (``stream``)."""
    per_call = count(variant, endpoint, scenario=scenario, calls=calls, workload=workload) / calls
    if scenario == "stream":
        return per_call / (SERVED[workload].chunks + 4)  # the text chunks and the four framing events
    return per_call


def main(argv: list[str] | None = None) -> None:
    """Print instructions per call or chunk for each variant, and each variant's ratio to the first."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", help="label=client[+otel-imported|+otel-sdk][@DIR]")
    parser.add_argument("--scenario", choices=("call", "stream"), default="call")
    parser.add_argument("--workload", choices=tuple(SERVED), default="one-word")
    parser.add_argument("--calls", type=int, default=50, help="calls (or streams) counted per client")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    served = SERVED[args.workload]
    figures: dict[str, float] = {}
    with running_server(served.chunks, served.answer_words) as endpoint:
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
