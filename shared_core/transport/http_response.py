"""An HTTP response: read whole (:class:`HttpResponse`), or open and read as it arrives (:class:`StreamingResponse`).

The body's reads stop at the call's deadline: by ``asyncio.timeout`` on the async path, by the
:mod:`~shared_core.transport.watchdog` thread (which shuts the socket down) on the sync one. Transport failures
become the error tree's (:mod:`~shared_core.transport.http_errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Mapping
from dataclasses import dataclass

import httpx

from shared_core.errors import GatewayError
from shared_core.transport.http_errors import Translated, within
from shared_core.transport.retry import time_left
from shared_core.transport.watchdog import WATCHDOG

__all__ = ["HttpResponse", "StreamingResponse", "plain_headers"]

# After the terminal event, the rest of a stream's body (Azure's chunked-encoding end) is read so that the
# connection goes back to the pool; a body that goes on or stalls instead is cut after this much.
_DRAIN_SECONDS = 0.5
_DRAIN_BYTES = 64 * 1024
_READING = "while the body was being read"


@dataclass(slots=True)
class HttpResponse:
    """A complete response. ``headers`` have lower-case names. Not changed once built (not frozen: cheaper)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    elapsed: float


def plain_headers(headers: httpx.Headers) -> dict[str, str]:
    """A response's headers as a plain dict with lower-case names (repeated headers joined with ", ")."""
    # httpx's items() already gives lower-case names; lower-casing them again cost 1-2 µs a call. A plain dict,
    # not httpx.Headers: its lookups scan every header.
    return dict(headers.items())


class StreamingResponse:
    """An open streaming response: status and headers now, the body as it arrives.

    Iterate :meth:`iter_bytes` (or :meth:`aiter_bytes`) once; stop at the terminal event and call
    :meth:`drain` (:meth:`adrain`) so that the connection returns to the pool; always :meth:`close`
    (:meth:`aclose`) in a ``finally``. :meth:`whole` (:meth:`awhole`) reads the whole body and closes it.
    ``error_body`` is the body of an error status, read by the caller that opened it.
    """

    __slots__ = (
        "_achunks",
        "_armed",
        "_chunks",
        "_deadline",
        "_response",
        "elapsed_to_headers",
        "error_body",
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
        self.headers: Mapping[str, str] = plain_headers(response.headers)
        self.elapsed_to_headers = elapsed
        self._deadline = deadline
        self._armed = WATCHDOG.arm_stream(response.extensions, deadline)
        self._chunks: Generator[bytes] | None = None
        self._achunks: AsyncGenerator[bytes] | None = None
        self.error_body = b""

    def _cut(self, exc: Exception) -> bool:
        # The watchdog shut the socket down at the deadline (the read failed because of it), or it has passed.
        return WATCHDOG.disarm(self._armed) or time_left(self._deadline) <= 0.0

    def iter_bytes(self) -> Iterator[bytes]:
        """The body's chunks; transport failures become our errors. A ``break`` leaves it open for :meth:`drain`."""
        chunks = self._chunks = self._sync_chunks()
        return chunks

    def _sync_chunks(self) -> Generator[bytes]:
        with Translated(_READING, cut=self._cut):
            yield from self._response.iter_bytes()
        WATCHDOG.disarm(self._armed)

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body's chunks, async, each read bounded by the call's deadline."""
        chunks = self._achunks = self._async_chunks()
        return chunks

    async def _async_chunks(self) -> AsyncGenerator[bytes]:
        body = self._response.aiter_bytes()
        with Translated(_READING):
            while True:
                async with within(self._deadline):
                    chunk = await anext(body, None)
                if chunk is None:
                    return
                yield chunk

    def drain(self) -> None:
        """Read what is left after the terminal event (briefly), so that the connection can be reused."""
        if (chunks := self._chunks) is None or self._response.is_closed:
            return
        at = min(time.monotonic() + _DRAIN_SECONDS, self._deadline or math.inf)
        armed = WATCHDOG.arm_stream(self._response.extensions, at)
        try:
            _read_at_most(chunks, _DRAIN_BYTES)
        except GatewayError:
            pass
        finally:
            WATCHDOG.disarm(armed)

    async def adrain(self) -> None:
        """Async :meth:`drain`."""
        if (chunks := self._achunks) is None or self._response.is_closed:
            return
        with contextlib.suppress(TimeoutError, GatewayError):
            async with asyncio.timeout(min(_DRAIN_SECONDS, max(0.0, time_left(self._deadline)))):
                await _aread_at_most(chunks, _DRAIN_BYTES)

    def read(self) -> bytes:
        """The whole body, bounded by the call's deadline."""
        with Translated(_READING, cut=self._cut):
            body = self._response.read()
        WATCHDOG.disarm(self._armed)
        return body

    async def aread(self) -> bytes:
        """The whole body, async, bounded by the call's deadline."""
        with Translated(_READING):
            async with within(self._deadline):
                return await self._response.aread()

    def _complete(self, body: bytes) -> HttpResponse:
        return HttpResponse(self.status, self.headers, body, time.perf_counter() - self.started)

    def whole(self) -> HttpResponse:
        """Read the whole body (bounded by the call's deadline), release the connection, and return it all."""
        with contextlib.closing(self):
            return self._complete(self.read())

    async def awhole(self) -> HttpResponse:
        """Async :meth:`whole`."""
        async with contextlib.aclosing(self):
            return self._complete(await self.aread())

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


def _read_at_most(chunks: Iterator[bytes], limit: int) -> None:
    read = 0
    for chunk in chunks:
        read += len(chunk)
        if read > limit:
            return


async def _aread_at_most(chunks: AsyncIterator[bytes], limit: int) -> None:
    read = 0
    async for chunk in chunks:
        read += len(chunk)
        if read > limit:
            return
