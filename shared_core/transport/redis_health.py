"""Fleet mode: a :class:`~shared_core.transport.health.HealthStore` that every process shares through Redis.

With many processes (gunicorn or uvicorn workers, Celery workers, pods), each would learn alone that a
deployment throttles or is down: sixteen workers send a throttled region sixteen requests, and each runs its own
circuit-breaker trial. This store keeps one fleet view in Redis (extra ``[redis]``; layout in
:mod:`~shared_core.transport.redis_scripts`, the client and its options in
:mod:`~shared_core.transport.redis_connection`):

* **No Redis round trip on the hot path.** Reads (``snapshot``, ``state``, ``admit`` of a healthy deployment)
  answer from a local view. A background thread per process refreshes it every ``refresh_interval`` seconds
  (flushing latency samples and quota observations in the same round trip) and at once when another process
  publishes a failure. Only what the fleet must learn now is written through: a failure (one pipelined round
  trip: Lua update, read back, publish), a half-open trial (``SET NX PX``: one trial per fleet), a success that
  ends a failure streak or closes a circuit, and ``reset``.
* **Redis failing never fails a call.** Every Redis operation has a short timeout (``op_timeout``, 50 ms by
  default) and no retry. On the first error the store keeps answering from its local view (which goes on
  learning on its own), emits one ``health:fleet_fallback`` event, and stops calling Redis on the hot path.
  Every ``rejoin_interval`` the thread tries again; once Redis answers, what this process learned meanwhile is
  written back (never shortening what Redis holds), the fleet view is read, and ``health:fleet_rejoined`` is
  emitted. A flushed or restarted-empty Redis (its epoch key gone) is rejoined the same way.
* **Wall-clock time** for every timestamp, so processes on several hosts agree (keep hosts on NTP time).
* **Fork-safe**: a forked child starts its own thread and connections on first use.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

from shared_core.events import DebugEvent, EventName, EventSink
from shared_core.messages import JsonValue
from shared_core.transport.health import DeploymentHealth, FailureKind, HealthPolicy, InMemoryHealthStore
from shared_core.transport.quota import QuotaState
from shared_core.transport.redis_connection import check_store_options, describe_redis_url, open_client, redis_errors
from shared_core.transport.redis_scripts import (
    FAILURE_LUA,
    HASH_TTL,
    RESTORE_LUA,
    SUCCESS_LUA,
    TRIAL_LUA,
    apply_fleet_state,
    decode_state,
    keys_for,
)

__all__ = ["RedisHealthStore", "describe_redis_url"]

_log = logging.getLogger("shared_core.transport.redis_health")
_LOW_EVERY = 0.1
T = TypeVar("T")


class RedisHealthStore(InMemoryHealthStore):
    """A :class:`HealthStore` shared by every process that points at the same Redis and prefix.

    Args:
        client: A ``redis.Redis`` client (for example one built with ``redis-entraid``'s credential provider for
            Azure Cache for Redis); give it short socket timeouts, since the store cannot shorten them.
        url: ``redis://``, ``rediss://`` (TLS) or ``unix://`` URL, instead of ``client``; a password goes in the
            URL (``rediss://:<access key>@<name>.redis.cache.windows.net:6380/0``).
        prefix: Namespace of every key (several gateways' fleets can share one Redis).
        policy: Thresholds and periods (the same for every process of a fleet); its ``max_cooldown`` caps what a
            ``Retry-After`` may cool a deployment for, in this process's view and in what it writes to Redis.
        refresh_interval: Seconds between refreshes of the local view (0.25 to 1 is sensible).
        op_timeout: Seconds one Redis operation may take before the store falls back to its local view.
        rejoin_interval: Seconds between attempts to reach Redis again after a failure.
        sink: Receives the fallback and rejoin events (logging at WARNING is always done as well).

    Raises:
        MissingExtraError: The ``redis`` package is not installed (``pip install 'azure-openai-gateway[redis]'``).
        ConfigurationError: Neither or both of ``client`` and ``url``, or an interval out of range.
    """

    def __init__(
        self,
        client: object | None = None,
        *,
        url: str | None = None,
        prefix: str = "azgw",
        policy: HealthPolicy | None = None,
        refresh_interval: float = 0.5,
        op_timeout: float = 0.05,
        rejoin_interval: float = 1.0,
        sink: EventSink | None = None,
    ) -> None:
        check_store_options(
            client, url, refresh_interval=refresh_interval, op_timeout=op_timeout, rejoin_interval=rejoin_interval
        )
        super().__init__(policy, now=time.time, wall=time.time)
        self._redis, self.where = open_client(client, url, op_timeout)
        self.prefix = prefix
        self.refresh_interval = refresh_interval
        self.rejoin_interval = rejoin_interval
        self.sinks: list[EventSink] = [] if sink is None else [sink]
        self._errors = redis_errors()
        self._failure = self._redis.register_script(FAILURE_LUA)
        self._success = self._redis.register_script(SUCCESS_LUA)
        self._restore = self._redis.register_script(RESTORE_LUA)
        self._trial = self._redis.register_script(TRIAL_LUA)
        self._channel = f"{prefix}:events"
        self._epoch_key = f"{prefix}:epoch"
        self._epoch: bytes | None = None
        self._pending: dict[str, list[float]] = {}
        self._pending_quota: dict[str, QuotaState] = {}
        self._known: set[str] = set()
        self._low_written: dict[str, float] = {}
        self.fallback = False
        self._retry_at = 0.0
        self._pid = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self.round_trips = 0

    def __repr__(self) -> str:
        return f"RedisHealthStore(where={self.where!r}, prefix={self.prefix!r}, fallback={self.fallback})"

    # -- the HealthStore protocol ----------------------------------------------------------------------------

    def state(self, key: str) -> DeploymentHealth:
        """One deployment's health now, from the local view."""
        self._ensure((key,))
        return super().state(key)

    def snapshot(self, keys: Iterable[str] | None = None) -> Mapping[str, DeploymentHealth]:
        """Health of ``keys`` from the local view (a deployment first seen is read from Redis once)."""
        if keys is not None:
            keys = tuple(keys)
            self._ensure(keys)
        return super().snapshot(keys)

    def admit(self, key: str) -> bool:
        """Whether the caller may send now; a half-open trial is taken fleet-wide (``SET NX``)."""
        self._ensure((key,))
        if not super().admit(key):
            return False
        return self._fleet_trial(key)

    def try_acquire_trial(self, key: str) -> bool:
        """Take the half-open trial for the whole fleet: true for exactly one caller of one process."""
        self._ensure((key,))
        return super().try_acquire_trial(key) and self._fleet_trial(key)

    def release_trial(self, key: str) -> None:
        """Give the trial back unused, locally and to the fleet."""
        super().release_trial(key)
        self._call(lambda: self._redis.delete(keys_for(self.prefix, key)[2]))

    def record_success(self, key: str, latency: float | None) -> None:
        """Local at once; written through when it ends a failure streak (else the fleet would add up failures
        that successes came between) and published too when it closes a circuit; otherwise batched."""
        with self._lock:
            entry = self._entries.get(key)
            closes = entry is not None and entry.circuit_open_until is not None
            ends_streak = entry is not None and entry.streak > 0
        super().record_success(key, latency)
        ok = latency is not None and math.isfinite(latency) and latency >= 0
        sample = latency if ok else None
        if (closes or ends_streak) and self._call(lambda: self._write_success(key, sample, closes)) is not None:
            return
        with self._lock:
            acc = self._pending.setdefault(key, [0.0, 0.0, 0.0])
            if ok:
                acc[0] += cast(float, latency)
                acc[1] += 1
            if ends_streak or closes:
                acc[2] = time.time()

    def record_failure(
        self, key: str, kind: FailureKind, retry_after: float | None, *, message: str | None = None
    ) -> DeploymentHealth:
        """Local at once, then written through to the fleet and published (one round trip)."""
        self._ensure((key,))
        local = super().record_failure(key, kind, retry_after, message=message)
        if self._call(lambda: self._write_failure(key, kind, retry_after, message)) is None:
            return local
        return super().state(key)

    def record_quota(self, key: str, quota: QuotaState) -> None:
        """Local at once; shared with the next refresh, or written through and published when the budget is low
        (the fleet must stop sending there now, not at its next refresh), at most every 0.1 s per deployment."""
        super().record_quota(key, quota)
        if quota.low and quota.observed_at - self._low_written.get(key, 0.0) >= _LOW_EVERY:
            self._low_written[key] = quota.observed_at
            if self._call(lambda: self._write_quota(key, quota)) is not None:
                return
        with self._lock:
            held = self._pending_quota.get(key)
            if held is None or quota.observed_at >= held.observed_at:
                self._pending_quota[key] = quota

    def reset(self, key: str | None = None) -> None:
        """Forget one deployment's state (or every deployment's), here and in Redis."""
        with self._lock:
            keys = list(self._known) if key is None else [key]
        super().reset(key)
        self._call(lambda: self._redis.delete(*[k for one in keys for k in keys_for(self.prefix, one)]) if keys else 0)

    def close(self) -> None:
        """Stop the refresh thread (the store keeps answering from its local view)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)

    # -- events and Redis calls ------------------------------------------------------------------------------

    def _emit(self, name: EventName, data: dict[str, JsonValue]) -> None:
        _log.warning("%s %s", name, data)
        for sink in list(self.sinks):
            try:
                sink.emit(DebugEvent(name, data))
            except Exception:
                _log.exception("event sink failed")

    def attach_sink(self, sink: EventSink) -> None:
        """Also send this store's events to ``sink`` (a gateway built from configuration attaches its own)."""
        if all(s is not sink for s in self.sinks) and len(self.sinks) < 32:
            self.sinks.append(sink)

    def _fall_back(self, error: BaseException) -> None:
        self._retry_at = time.monotonic() + self.rejoin_interval
        if self.fallback:
            return
        self.fallback = True
        self._emit(
            "health:fleet_fallback",
            {
                "store": self.where,
                "error": type(error).__name__,
                "detail": str(error)[:200],
                "action": "answering from this process's own view until Redis is back; no call fails for it",
            },
        )

    def _call(self, op: Callable[[], T]) -> T | None:
        """Run one Redis operation unless in fallback; an error starts the fallback and returns ``None``."""
        if self.fallback:
            return None
        try:
            self.round_trips += 1
            return op()
        except self._errors as error:
            self._fall_back(error)
            return None

    def _fleet_trial(self, key: str) -> bool:
        with self._lock:
            entry = self._entries.get(key)
            half_open = entry is not None and entry.circuit_open_until is not None
        if not half_open:
            return True
        ttl = max(1, int(self.policy.trial_timeout * 1000))
        args = [f"{time.time():.6f}", os.getpid(), ttl]
        won = self._call(lambda: int(self._trial(keys=list(keys_for(self.prefix, key)), args=args)))
        if won is None:
            return True  # Redis is away: this process's own view decides, as it would alone.
        if won != 1:
            self._call(lambda: self._pull((key,)))
        return won != 0

    def _write_failure(self, key: str, kind: FailureKind, retry_after: float | None, message: str | None) -> None:
        p = self.policy
        args = [
            f"{time.time():.6f}",
            kind,
            "" if retry_after is None else f"{min(max(0.0, retry_after), p.max_cooldown):.6f}",
            (message or "")[:500],
            p.failure_threshold,
            p.failure_window,
            p.open_for,
            p.backoff_factor,
            p.max_open_for,
            p.default_cooldown,
            HASH_TTL,
            self._channel,
            p.max_cooldown,
        ]
        self._merge_state(self._failure(keys=list(keys_for(self.prefix, key)), args=args))

    def _write_success(self, key: str, latency: float | None, publish: bool) -> None:
        mean = "" if latency is None else f"{latency:.6f}"
        channel = self._channel if publish else ""
        args = [f"{time.time():.6f}", "1", mean, 1, self.policy.latency_alpha, HASH_TTL, *([""] * 7), channel]
        self._merge_state(self._success(keys=list(keys_for(self.prefix, key)), args=args))

    def _write_quota(self, key: str, quota: QuotaState) -> None:
        args = self._success_args(None, quota)
        args[-1] = self._channel
        self._merge_state(self._success(keys=list(keys_for(self.prefix, key)), args=args))

    def _merge_state(self, raw: object) -> bool:
        """Merge a state a script returned or another process published; false when ``raw`` is not one."""
        state = decode_state(raw)
        if state is None:
            return False
        name, fields, cool, trial_ms = state
        key = name[name.find("{") + 1 : name.rfind("}")]
        with self._lock:
            if key not in self._known:
                return True
            apply_fleet_state(
                self._entry(key), fields, cool, trial_ms, trial_timeout=self.policy.trial_timeout, now=time.time()
            )
        return True

    def _read_into(self, pipe: Any, key: str) -> None:
        h, cool, trial = keys_for(self.prefix, key)
        pipe.hgetall(h)
        pipe.get(cool)
        pipe.pttl(trial)

    def _merge(self, keys: Iterable[str], results: list[Any]) -> None:
        now = time.time()
        with self._lock:
            for n, key in enumerate(keys):
                raw_hash, raw_cool, trial_ms = results[3 * n : 3 * n + 3]
                entry = self._entry(key)
                trial = int(trial_ms) if isinstance(trial_ms, int) else 0
                apply_fleet_state(
                    entry, raw_hash or {}, raw_cool, trial, trial_timeout=self.policy.trial_timeout, now=now
                )

    def _pull(self, keys: Iterable[str]) -> None:
        keys = tuple(keys)
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            self._read_into(pipe, key)
        self._merge(keys, pipe.execute())

    # -- the refresh thread ----------------------------------------------------------------------------------

    def _ensure(self, keys: Iterable[str]) -> None:
        if self._pid != os.getpid():
            self._start()
        new = [k for k in keys if k not in self._known]
        if new:
            with self._lock:
                self._known.update(new)
            self._call(lambda: self._pull(new))

    def _start(self) -> None:
        # A forked child inherits the parent's lock state and no thread: both are made anew.
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._refresh_loop, name="azgw-redis-health", daemon=True)
        self._thread.start()

    def _refresh_loop(self) -> None:
        pubsub: Any = None
        next_sync = 0.0
        while not self._stop.is_set():
            if self.fallback:
                pubsub = _closed(pubsub)
                if self._stop.wait(max(0.0, self._retry_at - time.monotonic())):
                    return
                try:
                    self._sync(rejoining=True)
                except self._errors:
                    self._retry_at = time.monotonic() + self.rejoin_interval
                continue
            try:
                if pubsub is None:
                    pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(self._channel)
                # Woken at least every 0.25 s, so close() never waits long for the thread.
                self._pull_published(pubsub, min(0.25, max(0.0, next_sync - time.monotonic())))
                if time.monotonic() >= next_sync:
                    self._sync(rejoining=False)
                    next_sync = time.monotonic() + self.refresh_interval
            except self._errors as error:
                self._fall_back(error)
        _closed(pubsub)

    def _pull_published(self, pubsub: Any, wait: float) -> None:
        """Wait up to ``wait`` for failures other processes published, and read those deployments at once."""
        message = pubsub.get_message(timeout=wait)
        keys: set[str] = set()
        while message is not None:
            data = message.get("data")
            # A published state is merged as it is; anything else names a deployment to read.
            if message.get("type") == "message" and isinstance(data, bytes | str) and not self._merge_state(data):
                keys.add(data.decode("utf-8", "replace") if isinstance(data, bytes) else data)
            message = pubsub.get_message(timeout=0.0)
        with self._lock:
            wanted = keys & self._known
        if wanted:
            self.round_trips += 1
            self._pull(wanted)

    def _sync(self, *, rejoining: bool) -> None:
        """One round trip: the epoch, this process's batched samples and quota out, the fleet view in."""
        with self._lock:
            keys = tuple(self._known)
            pending, self._pending = self._pending, {}
            quotas, self._pending_quota = self._pending_quota, {}
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(self._epoch_key)
        flushed = sorted(set(pending) | set(quotas))
        for key in flushed:
            self._flush_into(pipe, key, pending.get(key), quotas.get(key))
        for key in keys:
            self._read_into(pipe, key)
        self.round_trips += 1
        results = pipe.execute()
        epoch = results[0]
        if rejoining or epoch is None or epoch != self._epoch:
            self._rejoin(keys, epoch, rejoining=rejoining)
            return
        self._merge(keys, results[1 + len(flushed) :])

    def _success_args(self, samples: list[float] | None, quota: QuotaState | None) -> list[object]:
        mean, n = ("", 0) if not samples or samples[1] <= 0 else (f"{samples[0] / samples[1]:.6f}", int(samples[1]))
        cleared = samples is not None and samples[2] > 0
        q: list[object] = [""] * 7
        if quota is not None:
            q = [f"{quota.observed_at:.6f}", *(_opt(v) for v in _quota_fields(quota))]
        at = f"{samples[2]:.6f}" if samples is not None and cleared else f"{time.time():.6f}"
        return [at, "1" if cleared else "0", mean, n, self.policy.latency_alpha, HASH_TTL, *q, ""]

    def _flush_into(self, pipe: Any, key: str, samples: list[float] | None, quota: QuotaState | None) -> None:
        self._success(keys=list(keys_for(self.prefix, key)), args=self._success_args(samples, quota), client=pipe)

    def _rejoin(self, keys: tuple[str, ...], epoch: bytes | None, *, rejoining: bool) -> None:
        """Give the fleet what this process learned while apart (never shortening what Redis holds), then read."""
        now = time.time()
        pipe = self._redis.pipeline(transaction=False)
        with self._lock:
            for key in keys:
                entry = self._entries.get(key)
                if entry is None:
                    continue
                h, cool, _ = keys_for(self.prefix, key)
                broken = entry.broken
                args = [
                    f"{entry.cooldown_until:.6f}" if entry.cooldown_until > now else "",
                    "" if entry.circuit_open_until is None else f"{entry.circuit_open_until:.6f}",
                    entry.trips,
                    "" if broken is None else broken.kind,
                    "" if broken is None else broken.message[:500],
                    "" if broken is None else f"{broken.since:.6f}",
                    HASH_TTL,
                    f"{now:.6f}",
                ]
                self._restore(keys=[h, cool], args=args, client=pipe)
        pipe.set(self._epoch_key, secrets.token_hex(8), nx=True)
        pipe.get(self._epoch_key)
        self.round_trips += 1
        previous, self._epoch = self._epoch, pipe.execute()[-1]
        self._pull(keys)
        flushed = previous is not None and epoch is None
        if rejoining or flushed:
            self.fallback = False
            self._emit(
                "health:fleet_rejoined",
                {
                    "store": self.where,
                    "deployments": len(keys),
                    "reason": "Redis answers again" if rejoining else "Redis was flushed or restarted empty",
                },
            )


def _opt(value: float | int | None) -> str:
    return "" if value is None else (f"{value:.6f}" if isinstance(value, float) else str(value))


def _quota_fields(quota: QuotaState) -> tuple[float | int | None, ...]:
    return (
        quota.remaining_tokens,
        quota.remaining_requests,
        quota.limit_tokens,
        quota.limit_requests,
        quota.tokens_full_at,
        quota.requests_full_at,
    )


def _closed(pubsub: Any) -> None:
    if pubsub is not None:
        try:
            pubsub.close()
        except Exception:
            _log.debug("closing the Redis pub/sub connection failed", exc_info=True)
