"""Fixtures of the fleet tests: a private Redis server per test module (real, never a mock)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fleet.redis_server import RedisServer, redis_unavailable, skip_or_fail


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    reason = redis_unavailable()
    if reason is not None:
        skip_or_fail(reason)
    server = RedisServer()
    try:
        server.start()
    except (OSError, RuntimeError) as error:
        server.stop()
        skip_or_fail(f"redis-server could not be started: {error}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    client = redis_server.client()
    client.flushall()  # type: ignore[attr-defined]
    return redis_server.url
