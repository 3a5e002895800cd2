"""The faulted load run: many calls (sync, async, streamed, with tools) through one gateway over three emulated
regions that inject faults, with regional outages on top; every call accounted for.

Run it::

    python -m tests.load.run_load --calls 20000 --faults 0.2

Each region is an emulator process (``tests/load/regions.py``) whose fault rules (429 with a 50 ms
``retry-after-ms``, 503, connection reset, stream cut after four events) hit ``--faults`` of all HTTP requests.
On top, while the run goes: east is killed at 25% of the calls and restarted at 35%, west at 50% / 60%, and all
three at 75% / 78% (``--no-outages`` turns that off). Sync calls run on a thread pool, async calls on one event
loop, all through one :class:`~shared_core.Gateway` routing over the three regions. The run stops launching
calls after ``--max-seconds`` and waits a grace period for those in flight: a call still running then is
*unaccounted for*.

Every answer is checked against what the emulator's responder must have said (``You said: <prompt>``, or exactly
one ``get_weather`` call with ``{"city": "Oslo"}``), so a replayed or duplicated stream, or a tool call emitted
twice, is counted, not assumed away. A call counts towards the success rate unless it overlapped a moment when
all three regions were down; a stream that broke after its first event is reported (typed, partial kept) but
not counted against the rate, since the package never replays a started stream by design.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from shared_core import (
    ChatRequest,
    ChatResult,
    DeploymentConfig,
    EndpointConfig,
    Gateway,
    GatewayError,
    HealthStore,
    Message,
    RetryPolicy,
    StreamEvent,
    StreamInterruptedError,
    TextDelta,
    Timeouts,
    ToolSpec,
    load_config,
)
from shared_core.result import StreamAccumulator
from tests.load.regions import KEY, Region, ServerCounts, fault_flags, per_rule_probability, running_regions

__all__ = ["LoadOptions", "LoadReport", "main", "run_load"]

Mode = Literal["complete", "stream", "acomplete", "astream"]
DEPLOYMENT = "gpt-4o-mini"
WEATHER = ToolSpec(
    "get_weather", "The weather in a city.", {"type": "object", "properties": {"city": {"type": "string"}}}
)
# Share of calls per mode, and of calls that offer a tool.
MIX: dict[Mode, float] = {"complete": 0.25, "stream": 0.15, "acomplete": 0.30, "astream": 0.30}
TOOL_SHARE = 0.2
STREAM_SHARE = MIX["stream"] + MIX["astream"]
# Region outages: killed when this fraction of the calls has been launched, restarted at the second fraction or
# after the given seconds down, whichever comes first (calls waiting on a total outage slow launching down).
OUTAGES: tuple[tuple[float, float, tuple[str, ...], float], ...] = (
    (0.25, 0.35, ("east",), 20.0),
    (0.50, 0.60, ("west",), 20.0),
    (0.75, 0.78, ("east", "west", "north"), 3.0),
)


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """One run's settings (see the module docstring and ``--help``)."""

    calls: int = 20_000
    faults: float = 0.2
    seed: int = 7
    max_seconds: float = 900.0
    grace: float = 60.0
    threads: int = 8
    concurrency: int = 32
    routing: str = "priority"
    outages: bool = True
    max_retries: int = 3


@dataclass(frozen=True, slots=True)
class Call:
    index: int
    mode: Mode
    tools: bool

    def request(self) -> ChatRequest:
        if self.tools:
            return ChatRequest((Message.user("What is the weather in 'Oslo'?"),), tools=(WEATHER,))
        return ChatRequest((Message.user(f"Echo {self.index}"),))

    @property
    def expected_text(self) -> str:
        return f"You said: Echo {self.index}"


def plan_calls(count: int, seed: int) -> list[Call]:
    """The calls, in a seeded random order of modes, a fifth of them offering a tool."""
    rng = random.Random(seed)
    modes: list[Mode] = list(MIX)
    chosen = rng.choices(modes, weights=[MIX[m] for m in modes], k=count)
    return [Call(i, mode, rng.random() < TOOL_SHARE) for i, mode in enumerate(chosen)]


