"""What a route reports: its events, and the error it raises when every deployment failed.

Events (to the gateway's sink): ``provider:attempt_failed`` per failed attempt, with the decision that
followed, and one ``provider:outcome`` per call. The final error is a fresh copy of the most telling last error.
A throttle tells more than a server error, which tells more than a configuration error: the caller's
``except RateLimitError`` keeps working whether a model has one deployment or many. The copy has the same class
and fields (through its pickling), a message listing each deployment's last error or health (a route of one
keeps its last error's message), and ``attempts``, one line per HTTP attempt. The caught errors are never
changed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

from shared_core.errors import AuthenticationError, DeploymentNotFoundError, GatewayError, RateLimitError
from shared_core.messages import JsonValue
from shared_core.transport.health import DeploymentHealth, failure_kind_of
from shared_core.transport.strategies import RouteCandidate

__all__ = ["attempt_failed", "final_error", "outcome", "relevance"]


def attempt_failed(
    c: RouteCandidate, error: GatewayError, attempt: int, decision: str, delay: float
) -> dict[str, JsonValue]:
    """The ``provider:attempt_failed`` event's data: the attempt, its error, and what follows (``decision``)."""
    return {
        "deployment": c.deployment,
        "endpoint": c.endpoint,
        "key": c.key,
        "attempt": attempt,
        "error": type(error).__name__,
        "status": error.status,
        "code": error.code,
        "request_id": error.request_id,
        "retry_after": error.retry_after,
        "decision": decision,
        "delay": round(delay, 3),
    }


def outcome(
    winner: RouteCandidate | None,
    error: GatewayError | None,
    *,
    attempts: int,
    retries: int,
    route: Sequence[str],
    tried: Sequence[str],
    elapsed: float,
    errors: Mapping[str, str],
) -> dict[str, JsonValue]:
    """The ``provider:outcome`` event's data: who answered (or the error), how many attempts, retries, how long."""
    return {
        "deployment": winner.deployment if winner else None,
        "key": winner.key if winner else None,
        "outcome": "ok" if error is None else "failed",
        "attempts": attempts,
        "retries": retries,
        "route": [*route],
        "tried": [*tried],
        "elapsed": round(elapsed, 4),
        "error": None if error is None else type(error).__name__,
        "status": None if error is None else error.status,
        "request_id": None if error is None else error.request_id,
        "errors": {**errors},
    }


def relevance(error: GatewayError) -> int:
    """How telling an error is for the caller: 0 (a throttle), 1 (server, timeout, connection), 2 (the rest)."""
    kind = failure_kind_of(error)
    if kind == "rate_limit":
        return 0
    return 1 if kind in ("server", "timeout", "connection") else 2


def _line(c: RouteCandidate, last: str | None, state: DeploymentHealth | None) -> str:
    if last is not None:
        return f"{c.key}: {last}"
    if state is not None and state.broken is not None:
        return f"{c.key}: broken ({state.broken.kind}): {state.broken.message}"
    if state is not None and state.status != "healthy":
        before = f"; last: {state.last_error}" if state.last_error else ""
        return f"{c.key}: {state.status.replace('_', ' ')} for {state.available_in or 0.0:.2f} s{before}"
    return f"{c.key}: not tried"


def _fresh(error: GatewayError, message: str) -> GatewayError:
    """A new error of ``error``'s class with all its fields (through its pickling) and ``message``."""
    fresh = copy.copy(error)
    fresh.message = message
    fresh.args = (message,)
    return fresh


def final_error(  # noqa: PLR0917 - one route's record of the call, always passed together
    reason: str,
    candidates: Sequence[RouteCandidate],
    errors: Mapping[str, GatewayError],
    last: Mapping[str, str],
    health: Mapping[str, DeploymentHealth],
    attempts: Sequence[str],
    retry_after: float | None,
) -> tuple[GatewayError, GatewayError | None]:
    """The error to raise, and the caught error it was copied from (its ``__cause__``; none when no attempt failed).

    Args:
        reason: Why nothing is left to try ("all 2 retries used").
        candidates: The route.
        errors: Each deployment's last error, by key.
        last: Each deployment's last error as a line ("``ServerError (HTTP 503): ...``"), by key.
        health: The store's snapshot of the route.
        attempts: One line per HTTP attempt made, in order.
        retry_after: The wait to report (the shortest wait of the route), when there is one.
    """
    lines = "; ".join(_line(c, last.get(c.key), health.get(c.key)) for c in candidates)
    message = f"every deployment of the route failed ({reason}): {lines}"
    cause: GatewayError | None = None
    if errors:
        best = min(relevance(e) for e in errors.values())
        cause = [e for e in errors.values() if relevance(e) == best][-1]
        # A route of one keeps its last error's message, as a call to one deployment always has.
        final = _fresh(cause, message if len(candidates) > 1 else cause.message)
    elif retry_after is not None:
        final = RateLimitError(message)
    else:
        broken = [s.broken.kind for s in health.values() if s.broken is not None]
        final = (
            DeploymentNotFoundError(message) if broken and broken[0] == "not_found" else AuthenticationError(message)
        )
    final.attempts = tuple(attempts)
    if retry_after is not None:
        final.retry_after = retry_after
    return final, cause
