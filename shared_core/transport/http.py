"""One HTTP request to one deployment, over httpx; the only module that imports httpx.

Clients are shared: one pooled client per (endpoint, proxy, TLS verification, timeouts) for the whole process.
Async clients are kept per event loop (a notebook's ``asyncio.run`` makes a new loop each time, and a client
bound to a closed loop fails with "Event loop is closed") and closed when their loop shuts down; they use
aiohttp's connection pool through the ``httpx-aiohttp`` transport when installed: with hundreds of requests in
flight, httpx's own async pool costs about 15x more client CPU per call (DESIGN.md §3). Both paths verify TLS
the same way and honour the same proxy environment variables. Redirects are never followed, so credentials
cannot be carried to another host.

Processes: the pool is per process. A forked child (gunicorn ``--preload``, Celery prefork, ``multiprocessing``
with fork) drops every client it inherited, without closing them (a close would send a TLS ``close_notify`` on
the parent's sockets), and builds its own on first use: sharing keep-alive sockets across processes hands one
process's answer to another.

Deadlines: ``send`` and ``stream`` take the call's deadline (monotonic seconds). Each timeout of the attempt is
cut to the time left, and the body read is bounded too: by ``asyncio.timeout`` on the async path, by the
:mod:`~shared_core.transport.watchdog` thread (which shuts the socket down) on the sync one.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import math
import os
import ssl
import sys
import threading
import time
import urllib.parse
import urllib.request
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import httpx

from shared_core.errors import ConfigurationError, ConnectionFailedError, GatewayError, RequestTimeoutError
from shared_core.transport.loop_closer import close_with_running_loop
from shared_core.transport.retry import deadline_passed, time_left
from shared_core.transport.watchdog import WATCHDOG

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
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


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

    def within(self, left: float) -> Timeouts:
        """These timeouts, each cut to ``left`` seconds (the time left before the call's deadline)."""
        left = max(left, 0.001)
        if left >= max(self.connect, self.read, self.chunk, self.write, self.pool):
            return self
        return Timeouts(*(min(value, left) for value in (self.connect, self.read, self.chunk, self.write, self.pool)))


# After the terminal event, the rest of a stream's body (Azure's chunked-encoding end) is read so that the
# connection goes back to the pool; a body that goes on or stalls instead is cut after this much.
_DRAIN_SECONDS = 0.5
_DRAIN_BYTES = 64 * 1024


def _bounded(timeouts: Timeouts, deadline: float | None) -> Timeouts:
    if deadline is None:
        return timeouts
    left = time_left(deadline)
    if left <= 0:
        raise deadline_passed("before the attempt started")
    return timeouts.within(left)


@dataclass(frozen=True, slots=True)
class ClientKey:
    """What makes two requests able to share a connection pool."""

    endpoint: str
    proxy: str | None = None
    verify: bool | str = True
    timeouts: Timeouts = Timeouts()


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A request ready to send (the codec's path/query/body plus host and auth headers; not in ``repr``).

    ``full_url`` is ``url`` with ``query`` appended, built once when the call is prepared.
    """

    url: str
    query: Mapping[str, str]
    body: bytes
    headers: Mapping[str, str] = field(repr=False)
    full_url: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        full_url = f"{self.url}?{urllib.parse.urlencode(self.query)}" if self.query else self.url
        object.__setattr__(self, "full_url", full_url)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A complete response. ``headers`` have lower-case names."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    elapsed: float


def _plain_headers(headers: httpx.Headers) -> dict[str, str]:
    # httpx's items() already gives lower-case names (repeated headers joined with ", "); lower-casing them
    # again cost 1-2 µs a call. A plain dict, not httpx.Headers: its lookups scan every header.
    return dict(headers.items())


class StreamingResponse:
    """An open streaming response: status and headers now, the body as it arrives.

    Iterate :meth:`iter_bytes` (or :meth:`aiter_bytes`) once; stop at the terminal event and call
    :meth:`drain` (:meth:`adrain`) so that the connection returns to the pool; always :meth:`close`
    (:meth:`aclose`) in a ``finally``.
    """

    __slots__ = (
        "_achunks",
        "_armed",
        "_chunks",
        "_deadline",
        "_response",
        "elapsed_to_headers",
        "headers",
        "started",
        "status",
    )

    def __init__(
        self, response: httpx.Response, elapsed: float, deadline: float | None = None, started: float = 0.0
    ) -> None:
        self.started = started
        self._response = response
        self.status = response.status_code
        self.headers: Mapping[str, str] = _plain_headers(response.headers)
        self.elapsed_to_headers = elapsed
        self._deadline = deadline
        self._armed = WATCHDOG.arm_stream(response.extensions, deadline)
        self._chunks: Generator[bytes] | None = None
        self._achunks: AsyncGenerator[bytes] | None = None

    def _cut(self, exc: Exception) -> bool:
        # The watchdog shut the socket down at the deadline (the read failed because of it), or it has passed.
        return WATCHDOG.disarm(self._armed) or time_left(self._deadline) <= 0.0

    def iter_bytes(self) -> Iterator[bytes]:
        """The body's chunks; transport failures become our errors. A ``break`` leaves it open for :meth:`drain`."""
        chunks = self._chunks = self._sync_chunks()
        return chunks

    def _sync_chunks(self) -> Generator[bytes]:
        with _translated("while the body was being read", cut=self._cut):
            yield from self._response.iter_bytes()
        WATCHDOG.disarm(self._armed)

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body's chunks, async, each read bounded by the call's deadline."""
        chunks = self._achunks = self._async_chunks()
        return chunks

    async def _async_chunks(self) -> AsyncGenerator[bytes]:
        body = self._response.aiter_bytes()
        with _translated("while the body was being read"):
            while True:
                async with _within(self._deadline):
                    chunk = await anext(body, None)
                if chunk is None:
                    return
                yield chunk

    def drain(self) -> None:
        """Read what is left after the terminal event (briefly), so that the connection can be reused."""
        chunks = self._chunks
        if chunks is None or self._response.is_closed:
            return
        at = min(time.monotonic() + _DRAIN_SECONDS, self._deadline or math.inf)
        armed = WATCHDOG.arm_stream(self._response.extensions, at)
        read = 0
        try:
            for chunk in chunks:
                read += len(chunk)
                if read > _DRAIN_BYTES:
                    break
        except GatewayError:
            pass
        finally:
            WATCHDOG.disarm(armed)

    async def adrain(self) -> None:
        """Async :meth:`drain`."""
        chunks = self._achunks
        if chunks is None or self._response.is_closed:
            return
        read = 0
        with contextlib.suppress(TimeoutError, GatewayError):
            async with asyncio.timeout(min(_DRAIN_SECONDS, max(0.0, time_left(self._deadline)))):
                async for chunk in chunks:
                    read += len(chunk)
                    if read > _DRAIN_BYTES:
                        break

    def read(self) -> bytes:
        """The whole (error) body, bounded by the call's deadline."""
        with _translated("while the body was being read", cut=self._cut):
            body = self._response.read()
        WATCHDOG.disarm(self._armed)
        return body

    async def aread(self) -> bytes:
        """The whole (error) body, async, bounded by the call's deadline."""
        with _translated("while the error body was being read"):
            async with _within(self._deadline):
                return await self._response.aread()

    def close(self) -> None:
        """Release the connection (to the pool when the body was read to its end, else closed)."""
        WATCHDOG.disarm(self._armed)
        if self._chunks is not None:
            # A generator left suspended would close httpx's stream later, from the garbage collector.
            self._chunks.close()
        self._response.close()

    async def aclose(self) -> None:
        """Release the connection, async."""
        if self._achunks is not None:
            with contextlib.suppress(Exception):
                await self._achunks.aclose()
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

    client: httpx.AsyncClient
    closer: AsyncGenerator[None]


class ClientPool:
    """Pooled httpx clients shared by every gateway in the process (thread-safe, per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sync: dict[ClientKey, httpx.Client] = {}
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
                entry = per_loop[key] = _LoopClient(client, close_with_running_loop(client))
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
os.register_at_fork(after_in_child=SHARED_CLIENTS.drop_after_fork)
# Pooled keep-alive sockets would otherwise be left to the interpreter's teardown ("unclosed socket").
atexit.register(SHARED_CLIENTS.close)


def _aiohttp_connection_failure(exc: Exception) -> bool:
    # httpx-aiohttp maps every aiohttp ClientConnectionError (a reset, a server that hung up) to
    # httpx.ConnectTimeout; only aiohttp's own timeout errors are timeouts.
    cause = exc.__cause__
    return cause is not None and type(cause).__module__.startswith("aiohttp.") and not isinstance(cause, TimeoutError)


def _never_connected(exc: BaseException) -> bool:
    """Whether the connection was never made (refused, DNS): httpx's ConnectError, aiohttp's connector errors."""
    aiohttp = sys.modules.get("aiohttp")  # imported only with the [async] extra, by _async_transport
    kinds = (httpx.ConnectError, ConnectionRefusedError, *(() if aiohttp is None else (aiohttp.ClientConnectorError,)))
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, kinds):
            return True
        current = current.__cause__ or current.__context__
    return False


def _translate(exc: Exception) -> GatewayError:
    aiohttp_failure = isinstance(exc, httpx.TimeoutException) and _aiohttp_connection_failure(exc)
    shown = exc.__cause__ if aiohttp_failure else exc
    if isinstance(exc, httpx.TimeoutException) and shown is exc:
        kind = type(exc).__name__.replace("Timeout", " timeout").strip().lower()
        return RequestTimeoutError(
            f"the request timed out ({kind}); raise the timeout, or check the network path to Azure"
        )
    if isinstance(exc, httpx.HTTPError):
        return ConnectionFailedError(
            f"the connection failed ({type(shown).__name__}: {shown}); check the endpoint URL, DNS, proxy and firewall",
            connected=not _never_connected(exc),
        )
    if isinstance(exc, RuntimeError) and "event loop is closed" in str(exc).lower():
        return ConfigurationError(
            "the async_http_client you passed is bound to an event loop that has closed (each asyncio.run, as in "
            "a notebook cell, starts a new loop; an httpx.AsyncClient keeps the loop it first ran on)",
            fix="create the AsyncClient inside the loop that uses it (and pass a new one per asyncio.run), or pass "
            "none: the shared clients are kept per event loop",
        )
    if isinstance(exc, RuntimeError) and "closed" in str(exc):
        return ConfigurationError(
            f"the HTTP client cannot send: {exc}",
            fix="do not close an http_client you passed in while the model still uses it, or pass none",
        )
    raise exc


@functools.lru_cache(maxsize=256)
def _parsed_url(full_url: str) -> httpx.URL:
    # httpx parses a str URL on every request, and merging ``params=`` into it parses and re-encodes it again:
    # build_request took 105 µs that way and 22 µs given a parsed URL (benchmarks/README.md hot spot 2). A call
    # goes to one of a few URLs, so each is parsed once; httpx.URL is immutable and safe to share.
    return httpx.URL(full_url)


def _build(
    client: httpx.Client | httpx.AsyncClient, req: HttpRequest, timeout: httpx.Timeout, extra: Mapping[str, str]
) -> httpx.Request:
    headers = {**req.headers, **extra}
    return client.build_request("POST", _parsed_url(req.full_url), content=req.body, headers=headers, timeout=timeout)


def _at_deadline(deadline: float | None) -> Callable[[Exception], bool]:
    # A timeout that ends at the deadline is the deadline's doing: the attempt's timeouts were cut to fit it.
    return lambda exc: isinstance(exc, httpx.TimeoutException) and time_left(deadline) <= 0.01


_SENDING: tuple[type[Exception], ...] = (httpx.HTTPError, RuntimeError)  # a closed client or loop: RuntimeError


@contextlib.contextmanager
def _translated(
    when: str,
    catch: tuple[type[Exception], ...] = (httpx.HTTPError,),
    *,
    cut: Callable[[Exception], bool] | None = None,
) -> Generator[None]:
    """Every path's one translation of transport exceptions: the call's deadline (an ``asyncio.timeout`` that
    fired, or a failure ``cut`` lays at the deadline) as its error saying ``when``, the rest by :func:`_translate`."""
    try:
        yield
    except TimeoutError:
        raise deadline_passed(when) from None
    except catch as exc:
        raise (deadline_passed(when) if cut is not None and cut(exc) else _translate(exc)) from exc


def _within(deadline: float | None) -> asyncio.Timeout:
    """An ``asyncio.timeout`` that fires at the call's deadline (never without one)."""
    return asyncio.timeout(None if deadline is None else max(0.0, time_left(deadline)))


def send(
    client: httpx.Client,
    req: HttpRequest,
    timeouts: Timeouts,
    extra_headers: Mapping[str, str] = _NO_HEADERS,
    *,
    deadline: float | None = None,
) -> HttpResponse:
    """Send one request (with ``extra_headers``, e.g. auth, added) and read the whole response by ``deadline``."""
    opened = stream(client, req, timeouts, extra_headers, deadline=deadline, streaming=False)
    try:
        body = opened.read()
    finally:
        opened.close()
    return HttpResponse(opened.status, opened.headers, body, time.perf_counter() - opened.started)


async def asend(
    client: httpx.AsyncClient,
    req: HttpRequest,
    timeouts: Timeouts,
    extra_headers: Mapping[str, str] = _NO_HEADERS,
    *,
    deadline: float | None = None,
) -> HttpResponse:
    """Send one request (with ``extra_headers`` added) and read the whole response by ``deadline``, async."""
    started = time.perf_counter()
    bounded = _bounded(timeouts, deadline)
    request = _build(client, req, bounded.for_request(False), extra_headers)
    with _translated("while waiting for Azure", _SENDING, cut=_at_deadline(deadline)):
        async with _within(deadline):
            response = await client.send(request, follow_redirects=False)
    return HttpResponse(
        response.status_code, _plain_headers(response.headers), response.content, time.perf_counter() - started
    )


def stream(
    client: httpx.Client,
    req: HttpRequest,
    timeouts: Timeouts,
    extra_headers: Mapping[str, str] = _NO_HEADERS,
    *,
    deadline: float | None = None,
    streaming: bool = True,
) -> StreamingResponse:
    """Send one request (with ``extra_headers`` added) and return once the headers arrive. The caller closes it.

    The body's reads stop at ``deadline`` (the watchdog shuts the socket down), when one is given.
    """
    started = time.perf_counter()
    bounded = _bounded(timeouts, deadline)
    with _translated("while waiting for Azure", _SENDING, cut=_at_deadline(deadline)):
        # A user's client may follow redirects, and httpx strips only Authorization on a cross-origin hop: the
        # api-key header would reach the other host. Azure never redirects a data-plane call, so none is followed.
        response = client.send(
            _build(client, req, bounded.for_request(streaming), extra_headers), stream=True, follow_redirects=False
        )
    return StreamingResponse(response, time.perf_counter() - started, deadline, started)


async def astream(
    client: httpx.AsyncClient,
    req: HttpRequest,
    timeouts: Timeouts,
    extra_headers: Mapping[str, str] = _NO_HEADERS,
    *,
    deadline: float | None = None,
) -> StreamingResponse:
    """Send one request (with ``extra_headers`` added) and return once the headers arrive, async; caller closes it."""
    started = time.perf_counter()
    request = _build(client, req, _bounded(timeouts, deadline).for_request(True), extra_headers)
    with _translated("while waiting for Azure", _SENDING, cut=_at_deadline(deadline)):
        async with _within(deadline):
            response = await client.send(request, stream=True, follow_redirects=False)
    return StreamingResponse(response, time.perf_counter() - started, deadline, started)