@dataclass
class Tally:
    """Outcomes folded as calls end (no per-call record is kept, so memory stays flat). Thread-safe."""

    launched: int = 0
    outcomes: Counter[str] = field(default_factory=Counter[str])
    excluded: Counter[str] = field(default_factory=Counter[str])
    latencies: array[float] = field(default_factory=lambda: array("d"))
    tool_calls_twice: int = 0
    wrong_answers: int = 0
    duplicated_pieces: int = 0
    untyped: list[str] = field(default_factory=lambda: [])
    failures: list[str] = field(default_factory=lambda: [])
    recovered_at: float | None = None
    all_down: list[list[float]] = field(default_factory=lambda: [])
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count_launch(self) -> None:
        with self.lock:
            self.launched += 1

    def overlaps_all_down(self, start: float, end: float) -> bool:
        return any(w[0] <= end and (len(w) == 1 or w[1] >= start) for w in self.all_down)

    def record(self, start: float, outcome: str, problems: Counter[str], error: BaseException | None = None) -> None:
        end = time.perf_counter()
        with self.lock:
            self.latencies.append(end - start)
            excluded = self.overlaps_all_down(start, end)
            (self.excluded if excluded else self.outcomes)[outcome] += 1
            if outcome == "answered" and self.recovered_at is None and self.all_down and len(self.all_down[-1]) == 2:
                self.recovered_at = end
            if error is not None and not excluded and len(self.failures) < 20:
                self.failures.append(f"{outcome} after {end - start:.2f} s: {error}"[:600])
            self.tool_calls_twice += problems["tool_calls_twice"]
            self.wrong_answers += problems["wrong_answer"]
            self.duplicated_pieces += problems["duplicated_pieces"]


def check_answer(call: Call, result: ChatResult, pieces: list[str] | None) -> Counter[str]:
    """What is wrong with an answer: a tool call emitted twice, a wrong text, streamed pieces not the text."""
    problems = Counter[str]()
    if call.tools:
        calls = [*result.tool_calls, *result.invalid_tool_calls]
        problems["tool_calls_twice"] += len(calls) > 1 or len({c.id for c in calls}) < len(calls)
        right = len(result.tool_calls) == 1 and dict(result.tool_calls[0].arguments) == {"city": "Oslo"}
        problems["wrong_answer"] += not right
    else:
        problems["wrong_answer"] += result.text != call.expected_text
    if pieces is not None and "".join(pieces) != result.text:
        problems["duplicated_pieces"] += 1
    return problems


def check_partial(call: Call, error: StreamInterruptedError, pieces: list[str]) -> Counter[str]:
    """A broken stream: what the caller saw is what ``partial`` holds, a prefix of the answer."""
    problems = Counter[str]()
    partial = error.partial.text if error.partial is not None else ""
    if "".join(pieces) != partial or (not call.tools and not call.expected_text.startswith(partial)):
        problems["duplicated_pieces"] += 1
    return problems


def _fold(events: list[StreamEvent]) -> tuple[ChatResult, list[str]]:
    accumulator = StreamAccumulator()
    for event in events:
        accumulator.add(event)
    return accumulator.result(), [e.text for e in events if isinstance(e, TextDelta)]


def run_sync(gateway: Gateway, call: Call, tally: Tally, deadline: float) -> None:
    if time.perf_counter() > deadline:
        return
    tally.count_launch()
    start, events, problems = time.perf_counter(), list[StreamEvent](), Counter[str]()
    failed: BaseException | None = None
    try:
        if call.mode == "complete":
            problems = check_answer(call, gateway.complete(call.request()), None)
        else:
            events.extend(gateway.stream(call.request()))
            problems = check_answer(call, *_fold(events))
        outcome = "answered"
    except StreamInterruptedError as error:
        outcome, problems = "StreamInterruptedError", check_partial(call, error, _fold(events)[1])
    except GatewayError as error:
        outcome, failed = type(error).__name__, error
    except Exception as error:  # anything else is a bug: counted and kept
        outcome, failed = f"untyped {type(error).__name__}", error
        tally.untyped.append(repr(error)[:300])
    tally.record(start, outcome, problems, failed)


