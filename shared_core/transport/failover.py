"""Failover across a route's deployments: which one to try, when to move on, when to wait, and the final error.

This is the package's one retry loop. A route of one deployment runs it too (the gateway gives it a store of
its own for the call, so that one deployment's health is not remembered across calls and no circuit opens on
it, and its final error is the last one, unchanged). The rules (issue 7):

* **Order.** The route's strategy orders the usable candidates; deployments not yet tried in this call go
  first. :meth:`HealthStore.admit` is asked just before each attempt (it hands out a half-open trial).
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

The final error, when every deployment failed, is a fresh copy of the most telling one of the last errors (a
throttle over a server error over a configuration error: same class and fields, so ``except RateLimitError``
keeps working whether a model has one deployment or many), raised from it; its message lists each
deployment's last error or health (a route of one keeps its last error's message), and its ``attempts`` every
HTTP attempt, as the deadline's error does. The caught errors are never changed.

Events: ``provider:attempt_failed`` per failed attempt (with the decision), ``provider:failover`` per move to
a sibling, ``provider:retry`` for a wait that follows no failed attempt of this call, and one
``provider:outcome``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NoReturn, TypeVar, cast

from shared_core.errors import (
    AuthenticationError,
    ConnectionFailedError,
    DeploymentNotFoundError,
    GatewayError,
    RateLimitError,
)
from shared_core.events import DebugEvent, EventName, EventSink
from shared_core.messages import JsonValue
from shared_core.transport.health import DeploymentHealth, HealthStore, failure_kind_of
from shared_core.transport.retry import RetryPolicy, deadline_error, describe_error, is_transient
from shared_core.transport.strategies import RouteCandidate, RoutingStrategy, earliest_available

__all__ = ["TOKEN_CREDENTIAL_KINDS", "FailoverHooks", "arun_route", "run_route"]

T = TypeVar("T")

TOKEN_CREDENTIAL_KINDS = frozenset({"managed_identity", "default_credential", "token_provider"})
"""Credential kinds whose 401 is worth one token refresh and retry (a key or a static token is not)."""

# A wait that follows a refused admission (another caller took the half-open trial) is never zero, so the
# loop cannot spin.
_MIN_WAIT = 0.005


@dataclass(frozen=True, slots=True)
class FailoverHooks:
    """What the failover loop needs besides the attempt itself.

    Attributes:
        policy: Retries, backoff and the deadline of the whole call.
        sink: Where attempt, failover, retry and outcome events go.
        store: Health of every deployment (shared by all calls of the gateway).
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
    store: HealthStore
    strategy: RoutingStrategy
    credential_kind: Callable[[RouteCandidate], str]
    refresh: Callable[[RouteCandidate], None]
    arefresh: Callable[[RouteCandidate], Awaitable[None]]
    sleep: Callable[[float], None] = time.sleep
    asleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True, slots=True)
class _Step:
    """The next attempt: where, after how long, and whether the loop already holds its admission."""

    candidate: RouteCandidate
    wait: float = 0.0
    admitted: bool = True
    refresh: bool = False


class _Outcome(Generic[T]):
    """What one attempt led to: its answer, or the next step after its failure."""

    __slots__ = ("next", "result")

    def __init__(self) -> None:
        self.next: _Step | None = None
        self.result: T | None = None

    def answered(self, result: T) -> None:
        self.result = result


_describe = describe_error


def _before_azure_work(error: GatewayError) -> bool:
    """Errors after which Azure has done no work for the request, so trying a sibling costs nothing."""
    if isinstance(error, RateLimitError | AuthenticationError | DeploymentNotFoundError):
        return True
    return isinstance(error, ConnectionFailedError) and not error.connected


def _serves_nobody(error: GatewayError) -> bool:
    """Errors about the request itself: every deployment would answer the same."""
    return failure_kind_of(error) == "other" and not isinstance(error, AuthenticationError)


def _relevance(error: GatewayError) -> int:
    kind = failure_kind_of(error)
    if kind == "rate_limit":
        return 0
    return 1 if kind in ("server", "timeout", "connection") else 2


