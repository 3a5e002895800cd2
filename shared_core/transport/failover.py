"""Failover across a route's deployments: which one to try, when to move on, when to wait, and the final error.

This is the package's one retry loop. A route of one deployment runs it too, with a store of its own for the
call (``FailoverHooks.store=None``, made when an attempt first fails), so that one deployment's health is not
remembered across calls and no circuit opens on it; its final error is the last one, unchanged. An answer on
the first attempt costs no store, ordering or admission at all. The rules (issue 7):

* **Order.** The route's strategy orders the usable candidates (those the request fits first, when the call
  gives its estimated ``tokens``: :class:`~shared_core.transport.strategies.PreferBudget`); deployments not yet
  tried in this call go first. :meth:`HealthStore.admit` is asked just before each attempt (it hands out a
  half-open trial). Each answer's quota headers go to a shared store (:mod:`~shared_core.transport.quota`).
* **Free failover.** An error that happened before Azure did any work (429, 401/403, 404 deployment not
  found, a credential that produced no token, a refused connection) moves at once, with no wait, to an
  untried healthy sibling. A 429 cools its deployment down for exactly its ``Retry-After``.
* **Paid failover, once.** After a timeout, a 5xx, a reset or an unreadable answer, Azure may have done (and
  billed) the work, so the call fails over at most once, saying so in the ``provider:failover`` event.
* **Retries.** When no untried sibling may take the call, the :class:`RetryPolicy` decides: the same
  deployment after its backoff or ``Retry-After``, or whichever deployment comes back first. When every one
  is cooling down or open, the call waits for the first to come back if that fits the deadline, and
  otherwise fails at once, its error carrying the shortest wait as ``retry_after`` (LiteLLM fails at once
  even when a deployment returns within the deadline).
* **The deadline bounds the whole call.** Each attempt gets ``min(timeout, time left)``, its body read
  included (:mod:`shared_core.transport.http`); no failover or retry starts once it has passed, and the error
  then raised is a :class:`RequestTimeoutError` (``code="deadline"``) naming the deadline and listing every
  attempt.
* **Never after a stream's first event**: an attempt that returned (a response, or an opened 2xx stream) is
  final; a later break is the stream's own error.
* **Requests no deployment can serve** (400, content filter, context length, ...) are raised at once: a
  sibling would fail the same way.

**How many HTTP attempts.** Each candidate's first attempt in a call is free; every further attempt on a
deployment already tried in this call uses one of ``RetryPolicy.max_retries``; each deployment may add one
token-refresh retry after a 401 (token credentials only). So a call makes at most
``N + max_retries (+ one refresh per deployment with a token credential)`` HTTP attempts for N candidates: with two
regions and the default ``max_retries=2``, at most 4 (6 with two refreshes). Nothing below the router
retries, so attempts never multiply.

The final error, when every deployment failed, is a fresh copy of the most telling one of the last errors,
raised from it (:mod:`~shared_core.transport.failover_errors`); its ``attempts`` list every HTTP attempt, as
the deadline's error does.

Events: ``provider:attempt_failed`` per failed attempt (with the decision), ``provider:failover`` per move to
a sibling, ``provider:retry`` for a wait that follows no failed attempt of this call, and one
``provider:outcome``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from shared_core.events import EventSink
from shared_core.transport.health import HealthStore
from shared_core.transport.retry import RetryPolicy
from shared_core.transport.route_run import CALL_HEALTH, TOKEN_CREDENTIAL_KINDS, RouteRun
from shared_core.transport.strategies import RouteCandidate, RoutingStrategy

__all__ = ["CALL_HEALTH", "TOKEN_CREDENTIAL_KINDS", "FailoverHooks", "arun_route", "run_route"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FailoverHooks:
    """What the failover loop needs besides the attempt itself (one per gateway and kind of route, not per call).

    Attributes:
        policy: Retries, backoff and the deadline of the whole call.
        sink: Where attempt, failover, retry and outcome events go.
        store: Health of every deployment (shared by all calls of the gateway), or ``None`` for a store of the
            call's own, made when it is first needed (:data:`CALL_HEALTH`, on ``clock``): what a route of one gets.
        strategy: Orders a route's usable candidates.
        credential_kind: The kind of a candidate's credential (a 401 refreshes only token credentials).
        refresh: Forces a token refresh for a candidate's credential (sync).
        arefresh: Same, async.
        sleep: ``time.sleep`` unless a test injects one.
        asleep: ``asyncio.sleep`` unless a test injects one.
        clock: Monotonic seconds.
    """

    policy: RetryPolicy
    sink: EventSink
    store: HealthStore | None
    strategy: RoutingStrategy
    credential_kind: Callable[[RouteCandidate], str]
    refresh: Callable[[RouteCandidate], None]
    arefresh: Callable[[RouteCandidate], Awaitable[None]]
    sleep: Callable[[float], None] = time.sleep
    asleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic


def run_route(
    candidates: Sequence[RouteCandidate],
    attempt: Callable[[RouteCandidate], T],
    hooks: FailoverHooks,
    *,
    latency: Callable[[T], float | None],
    tokens: int | None = None,
) -> tuple[RouteCandidate, T]:
    """Run one call over a route of deployments, failing over and retrying by the module's rules.

    Args:
        candidates: The route (two or more deployments; one works too).
        attempt: Sends to one candidate; returns a response (or an opened 2xx stream) or raises a GatewayError.
        hooks: Policy, health store, strategy, events and credential refresh.
        latency: The seconds to record for a returned attempt (time to first byte for streams).
        tokens: The request's estimated tokens: the candidates it would not fit go last (``PreferBudget``).

    Returns:
        The candidate that answered, and its answer.

    Raises:
        GatewayError: A request error at once, or the most telling last error once nothing is left to try.
    """
    run = RouteRun(candidates, hooks, tokens)
    step = run.first()
    while True:
        while not step.admitted:  # wait, then take the admission (or wait for whoever comes back first)
            if step.wait > 0:
                hooks.sleep(step.wait)
            step = run.resume(step)
        with run.attempt(step) as outcome:
            if step.refresh:
                hooks.refresh(step.candidate)
            outcome.answered(attempt(step.candidate))
        if outcome.next is None:
            return run.answer(step, outcome, latency)
        step = outcome.next


async def arun_route(
    candidates: Sequence[RouteCandidate],
    attempt: Callable[[RouteCandidate], Awaitable[T]],
    hooks: FailoverHooks,
    *,
    latency: Callable[[T], float | None],
    tokens: int | None = None,
) -> tuple[RouteCandidate, T]:
    """Async :func:`run_route`; waits never block the event loop."""
    run = RouteRun(candidates, hooks, tokens)
    step = run.first()
    while True:
        while not step.admitted:  # wait, then take the admission (or wait for whoever comes back first)
            if step.wait > 0:
                await hooks.asleep(step.wait)
            step = run.resume(step)
        with run.attempt(step) as outcome:
            if step.refresh:
                await hooks.arefresh(step.candidate)
            outcome.answered(await attempt(step.candidate))
        if outcome.next is None:
            return run.answer(step, outcome, latency)
        step = outcome.next
