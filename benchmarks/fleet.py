"""Fleet mode's cost on the hot path: client CPU per call with the Redis health store against the in-process one.

Run it from the repository root (it needs ``redis-server`` on the PATH and the ``[redis]`` extra)::

    python -m benchmarks.fleet                 # 7 interleaved rounds of 400 calls per store
    python -m benchmarks.fleet --rounds 3 --calls 200

One process, the benchmark server (``benchmarks.server``) in another and a private ``redis-server`` in a third.
Two gateways route the same deployment over two named endpoints (so every call goes through the health store:
snapshot, strategy, admit, success, quota), one on :class:`~shared_core.InMemoryHealthStore`, one on
:class:`~shared_core.transport.redis_health.RedisHealthStore` (default 0.5 s refresh). Rounds alternate the
two, so a slow spell of the shared machine hits both alike; the figure is the median of the rounds. CPU is
``time.process_time()`` of the whole process, so the Redis store's refresh thread is counted. Also reported:
the store's own round trips and Redis's own command count (``INFO commandstats``) during the measured calls,
and the store operations alone (no HTTP), per call.

Targets (issue 17): under 30 µs of CPU added per call in steady state, and no Redis round trip per call.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from benchmarks.run import API_KEY, RunPlan, bench_server
from shared_core import (
    ChatRequest,
    DeploymentConfig,
    EndpointConfig,
    Gateway,
    HealthStore,
    InMemoryHealthStore,
    Message,
    load_config,
)
from shared_core.transport.quota import QuotaState
from shared_core.transport.redis_health import RedisHealthStore
from tests.fleet.redis_server import RedisServer

TARGET_US = 30.0
KEYS = ("east/bench", "west/bench")


def _gateway(endpoint: str, store: HealthStore) -> Gateway:
    deployment = (DeploymentConfig("bench", model="gpt-4o-mini"),)
    endpoints = [
        EndpointConfig(name, endpoint, api_key=SecretStr(API_KEY), priority=n, deployments=deployment)
        for n, name in enumerate(("east", "west"))
    ]
    config = load_config(env={}, endpoints=endpoints, default_deployment="bench")
    return Gateway(config, health=store)


def _cpu_per_call(run: Callable[[], object], calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        run()
    return (time.process_time() - started) / calls * 1e6


def _store_ops(store: HealthStore) -> Callable[[], object]:
    quota = QuotaState(time.time(), remaining_tokens=29_000, limit_tokens=30_000, remaining_requests=299)

    def one() -> None:
        store.snapshot(KEYS)
        store.admit(KEYS[0])
        store.record_success(KEYS[0], 0.01)
        store.record_quota(KEYS[0], quota)

    return one


def _commands(redis: RedisServer) -> int:
    stats: dict[str, dict[str, Any]] = redis.client().info("commandstats")  # type: ignore[attr-defined]
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


def measure(rounds: int, calls: int) -> dict[str, float]:
    """Run the interleaved rounds; return the figures (µs per call, round trips and commands per call)."""
    request = ChatRequest((Message.user("Hello"),))
    with bench_server(RunPlan(hold_ms=0.0)) as endpoint, RedisServer() as redis:
        memory, shared = InMemoryHealthStore(), RedisHealthStore(url=redis.url)
        gateways = {"memory": _gateway(endpoint, memory), "redis": _gateway(endpoint, shared)}
        for gateway in gateways.values():
            for _ in range(100):
                gateway.complete(request)
        time.sleep(0.6)  # one refresh has happened: steady state
        per_call: dict[str, list[float]] = {"memory": [], "redis": []}
        trips, commands = shared.round_trips, _commands(redis)
        wall = time.perf_counter()
        for _ in range(rounds):
            for name, gateway in gateways.items():
                per_call[name].append(_cpu_per_call(lambda g=gateway: g.complete(request), calls))
        wall = time.perf_counter() - wall
        trips, commands = shared.round_trips - trips, _commands(redis) - commands
        stores: dict[str, HealthStore] = {"memory": memory, "redis": shared}
        ops = {name: _cpu_per_call(_store_ops(store), 20_000) for name, store in stores.items()}
        shared.close()
    done = rounds * calls
    return {
        "memory_us": statistics.median(per_call["memory"]),
        "redis_us": statistics.median(per_call["redis"]),
        "round_trips_per_call": trips / done,
        "commands_per_call": commands / done,
        "round_trips_per_second": trips / wall,
        "store_ops_memory_us": ops["memory"],
        "store_ops_redis_us": ops["redis"],
    }


def main(argv: list[str] | None = None) -> None:
    """Print the figures as a table, with the targets' verdicts."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=400)
    args = parser.parse_args(argv)
    f = measure(args.rounds, args.calls)
    added = f["redis_us"] - f["memory_us"]
    ops = f"{f['store_ops_memory_us']:.1f} / {f['store_ops_redis_us']:.1f}"
    trips = f"{f['round_trips_per_call']:.4f} ({f['round_trips_per_second']:.1f}/s, the refresh)"
    rows = [
        ("client CPU per call, in-process store (µs)", f"{f['memory_us']:.0f}"),
        ("client CPU per call, Redis store (µs)", f"{f['redis_us']:.0f}"),
        ("added per call (µs; target < 30)", f"{added:+.1f} ({'pass' if added < TARGET_US else 'FAIL'})"),
        ("store operations alone, in-process / Redis (µs)", ops),
        ("store round trips per call (target 0)", trips),
        ("Redis commands per call (INFO commandstats)", f"{f['commands_per_call']:.4f}"),
        ("rounds x calls per store", f"{args.rounds} x {args.calls}"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    print("\n".join(f"| {name:<{width}} | {value} |" for name, value in rows))


if __name__ == "__main__":
    main()
