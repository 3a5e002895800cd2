"""When to try again, and after how long: a pure policy, with no sleeping and no clock of its own.

:mod:`~shared_core.transport.failover` owns the one retry loop of the package (the anchors stack the SDK's
retries under their own and multiply attempts: ``max_retries=2`` became 6 HTTP requests for one 429 in
LlamaIndex). It asks :meth:`RetryPolicy.decide` after each failure and sleeps for the returned delay. Three promises:

* never wait less than the server asked (``retry-after-ms`` / ``retry-after``): jitter only adds;
* never retry once a stream has yielded its first event (the caller already saw output);
* never go past the call's deadline: when the wait would cross it, give up now and raise the original
  error, which carries ``retry_after`` so the caller can decide.

The 401 that forces one token refresh is the transport's single special retry, not this policy's.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

from shared_core.errors import (
    ConnectionFailedError,
    GatewayError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
)

__all__ = [
    "DEADLINE_CODE",
    "RetryDecision",
    "RetryPolicy",
    "deadline_error",
    "deadline_passed",
    "describe_error",
    "is_transient",
    "time_left",
]

DEADLINE_CODE = "deadline"
"""The ``code`` of a :class:`RequestTimeoutError` raised because the call's deadline passed."""

_RETRYABLE_SERVER_STATUSES = frozenset({500, 502, 503, 504})
# 2**60 * any sane base delay is far past max_delay; the cap keeps the float power from overflowing.
_MAX_EXPONENT = 60
_SHARED_RNG = random.Random()


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """The policy's answer for one failure.

    Attributes:
        retry: Whether to try again.
        delay: Seconds to wait before the next attempt (``0.0`` when not retrying).
        reason: Why, in words, for debug events.
    """

    retry: bool
    delay: float
    reason: str


def is_transient(error: GatewayError) -> bool:
    """A failure that may pass: a throttle, a timeout, a failed connection or a 500/502/503/504."""
    if isinstance(error, RateLimitError | RequestTimeoutError | ConnectionFailedError):
        return True
    return isinstance(error, ServerError) and error.status in _RETRYABLE_SERVER_STATUSES


def describe_error(error: GatewayError) -> str:
    """``ClassName (HTTP status)``, for events and the lines of a final error."""
    status = f" (HTTP {error.status})" if error.status is not None else ""
    return f"{type(error).__name__}{status}"


_describe = describe_error


def time_left(deadline: float | None) -> float:
    """Seconds until ``deadline`` (a ``time.monotonic()`` value); infinite without one."""
    return math.inf if deadline is None else deadline - time.monotonic()


def deadline_passed(where: str) -> RequestTimeoutError:
    """The error of an attempt stopped by the call's deadline (``where``: "while the body was being read")."""
    return RequestTimeoutError(
        f"the call's deadline passed {where}; raise the deadline (it bounds the whole call, retries, waits and "
        "the body included), or check the network path to Azure",
        code=DEADLINE_CODE,
    )


