"""The shared, pooled httpx clients: one per (endpoint, proxy, TLS verification, timeouts) for the whole process.

Async clients are kept per event loop (a notebook's ``asyncio.run`` makes a new loop each time, and a client
bound to a closed loop fails with "Event loop is closed") and closed when their loop shuts down; they use
aiohttp's connection pool through the ``httpx-aiohttp`` transport when installed: with hundreds of requests in
flight, httpx's own async pool costs about 15x more client CPU per call (DESIGN.md §3). Both paths verify TLS
the same way and honour the same proxy environment variables. Redirects are never followed, so credentials
cannot be carried to another host.

Each shared client comes as a :class:`Pooled` entry that also holds the transport httpx would pick for the
endpoint (its proxy decision included) and the client's default headers: :mod:`~shared_core.transport.http`
sends through that transport directly, without the per-request machinery of ``Client.send`` that these clients
never use (auth flows, redirects, event hooks, cookie persistence).

Processes: the pool is per process. A forked child (gunicorn ``--preload``, Celery prefork, ``multiprocessing``
with fork) drops every client it inherited, without closing them (a close would send a TLS ``close_notify`` on
the parent's sockets), and builds its own on first use: sharing keep-alive sockets across processes hands one
process's answer to another.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import ssl
import threading
import urllib.parse
import urllib.request
import weakref
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Generic, TypedDict, TypeVar

import httpx

from shared_core.transport.loop_closer import close_with_running_loop

__all__ = ["SHARED_CLIENTS", "AsyncPooled", "ClientKey", "ClientPool", "Pooled", "SyncPooled", "Timeouts"]

C = TypeVar("C", httpx.Client, httpx.AsyncClient)
T = TypeVar("T", httpx.BaseTransport, httpx.AsyncBaseTransport)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. ``read`` bounds one non-streaming response; ``chunk`` bounds the wait for each stream chunk."""

    connect: float = 10.0
    read: float = 60.0
    chunk: float = 60.0
    write: float = 30.0
    pool: float = 30.0

    def for_request(self, streaming: bool) -> httpx.Timeout:
        """The httpx timeout: for a stream, the read timeout applies to each chunk."""
        read = self.chunk if streaming else self.read
        return httpx.Timeout(connect=self.connect, read=read, write=self.write, pool=self.pool)

    def extension(self, streaming: bool, left: float | None = None) -> Mapping[str, float | None]:
        """The request's ``timeout`` extension (``for_request(streaming).as_dict()``), each value cut to ``left``
        seconds when given (the time left before the call's deadline). Cached per value; only read by transports."""
        extension = _extension(self, streaming)
        if left is None or left >= extension["longest"]:
            return extension["values"]
        left = max(left, 0.001)
        return {name: left if value is None or value > left else value for name, value in extension["values"].items()}


@functools.lru_cache(maxsize=64)
def _extension(timeouts: Timeouts, streaming: bool) -> _Extension:
    # Transports only read it; a gateway sends with one or two values for its whole life.
    values = timeouts.for_request(streaming).as_dict()
    return {"values": values, "longest": max(v for v in values.values() if v is not None)}


class _Extension(TypedDict):
    values: Mapping[str, float | None]
    longest: float


@dataclass(frozen=True, slots=True)
class ClientKey:
    """What makes two requests able to share a connection pool."""

    endpoint: str
    proxy: str | None = None
    verify: bool | str = True
    timeouts: Timeouts = Timeouts()


@dataclass(frozen=True, slots=True)
class Pooled(Generic[C, T]):
    """One shared client, the transport it uses for its endpoint, and its default headers (lower-case names)."""

    client: C
    transport: T
    headers: Mapping[str, str]


SyncPooled = Pooled[httpx.Client, httpx.BaseTransport]
AsyncPooled = Pooled[httpx.AsyncClient, httpx.AsyncBaseTransport]


def _pooled(key: ClientKey, client: C) -> Pooled[C, T]:
    # The transport httpx itself would pick for this endpoint (a proxy's, given or from the environment, or the
    # plain pool): every request of this client goes to this one origin, so it is decided once.
    transport = client._transport_for_url(httpx.URL(key.endpoint))  # pyright: ignore[reportPrivateUsage]
    return Pooled(client, transport, dict(client.headers.items()))  # pyright: ignore[reportReturnType]


def _limits() -> httpx.Limits:
    return httpx.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=30.0)


@functools.cache
def _ssl_context(verify: bool | str) -> ssl.SSLContext:
    # One context for both paths: httpx ignores ``verify`` when given a transport, so the aiohttp one needs it
    # too. A CA path is loaded here because httpx deprecates ``verify=<str>``. Cached: loading the CA bundle
    # costs tens of milliseconds, and every new event loop (each notebook ``asyncio.run``) builds a client.
    if isinstance(verify, str):
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    return httpx.create_ssl_context(verify=verify)


def _env_proxy(endpoint: str) -> str | None:
    """The proxy ``HTTP(S)_PROXY`` / ``ALL_PROXY`` name for ``endpoint``, unless ``NO_PROXY`` covers it."""
    parts = urllib.parse.urlsplit(endpoint)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or (parts.hostname and urllib.request.proxy_bypass(parts.hostname)):
        return None
    return proxy