async def run_async(gateway: Gateway, call: Call, tally: Tally) -> None:
    start, events, problems = time.perf_counter(), list[StreamEvent](), Counter[str]()
    failed: BaseException | None = None
    try:
        if call.mode == "acomplete":
            problems = check_answer(call, await gateway.acomplete(call.request()), None)
        else:
            async for event in gateway.astream(call.request()):
                events.append(event)
            problems = check_answer(call, *_fold(events))
        outcome = "answered"
    except StreamInterruptedError as error:
        outcome, problems = "StreamInterruptedError", check_partial(call, error, _fold(events)[1])
    except GatewayError as error:
        outcome, failed = type(error).__name__, error
    except Exception as error:  # anything else is a bug: counted and kept
        outcome, failed = f"untyped {type(error).__name__}", error
        tally.untyped.append(repr(error)[:300])
    tally.record(start, outcome, problems, failed)


async def drive_async(gateway: Gateway, calls: list[Call], tally: Tally, options: LoadOptions, deadline: float) -> int:
    """Run the async calls, ``concurrency`` at a time; returns how many were still running after the grace."""
    slots = asyncio.Semaphore(options.concurrency)
    tasks: set[asyncio.Task[None]] = set()

    async def one(call: Call) -> None:
        try:
            await run_async(gateway, call, tally)
        finally:
            slots.release()

    for call in calls:
        await slots.acquire()
        if time.perf_counter() > deadline:
            slots.release()
            break
        tally.count_launch()
        task = asyncio.create_task(one(call))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=options.grace)
        for task in pending:
            task.cancel()
        return len(pending)
    return 0


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB (Linux /proc; else the peak twice)."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return peak, peak


@dataclass
class LoadReport:
    """The run's figures; :meth:`table` prints them."""

    options: LoadOptions
    planned: int
    tally: Tally
    unaccounted: int
    seconds: float
    rss_start: tuple[float, float]
    rss_warm: tuple[float, float]
    rss_end: tuple[float, float]
    rss_samples: list[tuple[int, float]]
    server: ServerCounts
    outages: list[str]

    @property
    def returned(self) -> int:
        return self.tally.outcomes["answered"] + self.tally.excluded["answered"]

    @property
    def raised(self) -> Counter[str]:
        return Counter({k: v for k, v in (self.tally.outcomes + self.tally.excluded).items() if k != "answered"})

    @property
    def interrupted(self) -> int:
        return self.tally.outcomes["StreamInterruptedError"]

    @property
    def healthy_calls(self) -> int:
        return sum(self.tally.outcomes.values())

    @property
    def success_rate(self) -> float:
        """Answered, of the calls made while a region was up, broken streams aside (never replayed by design)."""
        counted = self.healthy_calls - self.interrupted
        return self.tally.outcomes["answered"] / counted if counted else 1.0

    @property
    def strict_success_rate(self) -> float:
        return self.tally.outcomes["answered"] / self.healthy_calls if self.healthy_calls else 1.0

    @property
    def untyped(self) -> int:
        return sum(v for k, v in self.raised.items() if k.startswith("untyped"))

    @property
    def recovery(self) -> str:
        windows, at = self.tally.all_down, self.tally.recovered_at
        if not windows or len(windows[-1]) < 2 or at is None:
            return "n/a"
        return f"{at - windows[-1][1]:.2f} s (all down for {windows[-1][1] - windows[-1][0]:.2f} s)"

    def percentile(self, q: float) -> float:
        data = sorted(self.tally.latencies)
        return data[min(len(data) - 1, int(q * len(data)))] * 1000 if data else 0.0

    def table(self) -> str:
        t, o = self.tally, self.options
        raised = ", ".join(f"{k} {v}" for k, v in sorted(self.raised.items(), key=lambda kv: -kv[1])) or "none"
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.server.by_fault.items()))
        share = self.server.faulted / self.server.requests if self.server.requests else 0.0
        growth = self.rss_end[0] - self.rss_warm[0]
        rows = [
            ("calls planned / launched", f"{self.planned} / {t.launched}"),
            ("mix", f"{', '.join(f'{m} {int(s * 100)}%' for m, s in MIX.items())}; tools {int(TOOL_SHARE * 100)}%"),
            ("calls returned (answered)", f"{self.returned}"),
            ("calls raised, by typed class", raised),
            ("calls raised an untyped exception", f"{self.untyped}"),
            ("calls unaccounted for", f"{self.unaccounted}"),
            ("tool calls emitted twice", f"{t.tool_calls_twice}"),
            ("wrong answers / streamed pieces != text", f"{t.wrong_answers} / {t.duplicated_pieces}"),
            ("calls while >= 1 region up / all down", f"{self.healthy_calls} / {sum(t.excluded.values())}"),
            ("success rate while >= 1 region up", f"{self.success_rate:.4%} (broken streams aside; goal 99.9%)"),
            ("  counting broken streams as failures", f"{self.strict_success_rate:.4%} ({self.interrupted} broken)"),
            (
                "latency p50 / p99 / max (ms)",
                f"{self.percentile(0.5):.1f} / {self.percentile(0.99):.1f} / {self.percentile(1.0):.1f}",
            ),
            (
                "RSS start / after warm-up / end (MB)",
                f"{self.rss_start[0]:.1f} / {self.rss_warm[0]:.1f} / "
                f"{self.rss_end[0]:.1f} (end - warm-up {growth:+.1f})",
            ),
            ("peak RSS at start / end (MB)", f"{self.rss_warm[1]:.1f} / {self.rss_end[1]:.1f}"),
            ("RSS by calls done (MB)", ", ".join(f"{n}: {mb:.1f}" for n, mb in self.rss_samples)),
            (
                "HTTP attempts (server) / per call",
                f"{self.server.requests} / {self.server.requests / max(1, t.launched):.2f}",
            ),
            ("requests given a fault (server)", f"{self.server.faulted} ({share:.1%}): {faults}"),
            ("attempts per region", ", ".join(f"{k} {v}" for k, v in sorted(self.server.by_region.items()))),
            ("outages", "; ".join(self.outages) or "none"),
            ("first answer after all regions were back", self.recovery),
            ("wall time", f"{self.seconds:.1f} s ({t.launched / max(self.seconds, 1e-9):.0f} calls/s)"),
            (
                "settings",
                f"faults {o.faults:.0%}, routing {o.routing}, max_retries {o.max_retries}, "
                f"{o.threads} threads + {o.concurrency} async in flight, seed {o.seed}",
            ),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"| {name:<{width}} | {value} |" for name, value in rows)


