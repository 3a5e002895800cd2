"""Per-deployment health for the router: cooldowns, circuit breakers, broken marks and latency.

The router asks one question before each attempt ("may I use this deployment now?") and reports one outcome
after it. Everything it needs sits behind :class:`HealthStore`, so a store shared by many replicas (Redis, say)
can replace :class:`InMemoryHealthStore` later without touching the router. Which failure says what, and the
numbers behind each rule (:class:`HealthPolicy`), are in :mod:`~shared_core.transport.health_policy`. The rules:

* **Cooldown.** A 429 cools the deployment down for exactly the ``Retry-After`` Azure sent (a later, shorter
  answer never shortens it: we never wait less than the server asked), capped at ``max_cooldown`` (an hour by
  default): one ``Retry-After: 1000000`` must not take a region out for days.
* **Circuit breaker.** ``failure_threshold`` consecutive 5xx, timeout or connection failures within
  ``failure_window`` seconds open the circuit for ``open_for`` seconds. Then exactly one caller gets a trial
  (half-open); its success closes the circuit, its failure re-opens it for longer (``backoff_factor``, capped).
* **Broken.** 401/403 and not-found errors are configuration errors, not load: the deployment is left out
  until :meth:`HealthStore.reset`, and the error message is kept for the final report.
* **Latency.** A decaying average (EWMA) of time-to-first-byte, for least-latency routing. Time to first byte
  measures the deployment's queue; total time would mostly measure how long the answer was.
* **Quota.** The budget Azure reported on the latest answer (:class:`~shared_core.transport.quota.QuotaState`),
  on the wall clock, newest observation wins; strategies use it to skip a deployment a request would not fit.

Every method is synchronous and holds the lock for microseconds, never across an ``await``: it is safe from
threads and from asyncio tasks alike.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from shared_core import display
from shared_core.transport.health_policy import FailureKind, HealthPolicy, failure_kind_of
from shared_core.transport.quota import QuotaState

_STORES: weakref.WeakSet[InMemoryHealthStore] = weakref.WeakSet()

__all__ = [
    "BrokenReason",
    "DeploymentHealth",
    "FailureKind",
    "HealthEntry",
    "HealthPolicy",
    "HealthSnapshot",
    "HealthStatus",
    "HealthStore",
    "InMemoryHealthStore",
    "deployment_key",
    "failure_kind_of",
]

_log = logging.getLogger("shared_core.transport.health")

HealthStatus = Literal["healthy", "cooling_down", "circuit_open", "half_open", "broken"]

_CIRCUIT_KINDS: frozenset[FailureKind] = frozenset({"server", "timeout", "connection"})


def deployment_key(endpoint: str, deployment: str) -> str:
    """The stable key of one deployment on one named endpoint (``eastus/gpt-4o``).

    The same deployment name is common in several regions, so the endpoint's name is part of the key.
    """
    return f"{endpoint}/{deployment}"


@dataclass(frozen=True, slots=True)
class BrokenReason:
    """Why a deployment is left out until reset.

    Attributes:
        kind: ``auth`` (401/403) or ``not_found`` (no such deployment).
        message: The error's message, for the final report (never holds a secret).
        since: Store clock value when it was marked.
    """

    kind: Literal["auth", "not_found"]
    message: str
    since: float


@dataclass(frozen=True, slots=True)
class DeploymentHealth:
    """A read-only view of one deployment's health at one instant.

    Attributes:
        key: The deployment key.
        status: ``broken`` > ``circuit_open`` > ``cooling_down`` > ``half_open`` > ``healthy``.
        usable: A caller may use it now (healthy, or half-open with its trial free).
        available_in: Seconds until it may be used (``0.0`` when usable; ``None`` when broken).
        consecutive_failures: Circuit failures in the current streak.
        circuit_trips: Consecutive openings of the circuit (``0`` when closed).
        trial_in_flight: A half-open trial was handed out and has not reported back.
        broken: Why it is broken, when it is.
        latency: Average time to first byte in seconds (``None`` before the first sample).
        latency_samples: Samples in that average.
        last_failure: Kind of the last failure, if any.
        last_error: Message of the last failure, for the final error report.
        quota: The budget Azure last reported for it, when it did.
        as_of: Wall-clock time of this view (what ``quota`` is projected to).
    """

    key: str
    status: HealthStatus = "healthy"
    usable: bool = True
    available_in: float | None = 0.0
    consecutive_failures: int = 0
    circuit_trips: int = 0
    trial_in_flight: bool = False
    broken: BrokenReason | None = None
    latency: float | None = None
    latency_samples: int = 0
    last_failure: FailureKind | None = None
    last_error: str | None = None
    quota: QuotaState | None = None
    as_of: float = 0.0

    def quota_wait(self, tokens: int) -> float:
        """Seconds until a request of ``tokens`` fits the reported budget (``0.0`` when it fits or is unknown)."""
        return 0.0 if self.quota is None else self.quota.wait_for(tokens, self.as_of)

    def _repr_html_(self) -> str:
        """Notebook display: one row with status, time until usable, latency and the last error."""
        return display.health_html({self.key: self})


class HealthSnapshot(dict[str, DeploymentHealth]):
    """What ``snapshot()`` returns: a plain dict of deployment key to health, shown as a table in a notebook."""

    def _repr_html_(self) -> str:
        """Notebook display: one row per deployment (status, time until usable, latency, last error)."""
        return display.health_html(self)


class HealthStore(Protocol):
    """Where router state lives: per process today, shared between replicas later.

    Reads return snapshots; every write is one operation a shared store can make atomic (a Lua script or a
    transaction in Redis). Keys come from :func:`deployment_key`. A key never seen is healthy.
    """

    def state(self, key: str) -> DeploymentHealth:
        """One deployment's health now."""
        ...

    def snapshot(self, keys: Iterable[str] | None = None) -> Mapping[str, DeploymentHealth]:
        """Health of ``keys`` (every known deployment when ``None``), all read at one instant."""
        ...

    def admit(self, key: str) -> bool:
        """Whether the caller may send to this deployment now; takes the half-open trial when that is the way."""
        ...

    def try_acquire_trial(self, key: str) -> bool:
        """Take the half-open trial: true for exactly one caller per half-open period."""
        ...

    def release_trial(self, key: str) -> None:
        """Give the trial back unused (the caller was cancelled before an outcome)."""
        ...

    def record_success(self, key: str, latency: float | None) -> None:
        """An attempt succeeded; ``latency`` is its time to first byte in seconds, when measured."""
        ...

    def record_failure(
        self, key: str, kind: FailureKind, retry_after: float | None, *, message: str | None = None
    ) -> DeploymentHealth:
        """An attempt failed; returns the health it leaves (to say "circuit opened" in events)."""
        ...

    def record_quota(self, key: str, quota: QuotaState) -> None:
        """The budget an answer reported (kept when newer than the one held)."""
        ...

    def reset(self, key: str | None = None) -> None:
        """Forget one deployment's state (after fixing its configuration), or every deployment's."""
        ...