def _async_transport(key: ClientKey, context: ssl.SSLContext) -> httpx.AsyncBaseTransport | None:
    # Proxies are decided once per client, as httpx decides them for the sync one. A proxy (given, or from
    # the environment) means httpx's own transport, which honours it; the aiohttp one is used without.
    if key.proxy is not None or _env_proxy(key.endpoint) is not None:
        return None
    try:
        import aiohttp  # noqa: PLC0415 - optional extra
        from httpx_aiohttp import AiohttpTransport  # noqa: PLC0415 - optional extra
    except ImportError:
        return None
    limits = _limits()

    def session() -> aiohttp.ClientSession:
        # trust_env=False: with it aiohttp reads ~/.netrc and looks the proxy up again in its thread pool on
        # every request, 300-400 µs of CPU per call with 200 in flight (throughput 0.55x -> 0.95x of raw
        # httpx on this pool; benchmarks/README.md). No proxy applies here (checked above).
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections or 0, keepalive_timeout=limits.keepalive_expiry, ssl=context
        )
        return aiohttp.ClientSession(connector=connector, trust_env=False)

    # verify=context: given none, the transport loads the CA bundle again (about 20 ms) for every new loop.
    return AiohttpTransport(verify=context, client=session)


def _new_sync_client(key: ClientKey) -> httpx.Client:
    return httpx.Client(
        timeout=key.timeouts.for_request(False),
        proxy=key.proxy,
        verify=_ssl_context(key.verify),
        limits=_limits(),
        follow_redirects=False,
        trust_env=key.proxy is None,
    )


def _new_async_client(key: ClientKey) -> httpx.AsyncClient:
    context = _ssl_context(key.verify)
    transport = _async_transport(key, context)
    return httpx.AsyncClient(
        timeout=key.timeouts.for_request(False),
        proxy=key.proxy if transport is None else None,
        verify=context,
        limits=_limits(),
        follow_redirects=False,
        trust_env=key.proxy is None,
        transport=transport,
    )


@dataclass(frozen=True, slots=True)
class _LoopClient:
    """An async client and the suspended generator that closes it when its loop shuts down."""

    pooled: AsyncPooled
    closer: AsyncGenerator[None]

    @classmethod
    def new(cls, key: ClientKey) -> _LoopClient:
        """A new client for ``key``, closed when the running loop shuts down."""
        client = _new_async_client(key)
        return cls(_pooled(key, client), close_with_running_loop(client))


class ClientPool:
    """Pooled httpx clients shared by every gateway in the process (thread-safe, per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sync: dict[ClientKey, SyncPooled] = {}
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[ClientKey, _LoopClient]] = (
            weakref.WeakKeyDictionary()
        )
        # What a forked child inherited: kept, never closed (see drop_after_fork), so that the garbage collector
        # does not close them either (an aiohttp session closes its TLS transports when collected).
        self._inherited: list[object] = []
        self.pid = os.getpid()

    def drop_after_fork(self) -> None:
        """Forget every client, without closing any: in a forked child they share sockets with the parent.

        A graceful close would write on those sockets (a TLS ``close_notify``), corrupting the parent's
        sessions; a request would interleave its bytes with the parent's, or read another process's answer.
        Registered with ``os.register_at_fork``; the lock is replaced too, in case another thread held it at the
        instant of the fork.
        """
        self._lock = threading.Lock()
        self._inherited.extend(self._sync.values())
        self._inherited.extend(dict(self._async).values())
        self._sync = {}
        self._async = weakref.WeakKeyDictionary()
        self.pid = os.getpid()

    def sync_pooled(self, key: ClientKey) -> SyncPooled:
        """The shared sync client for ``key``, with its transport and default headers."""
        pooled = self._sync.get(key)
        if pooled is not None and not pooled.client.is_closed:
            return pooled
        with self._lock:
            pooled = self._sync.get(key)
            if pooled is None or pooled.client.is_closed:
                pooled = self._sync[key] = _pooled(key, _new_sync_client(key))
            return pooled

    def sync_client(self, key: ClientKey) -> httpx.Client:
        """The shared sync client for ``key``."""
        return self.sync_pooled(key).client

    def async_pooled(self, key: ClientKey) -> AsyncPooled:
        """The shared async client for ``key`` on the running event loop, with its transport and default headers."""
        loop = asyncio.get_running_loop()
        with self._lock:
            per_loop = self._loop_clients(loop)
            entry = per_loop.get(key)
            if entry is None or entry.pooled.client.is_closed:
                entry = per_loop[key] = _LoopClient.new(key)
            return entry.pooled

    def _loop_clients(self, loop: asyncio.AbstractEventLoop) -> dict[ClientKey, _LoopClient]:
        per_loop = self._async.get(loop)
        if per_loop is None:
            # A client holds its loop, so the weak keys alone would never let a finished loop go.
            for closed in [other for other in self._async if other.is_closed()]:
                del self._async[closed]
            per_loop = self._async[loop] = {}
        return per_loop

    def async_client(self, key: ClientKey) -> httpx.AsyncClient:
        """The shared async client for ``key`` on the running event loop."""
        return self.async_pooled(key).client

    def close(self) -> None:
        """Close the sync clients (async ones close with their loops)."""
        with self._lock:
            for pooled in self._sync.values():
                pooled.client.close()
            self._sync.clear()


SHARED_CLIENTS = ClientPool()
os.register_at_fork(after_in_child=SHARED_CLIENTS.drop_after_fork)
# Pooled keep-alive sockets would otherwise be left to the interpreter's teardown ("unclosed socket").
atexit.register(SHARED_CLIENTS.close)