class _RouteRun:
    """The state of one call over a route; the sync and async drivers share it and only do the I/O."""

    def __init__(self, candidates: Sequence[RouteCandidate], hooks: FailoverHooks) -> None:
        self.candidates = tuple(candidates)
        self.keys = [c.key for c in self.candidates]
        self.hooks = hooks
        self.started = hooks.clock()
        self.errors: dict[str, GatewayError] = {}
        self.last: dict[str, str] = {}
        self.tried: list[str] = []
        self.refreshed: set[str] = set()
        self.trials: set[str] = set()
        self.retries = 0
        self.attempts = 0
        self.paid_failover_used = False
        self.attempt_lines: list[str] = []

    # -- events ------------------------------------------------------------------------------------------------

    def _emit(self, name: EventName, data: Mapping[str, JsonValue]) -> None:
        self.hooks.sink.emit(DebugEvent(name, data))

    def _failed_event(self, c: RouteCandidate, error: GatewayError, decision: str, delay: float) -> None:
        self._emit(
            "provider:attempt_failed",
            {
                "deployment": c.deployment,
                "endpoint": c.endpoint,
                "key": c.key,
                "attempt": self.attempts,
                "error": type(error).__name__,
                "status": error.status,
                "code": error.code,
                "request_id": error.request_id,
                "retry_after": error.retry_after,
                "decision": decision,
                "delay": round(delay, 3),
            },
        )

    def _outcome(self, winner: RouteCandidate | None, error: GatewayError | None = None) -> None:
        route: list[JsonValue] = [*self.keys]
        tried: list[JsonValue] = [*self.tried]
        errors: dict[str, JsonValue] = {**self.last}
        self._emit(
            "provider:outcome",
            {
                "deployment": winner.deployment if winner else None,
                "key": winner.key if winner else None,
                "outcome": "ok" if error is None else "failed",
                "attempts": self.attempts,
                "retries": self.retries,
                "route": route,
                "tried": tried,
                "elapsed": round(self.hooks.clock() - self.started, 4),
                "error": None if error is None else type(error).__name__,
                "status": None if error is None else error.status,
                "request_id": None if error is None else error.request_id,
                "errors": errors,
            },
        )

    # -- choosing ----------------------------------------------------------------------------------------------

    def _snapshot(self) -> Mapping[str, DeploymentHealth]:
        return self.hooks.store.snapshot(self.keys)

    def _pick(self, *, untried_only: bool) -> RouteCandidate | None:
        health = self._snapshot()
        ordered = self.hooks.strategy.order(self.candidates, health)
        fresh = [c for c in ordered if c.key not in self.tried]
        pool = fresh if untried_only else fresh + [c for c in ordered if c.key in self.tried]
        for c in pool:
            if self._admit(c, health):
                return c
        return None

    def _admit(self, c: RouteCandidate, health: Mapping[str, DeploymentHealth] | None = None) -> bool:
        state = (health or self._snapshot()).get(c.key)
        half_open = state is not None and state.status == "half_open"
        if not self.hooks.store.admit(c.key):
            return False
        if half_open:
            self.trials.add(c.key)
        return True

    def _earliest(self) -> tuple[RouteCandidate, float]:
        found = earliest_available(self.candidates, self._snapshot())
        if found is None:
            self.fail("every deployment of the route is marked broken")
        return found

    def _beyond_deadline(self, target: RouteCandidate, ready: float, wait: float) -> str | None:
        deadline = self.hooks.policy.deadline
        elapsed = self.hooks.clock() - self.started
        if deadline is None or elapsed + wait <= deadline:
            return None
        return (
            f"the first deployment to come back ({target.key}) is available in {ready:.2f} s, but only "
            f"{max(0.0, deadline - elapsed):.2f} s remain of the {deadline:g} s deadline"
        )

    def _wait_for_earliest(self) -> _Step:
        target, ready = self._earliest()
        beyond = self._beyond_deadline(target, ready, ready)
        if beyond is not None:
            self.fail(beyond, retry_after=round(ready, 3))
        wait = max(ready, _MIN_WAIT)
        self._emit(
            "provider:retry",
            {
                "deployment": target.deployment,
                "key": target.key,
                "delay": round(wait, 3),
                "reason": "no deployment of the route is usable now (cooling down, circuit open or trial taken): "
                "waiting for the first to come back",
            },
        )
        return _Step(target, wait, admitted=False)

    def first(self) -> _Step:
        """The first attempt of the call."""
        picked = self._pick(untried_only=False)
        return _Step(picked) if picked is not None else self._wait_for_earliest()

    def resume(self, step: _Step) -> _Step:
        """After a wait: the awaited deployment if it admits the call, else whatever may take it now."""
        if self._admit(step.candidate):
            return _Step(step.candidate, refresh=step.refresh)
        picked = self._pick(untried_only=False)
        return _Step(picked) if picked is not None else self._wait_for_earliest()

    # -- outcomes ----------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def attempt(self, step: _Step) -> Generator[_Outcome[Any]]:
        """Around one attempt (the drivers' only I/O): counts it, and decides what follows a failure."""
        self.attempting(step)
        outcome = _Outcome[Any]()
        try:
            yield outcome
        except GatewayError as error:
            outcome.next = self.failed(step.candidate, error)
        except BaseException:
            self.abandoned(step.candidate)
            raise

    def answer(
        self, step: _Step, outcome: _Outcome[T], latency: Callable[[T], float | None]
    ) -> tuple[RouteCandidate, T]:
        """Close the call with the attempt's answer."""
        result = cast(T, outcome.result)
        self.succeeded(step.candidate, latency(result))
        return step.candidate, result

    def attempting(self, step: _Step) -> None:
        """Count the attempt about to be made (a second attempt on a deployment uses a retry)."""
        self.attempts += 1
        if step.candidate.key in self.tried:
            if not step.refresh:
                self.retries += 1
        else:
            self.tried.append(step.candidate.key)

    def succeeded(self, c: RouteCandidate, latency: float | None) -> None:
        """Record the answer's latency (time to first byte for streams) and close the call."""
        self.trials.discard(c.key)
        self.hooks.store.record_success(c.key, latency)
        self._outcome(c)

    def abandoned(self, c: RouteCandidate) -> None:
        """The attempt was cancelled: hand a half-open trial back so another caller can take it."""
        if c.key in self.trials:
            self.trials.discard(c.key)
            self.hooks.store.release_trial(c.key)

    def failed(self, c: RouteCandidate, error: GatewayError) -> _Step:
        """Decide what follows a failed attempt (one ``provider:attempt_failed`` event); raises when nothing does."""
        self.trials.discard(c.key)
        if self._should_refresh(c, error):
            self.refreshed.add(c.key)
            self._failed_event(c, error, "refresh the token once and retry", 0.0)
            return _Step(c, refresh=True)
        if len(self.candidates) == 1 and not is_transient(error):
            # A route of one has nowhere to go: an error that may not pass is raised as it came, unrecorded.
            self._failed_event(c, error, f"{_describe(error)} is not transient: retrying would fail the same way", 0.0)
            self._outcome(None, error)
            raise error
        message = f"{_describe(error)}: {error.message}"
        state = self.hooks.store.record_failure(c.key, failure_kind_of(error), error.retry_after, message=message)
        self.errors[c.key] = error
        self.last[c.key] = message
        self.attempt_lines.append(f"{c.key}: {message}")
        if _serves_nobody(error):
            self._failed_event(c, error, f"{_describe(error)} is not transient and about the request itself", 0.0)
            self._outcome(None, error)
            raise error
        self._stop_at_deadline(c, error)
        note = ""
        if state.broken is not None:
            # Loud on purpose: a wrong key or deployment name is a configuration error, not load.
            note = f"{c.key} is misconfigured ({state.broken.kind}) and left out until health.reset(); "
        nxt = self._pick(untried_only=True) if self._may_fail_over(error) else None
        if nxt is None:
            return self._retry(c, error, note)
        free = _before_azure_work(error)
        if free:
            reason = f"{_describe(error)} came before Azure did any work: failing over at once"
        else:
            self.paid_failover_used = True
            reason = f"{_describe(error)}: failing over once; the first region may still bill for the failed attempt"
        self._failed_event(c, error, f"{note}fail over to {nxt.key}", 0.0)
        self._emit(
            "provider:failover",
            {
                "from": c.key,
                "to": nxt.key,
                "deployment": nxt.deployment,
                "error": type(error).__name__,
                "status": error.status,
                "free": free,
                "reason": reason,
            },
        )
        return _Step(nxt)

    def _stop_at_deadline(self, c: RouteCandidate, error: GatewayError) -> None:
        """No failover or retry starts once the deadline has passed: raise the deadline's error."""
        policy = self.hooks.policy
        if policy.deadline is None or not is_transient(error):
            return
        if not policy.passed(error, self.hooks.clock() - self.started):
            return
        final = deadline_error(policy.deadline, self.attempt_lines, error)
        self._failed_event(c, error, f"the {policy.deadline:g} s deadline has passed", 0.0)
        self._outcome(None, final)
        raise final from error

    def _should_refresh(self, c: RouteCandidate, error: GatewayError) -> bool:
        return (
            c.key not in self.refreshed
            and isinstance(error, AuthenticationError)
            and error.status == 401
            and self.hooks.credential_kind(c) in TOKEN_CREDENTIAL_KINDS
        )

    def _may_fail_over(self, error: GatewayError) -> bool:
        return _before_azure_work(error) or not self.paid_failover_used

    def _retry(self, c: RouteCandidate, error: GatewayError, note: str) -> _Step:
        policy = self.hooks.policy
        if self.retries >= policy.max_retries:
            self._failed_event(c, error, f"{note}all {policy.max_retries} retries used", 0.0)
            self.fail(f"all {policy.max_retries} retries used")
        health = self._snapshot()
        found = earliest_available(self.candidates, health)
        if found is None:
            self._failed_event(c, error, f"{note}no deployment left to try", 0.0)
            self.fail("every deployment of the route is marked broken")
        target, ready = found
        own = health[c.key].available_in
        if own is not None and own <= ready:
            # Retries stay on the deployment that failed (the RetryPolicy's backoff applies to it) unless
            # another one comes back sooner: moving on after a 5xx is the one paid failover, already spent.
            target, ready = c, own
        prior = error if target.key == c.key else self.errors.get(target.key)
        if prior is None or (prior.retry_after is not None and target.key != c.key):
            wait = ready  # the store holds that cooldown to the millisecond: exactly what Azure asked
        else:
            decision = policy.decide(prior, self.retries, self.hooks.clock() - self.started)
            if not decision.retry:
                self._failed_event(c, error, note + decision.reason, 0.0)
                self.fail(decision.reason, retry_after=round(ready, 3) if ready > 0 else None)
            wait = max(decision.delay, ready)
        beyond = self._beyond_deadline(target, ready, wait)
        if beyond is not None:
            self._failed_event(c, error, note + beyond, 0.0)
            # The deployment that just answered: what it asked for, not the cooldown left a few ms later.
            asked = error.retry_after if target.key == c.key and error.retry_after is not None else None
            self.fail(beyond, retry_after=asked if asked is not None else round(ready, 3))
        self._failed_event(c, error, f"{note}retry on {target.key} in {wait:.2f} s", wait)
        return _Step(target, wait, admitted=False)

    # -- the final error -----------------------------------------------------------------------------------------

    def _line(self, c: RouteCandidate, state: DeploymentHealth | None) -> str:
        last = self.last.get(c.key)
        if last is not None:
            return f"{c.key}: {last}"
        if state is not None and state.broken is not None:
            return f"{c.key}: broken ({state.broken.kind}): {state.broken.message}"
        if state is not None and state.status != "healthy":
            before = f"; last: {state.last_error}" if state.last_error else ""
            return f"{c.key}: {state.status.replace('_', ' ')} for {state.available_in or 0.0:.2f} s{before}"
        return f"{c.key}: not tried"

    def fail(self, reason: str, *, retry_after: float | None = None) -> NoReturn:
        """Raise a fresh copy of the most telling last error, listing every deployment's last error or health."""
        health = self._snapshot()
        lines = "; ".join(self._line(c, health.get(c.key)) for c in self.candidates)
        message = f"every deployment of the route failed ({reason}): {lines}"
        ranked = sorted(self.errors.values(), key=_relevance)
        cause: GatewayError | None = None
        if ranked:
            best = _relevance(ranked[0])
            cause = [e for e in self.errors.values() if _relevance(e) == best][-1]
            # A route of one keeps its last error's message, as a call to one deployment always has.
            final = _fresh(cause, message if len(self.candidates) > 1 else cause.message)
        elif retry_after is not None:
            final = RateLimitError(message)
        else:
            broken = [s.broken.kind for s in health.values() if s.broken is not None]
            final = (
                DeploymentNotFoundError(message)
                if broken and broken[0] == "not_found"
                else AuthenticationError(message)
            )
        final.attempts = tuple(self.attempt_lines)
        if retry_after is not None:
            final.retry_after = retry_after
        self._outcome(None, final)
        raise final from cause


