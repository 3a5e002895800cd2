"""One HTTP request to one deployment, over httpx; the only module that imports httpx.

Clients are shared: one pooled client per (endpoint, proxy, TLS verification, timeouts) for the whole process.
Async clients are kept per event loop (a notebook's ``asyncio.run`` makes a new loop each time, and a client
bound to a closed loop fails with "Event loop is closed"), and use aiohttp's connection pool through the
``httpx-aiohttp`` transport when installed: with hundreds of requests in flight, httpx's own async pool costs
about 15x more client CPU per call (DESIGN.md §3). Redirects are never followed, so credentials cannot be
carried to another host.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass

import httpx

from shared_core.errors import ConfigurationError, ConnectionFailedError, GatewayError, RequestTimeoutError

__all__ = [
    "SHARED_CLIENTS",
    "AsyncClient",
    "ClientKey",
    "ClientPool",
    "HttpRequest",
    "HttpResponse",
    "StreamingResponse",
    "SyncClient",
    "Timeouts",
    "asend",
    "astream",
    "send",
    "stream",
]

SyncClient = httpx.Client
AsyncClient = httpx.AsyncClient


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


@dataclass(frozen=True, slots=True)
class ClientKey:
    """What makes two requests able to share a connection pool."""

    endpoint: str
    proxy: str | None = None
    verify: bool | str = True
    timeouts: Timeouts = Timeouts()


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A request ready to send (the codec's path/query/body plus host and auth headers)."""

    url: str
    query: Mapping[str, str]
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A complete response. ``headers`` have lower-case names."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    elapsed: float


class StreamingResponse:
    """An open streaming response: status and headers now, the body as it arrives."""

    __slots__ = ("_response", "elapsed_to_headers", "headers", "status")

    def __init__(self, response: httpx.Response, elapsed: float) -> None:
        self._response = response
        self.status = response.status_code
        self.headers: Mapping[str, str] = {k.lower(): v for k, v in response.headers.items()}
        self.elapsed_to_headers = elapsed

    def iter_bytes(self) -> Iterator[bytes]:
        """The body's chunks; transport failures become our errors."""
        try:
            yield from self._response.iter_bytes()
        except httpx.HTTPError as exc:
            raise _translate(exc) from exc

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body's chunks, async."""
        try:
            async for chunk in self._response.aiter_bytes():
                yield chunk
        except httpx.HTTPError as exc:
            raise _translate(exc) from exc

    def read(self) -> bytes:
        """The whole (error) body."""
        try:
            return self._response.read()
        except httpx.HTTPError as exc:
            raise _translate(exc) from exc

    async def aread(self) -> bytes:
        """The whole (error) body, async."""
        try:
            return await self._response.aread()
        except httpx.HTTPError as exc:
            raise _translate(exc) from exc

    def close(self) -> None:
        """Release the connection."""
        self._response.close()

    async def aclose(self) -> None:
        """Release the connection, async."""
        await self._response.aclose()


def _limits() -> httpx.Limits:
    return httpx.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=30.0)


def _async_transport(key: ClientKey) -> httpx.AsyncBaseTransport | None:
    if key.proxy is not None:
        return None  # httpx's own transport honours proxies; the aiohttp one is used without them
    try:
        from httpx_aiohttp import AiohttpTransport  # noqa: PLC0415 - optional extra
    except ImportError:
        return None
    return AiohttpTransport()


