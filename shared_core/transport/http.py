"""One HTTP request to one deployment, over httpx; the only module that imports httpx.

Clients are shared: one pooled client per (endpoint, proxy, TLS verification, timeouts) for the whole process.
Async clients are kept per event loop (a notebook's ``asyncio.run`` makes a new loop each time, and a client
bound to a closed loop fails with "Event loop is closed") and closed when their loop shuts down; they use
aiohttp's connection pool through the ``httpx-aiohttp`` transport when installed: with hundreds of requests in
flight, httpx's own async pool costs about 15x more client CPU per call (DESIGN.md §3). Both paths verify TLS
the same way and honour the same proxy environment variables. Redirects are never followed, so credentials
cannot be carried to another host.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import os
import ssl
import threading
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field

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
    """A request ready to send (the codec's path/query/body plus host and auth headers; not in ``repr``)."""

    url: str
    query: Mapping[str, str]
    body: bytes
    headers: Mapping[str, str] = field(repr=False)


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


def _async_transport(key: ClientKey, context: ssl.SSLContext) -> httpx.AsyncBaseTransport | None:
    if key.proxy is not None:
        return None  # httpx's own transport honours proxies; the aiohttp one is used without them
    try:
        import aiohttp  # noqa: PLC0415 - optional extra
        from httpx_aiohttp import AiohttpTransport  # noqa: PLC0415 - optional extra
    except ImportError:
        return None
    limits = _limits()

    def session() -> aiohttp.ClientSession:
        # trust_env: HTTPS_PROXY / NO_PROXY apply as on the sync path (aiohttp ignores them by default).
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections or 0, keepalive_timeout=limits.keepalive_expiry, ssl=context
        )
        return aiohttp.ClientSession(connector=connector, trust_env=True)

    # verify=context: given none, the transport loads the CA bundle again (about 20 ms) for every new loop.
    return AiohttpTransport(verify=context, client=session)


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


async def _close_at_loop_shutdown(client: httpx.AsyncClient) -> AsyncGenerator[None]:
    try:
        yield
    finally:
        # The loop is shutting down: nobody is left to report a failed close to.
        with contextlib.suppress(Exception):
            await client.aclose()


def _close_with_running_loop(client: httpx.AsyncClient) -> AsyncGenerator[None]:
    """Arrange for ``client`` to be closed when the running loop shuts down.

    ``asyncio.run`` (and pytest-asyncio, and ``asyncio.Runner``) close every suspended async generator of the
    loop before closing it; a generator suspended in a ``try/finally`` is the one hook the loop offers.
    Without it, each notebook ``asyncio.run`` would leave an open aiohttp session behind ("Unclosed client
    session") and its sockets. The generator is started here, synchronously, up to its ``yield``; the caller
    keeps it alive (the loop only holds it weakly).
    """
    closer = _close_at_loop_shutdown(client)
    with contextlib.suppress(StopIteration):
        closer.__anext__().send(None)
    return closer


@dataclass(frozen=True, slots=True)
class _LoopClient:
    """An async client and the suspended generator that closes it when its loop shuts down."""

    client: httpx.AsyncClient
    closer: AsyncGenerator[None]


class ClientPool:
    """Pooled httpx clients shared by every gateway in the process (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sync: dict[ClientKey, httpx.Client] = {}
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[ClientKey, _LoopClient]] = (
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
                    verify=_ssl_context(key.verify),
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
                self._forget_closed_loops()
                per_loop = self._async[loop] = {}
            entry = per_loop.get(key)
            if entry is None or entry.client.is_closed:
                client = _new_async_client(key)
                entry = per_loop[key] = _LoopClient(client, _close_with_running_loop(client))
            return entry.client

    def _forget_closed_loops(self) -> None:
        # A client holds its loop, so the weak keys alone would never let a finished loop go.
        for loop in [loop for loop in self._async if loop.is_closed()]:
            del self._async[loop]

    def close(self) -> None:
        """Close the sync clients (async ones close with their loops)."""
        with self._lock:
            for client in self._sync.values():
                client.close()
            self._sync.clear()


SHARED_CLIENTS = ClientPool()
# Pooled keep-alive sockets would otherwise be left to the interpreter's teardown ("unclosed socket").
atexit.register(SHARED_CLIENTS.close)


def _aiohttp_connection_failure(exc: Exception) -> bool:
    # httpx-aiohttp maps every aiohttp ClientConnectionError (a reset, a server that hung up) to
    # httpx.ConnectTimeout; only aiohttp's own timeout errors are timeouts.
    cause = exc.__cause__
    return cause is not None and type(cause).__module__.startswith("aiohttp.") and not isinstance(cause, TimeoutError)


def _translate(exc: Exception) -> GatewayError:
    if isinstance(exc, httpx.TimeoutException) and _aiohttp_connection_failure(exc):
        cause = exc.__cause__
        return ConnectionFailedError(
            f"the connection failed ({type(cause).__name__}: {cause}); check the endpoint URL, DNS, proxy and firewall"
        )
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
