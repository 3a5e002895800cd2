"""What a failed attempt says about a deployment, and the numbers behind the health rules.

:func:`failure_kind_of` sorts an error into a :data:`FailureKind` (a 429 is load, a 401 is configuration, a
timeout counts toward the circuit breaker ...); :class:`HealthPolicy` holds the thresholds and periods a
:class:`~shared_core.transport.health.HealthStore` applies (the rules are drawn in :mod:`shared_core.transport.health`).
Both are pure: no state, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from shared_core.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    DeploymentNotFoundError,
    GatewayError,
    InvalidResponseError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    StreamInterruptedError,
)

__all__ = ["FailureKind", "HealthPolicy", "failure_kind_of"]

FailureKind = Literal["rate_limit", "server", "timeout", "connection", "auth", "not_found", "other"]
"""What a failure says: ``rate_limit`` (cool down), ``server`` / ``timeout`` / ``connection`` (count toward
the circuit breaker), ``auth`` / ``not_found`` (broken until reset), ``other`` (nothing about the deployment)."""


def failure_kind_of(error: GatewayError) -> FailureKind:
    """What a failed attempt says about the deployment's health.

    Only 401/403 count as ``auth``: a credential that could not produce a token (no status) is not the
    deployment's fault, so it is ``other`` and does not mark the deployment broken.
    """
    if isinstance(error, RateLimitError):
        return "rate_limit"
    if isinstance(error, DeploymentNotFoundError):
        return "not_found"
    if isinstance(error, AuthenticationError):
        return "auth" if error.status in (401, 403) else "other"
    if isinstance(error, RequestTimeoutError):
        return "timeout"
    if isinstance(error, ConnectionFailedError | StreamInterruptedError):
        return "connection"
    # An HTML error page instead of JSON comes from a failing proxy or gateway in front of the deployment.
    if isinstance(error, ServerError | InvalidResponseError):
        return "server"
    return "other"


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """The numbers behind the health rules.

    Attributes:
        failure_threshold: Consecutive circuit failures (5xx, timeout, connection) that open the circuit.
        failure_window: Seconds within which those failures must fall; an older streak starts again.
        open_for: Seconds the circuit stays open the first time.
        backoff_factor: Each failed trial multiplies the open period by this.
        max_open_for: Cap of the open period.
        trial_timeout: Seconds after which a half-open trial that never reported back is given to another caller.
        default_cooldown: Cooldown for a 429 that carried no ``Retry-After``.
        max_cooldown: Cap of any cooldown, whatever ``Retry-After`` said.
        latency_alpha: Weight of the newest time-to-first-byte sample in the average (0 < alpha <= 1).
    """

    failure_threshold: int = 5
    failure_window: float = 30.0
    open_for: float = 5.0
    backoff_factor: float = 2.0
    max_open_for: float = 120.0
    trial_timeout: float = 30.0
    default_cooldown: float = 1.0
    latency_alpha: float = 0.3
    max_cooldown: float = 3600.0

    def __post_init__(self) -> None:
        checks = {
            "failure_threshold": self.failure_threshold >= 1,
            "failure_window": self.failure_window > 0,
            "open_for": self.open_for > 0,
            "backoff_factor": self.backoff_factor >= 1,
            "max_open_for": self.max_open_for >= self.open_for,
            "trial_timeout": self.trial_timeout > 0,
            "default_cooldown": self.default_cooldown >= 0,
            "max_cooldown": self.max_cooldown >= 0,
            "latency_alpha": 0 < self.latency_alpha <= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad or not all(math.isfinite(float(getattr(self, n))) for n in checks):
            raise ConfigurationError(
                f"health policy values out of range: {', '.join(bad) or 'a value is not finite'}",
                source="HealthPolicy",
                fix="use a threshold >= 1, positive finite periods, max_open_for >= open_for, "
                "backoff_factor >= 1 and 0 < latency_alpha <= 1",
            )

    def open_period(self, trips: int) -> float:
        """Seconds the circuit stays open after its ``trips``-th consecutive opening (1-based)."""
        exponent = min(max(trips - 1, 0), 60)
        return min(self.max_open_for, self.open_for * self.backoff_factor**exponent)