def deadline_error(deadline: float, attempts: list[str], last: GatewayError) -> RequestTimeoutError:
    """The error of a call whose deadline passed: it names the deadline and lists every attempt.

    Args:
        deadline: The deadline, in seconds.
        attempts: One line per HTTP attempt made, in order (``"eastus/gpt-4o: ServerError (HTTP 503): ..."``).
        last: The last attempt's error; its context (deployment, request id ...) is kept.
    """
    listed = "; ".join(f"{n}) {line}" for n, line in enumerate(attempts, 1))
    message = (
        f"the call's {deadline:g} s deadline passed after {len(attempts)} attempt(s): {listed}; raise the "
        "deadline (it bounds the whole call: every attempt, wait and body read), or check Azure's health"
    )
    error = RequestTimeoutError(
        message,
        deployment=last.deployment,
        endpoint=last.endpoint,
        status=last.status,
        code=DEADLINE_CODE,
        request_id=last.request_id,
        retry_after=last.retry_after,
    )
    error.attempts = tuple(attempts)
    return error


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times to retry, how long to wait, and the budget for the whole call.

    Attributes:
        max_retries: Retries after the first attempt; ``2`` means at most three HTTP attempts.
        base_delay: Backoff of the first retry, in seconds, when the server did not say how long to wait.
        max_delay: Cap of the exponential backoff (a server's ``retry-after`` is honoured above it).
        jitter: Fraction of the delay to randomise, spreading clients that failed together.
        deadline: Seconds the whole call may take, retries and waits included; ``None`` for no bound.
    """

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    deadline: float | None = 60.0

    def decide(
        self,
        error: GatewayError,
        attempt: int,
        elapsed: float,
        *,
        stream_started: bool = False,
        rng: random.Random | None = None,
    ) -> RetryDecision:
        """Decide whether to retry after ``error``.

        Args:
            error: The failure of the attempt that just ended.
            attempt: Retries already made for this call (``0`` after the first failure).
            elapsed: Seconds since the call started.
            stream_started: True once a stream has yielded an event; nothing is retried after that.
            rng: Source of jitter (pass a seeded one in tests); a shared generator when omitted.

        Returns:
            The decision, with the delay to sleep and a readable reason.
        """
        what = _describe(error)
        if stream_started:
            return RetryDecision(False, 0.0, f"{what} after the stream had started: output was already seen")
        if not is_transient(error):
            return RetryDecision(False, 0.0, f"{what} is not transient: retrying would fail the same way")
        if attempt >= self.max_retries:
            return RetryDecision(False, 0.0, f"{what}: all {self.max_retries} retries used")
        remaining = self._remaining(elapsed)
        if remaining is not None and remaining <= 0.0:
            return RetryDecision(False, 0.0, f"{what}: the {self.deadline:g} s deadline has passed")
        source = rng if rng is not None else _SHARED_RNG
        if error.retry_after is not None:
            return self._after_server_wait(what, max(0.0, error.retry_after), attempt, elapsed, source)
        return self._after_backoff(what, attempt, elapsed, source)

    def passed(self, error: GatewayError, elapsed: float) -> bool:
        """Whether the call's deadline has passed (or the attempt itself stopped at it)."""
        return error.code == DEADLINE_CODE or (self.deadline is not None and elapsed >= self.deadline)

    def _remaining(self, elapsed: float) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - elapsed)

    def _after_server_wait(
        self, what: str, asked: float, attempt: int, elapsed: float, source: random.Random
    ) -> RetryDecision:
        remaining = self._remaining(elapsed)
        if remaining is not None and asked > remaining:
            return RetryDecision(
                False,
                0.0,
                f"{what}: the server asked to wait {asked:.2f} s but only {remaining:.2f} s remain "
                f"of the {self.deadline:g} s deadline",
            )
        spread = self.jitter * min(max(asked, self.base_delay), self.max_delay)
        delay = asked + source.uniform(0.0, max(0.0, spread))
        if remaining is not None:
            # The jitter may be trimmed to fit the deadline; the server's own wait never is.
            delay = max(asked, min(delay, remaining))
        return RetryDecision(
            True,
            delay,
            f"{what}: retry {attempt + 1} of {self.max_retries} in {delay:.2f} s (the server asked for {asked:.2f} s)",
        )

    def _after_backoff(self, what: str, attempt: int, elapsed: float, source: random.Random) -> RetryDecision:
        backoff = min(self.max_delay, self.base_delay * 2.0 ** min(attempt, _MAX_EXPONENT))
        delay = backoff * (1.0 + source.uniform(-self.jitter, self.jitter))
        delay = min(self.max_delay, max(0.0, delay))
        remaining = self._remaining(elapsed)
        if remaining is not None and delay > remaining:
            return RetryDecision(
                False,
                0.0,
                f"{what}: the next attempt would wait {delay:.2f} s but only {remaining:.2f} s remain "
                f"of the {self.deadline:g} s deadline",
            )
        return RetryDecision(
            True, delay, f"{what}: retry {attempt + 1} of {self.max_retries} in {delay:.2f} s (backoff)"
        )
