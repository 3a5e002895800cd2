"""Azure's quota headers: what a deployment has left, when it refills, and whether a request would fit.

Azure reports its rate limits on every routed answer: ``x-ratelimit-limit-tokens`` / ``-requests`` (the
budget), ``x-ratelimit-remaining-tokens`` / ``-requests`` (what is left) and, on newer deployments,
``x-ratelimit-reset-tokens`` / ``-requests`` and ``x-ratelimit-renewalperiod-*``. In recorded traffic the reset
values are bare milliseconds until the budget is full again (14 tokens used of 120,000 per 60 s gave
``x-ratelimit-reset-tokens: 7``; one request of 120 per minute gave ``x-ratelimit-reset-requests: 500``), so a
bare number is read as milliseconds; an OpenAI-style duration (``6m0s``, ``1.5s``, ``20ms``) is read as written.
Some front ends spell the header ``x-rate-limit-reset-tokens``; both are read.

The budget refills continuously (a token bucket over the renewal period), so a snapshot projects it forward:
between the observation and the reset, what is missing comes back linearly. A request is *predicted to
throttle* when its estimated tokens exceed the projected remaining tokens (or no request is left).

Pure: no clock of its own (callers pass ``now``, wall-clock seconds, so processes can share observations).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

__all__ = [
    "QuotaState",
    "estimate_tokens",
    "note_quota",
    "parse_reset",
    "quota_from_headers",
    "reset_wait",
]

# Share of a deployment's token budget kept free as margin: the fleet's other calls in flight may be taking it.
MARGIN = 0.1
# Below this share of its budget, an observation is news the whole fleet needs at once (see RedisHealthStore).
LOW_SHARE = 0.25
# When Azure sends no reset or renewal period, a minute is the window its TPM/RPM budgets are quoted in.
_DEFAULT_RENEWAL = 60.0
# An observation older than this says nothing any more (the budget has long refilled or been used).
_STALE_AFTER = 120.0
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def parse_reset(raw: str | None) -> float | None:
    """Seconds until a budget resets, from a reset header: bare milliseconds or an OpenAI-style duration."""
    if raw is None:
        return None
    text = raw.strip().lower()
    bare = _number(text)
    if bare is not None:
        return bare / 1000.0
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


def reset_wait(headers: Mapping[str, str]) -> float | None:
    """The token-budget reset a 429 announces (``x-ratelimit-reset-tokens`` or ``x-rate-limit-reset-tokens``)."""
    for name in ("x-ratelimit-reset-tokens", "x-rate-limit-reset-tokens"):
        wait = parse_reset(headers.get(name))
        if wait is not None:
            return wait
    return None


@dataclass(frozen=True, slots=True)
class QuotaState:
    """One observation of a deployment's budget, on the wall clock.

    Attributes:
        observed_at: ``time.time()`` when the answer carrying it arrived.
        remaining_tokens: ``x-ratelimit-remaining-tokens``.
        remaining_requests: ``x-ratelimit-remaining-requests``.
        limit_tokens: ``x-ratelimit-limit-tokens`` (the full budget).
        limit_requests: ``x-ratelimit-limit-requests``.
        tokens_full_at: Wall-clock time the token budget is full again (reset header, or projected).
        requests_full_at: Same for requests.
    """

    observed_at: float
    remaining_tokens: int | None = None
    remaining_requests: int | None = None
    limit_tokens: int | None = None
    limit_requests: int | None = None
    tokens_full_at: float | None = None
    requests_full_at: float | None = None

    def tokens_at(self, now: float) -> float | None:
        """Projected remaining tokens at ``now`` (``None`` when unknown or stale)."""
        return _project(self.remaining_tokens, self.limit_tokens, self.observed_at, self.tokens_full_at, now)

    def requests_at(self, now: float) -> float | None:
        """Projected remaining requests at ``now`` (``None`` when unknown or stale)."""
        return _project(self.remaining_requests, self.limit_requests, self.observed_at, self.requests_full_at, now)

    @property
    def low(self) -> bool:
        """Less than a quarter of the budget was left (tokens or requests)."""
        return any(
            left is not None and limit and left < LOW_SHARE * limit
            for left, limit in (
                (self.remaining_tokens, self.limit_tokens),
                (self.remaining_requests, self.limit_requests),
            )
        )

    def wait_for(self, tokens: int, now: float) -> float:
        """Seconds until ``tokens`` (and one request) fit, by the projection; ``0.0`` when they fit now.

        A tenth of the token budget (``MARGIN``) is kept free: other processes' calls may already be taking it.
        """
        need = tokens + int(MARGIN * (self.limit_tokens or 0))
        waits = [
            _wait(self.remaining_tokens, self.limit_tokens, self.observed_at, self.tokens_full_at, need, now),
            _wait(self.remaining_requests, self.limit_requests, self.observed_at, self.requests_full_at, 1, now),
        ]
        return max(waits)


def _full_at(remaining: float, limit: float | None, observed: float, full_at: float | None) -> float:
    if full_at is not None:
        return full_at
    if limit is None or limit <= 0:
        return observed + _DEFAULT_RENEWAL
    return observed + _DEFAULT_RENEWAL * max(0.0, limit - remaining) / limit


def _project(
    remaining: int | None, limit: int | None, observed: float, full_at: float | None, now: float
) -> float | None:
    if remaining is None or now - observed > _STALE_AFTER:
        return None
    end = _full_at(remaining, limit, observed, full_at)
    if limit is None:
        return float(remaining) if now < end else None
    if now >= end:
        return float(limit)
    share = 0.0 if end <= observed else max(0.0, (now - observed) / (end - observed))
    return remaining + (limit - remaining) * share


def _wait(  # noqa: PLR0917 - one budget's numbers, always passed together
    remaining: int | None, limit: int | None, observed: float, full_at: float | None, need: int, now: float
) -> float:
    left = _project(remaining, limit, observed, full_at, now)
    if left is None or left >= need or remaining is None:
        return 0.0
    end = _full_at(remaining, limit, observed, full_at)
    if limit is None or limit <= remaining or end <= observed:
        return max(0.0, end - now)
    rate = (limit - remaining) / (end - observed)
    return max(0.0, min(end - now, (need - left) / rate)) if rate > 0 else max(0.0, end - now)


def _int(headers: Mapping[str, str], name: str) -> int | None:
    value = _number(headers.get(name))
    return None if value is None else int(value)


def quota_from_headers(headers: Mapping[str, str], now: float) -> QuotaState | None:
    """The budget an answer's headers (lower-case names) report, or ``None`` when they report none."""
    tokens = _int(headers, "x-ratelimit-remaining-tokens")
    requests = _int(headers, "x-ratelimit-remaining-requests")
    if tokens is None and requests is None:
        return None
    token_reset = parse_reset(headers.get("x-ratelimit-reset-tokens") or headers.get("x-rate-limit-reset-tokens"))
    request_reset = parse_reset(headers.get("x-ratelimit-reset-requests"))
    return QuotaState(
        observed_at=now,
        remaining_tokens=tokens,
        remaining_requests=requests,
        limit_tokens=_int(headers, "x-ratelimit-limit-tokens"),
        limit_requests=_int(headers, "x-ratelimit-limit-requests"),
        tokens_full_at=None if token_reset is None else now + token_reset,
        requests_full_at=None if request_reset is None else now + request_reset,
    )


def estimate_tokens(body_bytes: int, max_tokens: int | None) -> int:
    """What Azure counts against the token budget before answering: the prompt (about 4 bytes of JSON per
    token) plus the output the request allows (``max_tokens``)."""
    return body_bytes // 4 + (max_tokens or 0)


def note_quota(record: Callable[[str, QuotaState], None], key: str, answer: object) -> None:
    """Hand the quota an answer's headers report (an answer with lower-case ``headers``) to ``record`` (a store's
    ``record_quota``), keyed by the candidate's key; nothing when the answer reports none."""
    headers = cast(Mapping[str, str] | None, getattr(answer, "headers", None))
    quota = quota_from_headers(headers, time.time()) if headers is not None else None
    if quota is not None:
        record(key, quota)
