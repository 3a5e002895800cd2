"""The Redis health store against a real Redis server: what one process learns, another sees; one half-open
trial per fleet; quota shared; no round trip on the hot path; keys hold no secret and no prompt."""

from __future__ import annotations

import multiprocessing
import time

from shared_core import HealthPolicy, ListSink
from shared_core.transport.quota import QuotaState
from shared_core.transport.redis_health import RedisHealthStore, describe_redis_url
from tests.fleet.redis_server import RedisServer

KEY = "east/gpt-4o-mini"
OTHER = "west/gpt-4o-mini"


def store(url: str, **kwargs: object) -> RedisHealthStore:
    return RedisHealthStore(url=url, refresh_interval=0.05, **kwargs)  # type: ignore[arg-type]


def wait_until(check: object, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_redis_store_cooldown_learned_by_one_store_is_seen_by_another(redis_url: str) -> None:
    a, b = store(redis_url), store(redis_url)
    try:
        assert b.snapshot([KEY])[KEY].usable  # b has read the deployment once: healthy
        a.record_failure(KEY, "rate_limit", 10.0, message="RateLimitError (HTTP 429): slow down")
        assert wait_until(lambda: not b.state(KEY).usable), "b learned the cooldown by pub/sub"
        seen = b.state(KEY)
        assert seen.status == "cooling_down" and 9.0 < (seen.available_in or 0) <= 10.0
        assert b.state(OTHER).usable
    finally:
        a.close()
        b.close()


def test_redis_store_gives_one_half_open_trial_per_fleet(redis_url: str) -> None:
    policy = HealthPolicy(failure_threshold=2, open_for=0.2)
    stores = [store(redis_url, policy=policy) for _ in range(4)]
    try:
        for s in stores:
            s.snapshot([KEY])
        stores[0].record_failure(KEY, "server", None)
        stores[1].record_failure(KEY, "server", None)  # the fleet's second failure in a row opens the circuit
        assert wait_until(lambda: all(s.state(KEY).status == "circuit_open" for s in stores))
        assert wait_until(lambda: all(s.state(KEY).status == "half_open" for s in stores[:1]), timeout=2)
        time.sleep(0.05)
        admitted = [s.admit(KEY) for s in stores]
        assert admitted.count(True) == 1, admitted
        winner = stores[admitted.index(True)]
        winner.record_success(KEY, 0.01)
        assert wait_until(lambda: all(s.state(KEY).status == "healthy" for s in stores))
    finally:
        for s in stores:
            s.close()


def test_redis_store_shares_quota_and_writes_low_budget_through(redis_url: str) -> None:
    a, b = store(redis_url), store(redis_url)
    try:
        b.snapshot([KEY])
        now = time.time()
        low = QuotaState(now, remaining_tokens=100, limit_tokens=10_000, tokens_full_at=now + 5)
        a.record_quota(KEY, low)
        assert wait_until(lambda: b.state(KEY).quota is not None)
        assert b.state(KEY).quota_wait(500) > 0.0, "b predicts a 500-token request would throttle"
        assert b.state(KEY).quota_wait(500) < 5.0
    finally:
        a.close()
        b.close()


def test_redis_store_hot_path_makes_no_round_trip(redis_url: str, redis_server: RedisServer) -> None:
    s = RedisHealthStore(url=redis_url, refresh_interval=5.0)
    try:
        s.snapshot([KEY, OTHER])
        time.sleep(0.1)  # the refresh thread's first sync
        before = s.round_trips
        for _ in range(1000):
            health = s.snapshot([KEY, OTHER])
            assert s.admit(KEY)
            s.record_success(KEY, 0.01)
            s.record_quota(KEY, QuotaState(time.time(), remaining_tokens=9000, limit_tokens=10_000))
        assert health[KEY].usable
        assert s.round_trips - before == 0
    finally:
        s.close()


def test_redis_store_keys_hold_no_secret_and_no_prompt(redis_url: str, redis_server: RedisServer) -> None:
    s = store(redis_url, prefix="tenant-a")
    try:
        s.snapshot([KEY])
        s.record_failure(KEY, "auth", None, message="AuthenticationError (HTTP 401): Access denied due to invalid key")
        s.record_quota(KEY, QuotaState(time.time(), remaining_tokens=1, limit_tokens=100))
        client = redis_server.client()
        keys = sorted(k.decode() for k in client.keys("*"))  # type: ignore[attr-defined]
        assert keys and all(k.startswith("tenant-a:") for k in keys), keys
        dumped = repr([client.hgetall(k) for k in keys if k.endswith(":h")])  # type: ignore[attr-defined]
        assert "api-key" not in dumped and "Bearer" not in dumped
        assert s.state(KEY).status == "broken"
    finally:
        s.close()


def test_redis_store_url_description_drops_the_password() -> None:
    url = "rediss://:s3cret-access-key@cache.redis.cache.windows.net:6380/0"
    assert describe_redis_url(url) == "rediss://cache.redis.cache.windows.net:6380/0"
    assert "s3cret" not in repr(RedisHealthStore(url=url, op_timeout=0.01))


def test_redis_store_falls_back_once_and_rejoins(redis_server: RedisServer, redis_url: str) -> None:
    sink = ListSink()
    s = RedisHealthStore(url=redis_server.url, refresh_interval=0.05, rejoin_interval=0.1, sink=sink)
    try:
        s.snapshot([KEY])
        redis_server.kill()
        for _ in range(50):
            s.record_failure(KEY, "rate_limit", 30.0)  # never raises; learned locally
            assert not s.admit(KEY)
        assert wait_until(lambda: sink.named("health:fleet_fallback"), timeout=2.0)
        assert len(sink.named("health:fleet_fallback")) == 1
        redis_server.start()
        assert wait_until(lambda: sink.named("health:fleet_rejoined"), timeout=5)
        other = store(redis_server.url)
        assert not other.state(KEY).usable, "what was learned while Redis was away went back to the fleet"
        other.close()
    finally:
        s.close()
        if redis_server.process is None or redis_server.process.poll() is not None:
            redis_server.start()  # the module's later tests need it
    assert len(sink.named("health:fleet_fallback")) == 1, [e.data for e in sink.events]


def _child_records(store: RedisHealthStore, out: object) -> None:
    # Runs in a forked child: the parent's store, its thread gone and its lock possibly held at fork time.
    store.record_failure(OTHER, "rate_limit", 20.0)
    out.put((store.state(KEY).status, store.state(OTHER).status))  # type: ignore[attr-defined]
    store.close()


def test_redis_store_keeps_working_in_a_forked_child(redis_url: str) -> None:
    parent = store(redis_url)
    try:
        parent.record_failure(KEY, "rate_limit", 20.0)  # the refresh thread is running when the child forks
        ctx = multiprocessing.get_context("fork")
        out = ctx.Queue()
        child = ctx.Process(target=_child_records, args=(parent, out))
        child.start()
        seen = out.get(timeout=10)
        child.join(timeout=10)
        assert seen == ("cooling_down", "cooling_down"), "the child sees the parent's cooldown and its own"
        assert wait_until(lambda: not parent.state(OTHER).usable), "the parent sees the child's failure"
    finally:
        parent.close()
