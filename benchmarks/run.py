"""Run the benchmark: ``python -m benchmarks.run [--quick] [--json out.json] [--clients a,b] [--profile]
[--workload one-word|realistic|both] [--instructions] [--imports-only]``.

One run starts the fixed-response server in its own process, measures import times in fresh interpreters,
then measures every installed client in a fresh worker process per repetition (clients interleaved, so a
slow spell on the machine hits all of them alike), and prints the figures as ratios against plain httpx,
with the gateway's targets marked pass or fail. Targets are reported, never asserted: timing belongs here,
not in the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.clients import ADAPTERS, Target, unavailable_reason
from benchmarks.imports import FRAMEWORK_IMPORTS, IMPORTS, import_margins, import_times, render_imports
from benchmarks.instructions import count_client
from benchmarks.report import environment, render_markdown, summarize
from benchmarks.server import FixedResponses
from benchmarks.worker import InflightPlan, WorkerPlan
from benchmarks.workloads import SERVED, target_for

__all__ = ["IMPORTS", "RunPlan", "main", "run"]

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bench-key"
API_VERSION = "2024-10-21"


@dataclasses.dataclass(frozen=True, slots=True)
class RunPlan:
    """A whole run: repetitions, server settings, import runs, and each worker's plan."""

    reps: int = 3
    chunks: int = 100
    hold_ms: float = 250.0
    chunk_gap_ms: float = 0.0
    import_runs: int = 5
    imports: tuple[str, ...] = tuple(module for _, module in IMPORTS)
    worker: WorkerPlan = dataclasses.field(default_factory=WorkerPlan)
    workload: str = "one-word"
    answer_words: int = 0
    instruction_calls: int = 0


FULL = RunPlan()
QUICK = RunPlan(
    reps=1,
    hold_ms=100.0,
    import_runs=1,
    imports=("httpx", "shared_core"),
    worker=WorkerPlan(
        construct_max=20,
        construct_seconds=0.05,
        warmup_calls=5,
        calls=30,
        warmup_streams=1,
        streams=3,
        batches=1,
        inflight=InflightPlan(
            concurrency=50, settle_min=0.3, settle_max=1.0, window_min=0.2, window_max=0.6, min_completions=50
        ),
    ),
)