class ClientPool:
    """Pooled httpx clients shared by every gateway in the process (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sync: dict[ClientKey, httpx.Client] = {}
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[ClientKey, httpx.AsyncClient]] = (
            weakref.WeakKeyDictionary()
        )

    def sync_client(self, key: ClientKey) -> httpx.Client:
        """The shared sync client for ``key``."""
        client = self._sync.get(key)
        if client is not None and not client.is_closed:
            return client
        with self._lock:
            client = self._sync.get(key)
            if client is None or client.is_closed:
                client = httpx.Client(
                    timeout=key.timeouts.for_request(False),
                    proxy=key.proxy,
                    verify=key.verify,
                    limits=_limits(),
                    follow_redirects=False,
                    trust_env=key.proxy is None,
                )
                self._sync[key] = client
            return client

    def async_client(self, key: ClientKey) -> httpx.AsyncClient:
        """The shared async client for ``key`` on the running event loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            per_loop = self._async.get(loop)
            if per_loop is None:
                per_loop = self._async[loop] = {}
            client = per_loop.get(key)
            if client is None or client.is_closed:
                transport = _async_transport(key)
                client = httpx.AsyncClient(
                    timeout=key.timeouts.for_request(False),
                    proxy=key.proxy if transport is None else None,
                    verify=key.verify,
                    limits=_limits(),
                    follow_redirects=False,
                    trust_env=key.proxy is None,
                    transport=transport,
                )
                per_loop[key] = client
            return client

    def close(self) -> None:
        """Close the sync clients (async ones close with their loops)."""
        with self._lock:
            for client in self._sync.values():
                client.close()
            self._sync.clear()


SHARED_CLIENTS = ClientPool()


def _translate(exc: Exception) -> GatewayError:
    if isinstance(exc, httpx.TimeoutException):
        kind = type(exc).__name__.replace("Timeout", " timeout").strip().lower()
        return RequestTimeoutError(
            f"the request timed out ({kind}); raise the timeout, or check the network path to Azure"
        )
    if isinstance(exc, httpx.HTTPError):
        return ConnectionFailedError(
            f"the connection failed ({type(exc).__name__}: {exc}); check the endpoint URL, DNS, proxy and firewall"
        )
    if isinstance(exc, RuntimeError) and "closed" in str(exc):
        return ConfigurationError(
            f"the HTTP client cannot send: {exc}",
            fix="do not close an http_client you passed in while the model still uses it, or pass none",
        )
    raise exc


def _build(client: httpx.Client | httpx.AsyncClient, req: HttpRequest, timeout: httpx.Timeout) -> httpx.Request:
    return client.build_request(
        "POST", req.url, params=dict(req.query), content=req.body, headers=dict(req.headers), timeout=timeout
    )


def send(client: httpx.Client, req: HttpRequest, timeouts: Timeouts) -> HttpResponse:
    """Send one request and read the whole response."""
    started = time.perf_counter()
    try:
        response = client.send(_build(client, req, timeouts.for_request(False)))
    except (httpx.HTTPError, RuntimeError) as exc:
        raise _translate(exc) from exc
    headers = {k.lower(): v for k, v in response.headers.items()}
    return HttpResponse(response.status_code, headers, response.content, time.perf_counter() - started)


async def asend(client: httpx.AsyncClient, req: HttpRequest, timeouts: Timeouts) -> HttpResponse:
    """Send one request and read the whole response, async."""
    started = time.perf_counter()
    try:
        response = await client.send(_build(client, req, timeouts.for_request(False)))
    except (httpx.HTTPError, RuntimeError) as exc:
        raise _translate(exc) from exc
    headers = {k.lower(): v for k, v in response.headers.items()}
    return HttpResponse(response.status_code, headers, response.content, time.perf_counter() - started)


def stream(client: httpx.Client, req: HttpRequest, timeouts: Timeouts) -> StreamingResponse:
    """Send one request and return as soon as the headers arrive. The caller must close it."""
    started = time.perf_counter()
    try:
        response = client.send(_build(client, req, timeouts.for_request(True)), stream=True)
    except (httpx.HTTPError, RuntimeError) as exc:
        raise _translate(exc) from exc
    return StreamingResponse(response, time.perf_counter() - started)


async def astream(client: httpx.AsyncClient, req: HttpRequest, timeouts: Timeouts) -> StreamingResponse:
    """Send one request and return as soon as the headers arrive, async. The caller must close it."""
    started = time.perf_counter()
    try:
        response = await client.send(_build(client, req, timeouts.for_request(True)), stream=True)
    except (httpx.HTTPError, RuntimeError) as exc:
        raise _translate(exc) from exc
    return StreamingResponse(response, time.perf_counter() - started)