class HealthEntry:
    """Mutable state of one deployment; only touched under its store's lock (for store implementations)."""

    __slots__ = (
        "broken",
        "circuit_open_until",
        "cooldown_until",
        "ewma",
        "last_error",
        "last_failure",
        "quota",
        "samples",
        "streak",
        "streak_started",
        "trial_started",
        "trips",
    )

    def __init__(self) -> None:
        self.cooldown_until = -math.inf
        self.streak = 0
        self.streak_started = 0.0
        self.circuit_open_until: float | None = None
        self.trips = 0
        self.trial_started: float | None = None
        self.broken: BrokenReason | None = None
        self.ewma: float | None = None
        self.samples = 0
        self.last_failure: FailureKind | None = None
        self.last_error: str | None = None
        self.quota: QuotaState | None = None


def _new_locks_after_fork() -> None:
    # A lock another thread held at the instant of the fork stays held forever in the child.
    for store in list(_STORES):
        store._lock = threading.Lock()  # pyright: ignore[reportPrivateUsage]


class InMemoryHealthStore:
    """The per-process :class:`HealthStore`: a dict of entries behind one ``threading.Lock``.

    Args:
        policy: Thresholds and periods.
        now: Monotonic clock in seconds; inject a fake one in tests instead of sleeping.
        wall: Wall clock (``time.time``) for quota observations, which processes share.
    """

    __slots__ = ("__weakref__", "_entries", "_lock", "_now", "_wall", "policy")

    def __init__(
        self,
        policy: HealthPolicy | None = None,
        *,
        now: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy or HealthPolicy()
        self._now = now
        self._wall = wall
        self._lock = threading.Lock()
        self._entries: dict[str, HealthEntry] = {}
        _STORES.add(self)

    def state(self, key: str) -> DeploymentHealth:
        """One deployment's health now."""
        with self._lock:
            return self._view(key, self._entries.get(key), self._now())

    def snapshot(self, keys: Iterable[str] | None = None) -> Mapping[str, DeploymentHealth]:
        """Health of ``keys`` (every known deployment when ``None``), all read at one instant."""
        with self._lock:
            now = self._now()
            wanted = list(self._entries) if keys is None else list(keys)
            return HealthSnapshot({key: self._view(key, self._entries.get(key), now) for key in wanted})

    def _repr_html_(self) -> str:
        """Notebook display: the snapshot of every known deployment as a table."""
        return display.health_html(self.snapshot())

    def admit(self, key: str) -> bool:
        """Whether the caller may send to this deployment now; takes the half-open trial when that is the way."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return True
            now = self._now()
            if entry.circuit_open_until is None:
                return entry.broken is None and now >= entry.cooldown_until
            return self._take_trial(entry, now)

    def try_acquire_trial(self, key: str) -> bool:
        """Take the half-open trial: true for exactly one caller per half-open period."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.circuit_open_until is None:
                return False
            return self._take_trial(entry, self._now())

    def release_trial(self, key: str) -> None:
        """Give the trial back unused (the caller was cancelled before an outcome)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.trial_started = None

    def record_success(self, key: str, latency: float | None) -> None:
        """An attempt succeeded: the streak ends, the circuit closes, the latency joins the average."""
        with self._lock:
            entry = self._entry(key)
            entry.streak = 0
            entry.circuit_open_until = None
            entry.trips = 0
            entry.trial_started = None
            if latency is not None and math.isfinite(latency) and latency >= 0:
                alpha = self.policy.latency_alpha
                entry.ewma = latency if entry.ewma is None else alpha * latency + (1 - alpha) * entry.ewma
                entry.samples += 1

    def record_failure(
        self, key: str, kind: FailureKind, retry_after: float | None, *, message: str | None = None
    ) -> DeploymentHealth:
        """An attempt failed; returns the health it leaves (to say "circuit opened" in events).

        Args:
            key: The deployment key.
            kind: From :func:`failure_kind_of`.
            retry_after: Seconds the server asked us to wait, when it said (a 503 may say too).
            message: The error's message, kept for the final report.
        """
        with self._lock:
            now = self._now()
            entry = self._entry(key)
            entry.last_failure = kind
            entry.last_error = message or entry.last_error
            if kind == "rate_limit" or retry_after is not None:
                wait = retry_after if retry_after is not None else self.policy.default_cooldown
                wait = min(max(0.0, wait), self.policy.max_cooldown)
                entry.cooldown_until = max(entry.cooldown_until, now + wait)
            if kind in _CIRCUIT_KINDS:
                self._count_circuit_failure(entry, now)
            elif kind in ("auth", "not_found") and entry.broken is None:
                text = message or ("authentication failed" if kind == "auth" else "deployment not found")
                broken_kind: Literal["auth", "not_found"] = "auth" if kind == "auth" else "not_found"
                entry.broken = BrokenReason(broken_kind, text, now)
                _log.error("deployment %s is broken (%s): %s; left out until reset", key, kind, text)
            elif entry.trial_started is not None and entry.circuit_open_until is not None:
                # The trial got an answer that says nothing about the circuit (a 429, a 400): the deployment
                # is reachable but unproven, so the next caller after any cooldown gets the trial.
                entry.trial_started = None
            return self._view(key, entry, now)

    def record_quota(self, key: str, quota: QuotaState) -> None:
        """The budget an answer reported (kept when newer than the one held)."""
        with self._lock:
            entry = self._entry(key)
            if entry.quota is None or quota.observed_at >= entry.quota.observed_at:
                entry.quota = quota

    def reset(self, key: str | None = None) -> None:
        """Forget one deployment's state (after fixing its configuration), or every deployment's."""
        with self._lock:
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)

    def _entry(self, key: str) -> HealthEntry:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = HealthEntry()
        return entry

    def _take_trial(self, entry: HealthEntry, now: float) -> bool:
        open_until = entry.circuit_open_until
        if open_until is None or entry.broken is not None or now < open_until or now < entry.cooldown_until:
            return False
        if entry.trial_started is not None and now - entry.trial_started < self.policy.trial_timeout:
            return False
        entry.trial_started = now
        return True

    def _count_circuit_failure(self, entry: HealthEntry, now: float) -> None:
        if entry.circuit_open_until is not None:
            if now >= entry.circuit_open_until:
                # Half-open and the trial (or a caller admitted just before) failed: open again, for longer.
                self._open(entry, now, entry.trips + 1)
            # Still open: a request sent before the circuit opened has failed late; that is old news.
            return
        if entry.streak and now - entry.streak_started > self.policy.failure_window:
            entry.streak = 0
        if entry.streak == 0:
            entry.streak_started = now
        entry.streak += 1
        if entry.streak >= self.policy.failure_threshold:
            self._open(entry, now, 1)

    def _open(self, entry: HealthEntry, now: float, trips: int) -> None:
        entry.trips = trips
        entry.circuit_open_until = now + self.policy.open_period(trips)
        entry.trial_started = None
        entry.streak = 0

    def _view(self, key: str, entry: HealthEntry | None, now: float) -> DeploymentHealth:
        if entry is None:
            return DeploymentHealth(key)
        status: HealthStatus
        wait: float | None
        if entry.broken is not None:
            status, wait = "broken", None
        else:
            status, wait = self._status(entry, now)
        trial_busy = (
            entry.circuit_open_until is not None
            and entry.trial_started is not None
            and now - entry.trial_started < self.policy.trial_timeout
        )
        return DeploymentHealth(
            key=key,
            status=status,
            usable=wait == 0.0,
            available_in=wait,
            consecutive_failures=entry.streak,
            circuit_trips=entry.trips,
            trial_in_flight=trial_busy,
            broken=entry.broken,
            latency=entry.ewma,
            latency_samples=entry.samples,
            last_failure=entry.last_failure,
            last_error=entry.last_error,
            quota=entry.quota,
            as_of=self._wall() if entry.quota is not None else 0.0,
        )

    def _status(self, entry: HealthEntry, now: float) -> tuple[HealthStatus, float]:
        open_left = 0.0 if entry.circuit_open_until is None else max(0.0, entry.circuit_open_until - now)
        cool_left = max(0.0, entry.cooldown_until - now)
        if open_left > 0:
            return "circuit_open", max(open_left, cool_left)
        if cool_left > 0:
            return "cooling_down", cool_left
        if entry.circuit_open_until is None:
            return "healthy", 0.0
        trial_left = 0.0
        if entry.trial_started is not None:
            # Another caller holds the trial; it is handed on when the trial times out without a verdict.
            trial_left = max(0.0, self.policy.trial_timeout - (now - entry.trial_started))
        return "half_open", trial_left


os.register_at_fork(after_in_child=_new_locks_after_fork)
