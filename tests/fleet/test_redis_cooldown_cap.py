"""``max_cooldown`` in fleet mode: a 429 whose ``Retry-After`` asks for days cools the deployment for the cap,
in the writer's view, in Redis and in every other process of the fleet, as the in-process store does."""

from __future__ import annotations

import time

from shared_core import Gateway, HealthPolicy
from shared_core.transport.redis_health import RedisHealthStore
from tests.fleet.redis_server import RedisServer

KEY = "east/gpt-4o-mini"
OTHER = "west/gpt-4o-mini"
ENDPOINT = "https://res.openai.azure.com"
TEN_DAYS = 10 * 86_400.0


def store(url: str, **kwargs: object) -> RedisHealthStore:
    return RedisHealthStore(url=url, refresh_interval=0.05, **kwargs)  # type: ignore[arg-type]


def cooling_for(seen: RedisHealthStore, key: str = KEY, timeout: float = 3.0) -> float:
    """Seconds ``seen`` says ``key`` cools for, once it has learned of the cooldown."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and seen.state(key).usable:
        time.sleep(0.01)
    health = seen.state(key)
    assert health.status == "cooling_down", health
    return health.available_in or 0.0


def test_fleet_retry_after_of_ten_days_cools_for_max_cooldown_everywhere(
    redis_url: str, redis_server: RedisServer
) -> None:
    writer, other = store(redis_url), store(redis_url)  # two processes of the fleet, default policy (one hour)
    try:
        other.snapshot([KEY])
        writer.record_failure(KEY, "rate_limit", TEN_DAYS, message="RateLimitError (HTTP 429)")
        assert 3590.0 < cooling_for(writer) <= 3600.0, "the writer's own view"
        assert 3590.0 < cooling_for(other) <= 3600.0, "another process of the fleet"
        ttl = redis_server.client().pttl(f"azgw:{{{KEY}}}:cool")  # type: ignore[attr-defined]
        assert 3_590_000 < ttl <= 3_600_000, "what Redis holds"
    finally:
        writer.close()
        other.close()


def test_fleet_store_cap_is_the_policy_of_the_store_given_in_code(redis_url: str) -> None:
    policy = HealthPolicy(max_cooldown=30.0, default_cooldown=600.0)
    writer, other = store(redis_url, policy=policy), store(redis_url, policy=policy)
    try:
        other.snapshot([KEY, OTHER])
        writer.record_failure(KEY, "rate_limit", TEN_DAYS)
        assert 25.0 < cooling_for(other) <= 30.0
        writer.record_failure(OTHER, "rate_limit", None)  # no Retry-After: the default cooldown, capped too
        assert 25.0 < cooling_for(other, OTHER) <= 30.0
    finally:
        writer.close()
        other.close()


def test_fleet_gateway_applies_the_configured_max_cooldown_to_its_redis_store(
    redis_url: str, redis_server: RedisServer
) -> None:
    gateway = Gateway(endpoint=ENDPOINT, api_key="k", health_store=redis_url, max_cooldown=45.0)
    from_client = Gateway(endpoint=ENDPOINT, api_key="k", health=redis_server.client(), max_cooldown=45.0)
    other = store(redis_url)
    try:
        assert isinstance(gateway.health, RedisHealthStore) and gateway.health.policy.max_cooldown == 45.0
        assert isinstance(from_client.health, RedisHealthStore) and from_client.health.policy.max_cooldown == 45.0
        default = Gateway(endpoint=ENDPOINT, api_key="k", health_store=redis_url)
        assert default.health is not gateway.health, "one shared store per URL and policy"
        other.snapshot([KEY])
        gateway.health.record_failure(KEY, "rate_limit", TEN_DAYS)
        assert 40.0 < cooling_for(other) <= 45.0
    finally:
        from_client.health.close()  # type: ignore[attr-defined]
        other.close()
