"""The decisions of one call over a route, without I/O: which deployment next, after how long, and when to stop.

:func:`~shared_core.transport.failover.run_route` and its async twin drive a :class:`RouteRun`: they sleep,
refresh tokens and make the attempts; every decision (the rules of :mod:`~shared_core.transport.failover`) is
made here, once for both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar, cast

from shared_core.errors import (
    AuthenticationError,
    ConnectionFailedError,
    DeploymentNotFoundError,
    GatewayError,
    RateLimitError,
)
from shared_core.events import DebugEvent, EventName
from shared_core.messages import JsonValue
from shared_core.transport import failover_report as report
from shared_core.transport.health import (
    DeploymentHealth,
    HealthPolicy,
    HealthStore,
    InMemoryHealthStore,
    failure_kind_of,
)
from shared_core.transport.quota import note_quota
from shared_core.transport.retry import deadline_error, describe_error, is_transient
from shared_core.transport.strategies import PreferBudget, RouteCandidate, earliest_available

if TYPE_CHECKING:
    from shared_core.transport.failover import FailoverHooks

__all__ = ["CALL_HEALTH", "TOKEN_CREDENTIAL_KINDS", "RouteRun"]

T = TypeVar("T")

TOKEN_CREDENTIAL_KINDS = frozenset({"managed_identity", "default_credential", "token_provider"})
"""Credential kinds whose 401 is worth one token refresh and retry (a key or a static token is not)."""

CALL_HEALTH = HealthPolicy(failure_threshold=1_000_000, default_cooldown=0.0)
"""The policy of a call's own store (``FailoverHooks.store=None``): no circuit, no default cooldown; a
``Retry-After`` is still honoured."""

# A wait that follows a refused admission (another caller took the half-open trial) is never zero, so the
# loop cannot spin.
_MIN_WAIT = 0.005


@dataclass(slots=True)
class _Step:
    """The next attempt: where, after how long, and whether the loop already holds its admission."""

    candidate: RouteCandidate
    wait: float = 0.0
    admitted: bool = True
    refresh: bool = False


class _Attempt(Generic[T]):
    """Around one attempt (the drivers' only I/O): counts it, and decides what follows a failure."""

    __slots__ = ("next", "result", "run", "step")

    def __init__(self, run: RouteRun, step: _Step) -> None:
        self.run, self.step = run, step
        self.next: _Step | None = None
        self.result: T | None = None

    def __enter__(self) -> _Attempt[T]:
        self.run.attempting(self.step)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool:
        if isinstance(exc, GatewayError):
            self.next = self.run.failed(self.step.candidate, exc)
            return True
        if exc is not None:
            self.run.abandoned(self.step.candidate)
        return False

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


class RouteRun:
    """The state of one call over a route; the sync and async drivers share it and only do the I/O."""

    __slots__ = (
        "attempt_lines",
        "attempts",
        "candidates",
        "errors",
        "hooks",
        "keys",
        "last",
        "paid_failover_used",
        "refreshed",
        "retries",
        "started",
        "store",
        "tokens",
        "trials",
        "tried",
    )

    def __init__(self, candidates: Sequence[RouteCandidate], hooks: FailoverHooks, tokens: int | None) -> None:
        self.candidates = tuple(candidates)
        self.keys = [c.key for c in self.candidates]
        self.hooks = hooks
        self.store = hooks.store
        self.tokens = tokens
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

    def _store(self) -> HealthStore:
        if self.store is None:
            self.store = InMemoryHealthStore(CALL_HEALTH, now=self.hooks.clock)
        return self.store

    # -- events ------------------------------------------------------------------------------------------------

    def _emit(self, name: EventName, data: Mapping[str, JsonValue]) -> None:
        self.hooks.sink.emit(DebugEvent(name, data))

    def _failed_event(self, c: RouteCandidate, error: GatewayError, decision: str, delay: float) -> None:
        self._emit("provider:attempt_failed", report.attempt_failed(c, error, self.attempts, decision, delay))

    def _outcome(self, winner: RouteCandidate | None, error: GatewayError | None = None) -> None:
        elapsed = self.hooks.clock() - self.started
        data = report.outcome(
            winner,
            error,
            attempts=self.attempts,
            retries=self.retries,
            route=self.keys,
            tried=self.tried,
            elapsed=elapsed,
            errors=self.last,
        )
        self._emit("provider:outcome", data)

    # -- choosing ----------------------------------------------------------------------------------------------

    def _snapshot(self) -> Mapping[str, DeploymentHealth]:
        return self._store().snapshot(self.keys)

    def _pick(self, *, untried_only: bool) -> RouteCandidate | None:
        health = self._snapshot()
        strategy = self.hooks.strategy if self.tokens is None else PreferBudget(self.hooks.strategy, self.tokens)
        ordered = strategy.order(self.candidates, health)
        fresh = [c for c in ordered if c.key not in self.tried]
        pool = fresh if untried_only else fresh + [c for c in ordered if c.key in self.tried]
        for c in pool:
            if self._admit(c, health):
                return c
        return None

    def _admit(self, c: RouteCandidate, health: Mapping[str, DeploymentHealth] | None = None) -> bool:
        state = (health or self._snapshot()).get(c.key)
        half_open = state is not None and state.status == "half_open"
        if not self._store().admit(c.key):
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
        if self.store is None and len(self.candidates) == 1:
            return _Step(self.candidates[0])  # a store of the call's own, still empty, admits it: nothing to ask
        picked = self._pick(untried_only=False)
        return _Step(picked) if picked is not None else self._wait_for_earliest()

    def resume(self, step: _Step) -> _Step:
        """After a wait: the awaited deployment if it admits the call, else whatever may take it now."""
        if self._admit(step.candidate):
            return _Step(step.candidate, refresh=step.refresh)
        picked = self._pick(untried_only=False)
        return _Step(picked) if picked is not None else self._wait_for_earliest()

    # -- outcomes ----------------------------------------------------------------------------------------------

    def attempt(self, step: _Step) -> _Attempt[Any]:
        """The ``with`` block around one attempt."""
        return _Attempt(self, step)

    def answer(
        self, step: _Step, outcome: _Attempt[T], latency: Callable[[T], float | None]
    ) -> tuple[RouteCandidate, T]:
        """Close the call with the attempt's answer (its quota noted in a shared store)."""
        result = cast(T, outcome.result)
        if self.hooks.store is not None:
            note_quota(self.hooks.store.record_quota, step.candidate.key, result)
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
        if self.store is not None:
            self.store.record_success(c.key, latency)
        self._outcome(c)

    def abandoned(self, c: RouteCandidate) -> None:
        """The attempt was cancelled: hand a half-open trial back so another caller can take it."""
        if c.key in self.trials:
            self.trials.discard(c.key)
            self._store().release_trial(c.key)

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
        state = self._store().record_failure(c.key, failure_kind_of(error), error.retry_after, message=message)
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
        # The deployment that just answered: what it asked for, not the cooldown left a few ms later.
        asked = error.retry_after if target.key == c.key and error.retry_after is not None else None
        if prior is None or (prior.retry_after is not None and target.key != c.key):
            wait = ready  # the store holds that cooldown to the millisecond: exactly what Azure asked
        else:
            decision = policy.decide(prior, self.retries, self.hooks.clock() - self.started)
            if not decision.retry:
                self._failed_event(c, error, note + decision.reason, 0.0)
                left = round(ready, 3) if ready > 0 else None
                self.fail(decision.reason, retry_after=asked if asked is not None else left)
            wait = max(decision.delay, ready)
        beyond = self._beyond_deadline(target, ready, wait)
        if beyond is not None:
            self._failed_event(c, error, note + beyond, 0.0)
            self.fail(beyond, retry_after=asked if asked is not None else round(ready, 3))
        self._failed_event(c, error, f"{note}retry on {target.key} in {wait:.2f} s", wait)
        return _Step(target, wait, admitted=False)

    # -- the final error -----------------------------------------------------------------------------------------

    def fail(self, reason: str, *, retry_after: float | None = None) -> NoReturn:
        """Raise a fresh copy of the most telling last error, listing every deployment's last error or health."""
        health = self._snapshot()
        final, cause = report.final_error(
            reason, self.candidates, self.errors, self.last, health, self.attempt_lines, retry_after
        )
        self._outcome(None, final)
        raise final from cause
