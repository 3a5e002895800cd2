"""Enforced quota for emulated deployments: Azure's token bucket and the headers that report it.

Off by default (the emulator then only counts usage into ``x-ratelimit-remaining-*``, as before). With
``DeploymentInfo(enforce_quota=True)`` a deployment holds ``tokens_per_minute`` tokens that refill evenly over
``renewal_period`` seconds. Each request takes what Azure counts up front, its prompt (about 4 bytes of JSON a
token) plus the output it allows (``max_tokens`` / ``max_completion_tokens`` / ``max_output_tokens``). A request
that does not fit is answered 429 with ``retry-after-ms`` and ``x-ratelimit-reset-tokens`` (milliseconds, as in
recorded traffic) saying when it would; every answer reports the shrinking ``x-ratelimit-remaining-tokens`` and
the milliseconds until the budget is full again.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from azure_openai_emulator.script import RecordedRequest

__all__ = ["QuotaVerdict", "TokenBuckets", "request_cost"]

_OUTPUT_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")


def request_cost(rec: RecordedRequest) -> int:
    """Tokens Azure counts for a request before answering: the prompt plus the output it allows."""
    body = rec.body if isinstance(rec.body, dict) else {}
    prompt = len(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")) // 4
    allowed = next((v for f in _OUTPUT_FIELDS if isinstance(v := body.get(f), int)), 0)
    return prompt + allowed


@dataclass(frozen=True, slots=True)
class QuotaVerdict:
    """One request against a deployment's bucket.

    Attributes:
        admitted: It fit, and its tokens were taken.
        remaining: Tokens left afterwards.
        wait: Seconds until it would have fit (``0.0`` when admitted).
        full_in: Seconds until the bucket is full again.
        period: The renewal period, for ``x-ratelimit-renewalperiod-tokens``.
    """

    admitted: bool
    remaining: int
    wait: float
    full_in: float
    period: float

    def headers(self) -> dict[str, str]:
        """The quota headers Azure sends with this answer (and, on a 429, when to come back)."""
        out = {
            "x-ratelimit-remaining-tokens": str(self.remaining),
            "x-ratelimit-reset-tokens": str(math.ceil(self.full_in * 1000)),
            "x-ratelimit-renewalperiod-tokens": f"{self.period:g}",
        }
        if not self.admitted:
            out["x-ratelimit-reset-tokens"] = str(math.ceil(self.wait * 1000))
        return out


class TokenBuckets:
    """One token bucket per deployment name, refilled continuously; thread-safe.

    Attributes:
        refused: Requests answered 429 for want of tokens, by deployment.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._levels: dict[str, tuple[float, float]] = {}
        self.refused: dict[str, int] = {}

    def take(self, name: str, cost: int, capacity: int, period: float) -> QuotaVerdict:
        """Take ``cost`` tokens from ``name``'s bucket if they are there."""
        rate = capacity / period
        with self._lock:
            now = self._clock()
            level, at = self._levels.get(name, (float(capacity), now))
            level = min(float(capacity), level + (now - at) * rate)
            admitted = level >= cost
            wait = 0.0 if admitted else (cost - level) / rate
            if admitted:
                level -= cost
            else:
                self.refused[name] = self.refused.get(name, 0) + 1
            self._levels[name] = (level, now)
        return QuotaVerdict(admitted, int(level), wait, (capacity - level) / rate, period)

    def reset(self) -> None:
        """Every bucket full again."""
        with self._lock:
            self._levels.clear()
            self.refused.clear()
