"""Fleet mode's entry point: which health store a gateway uses, from a value given in code or the
configuration's ``health_store`` URL (see the README's "Fleet mode" and
:mod:`shared_core.transport.redis_health`).

``redis`` itself is imported only when a Redis store is built (extra ``[redis]``).
"""

from __future__ import annotations

import os
import threading
from typing import cast
from urllib.parse import urlsplit

from pydantic import SecretStr

from shared_core.errors import ConfigurationError
from shared_core.events import EventSink
from shared_core.transport.health import HealthPolicy, HealthStore, InMemoryHealthStore
from shared_core.transport.redis_health import RedisHealthStore, describe_redis_url

__all__ = ["RedisHealthStore", "check_redis_url", "describe_redis_url", "health_store_for"]

_SHARED: dict[tuple[int, str, str, HealthPolicy], RedisHealthStore] = {}
_SHARED_LOCK = threading.Lock()
_SCHEMES = ("redis", "rediss", "unix")


def check_redis_url(url: str, source: str) -> str:
    """``url`` when it is a Redis URL this store can use, else a :class:`ConfigurationError` naming ``source``."""
    scheme = urlsplit(url).scheme
    if scheme not in _SCHEMES:
        raise ConfigurationError(
            f"health store {describe_redis_url(url)!r} is not a Redis URL",
            source=source,
            fix="use redis://host:6379/0, rediss://:<access key>@<name>.redis.cache.windows.net:6380/0 "
            "or unix:///path/to/redis.sock",
        )
    return url


def health_store_for(
    value: object, url: SecretStr | str | None, *, sink: EventSink | None = None, max_cooldown: float | None = None
) -> HealthStore:
    """The store a gateway uses: ``value`` as given (a store, a ``redis.Redis`` client or a URL), else the
    configured ``url`` (one shared store per URL, cap and process), else a new in-process store.

    A store this builds caps any cooldown at ``max_cooldown`` (the configuration's, as the gateway's in-process
    store does; the policy's default when ``None``); a store given as ``value`` keeps its own policy.

    Raises:
        ConfigurationError: A URL that is not ``redis://``, ``rediss://`` or ``unix://``.
        MissingExtraError: A Redis store without the ``[redis]`` extra installed.
    """
    if isinstance(url, SecretStr):
        url = url.get_secret_value()
    policy = HealthPolicy() if max_cooldown is None else HealthPolicy(max_cooldown=max_cooldown)
    if value is None and not url:
        return InMemoryHealthStore(policy)
    if isinstance(value, str) or value is None:
        raw = value if isinstance(value, str) else cast(str, url)
        check_redis_url(raw, "health_store")
        ident = (os.getpid(), raw, "azgw", policy)
        with _SHARED_LOCK:
            store = _SHARED.get(ident)
            if store is None:
                store = _SHARED[ident] = RedisHealthStore(url=raw, policy=policy)
        if sink is not None:
            store.attach_sink(sink)
        return store
    if all(hasattr(value, name) for name in ("admit", "record_failure", "snapshot")):
        return cast(HealthStore, value)
    if all(hasattr(value, name) for name in ("pipeline", "register_script", "pubsub")):
        return RedisHealthStore(value, sink=sink, policy=policy)
    raise ConfigurationError(
        f"health store of type {type(value).__name__} is neither a HealthStore, a redis.Redis client nor a URL",
        source="health_store",
        fix="pass a redis:// or rediss:// URL, a redis.Redis client, or a HealthStore",
    )
