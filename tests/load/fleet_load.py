"""The load run as a fleet: ``--processes N`` forked workers, each with its own Gateway, over the same three
emulated regions with faults, sharing one Redis health store (``--store redis``) or each keeping its own
(``--store local``). Run it::

    python -m tests.load.run_load --processes 4 --store redis --calls 4000 --faults 0.2
    python -m tests.load.run_load --processes 4 --store local --calls 4000 --faults 0.2

Each worker runs its share of the same seeded call mix as the single-process run (sync calls on a thread pool,
async ones on an event loop; answers checked). Region outages are not run in fleet mode (they are paced by one
process's call count). The Redis server is a private ``redis-server`` started for the run; Redis commands per
call come from its own ``INFO commandstats``, read before and after (the ``INFO`` calls themselves left out).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shared_core import HealthStore, InMemoryHealthStore, ListSink
from shared_core.transport.redis_health import RedisHealthStore
from tests.fleet.redis_server import RedisServer
from tests.load.regions import ServerCounts, fault_flags, per_rule_probability, running_regions
from tests.load.run_load import (
    STREAM_SHARE,
    LoadOptions,
    Tally,
    build_gateway,
    drive_async,
    plan_calls,
    run_sync,
)

__all__ = ["FleetReport", "main", "run_fleet_load"]


@dataclass(frozen=True, slots=True)
class _RegionAddress:
    name: str
    endpoint: str


@dataclass
class FleetReport:
    """The fleet run's figures; :meth:`table` prints them."""

    options: LoadOptions
    processes: int
    store: str
    launched: int = 0
    outcomes: Counter[str] = field(default_factory=Counter[str])
    latencies: list[float] = field(default_factory=lambda: [])
    problems: Counter[str] = field(default_factory=Counter[str])
    failures: list[str] = field(default_factory=lambda: [])
    redis_commands: Counter[str] = field(default_factory=Counter[str])
    fallbacks: int = 0
    seconds: float = 0.0
    server: ServerCounts = field(default_factory=ServerCounts)

    @property
    def answered(self) -> int:
        return self.outcomes["answered"]

    @property
    def success_rate(self) -> float:
        """Answered, of the calls made, broken streams aside (never replayed by design)."""
        counted = sum(self.outcomes.values()) - self.outcomes["StreamInterruptedError"]
        return self.answered / counted if counted else 1.0

    def percentile(self, q: float) -> float:
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(q * len(data)))] * 1000 if data else 0.0

    def table(self) -> str:
        raised = ", ".join(f"{k} {v}" for k, v in self.outcomes.most_common() if k != "answered") or "none"
        commands = sum(self.redis_commands.values())
        top = ", ".join(f"{k} {v}" for k, v in self.redis_commands.most_common(6)) or "none"
        rows = [
            ("processes / health store", f"{self.processes} / {self.store}"),
            ("calls launched / answered", f"{self.launched} / {self.answered}"),
            ("calls raised, by typed class", raised),
            ("success rate (broken streams aside)", f"{self.success_rate:.4%}"),
            ("tool calls twice / wrong answers / pieces != text", "{} / {} / {}".format(*self._problems())),
            ("429s sent by the regions (server)", f"{self.server.by_fault['rate_limit']}"),
            ("HTTP attempts (server) / per call", f"{self.server.requests} / {self._per_call(self.server.requests)}"),
            ("attempts per region", ", ".join(f"{k} {v}" for k, v in sorted(self.server.by_region.items()))),
            ("latency p50 / p99 / max (ms)", f"{self.percentile(0.5):.1f} / {self.percentile(0.99):.1f} / "
             f"{self.percentile(1.0):.1f}"),
            ("Redis commands / per call", f"{commands} / {self._per_call(commands)} ({top})"),
            ("fallback events (Redis slower than 50 ms)", f"{self.fallbacks}"),
            ("wall time", f"{self.seconds:.1f} s ({self.launched / max(self.seconds, 1e-9):.0f} calls/s)"),
            ("settings", f"faults {self.options.faults:.0%}, routing {self.options.routing}, max_retries "
             f"{self.options.max_retries}, per process {self.options.threads} threads + "
             f"{self.options.concurrency} async in flight, seed {self.options.seed}"),
        ]  # fmt: skip
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"| {name:<{width}} | {value} |" for name, value in rows)

    def _problems(self) -> tuple[int, int, int]:
        p = self.problems
        return p["tool_calls_twice"], p["wrong_answers"], p["duplicated_pieces"]

    def _per_call(self, count: int) -> str:
        return f"{count / max(1, self.launched):.2f}"


