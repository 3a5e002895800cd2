"""One HTTP request to one deployment, over httpx: the HTTP layer's entry points (with ``http_*.py``, the only
modules that import httpx).

Clients are shared (:mod:`~shared_core.transport.http_clients`): one pooled client per (endpoint, proxy, TLS
verification, timeouts) for the whole process, per event loop on the async path. A request through a shared
client goes straight to the transport httpx would use for its endpoint: ``Client.send`` would add an auth flow,
a redirect loop, event hooks and cookie persistence that these clients never use, and building the request
through ``build_request`` merges the client's settings again each time; together about a third of the CPU of a
call to a local server. The request carries what ``build_request`` would give it (the client's default
headers, ``Host``, ``Content-Length``, the timeouts), and httpx's ``HTTP Request`` log line is kept. A client
the user passed in goes through ``Client.send``, with every httpx behaviour (its event hooks, auth, cookies),
except that redirects are never followed: a redirect would carry the ``api-key`` header to another host.

Deadlines: ``send`` and ``stream`` take the call's deadline (monotonic seconds). Each timeout of the attempt is
cut to the time left, and the body read is bounded too: by ``asyncio.timeout`` on the async path, by the
:mod:`~shared_core.transport.watchdog` thread (which shuts the socket down) on the sync one.
"""

from __future__ import annotations

import functools
import logging
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypedDict

import httpx

from shared_core.transport.http_clients import (
    SHARED_CLIENTS,
    AsyncPooled,
    ClientKey,
    ClientPool,
    Pooled,
    SyncPooled,
    Timeouts,
)
from shared_core.transport.http_errors import SENDING, Translated, at_deadline, within
from shared_core.transport.http_response import HttpResponse, StreamingResponse
from shared_core.transport.retry import deadline_passed, time_left

__all__ = [
    "SHARED_CLIENTS",
    "AsyncClient",
    "AsyncPooled",
    "AsyncSender",
    "ClientKey",
    "ClientPool",
    "HttpRequest",
    "HttpResponse",
    "StreamingResponse",
    "SyncClient",
    "SyncPooled",
    "SyncSender",
    "Timeouts",
    "asend",
    "astream",
    "send",
    "stream",
]

SyncClient = httpx.Client
AsyncClient = httpx.AsyncClient
SyncSender = httpx.Client | SyncPooled
"""What sends a sync request: a user's client, or a shared one (:meth:`ClientPool.sync_pooled`)."""
AsyncSender = httpx.AsyncClient | AsyncPooled
"""What sends an async request: a user's client, or a shared one (:meth:`ClientPool.async_pooled`)."""
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
_WAITING = "while waiting for Azure"
_HTTPX_LOG = logging.getLogger("httpx")
# A user's client may follow redirects, and httpx strips only Authorization on a cross-origin hop: the api-key
# header would reach the other host. Azure never redirects a data-plane call, so none is followed.
_AS_IS: _SendOptions = {"stream": True, "follow_redirects": False}


class _SendOptions(TypedDict):
    stream: bool
    follow_redirects: bool


@dataclass(slots=True)
class HttpRequest:
    """A request ready to send (the codec's path/query/body plus host and auth headers; not in ``repr``).

    Not changed once built (not frozen: each frozen field costs about 1,300 instructions to set, on every call).

    ``headers`` have lower-case names (a user's extra headers keep theirs). ``full_url`` is ``url`` with
    ``query`` appended, built once per URL.
    """

    url: str
    query: Mapping[str, str]
    body: bytes
    headers: Mapping[str, str] = field(repr=False)
    full_url: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        full_url = _full_url(self.url, tuple(self.query.items())) if self.query else self.url
        self.full_url = full_url


@functools.lru_cache(maxsize=256)
def _full_url(url: str, query: tuple[tuple[str, str], ...]) -> str:
    # A call goes to one of a few URLs: urlencode once per URL, not per call.
    return f"{url}?{urllib.parse.urlencode(query)}"


@functools.lru_cache(maxsize=256)
def _target(full_url: str) -> tuple[httpx.URL, str]:
    # httpx parses a str URL on every request, and merging ``params=`` into it parses and re-encodes it again
    # (benchmarks/README.md hot spot 2). httpx.URL is immutable and safe to share; the Host header comes with it.
    url = httpx.URL(full_url)
    return url, url.netloc.decode("ascii")


def _timeout(timeouts: Timeouts, streaming: bool, deadline: float | None) -> Mapping[str, float | None]:
    """The attempt's ``timeout`` extension: each timeout cut to the time left before ``deadline``."""
    if deadline is None:
        return timeouts.extension(streaming)
    left = time_left(deadline)
    if left <= 0:
        raise deadline_passed("before the attempt started")
    return timeouts.extension(streaming, left)