def build_gateway(regions: list[Region], options: LoadOptions, health: HealthStore | None = None) -> Gateway:
    deployment = (DeploymentConfig(DEPLOYMENT, model=DEPLOYMENT),)
    endpoints = [
        EndpointConfig(r.name, r.endpoint, api_key=SecretStr(KEY), priority=n, deployments=deployment)
        for n, r in enumerate(regions)
    ]
    config = load_config(env={}, endpoints=endpoints, default_deployment=DEPLOYMENT, routing=options.routing)
    # Short backoffs keep a bounded run bounded; a Retry-After is still honoured in full.
    policy = RetryPolicy(max_retries=options.max_retries, base_delay=0.02, max_delay=0.25, deadline=30.0)
    return Gateway(config, retry_policy=policy, timeouts=Timeouts(connect=2.0, read=10.0, chunk=10.0), health=health)


class Monitor:
    """A thread that runs the outages (``OUTAGES``) as the calls go, and samples RSS each tenth of the calls done.

    The first RSS sample, after a tenth of the calls, is the warm-up figure.
    """

    def __init__(self, regions: list[Region], tally: Tally, options: LoadOptions, planned: int) -> None:
        self._regions = {r.name: r for r in regions}
        self._tally, self._planned = tally, planned
        self._outages = list(OUTAGES) if options.outages else []
        self._stop = threading.Event()
        self.events: list[str] = []
        self.samples: list[tuple[int, float]] = []
        self.warm: tuple[float, float] | None = None
        self._thread = threading.Thread(target=self._watch, name="load-monitor", daemon=True)

    def __enter__(self) -> Monitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _watch(self) -> None:
        next_sample, down_since = 0.1, None
        while not self._stop.wait(0.01):
            done = sum(self._tally.outcomes.values()) + sum(self._tally.excluded.values())
            if done >= next_sample * self._planned:
                self.samples.append((done, rss_mb()[0]))
                self.warm = self.warm or rss_mb()
                next_sample += 0.1
            if not self._outages:
                continue
            down, up, names, longest = self._outages[0]
            launched = self._tally.launched / self._planned
            if down_since is None and launched >= down:
                down_since = self._kill(names)
            elif down_since is not None and (launched >= up or time.perf_counter() - down_since >= longest):
                self._restart(names)
                self._outages.pop(0)
                down_since = None

    def _kill(self, names: tuple[str, ...]) -> float:
        now = time.perf_counter()
        if len(names) == len(self._regions):
            with self._tally.lock:
                self._tally.all_down.append([now])
        for name in names:
            self._regions[name].kill()
        self.events.append(f"kill {'+'.join(names)} at call {self._tally.launched}")
        return now

    def _restart(self, names: tuple[str, ...]) -> None:
        for name in names:  # started together, so a total outage does not end region by region
            self._regions[name].relaunch()
        for name in names:
            self._regions[name].wait_ready()
        if len(names) == len(self._regions):
            with self._tally.lock:
                self._tally.all_down[-1].append(time.perf_counter())
        self.events.append(f"restart {'+'.join(names)} at call {self._tally.launched}")


