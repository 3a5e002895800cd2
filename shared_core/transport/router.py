"""The one retry loop of the package: attempts, waits, the single token refresh after a 401, and events.

An attempt is a callable that either returns (a response, or an opened stream whose status was 2xx) or raises
a :class:`GatewayError`. Nothing is retried once an attempt has returned: for a stream, that is before its
first event reaches the caller, so no output is ever replayed. This loop serves a route of one deployment
(at most ``max_retries + 1`` HTTP attempts, plus one after a token refresh); routes of several deployments run
the failover loop of :mod:`shared_core.transport.failover`, which shares :data:`TOKEN_CREDENTIAL_KINDS` and the
event names.

Once the call's deadline has passed, no retry starts: the error raised names the deadline and lists every
attempt (the rules of :mod:`shared_core.transport.failover`).

Events: ``provider:attempt_failed`` for every failed attempt (with the decision taken), and one
``provider:outcome`` when the loop ends, saying how many HTTP attempts it made and how it ended (for a stream,
"ok" means it opened; a break later is the stream's own error).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from shared_core.errors import AuthenticationError, GatewayError
from shared_core.events import DebugEvent, EventSink
from shared_core.transport.retry import RetryPolicy, deadline_error, describe_error, is_transient

__all__ = ["TOKEN_CREDENTIAL_KINDS", "AttemptHooks", "arun_attempts", "run_attempts"]

T = TypeVar("T")

TOKEN_CREDENTIAL_KINDS = frozenset({"managed_identity", "default_credential", "token_provider"})


@dataclass(frozen=True, slots=True)
class AttemptHooks:
    """What the loop needs besides the attempt itself.

    Attributes:
        policy: When to retry and how long to wait.
        sink: Where attempt, retry and outcome events go.
        deployment: For the events.
        credential_kind: The auth provider's kind; a 401 refreshes only token credentials.
        refresh: Forces a token refresh (sync).
        arefresh: Forces a token refresh (async).
        sleep: Injected for tests that must not wait; ``time.sleep`` by default.
        asleep: Async sleep; ``asyncio.sleep`` by default.
        clock: Monotonic seconds; injected with ``sleep`` by tests that run on a fake clock.
    """

    policy: RetryPolicy
    sink: EventSink
    deployment: str
    credential_kind: str
    refresh: Callable[[], None]
    arefresh: Callable[[], Awaitable[None]]
    sleep: Callable[[float], None] = time.sleep
    asleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic


def _failed(hooks: AttemptHooks, error: GatewayError, attempt: int, decision: str, delay: float) -> None:
    hooks.sink.emit(
        DebugEvent(
            "provider:attempt_failed",
            {
                "deployment": hooks.deployment,
                "attempt": attempt + 1,
                "error": type(error).__name__,
                "status": error.status,
                "code": error.code,
                "request_id": error.request_id,
                "retry_after": error.retry_after,
                "decision": decision,
                "delay": round(delay, 3),
            },
        )
    )


def _outcome(hooks: AttemptHooks, attempts: int, started: float, error: GatewayError | None = None) -> None:
    hooks.sink.emit(
        DebugEvent(
            "provider:outcome",
            {
                "deployment": hooks.deployment,
                "outcome": "ok" if error is None else "failed",
                "attempts": attempts,
                "elapsed": round(hooks.clock() - started, 4),
                "error": None if error is None else type(error).__name__,
                "status": None if error is None else error.status,
                "request_id": None if error is None else error.request_id,
            },
        )
    )


def _should_refresh(hooks: AttemptHooks, error: GatewayError, refreshed: bool) -> bool:
    return (
        not refreshed
        and isinstance(error, AuthenticationError)
        and error.status == 401
        and hooks.credential_kind in TOKEN_CREDENTIAL_KINDS
    )


def _decide(
    hooks: AttemptHooks, error: GatewayError, retries: int, attempts: int, started: float, *, lines: list[str]
) -> float:
    """The wait before the next attempt; raises the error (or the deadline's) when there is none."""
    elapsed = hooks.clock() - started
    policy = hooks.policy
    if policy.deadline is not None and policy.passed(error, elapsed) and is_transient(error):
        final = deadline_error(policy.deadline, lines, error)
        _failed(hooks, error, retries, f"the {policy.deadline:g} s deadline has passed", 0.0)
        _outcome(hooks, attempts, started, final)
        raise final from error
    decision = policy.decide(error, retries, elapsed)
    _failed(hooks, error, retries, decision.reason, decision.delay)
    if not decision.retry:
        _outcome(hooks, attempts, started, error)
        raise error
    return decision.delay


def run_attempts(attempt: Callable[[], T], hooks: AttemptHooks) -> T:
    """Run ``attempt`` until it returns, retrying as the policy allows.

    Raises:
        GatewayError: The last attempt's error, when no retry is left (its message unchanged).
    """
    started = hooks.clock()
    retries = 0
    attempts = 0
    refreshed = False
    lines: list[str] = []
    while True:
        attempts += 1
        try:
            result = attempt()
        except GatewayError as error:
            if _should_refresh(hooks, error, refreshed):
                refreshed = True
                _failed(hooks, error, retries, "refresh the token once and retry", 0.0)
                hooks.refresh()
                continue
            lines.append(f"{hooks.deployment}: {describe_error(error)}: {error.message}")
            delay = _decide(hooks, error, retries, attempts, started, lines=lines)
            hooks.sleep(delay)
            retries += 1
        else:
            _outcome(hooks, attempts, started)
            return result


async def arun_attempts(attempt: Callable[[], Awaitable[T]], hooks: AttemptHooks) -> T:
    """Async :func:`run_attempts`; waits never block the event loop."""
    started = hooks.clock()
    retries = 0
    attempts = 0
    refreshed = False
    lines: list[str] = []
    while True:
        attempts += 1
        try:
            result = await attempt()
        except GatewayError as error:
            if _should_refresh(hooks, error, refreshed):
                refreshed = True
                _failed(hooks, error, retries, "refresh the token once and retry", 0.0)
                await hooks.arefresh()
                continue
            lines.append(f"{hooks.deployment}: {describe_error(error)}: {error.message}")
            delay = _decide(hooks, error, retries, attempts, started, lines=lines)
            await hooks.asleep(delay)
            retries += 1
        else:
            _outcome(hooks, attempts, started)
            return result