def _request(
    client: SyncSender | AsyncSender, req: HttpRequest, timeout: Mapping[str, float | None], extra: Mapping[str, str]
) -> httpx.Request:
    """The httpx request: built directly for a shared client, by ``build_request`` for a user's one."""
    url, host = _target(req.full_url)
    if not isinstance(client, Pooled):
        headers = {**req.headers, **extra}
        # A copy: the user's event hooks may change the request's timeouts; ours are shared, cached values.
        return client.build_request("POST", url, content=req.body, headers=headers, extensions={"timeout": {**timeout}})
    # What build_request would give: Host and Content-Length first, then the client's defaults under ours.
    defaults = client.headers
    if not "".join(req.headers).islower():  # a user's extra header, in any case, replaces a default
        names = {name.lower() for name in req.headers}
        defaults = {name: value for name, value in defaults.items() if name not in names}
    headers = {"host": host, "content-length": str(len(req.body)), **defaults, **req.headers, **extra}
    extensions = {"timeout": timeout}  # transports only read it
    request = httpx.Request("POST", url, headers=headers, stream=httpx.ByteStream(req.body), extensions=extensions)
    request.read()  # the body is in memory: a transport may ask for request.content
    return request


def _answered(client: SyncSender | AsyncSender, request: httpx.Request, response: httpx.Response) -> httpx.Response:
    """The response as ``Client.send`` leaves it: for a shared client, its request set and httpx's log line written."""
    if not isinstance(client, Pooled):
        return response
    response.request = request
    if _HTTPX_LOG.isEnabledFor(logging.INFO):
        status = f"{response.http_version} {response.status_code} {response.reason_phrase}"
        _HTTPX_LOG.info('HTTP Request: %s %s "%s"', request.method, request.url, status)
    return response


def _open(
    client: SyncSender, req: HttpRequest, timeouts: Timeouts, extra: Mapping[str, str], deadline: float | None, *,
    streaming: bool,
) -> StreamingResponse:  # fmt: skip
    started = time.perf_counter()
    request = _request(client, req, _timeout(timeouts, streaming, deadline), extra)
    with Translated(_WAITING, SENDING, cut=at_deadline(deadline)):
        pooled = isinstance(client, Pooled)
        sent = client.transport.handle_request(request) if pooled else client.send(request, **_AS_IS)
    return StreamingResponse(_answered(client, request, sent), time.perf_counter() - started, deadline, started)


async def _aopen(
    client: AsyncSender, req: HttpRequest, timeouts: Timeouts, extra: Mapping[str, str], deadline: float | None, *,
    streaming: bool,
) -> StreamingResponse:  # fmt: skip
    started = time.perf_counter()
    request = _request(client, req, _timeout(timeouts, streaming, deadline), extra)
    with Translated(_WAITING, SENDING, cut=at_deadline(deadline)):
        async with within(deadline):
            pooled = isinstance(client, Pooled)
            sent = await (client.transport.handle_async_request(request) if pooled else client.send(request, **_AS_IS))
    return StreamingResponse(_answered(client, request, sent), time.perf_counter() - started, deadline, started)


def send(
    client: SyncSender,
    req: HttpRequest,
    timeouts: Timeouts,
    extra_headers: Mapping[str, str] = _NO_HEADERS,
    *,
    deadline: float | None = None,
) -> HttpResponse:
    """Send one request (with ``extra_headers``, e.g. auth, added) and read the whole response by ``deadline``."""
    return _open(client, req, timeouts, extra_headers, deadline, streaming=False).whole()


async def asend(
    client: AsyncSender,
    req: HttpRequest,
    timeouts: Timeouts,
    extra_headers: Mapping[str, str] = _NO_HEADERS,
    *,
    deadline: float | None = None,
) -> HttpResponse:
    """Send one request (with ``extra_headers`` added) and read the whole response by ``deadline``, async."""
    return await (await _aopen(client, req, timeouts, extra_headers, deadline, streaming=False)).awhole()


def stream(
    client: SyncSender,
    req: HttpRequest,
    timeouts: Timeouts,
    extra_headers: Mapping[str, str] = _NO_HEADERS,
    *,
    deadline: float | None = None,
) -> StreamingResponse:
    """Send one request (with ``extra_headers`` added) and return once the headers arrive. The caller closes it.

    An error status's body is read (by ``deadline``) into ``error_body`` and the response closed before it is
    returned. The body's reads stop at ``deadline`` (the watchdog shuts the socket down), when one is given.
    """
    opened = _open(client, req, timeouts, extra_headers, deadline, streaming=True)
    if opened.status >= 300:
        opened.error_body = opened.whole().body
    return opened


async def astream(
    client: AsyncSender,
    req: HttpRequest,
    timeouts: Timeouts,
    extra_headers: Mapping[str, str] = _NO_HEADERS,
    *,
    deadline: float | None = None,
) -> StreamingResponse:
    """Async :func:`stream`."""
    opened = await _aopen(client, req, timeouts, extra_headers, deadline, streaming=True)
    if opened.status >= 300:
        opened.error_body = (await opened.awhole()).body
    return opened