def _fresh(error: GatewayError, message: str) -> GatewayError:
    """A new error of ``error``'s class with all its fields (through its pickling) and ``message``."""
    fresh = copy.copy(error)
    fresh.message = message
    fresh.args = (message,)
    return fresh


def run_route(
    candidates: Sequence[RouteCandidate],
    attempt: Callable[[RouteCandidate], T],
    hooks: FailoverHooks,
    *,
    latency: Callable[[T], float | None],
) -> tuple[RouteCandidate, T]:
    """Run one call over a route of deployments, failing over and retrying by the module's rules.

    Args:
        candidates: The route (two or more deployments; one works too).
        attempt: Sends to one candidate; returns a response (or an opened 2xx stream) or raises a GatewayError.
        hooks: Policy, health store, strategy, events and credential refresh.
        latency: The seconds to record for a returned attempt (time to first byte for streams).

    Returns:
        The candidate that answered, and its answer.

    Raises:
        GatewayError: A request error at once, or the most telling last error once nothing is left to try.
    """
    run = _RouteRun(candidates, hooks)
    step = run.first()
    while True:
        if step.wait > 0:
            hooks.sleep(step.wait)
        if not step.admitted:
            step = run.resume(step)
            continue
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
) -> tuple[RouteCandidate, T]:
    """Async :func:`run_route`; waits never block the event loop."""
    run = _RouteRun(candidates, hooks)
    step = run.first()
    while True:
        if step.wait > 0:
            await hooks.asleep(step.wait)
        if not step.admitted:
            step = run.resume(step)
            continue
        with run.attempt(step) as outcome:
            if step.refresh:
                await hooks.arefresh(step.candidate)
            outcome.answered(await attempt(step.candidate))
        if outcome.next is None:
            return run.answer(step, outcome, latency)
        step = outcome.next