def run_load(options: LoadOptions) -> LoadReport:
    """Run the load as ``options`` say and return its figures."""
    calls = plan_calls(options.calls, options.seed)
    tally = Tally()
    probability = per_rule_probability(options.faults, STREAM_SHARE)
    with (
        tempfile.TemporaryDirectory(prefix="load-run-") as directory,
        running_regions(Path(directory), fault_flags(probability), options.seed) as regions,
    ):
        gateway = build_gateway(regions, options)
        rss_start = rss_mb()
        started = time.perf_counter()
        deadline = started + options.max_seconds
        sync_calls = [c for c in calls if c.mode in ("complete", "stream")]
        async_calls = [c for c in calls if c.mode in ("acomplete", "astream")]
        with Monitor(regions, tally, options, len(calls)) as monitor:
            looper = threading.Thread(
                target=lambda: asyncio.run(drive_async(gateway, async_calls, tally, options, deadline)),
                name="load-async",
            )
            looper.start()
            pool = ThreadPoolExecutor(options.threads, thread_name_prefix="load-sync")
            futures = [pool.submit(run_sync, gateway, c, tally, deadline) for c in sync_calls]
            wait(futures, timeout=options.max_seconds + options.grace)
            # A call still running now is unaccounted for; the run does not wait for it.
            pool.shutdown(wait=False, cancel_futures=True)
            looper.join(timeout=options.max_seconds + 2 * options.grace)
        seconds = time.perf_counter() - started
        rss_end = rss_mb()
        done = sum(tally.outcomes.values()) + sum(tally.excluded.values())
        for region in regions:
            region.stop()
        server = ServerCounts.read(regions)
    return LoadReport(
        options=options,
        planned=len(calls),
        tally=tally,
        unaccounted=tally.launched - done,
        seconds=seconds,
        rss_start=rss_start,
        rss_warm=monitor.warm or rss_start,
        rss_end=rss_end,
        rss_samples=monitor.samples,
        server=server,
        outages=monitor.events,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the load from the command line and print the figures; exit 1 when a must-be-zero figure is not."""
    args_given = sys.argv[1:] if argv is None else argv
    if any(a.split("=")[0] in ("--processes", "--store") for a in args_given):
        from tests.load.fleet_load import main as fleet_main

        return fleet_main(args_given)
    defaults = LoadOptions()
    parser = argparse.ArgumentParser(prog="python -m tests.load.run_load", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=defaults.calls)
    parser.add_argument("--faults", type=float, default=defaults.faults, help="share of HTTP requests given a fault")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--max-seconds", type=float, default=defaults.max_seconds, help="stop launching calls after")
    parser.add_argument("--threads", type=int, default=defaults.threads, help="sync calls at once")
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency, help="async calls at once")
    parser.add_argument(
        "--routing", default=defaults.routing, choices=("priority", "least_latency", "weighted_round_robin")
    )
    parser.add_argument("--max-retries", type=int, default=defaults.max_retries)
    parser.add_argument("--no-outages", action="store_true", help="faults only, no region killed")
    args = parser.parse_args(argv)
    options = LoadOptions(
        calls=args.calls,
        faults=args.faults,
        seed=args.seed,
        max_seconds=args.max_seconds,
        threads=args.threads,
        concurrency=args.concurrency,
        routing=args.routing,
        outages=not args.no_outages,
        max_retries=args.max_retries,
    )
    report = run_load(options)
    print(report.table())
    for text in report.tally.untyped[:5]:
        print("untyped:", text, file=sys.stderr)
    for text in report.tally.failures[:10]:
        print("failed while a region was up:", text, file=sys.stderr)
    bad = report.unaccounted or report.untyped or report.tally.tool_calls_twice or report.tally.duplicated_pieces
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
