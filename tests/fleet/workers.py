"""Worker processes of the fleet tests: each builds its own :class:`~shared_core.Gateway` over the same
emulated regions and makes calls on a fixed schedule, with one shared Redis store or a store of its own.

Workers are forked (``multiprocessing`` "fork" context), as gunicorn and Celery do, so the gateway's own
fork-safety is exercised: the Redis store starts its thread and connections in the child on first use.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from shared_core import (
    ChatRequest,
    DeploymentConfig,
    EndpointConfig,
    Gateway,
    GatewayError,
    HealthPolicy,
    HealthStore,
    InMemoryHealthStore,
    ListSink,
    Message,
    RetryPolicy,
    load_config,
)
from shared_core.transport.quota import QuotaState
from shared_core.transport.redis_health import RedisHealthStore

__all__ = ["KEY", "QuotaBlindRedisStore", "WorkerPlan", "WorkerReport", "run_fleet"]

KEY = "fleet-test-key"
DEPLOYMENT = "gpt-4o-mini"


class QuotaBlindRedisStore(RedisHealthStore):
    """The Redis store as routing was before quota awareness: Azure's budget headers are ignored."""

    def record_quota(self, key: str, quota: QuotaState) -> None:
        """Ignore the observation."""


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    """What every worker of one run does.

    Attributes:
        regions: (name, endpoint URL) in priority order.
        store: ``redis`` (one store shared through ``redis_url``), ``redis-blind`` (same, quota ignored) or
            ``local`` (a store per process).
        redis_url: The Redis server's URL.
        start_at: Wall-clock time of the first call of worker 0.
        offset: Worker ``k`` starts ``k * offset`` later (so the fleet's calls interleave, not collide).
        period: Seconds between one worker's calls.
        calls: Calls per worker.
        policy: Health policy of every store.
        max_tokens: Output allowed per call (counted against the token budget).
    """

    regions: tuple[tuple[str, str], ...]
    store: str
    redis_url: str
    start_at: float
    offset: float
    period: float
    calls: int
    policy: HealthPolicy = field(default_factory=HealthPolicy)
    max_tokens: int = 100


@dataclass(frozen=True, slots=True)
class WorkerReport:
    index: int
    answered: int
    failed: list[str]
    events: list[str]
    redis_round_trips: int
    timings: list[tuple[float, float]]


def _store(plan: WorkerPlan, sink: ListSink) -> HealthStore:
    if plan.store == "local":
        return InMemoryHealthStore(plan.policy)
    kind = QuotaBlindRedisStore if plan.store == "redis-blind" else RedisHealthStore
    return kind(url=plan.redis_url, policy=plan.policy, refresh_interval=0.5, sink=sink)


def _gateway(plan: WorkerPlan, store: HealthStore) -> Gateway:
    deployment = (DeploymentConfig(DEPLOYMENT, model=DEPLOYMENT),)
    endpoints = [
        EndpointConfig(name, url, api_key=SecretStr(KEY), priority=n, deployments=deployment)
        for n, (name, url) in enumerate(plan.regions)
    ]
    config = load_config(env={}, endpoints=endpoints, default_deployment=DEPLOYMENT, max_tokens=plan.max_tokens)
    policy = RetryPolicy(max_retries=2, base_delay=0.02, max_delay=0.2, deadline=15.0)
    return Gateway(config, retry_policy=policy, health=store)


def _work(plan: WorkerPlan, index: int, out: Any) -> None:
    sink = ListSink()
    store = _store(plan, sink)
    gateway = _gateway(plan, store)
    answered, failed, timings = 0, list[str](), list[tuple[float, float]]()
    # One call before the schedule: the first call of a process pays for its connections and first reads, and
    # would otherwise be in flight (on a stale decision) when the scheduled calls start.
    gateway.complete(ChatRequest((Message.user("warm-up"),)))
    first = plan.start_at + index * plan.offset
    for n in range(plan.calls):
        time.sleep(max(0.0, first + n * plan.period - time.time()))
        started = time.time()
        try:
            result = gateway.complete(ChatRequest((Message.user(f"worker {index} call {n}"),)))
            answered += result.text == f"You said: worker {index} call {n}"
        except GatewayError as error:
            failed.append(f"{type(error).__name__}: {error.message[:200]}")
        timings.append((started, time.time()))
    trips = store.round_trips if isinstance(store, RedisHealthStore) else 0
    if isinstance(store, RedisHealthStore):
        store.close()
    out.put(WorkerReport(index, answered, failed, [e.name for e in sink.events], trips, timings))


def run_fleet(plan: WorkerPlan, workers: int = 4) -> list[WorkerReport]:
    """Fork ``workers`` processes running ``plan`` and collect their reports (in worker order)."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    processes = [ctx.Process(target=_work, args=(plan, k, out), daemon=True) for k in range(workers)]
    for p in processes:
        p.start()
    budget = plan.start_at - time.time() + workers * plan.offset + plan.calls * plan.period + 30.0
    reports = [out.get(timeout=max(5.0, budget)) for _ in processes]
    for p in processes:
        p.join(timeout=10)
    return sorted(reports, key=lambda r: r.index)