@contextlib.contextmanager
def bench_server(plan: RunPlan) -> Iterator[str]:
    """Start ``benchmarks.server`` in its own process and yield its endpoint; it stops when we close its stdin."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.server",
        "--port",
        "0",
        "--print-endpoint",
        "--stop-on-stdin-eof",
        "--api-key",
        API_KEY,
        "--chunks",
        str(plan.chunks),
        "--hold-ms",
        str(plan.hold_ms),
        "--chunk-gap-ms",
        str(plan.chunk_gap_ms),
        "--answer-words",
        str(plan.answer_words),
    ]
    server = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 20.0)
        line = server.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("http://"):
            raise RuntimeError(f"the benchmark server did not start (exit code {server.poll()})")
        yield line
    finally:
        if server.stdin is not None:
            server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def gateway_bodies(endpoint: str) -> tuple[bytes, bytes]:
    """The bytes the gateway sends for one user message, non-streaming and streaming."""
    from shared_core import ChatRequest, Gateway, Message

    gateway = Gateway(endpoint=endpoint, api_key=API_KEY, default_deployment="bench", env={})
    request = ChatRequest((Message.user("hi"),))
    return (
        gateway.prepare(request, stream=False).http_request.body,
        gateway.prepare(request, stream=True).http_request.body,
    )


def run_worker(
    client: str, target: Target, plan: WorkerPlan, *, profile: bool = False, workload: str = "one-word"
) -> dict[str, Any]:
    """Measure one client in a fresh process; a crash becomes an ``errors`` entry."""
    spec = {
        "client": client,
        "target": {
            **{
                f.name: getattr(target, f.name)
                for f in dataclasses.fields(target)
                if f.name not in ("body", "stream_body")
            },
            "body": target.body.decode("utf-8"),
            "stream_body": target.stream_body.decode("utf-8"),
        },
        "plan": dataclasses.asdict(plan),
        "profile": profile,
        "workload": workload,
    }
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.worker"],
        check=False,
        cwd=ROOT,
        input=json.dumps(spec).encode(),
        capture_output=True,
        timeout=300,
        env=env,
    )
    lines = done.stdout.decode().strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        return {"client": client, "errors": {"worker": " | ".join(tail)[:400] or f"exit code {done.returncode}"}}
    return json.loads(lines[-1])


def instruction_counts(
    clients: Sequence[str], endpoint: str, plan: RunPlan, chunks_per_stream: int, log: Any
) -> dict[str, dict[str, float]]:
    """Instructions per call and per chunk of each sync client, counted by callgrind (``benchmarks.instructions``)."""
    out: dict[str, dict[str, float]] = {}
    scenarios = [s for s in ("call", "stream") if s in plan.worker.scenarios]
    for name in clients:
        if not ADAPTERS[name].sync:
            continue
        print(f"callgrind: {name} ({', '.join(scenarios)})", file=log, flush=True)
        row: dict[str, float] = {}
        for scenario in scenarios:
            calls = plan.instruction_calls if scenario == "call" else max(2, plan.instruction_calls // 10)
            total = count_client(name, endpoint, scenario=scenario, calls=calls, workload=plan.workload)
            row["call" if scenario == "call" else "chunk"] = (
                total / calls / (1 if scenario == "call" else chunks_per_stream)
            )
        out[name] = row
    return out


def run(plan: RunPlan, clients: Sequence[str], *, profile: bool = False, log: Any = sys.stderr) -> dict[str, Any]:
    """Run everything in ``plan`` for ``clients``; returns the report (see ``benchmarks/README.md``)."""
    started = time.perf_counter()
    skipped = {name: reason for name in clients if (reason := unavailable_reason(name)) is not None}
    measured = [name for name in clients if name not in skipped]
    report: dict[str, Any] = {"environment": environment(), "plan": dataclasses.asdict(plan), "skipped": skipped}
    chunks_per_stream = FixedResponses(plan.chunks, plan.answer_words).data_events
    worker_plan = dataclasses.replace(plan.worker, chunks_per_stream=chunks_per_stream)
    with bench_server(plan) as endpoint:
        target = target_for(endpoint, plan.workload)
        if plan.imports:
            print(f"server {endpoint}; timing imports ({plan.import_runs} run(s) each)", file=log, flush=True)
        report["imports_ms"] = import_times(plan.imports, plan.import_runs) if plan.imports else {}
        report["import_margins_ms"] = import_margins(report["imports_ms"])
        reps: dict[str, list[dict[str, Any]]] = {name: [] for name in measured}
        for rep in range(plan.reps):
            for name in measured:
                began = time.perf_counter()
                reps[name].append(run_worker(name, target, worker_plan, workload=plan.workload))
                took = time.perf_counter() - began
                print(f"rep {rep + 1}/{plan.reps}: {name} ({took:.1f} s)", file=log, flush=True)
        report["raw"] = reps
        if plan.instruction_calls:
            report["instructions"] = instruction_counts(measured, endpoint, plan, chunks_per_stream, log)
        if profile and "gateway" in measured:
            print("profiling the gateway (cProfile)", file=log, flush=True)
            report["profile"] = run_worker("gateway", target, worker_plan, profile=True).get("profile", {})
    report["summary"] = summarize(reps, plan.worker.inflight.concurrency, plan.hold_ms)
    report["environment"]["load_average_end"] = os.getloadavg()
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def _add_import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--imports-only",
        action="store_true",
        help="only our packages' import time over their floors (no server or clients; python -m benchmarks.imports)",
    )
    parser.add_argument("--import-runs", type=int, help="interleaved runs per module (5; 7 with --imports-only)")


def _imports_only(runs: int) -> int:
    times = import_times(FRAMEWORK_IMPORTS, runs)
    print("\n".join(render_imports(times, import_margins(times))).strip())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description="Client overhead of the gateway against plain httpx and the anchors.")
    parser.add_argument(
        "--quick", action="store_true", help="one short repetition (15-20 s with every anchor on an idle machine)"
    )
    parser.add_argument("--json", type=Path, help="also write the whole report (raw figures included) here")
    parser.add_argument("--clients", help=f"comma-separated subset of: {','.join(ADAPTERS)}")
    parser.add_argument("--reps", type=int, help="repetitions (3 by default, 1 with --quick)")
    parser.add_argument("--scenarios", help="comma-separated subset of: construct,call,stream,inflight")
    parser.add_argument(
        "--chunk-gap-ms", type=float, help="pause between stream chunks, so each arrives in its own read (default 0)"
    )
    parser.add_argument("--no-imports", action="store_true", help="skip the import-time measurements")
    _add_import_arguments(parser)
    parser.add_argument("--profile", action="store_true", help="also cProfile the gateway's call and stream loops")
    parser.add_argument(
        "--workload",
        choices=("one-word", "realistic", "both"),
        default="one-word",
        help="'hi' and a 100-chunk stream, or a system and a user message, a 64-word answer, a 200-chunk stream",
    )
    parser.add_argument(
        "--instructions",
        nargs="?",
        const=30,
        type=int,
        metavar="CALLS",
        help="also count instructions per call and per chunk under callgrind (CALLS calls, a tenth as many streams)",
    )
    args = parser.parse_args(argv)
    if args.imports_only:
        return _imports_only(args.import_runs or 7)
    plan = QUICK if args.quick else FULL
    if args.import_runs:
        plan = dataclasses.replace(plan, import_runs=args.import_runs)
    if args.instructions:
        plan = dataclasses.replace(plan, instruction_calls=args.instructions)
    if args.reps:
        plan = dataclasses.replace(plan, reps=args.reps)
    if args.chunk_gap_ms:
        plan = dataclasses.replace(plan, chunk_gap_ms=args.chunk_gap_ms)
    if args.no_imports:
        plan = dataclasses.replace(plan, imports=())
    if args.scenarios:
        chosen = tuple(s.strip() for s in args.scenarios.split(",") if s.strip())
        plan = dataclasses.replace(plan, worker=dataclasses.replace(plan.worker, scenarios=chosen))
    clients = list(ADAPTERS) if not args.clients else [c.strip() for c in args.clients.split(",") if c.strip()]
    unknown = [c for c in clients if c not in ADAPTERS]
    if unknown:
        parser.error(f"unknown client(s): {', '.join(unknown)}; choose from {', '.join(ADAPTERS)}")
    workloads = ("one-word", "realistic") if args.workload == "both" else (args.workload,)
    reports: dict[str, dict[str, Any]] = {}
    for workload in workloads:
        served = SERVED[workload]
        chunks = plan.chunks if workload == "one-word" else served.chunks
        plan_w = dataclasses.replace(plan, workload=workload, chunks=chunks, answer_words=served.answer_words)
        report = reports[workload] = run(plan_w, clients, profile=args.profile)
        if len(workloads) > 1:
            print(f"\n## Workload: {workload}\n")
        print(render_markdown(report))
        if args.profile and report.get("profile"):
            for name, text in report["profile"].items():
                print(f"\n### cProfile: gateway {name} loop\n\n```\n{text}\n```")
    if args.json:
        whole = reports[workloads[0]] if len(workloads) == 1 else reports
        args.json.write_text(json.dumps(whole, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