def _worker(  # noqa: PLR0917 - a multiprocessing target takes its arguments by position
    index: int, processes: int, regions: list[_RegionAddress], options: LoadOptions, url: str | None, out: Any
) -> None:
    calls = plan_calls(options.calls, options.seed)[index::processes]
    sink = ListSink()
    store: HealthStore = RedisHealthStore(url=url, sink=sink) if url else InMemoryHealthStore()
    gateway = build_gateway(regions, options, health=store)  # type: ignore[arg-type]
    tally = Tally()
    deadline = time.perf_counter() + options.max_seconds
    looper = threading.Thread(
        target=lambda: asyncio.run(
            drive_async(gateway, [c for c in calls if c.mode in ("acomplete", "astream")], tally, options, deadline)
        )
    )
    looper.start()
    with ThreadPoolExecutor(options.threads) as pool:
        futures = [
            pool.submit(run_sync, gateway, c, tally, deadline) for c in calls if c.mode in ("complete", "stream")
        ]
        wait(futures, timeout=options.max_seconds + options.grace)
    looper.join(timeout=options.max_seconds + 2 * options.grace)
    fallbacks = len(sink.named("health:fleet_fallback"))
    if isinstance(store, RedisHealthStore):
        store.close()
    out.put(
        {
            "launched": tally.launched,
            "outcomes": dict(tally.outcomes + tally.excluded),
            "latencies": list(tally.latencies),
            "problems": {
                "tool_calls_twice": tally.tool_calls_twice,
                "wrong_answers": tally.wrong_answers,
                "duplicated_pieces": tally.duplicated_pieces,
            },
            "failures": tally.failures[:5],
            "fallbacks": fallbacks,
        }
    )


def _commandstats(server: RedisServer | None) -> Counter[str]:
    if server is None:
        return Counter[str]()
    stats: dict[str, dict[str, Any]] = server.client().info("commandstats")  # type: ignore[attr-defined]
    return Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info"})


def run_fleet_load(options: LoadOptions, processes: int, store: str) -> FleetReport:
    """Run the load over ``processes`` forked workers with a shared Redis store or one store each."""
    report = FleetReport(options, processes, store)
    probability = per_rule_probability(options.faults, STREAM_SHARE)
    with tempfile.TemporaryDirectory(prefix="fleet-load-") as directory:
        redis = RedisServer(str(Path(directory) / "redis")) if store == "redis" else None
        if redis is not None:
            (Path(directory) / "redis").mkdir()
            redis.start()
        try:
            with running_regions(Path(directory), fault_flags(probability), options.seed) as regions:
                addresses = [_RegionAddress(r.name, r.endpoint) for r in regions]
                before = _commandstats(redis)
                ctx = multiprocessing.get_context("fork")
                out = ctx.Queue()
                url = redis.url if redis is not None else None
                workers = [
                    ctx.Process(target=_worker, args=(k, processes, addresses, options, url, out))
                    for k in range(processes)
                ]
                started = time.perf_counter()
                for w in workers:
                    w.start()
                results = [out.get(timeout=options.max_seconds + 3 * options.grace) for _ in workers]
                report.seconds = time.perf_counter() - started
                for w in workers:
                    w.join(timeout=30)
                report.redis_commands = _commandstats(redis) - before
                for region in regions:
                    region.stop()
                report.server = ServerCounts.read(regions)
        finally:
            if redis is not None:
                redis.stop()
    for result in results:
        report.launched += result["launched"]
        report.outcomes.update(result["outcomes"])
        report.latencies.extend(result["latencies"])
        report.problems.update(result["problems"])
        report.failures.extend(result["failures"])
        report.fallbacks += result["fallbacks"]
    return report


def main(argv: list[str]) -> int:
    """``python -m tests.load.run_load --processes N --store redis|local [the run's other flags]``."""
    defaults = LoadOptions()
    parser = argparse.ArgumentParser(prog="python -m tests.load.run_load", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--store", choices=("redis", "local"), default="redis")
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--faults", type=float, default=defaults.faults)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--threads", type=int, default=4, help="sync calls at once, per process")
    parser.add_argument("--concurrency", type=int, default=8, help="async calls at once, per process")
    parser.add_argument("--routing", default=defaults.routing)
    parser.add_argument("--max-retries", type=int, default=defaults.max_retries)
    parser.add_argument("--no-outages", action="store_true", help="accepted; fleet runs have no outages")
    args = parser.parse_args(argv)
    options = replace(
        defaults,
        calls=args.calls,
        faults=args.faults,
        seed=args.seed,
        max_seconds=args.max_seconds,
        threads=args.threads,
        concurrency=args.concurrency,
        routing=args.routing,
        outages=False,
        max_retries=args.max_retries,
    )
    report = run_fleet_load(options, args.processes, args.store)
    print(report.table())
    for text in report.failures[:10]:
        print("failed:", text, file=sys.stderr)
    bad = report.launched - sum(report.outcomes.values())
    return 1 if bad or report.problems["tool_calls_twice"] or report.problems["duplicated_pieces"] else 0
