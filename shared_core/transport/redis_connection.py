"""Reaching Redis for the fleet health store: its options checked, its client built, its URL told safely.

:class:`~shared_core.transport.redis_health.RedisHealthStore` never lets a Redis call hold up a model call, so
a client built here from a URL has short socket timeouts and no retries of its own: the store falls back to its
local view on the first error instead (see :mod:`~shared_core.transport.redis_health`). ``redis`` itself is
imported only here and only when a store is built (extra ``[redis]``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from shared_core.errors import ConfigurationError
from shared_core.extras import require_extra

__all__ = ["check_store_options", "describe_redis_url", "open_client", "redis_errors"]


def describe_redis_url(url: str) -> str:
    """The URL without user name or password, for events and errors (``rediss://cache.example.net:6380/0``)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_store_options(
    client: object | None, url: str | None, *, refresh_interval: float, op_timeout: float, rejoin_interval: float
) -> None:
    """Refuse what a Redis health store cannot be built from, before anything is connected.

    Raises:
        MissingExtraError: The ``redis`` package is not installed.
        ConfigurationError: Neither or both of ``client`` and ``url``, or an interval out of range.
    """
    require_extra("redis", feature="the Redis health store (fleet mode)", extra="redis", package="redis")
    if (client is None) == (url is None):
        raise ConfigurationError(
            "a Redis health store needs exactly one of client= and url=",
            source="RedisHealthStore",
            fix="pass url='redis://host:6379/0' (or rediss:// for TLS), or a redis.Redis client",
        )
    if not (0.01 <= refresh_interval <= 60 and 0.001 <= op_timeout <= 10 and 0.01 <= rejoin_interval <= 600):
        raise ConfigurationError(
            "Redis health store intervals out of range",
            source="RedisHealthStore",
            fix="use refresh_interval 0.01-60 s, op_timeout 0.001-10 s and rejoin_interval 0.01-600 s",
        )


def open_client(client: object | None, url: str | None, op_timeout: float) -> tuple[Any, str]:
    """The client to use (the one given, else one built from ``url``) and where it points, with no secret."""
    if client is not None:
        return client, type(client).__name__
    assert url is not None  # check_store_options: exactly one of the two
    return _client_from_url(url, op_timeout), describe_redis_url(url)


def redis_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean Redis is away or failing (the store falls back on them, never fails a call)."""
    import redis.exceptions  # noqa: PLC0415 - the [redis] extra is optional

    return (redis.exceptions.RedisError, OSError)


def _client_from_url(url: str, op_timeout: float) -> Any:
    import redis  # noqa: PLC0415 - the [redis] extra is optional
    from redis.backoff import NoBackoff  # noqa: PLC0415
    from redis.retry import Retry  # noqa: PLC0415

    return redis.Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
        url,
        socket_timeout=op_timeout,
        socket_connect_timeout=op_timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )
