"""Measure one client in a fresh process: ``python -m benchmarks.worker < plan.json`` prints one JSON line.

The process is disposable: the in-flight scenario runs last and leaves its open calls behind, and the
process exits without tearing them down.

A process per client (and per repetition) keeps the measurements apart: each imports only its own library,
so no client pays for another's import in garbage-collection time, and a client's lazily built state (pools,
caches) starts cold in every repetition and is warmed the same way for all.

CPU is ``time.process_time`` of this process only; the server runs in another process.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.clients import ADAPTERS, Adapter, Target
from benchmarks.workloads import use_workload

__all__ = ["InflightPlan", "WorkerPlan", "main", "measure"]

_OPEN_CALLS: list[asyncio.Task[None]] = []


@dataclass(frozen=True, slots=True)
class InflightPlan:
    """The in-flight scenario: ``concurrency`` calls kept open against the held deployment.

    CPU and completions are counted in a window that opens once the first ``concurrency`` calls have come
    back (every connection is open) and ``settle_min`` seconds have passed, or at ``settle_max``; it closes
    after ``window_min`` seconds and ``min_completions`` calls, or at ``window_max`` seconds, whichever is first.
    The settling time matters for clients on httpx's own pool: their first wave is cheap (about 2 ms a call)
    and only once it is back does every request pay for the pool's scans (15-65 ms a call).
    """

    concurrency: int = 200
    settle_min: float = 2.0
    settle_max: float = 3.0
    window_min: float = 1.0
    window_max: float = 2.5
    min_completions: int = 200


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    """How much of each scenario to run (``--quick`` shrinks every count)."""

    construct_max: int = 200
    construct_seconds: float = 0.5
    warmup_calls: int = 20
    calls: int = 300
    warmup_streams: int = 3
    streams: int = 20
    chunks_per_stream: int = 104
    batches: int = 5
    inflight: InflightPlan = field(default_factory=InflightPlan)
    scenarios: tuple[str, ...] = ("construct", "call", "stream", "inflight")


def _construct(adapter: Adapter, target: Target, plan: WorkerPlan) -> dict[str, float]:
    adapter.construct(target)  # the first build pays lazy imports and caches
    times: list[float] = []
    deadline = time.perf_counter() + plan.construct_seconds
    while len(times) < plan.construct_max and (time.perf_counter() < deadline or len(times) < 3):
        started = time.perf_counter()
        adapter.construct(target)
        times.append(time.perf_counter() - started)
    return {"construct_us": statistics.median(times) * 1e6, "constructions": len(times)}


def _batched(run: Callable[[], None], count: int, batches: int) -> tuple[float, float]:
    """(median CPU, median wall) seconds per ``run`` over ``batches`` batches of ``count`` runs in all.

    The median of batches, not one long loop: a spell of load from elsewhere on the machine then spoils one
    batch instead of shifting the whole figure.
    """
    size = max(1, count // batches)
    cpu: list[float] = []
    wall: list[float] = []
    for _ in range(max(1, count // size)):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(size):
            run()
        cpu.append((time.process_time() - cpu0) / size)
        wall.append((time.perf_counter() - wall0) / size)
    return statistics.median(cpu), statistics.median(wall)


def _calls(adapter: Adapter, plan: WorkerPlan) -> dict[str, float]:
    for _ in range(plan.warmup_calls):
        adapter.call()
    cpu, wall = _batched(adapter.call, plan.calls, plan.batches)
    return {"call_cpu_us": cpu * 1e6, "call_wall_us": wall * 1e6}


def _streams(adapter: Adapter, plan: WorkerPlan) -> dict[str, float]:
    for _ in range(plan.warmup_streams):
        adapter.stream()
    cpu, _ = _batched(adapter.stream, plan.streams, plan.batches)
    return {"stream_cpu_us": cpu * 1e6, "chunk_cpu_us": cpu / plan.chunks_per_stream * 1e6}


async def _inflight(adapter: Adapter, target: Target, plan: InflightPlan) -> dict[str, Any]:
    await adapter.asetup(target)
    state = {"completions": 0, "errors": 0}
    first_error: list[str] = []

    async def worker() -> None:
        while True:
            try:
                await adapter.acall()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failing client must show up in the report, not hang the run
                state["errors"] += 1
                if not first_error:
                    first_error.append(f"{type(exc).__name__}: {exc}"[:300])
                await asyncio.sleep(0.01)
            else:
                state["completions"] += 1

    # asyncio keeps only weak references to tasks; these must outlive this coroutine (they are abandoned).
    _OPEN_CALLS.extend(asyncio.create_task(worker()) for _ in range(plan.concurrency))
    started = time.perf_counter()
    while True:
        elapsed = time.perf_counter() - started
        settled = state["completions"] >= plan.concurrency and elapsed >= plan.settle_min
        if settled or elapsed >= plan.settle_max:
            break
        await asyncio.sleep(0.02)
    wall0, cpu0, done0 = time.perf_counter(), time.process_time(), state["completions"]
    while True:
        await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - wall0
        done = state["completions"] - done0
        if (elapsed >= plan.window_min and done >= plan.min_completions) or elapsed >= plan.window_max:
            break
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    # The calls still open are abandoned, not cancelled: cancelling 200 requests on httpx's own pool costs
    # that pool's scan per cancellation (10-15 s for the slow clients). The worker exits right after.
    result: dict[str, Any] = {
        "inflight_completions": done,
        "inflight_window_s": wall,
        "inflight_calls_per_s": done / wall,
        "inflight_cpu_us": cpu / done * 1e6 if done else None,
        "inflight_errors": state["errors"],
    }
    if first_error:
        result["inflight_first_error"] = first_error[0]
    return result


def _profile(adapter: Adapter, plan: WorkerPlan, top: int = 25) -> dict[str, str]:
    """cProfile of the sync call and stream loops, sorted by own time (run after, never during, timing)."""
    out: dict[str, str] = {}
    for name, run, count in (("call", adapter.call, plan.calls), ("stream", adapter.stream, plan.streams)):
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(count):
            run()
        profiler.disable()
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
        out[name] = text.getvalue()
    return out


def measure(client: str, target: Target, plan: WorkerPlan, *, profile: bool = False) -> dict[str, Any]:
    """Run the planned scenarios for ``client``; a scenario that fails is reported, not raised."""
    adapter = ADAPTERS[client]()
    result: dict[str, Any] = {"client": client}
    errors: dict[str, str] = {}
    steps: list[tuple[str, Any]] = []
    if adapter.sync:
        steps += [
            ("construct", lambda: _construct(adapter, target, plan)),
            ("call", lambda: _calls(adapter, plan)),
            ("stream", lambda: _streams(adapter, plan)),
        ]
    if adapter.asynchronous:
        # Not asyncio.run: that would cancel the abandoned calls at the end (see _inflight).
        loop = asyncio.new_event_loop()
        steps.append(("inflight", lambda: loop.run_until_complete(_inflight(adapter, target, plan.inflight))))
    if adapter.sync:
        try:
            adapter.setup(target)
        except Exception as exc:
            return {"client": client, "errors": {"setup": f"{type(exc).__name__}: {exc}"[:300]}}
    for name, step in steps:
        if name not in plan.scenarios:
            continue
        try:
            result.update(step())
        except Exception as exc:  # one broken scenario must not hide the others
            errors[name] = f"{type(exc).__name__}: {exc}"[:300]
    if profile and adapter.sync:
        result["profile"] = _profile(adapter, plan)
    if errors:
        result["errors"] = errors
    return result


def _target(raw: dict[str, Any]) -> Target:
    return Target(
        endpoint=raw["endpoint"],
        api_key=raw["api_key"],
        api_version=raw["api_version"],
        deployment=raw["deployment"],
        held_deployment=raw["held_deployment"],
        body=raw["body"].encode("utf-8"),
        stream_body=raw["stream_body"].encode("utf-8"),
    )


def _plan(raw: dict[str, Any]) -> WorkerPlan:
    inflight = InflightPlan(**raw.pop("inflight"))
    raw["scenarios"] = tuple(raw["scenarios"])
    return WorkerPlan(**raw, inflight=inflight)


def main() -> None:
    """Read ``{"client", "target", "plan", "profile", "workload"}`` as JSON on stdin; print one JSON line."""
    spec = json.loads(sys.stdin.read())
    use_workload(spec.get("workload", "one-word"))
    result = measure(spec["client"], _target(spec["target"]), _plan(spec["plan"]), profile=spec.get("profile", False))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    # No interpreter teardown: the in-flight scenario leaves its calls open on purpose.
    os._exit(0)


if __name__ == "__main__":
    main()
