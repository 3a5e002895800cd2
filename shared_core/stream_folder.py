"""One opened stream, from SSE bytes to events, folded as they pass.

The fold is what lets a break or a filter report everything received so far, and what the gateway prices when
the stream ends; the price goes out as the stream's last event. :func:`drive` and :func:`adrive` read one opened
stream to its end: everything after the open is inside one ``try/finally``, so a consumer that stops at any event
(the first one included) releases the connection, and after the terminal event the rest of the body is drained
so that the connection goes back to the pool.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, Callable, Generator, Iterator
from typing import Literal

from shared_core.errors import (
    ConnectionFailedError,
    GatewayError,
    InvalidResponseError,
    RequestTimeoutError,
    ServerError,
    StreamInterruptedError,
)
from shared_core.events import DebugEvent, EventSink
from shared_core.messages import JsonValue
from shared_core.repair import ToolSequenceRepair
from shared_core.result import ChatResult, ResponseMetadata, StreamAccumulator, StreamEvent, public_headers
from shared_core.transport.error_map import request_id
from shared_core.transport.http import StreamingResponse
from shared_core.transport.sse import SSEParser
from shared_core.wire import chat_completions, responses

__all__ = ["StreamFolder", "adrive", "drive"]

# Records that keep a connection alive and say nothing: proxies in front of Azure send ``event: ping``.
_KEEPALIVE_EVENTS = frozenset({"ping", "keep-alive", "keepalive", "heartbeat"})


class StreamFolder:
    """SSE bytes → events, folded as they pass, so a break or a filter can report everything received.

    Args:
        api: Which decoder reads the stream.
        deployment: The deployment that answered (after any failover).
        endpoint: Its endpoint (or the gateway's URL), for errors.
        endpoint_name: Its endpoint's configured name, else its URL, for the stream's first event.
        opened: The opened 2xx stream (its headers carry the request id).
        sink: Where the raw stream goes when ``raw_debug`` is on.
        raw_debug: Keep every raw SSE record for one ``llm:response:raw`` event at the end.
        finish: Called with the folded result and the latency when the stream ended cleanly; prices it, emits
            the summary, and returns the priced result with the completion filter error to raise, if any.
        repairs: What conversation repair changed before sending, for the stream's first event.
    """

    __slots__ = (
        "_decoder",
        "_deployment",
        "_endpoint",
        "_endpoint_name",
        "_finish",
        "_parser",
        "_raw",
        "_repairs",
        "_request_id",
        "_response_headers",
        "_sink",
        "_started",
        "accumulator",
    )

    def __init__(
        self,
        *,
        api: Literal["chat", "responses"],
        deployment: str,
        endpoint: str,
        endpoint_name: str,
        opened: StreamingResponse,
        sink: EventSink,
        raw_debug: bool,
        finish: Callable[[ChatResult, float], tuple[ChatResult, GatewayError | None]],
        repairs: tuple[ToolSequenceRepair, ...] = (),
    ) -> None:
        self._repairs = repairs
        self._deployment = deployment
        self._endpoint = endpoint
        self._endpoint_name = endpoint_name
        self._sink = sink
        self._finish = finish
        self._parser = SSEParser()
        self._decoder = chat_completions.ChatStreamDecoder() if api == "chat" else responses.ResponsesStreamDecoder()
        self._request_id = request_id(opened.headers)
        self._response_headers = public_headers(opened.headers)
        self._started = time.perf_counter() - opened.elapsed_to_headers
        self.accumulator = StreamAccumulator()
        # The raw events are kept only when raw debug is on: the per-chunk path stays a parse and a fold.
        self._raw: list[JsonValue] | None = [] if raw_debug else None

    @property
    def done(self) -> bool:
        """The terminal event arrived."""
        return self._decoder.done

    def opening(self) -> ResponseMetadata:
        """The stream's first event: the deployment and endpoint that answered, Azure's request id and the
        conversation repairs made before sending."""
        event = ResponseMetadata(
            deployment=self._deployment,
            request_id=self._request_id,
            endpoint=self._endpoint_name,
            repairs=self._repairs,
            response_headers=self._response_headers,
        )
        self.accumulator.add(event)
        return event

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """Decode and fold one chunk of bytes."""
        return self._decode(self._parser.feed_pairs(chunk))

    def _decode(self, records: list[tuple[str | None, str]]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for name, data in records:
            if self._decoder.done:
                break  # bytes after the terminal event, in the same read, are not part of the answer
            if name in _KEEPALIVE_EVENTS or not data.strip():
                continue  # an empty ``data:`` keep-alive, or a ping
            if self._raw is not None:
                self._raw.append({"event": name, "data": data})
            for event in self._decoder.decode(name, data):
                self.accumulator.add(event)
                out.append(event)
        return out

    def partial(self) -> ChatResult:
        """Everything received so far."""
        return self.accumulator.result(deployment=self._deployment, request_id=self._request_id)

    @contextlib.contextmanager
    def reading(self, broke: Callable[[GatewayError], None]) -> Generator[None]:
        """Around the body's reads (both drivers): a transport failure is told to ``broke``, then raised as the
        stream's :meth:`interrupted` error."""
        try:
            yield
        except GatewayError as error:
            broke(error)
            raise self.interrupted(error) from error

    def ending(self) -> Iterator[StreamEvent]:
        """The events that close the stream, its priced closing event last; then the completion filter's error."""
        yield from self.close()
        closing, filtered = self.finish()
        yield closing
        if filtered is not None:
            raise filtered

    def interrupted(self, error: GatewayError) -> GatewayError:
        """The error to raise for a transport failure mid-stream (with the partial answer)."""
        if isinstance(error, ServerError):
            # Azure's error event inside the stream: the answer so far is kept, as for a cut stream.
            return StreamInterruptedError(
                f"{error.message} (after {self.accumulator.events_seen} events); the partial answer is in .partial",
                partial=self.partial(),
                deployment=self._deployment,
                endpoint=self._endpoint,
                status=error.status,
                code=error.code,
                request_id=self._request_id,
            )
        if isinstance(error, ConnectionFailedError | RequestTimeoutError | InvalidResponseError):
            received = len(self.accumulator.text)
            return StreamInterruptedError(
                f"the stream broke after {self.accumulator.events_seen} events ({received} characters of text): "
                f"{error.message}; the partial answer is in .partial",
                partial=self.partial(),
                deployment=self._deployment,
                endpoint=self._endpoint,
                request_id=self._request_id,
            )
        return error

    def close(self) -> list[StreamEvent]:
        """The events held back by the parser; raises when the terminal event never came."""
        out = [] if self._decoder.done else self._decode(self._parser.close_pairs())
        if not self._decoder.done:
            raise StreamInterruptedError(
                "the stream ended without its terminal event ([DONE] or response.completed); "
                "the partial answer is in .partial",
                partial=self.partial(),
                deployment=self._deployment,
                endpoint=self._endpoint,
                request_id=self._request_id,
            )
        return out

    def finish(self) -> tuple[ResponseMetadata, GatewayError | None]:
        """Emit the raw stream (raw debug), have the gateway price the folded result, and fold its cost in.

        Returns:
            The stream's last event (its cost and the priced result), and the completion filter error to raise
            after yielding it: the caller sees what a filtered answer cost before the error.
        """
        if self._raw is not None:
            data: dict[str, JsonValue] = {"deployment": self._deployment, "status": 200, "events": self._raw}
            self._sink.emit(DebugEvent("llm:response:raw", data))
        priced, filtered = self._finish(self.partial(), time.perf_counter() - self._started)
        # ``priced`` is the fold with this event's cost in: the framework packages take it instead of folding again.
        event = ResponseMetadata(cost=priced.cost, result=priced)
        self.accumulator.add(event)
        return event, filtered


def drive(
    folder: StreamFolder, opened: StreamingResponse, broke: Callable[[GatewayError], None]
) -> Iterator[StreamEvent]:
    """Yield the stream's events: its opening, every decoded event, and its priced closing event.

    Args:
        folder: Decodes and folds.
        opened: The opened 2xx stream; always closed when this generator ends, however it ends.
        broke: Told of a transport failure mid-stream (health), before the error is raised.

    Raises:
        StreamInterruptedError: The stream broke, or Azure sent an error event; ``partial`` holds what came.
        ContentFilterError: The completion was filtered (after its closing event).
    """
    try:
        yield folder.opening()
        with folder.reading(broke):
            for chunk in opened.iter_bytes():
                yield from folder.feed(chunk)
                if folder.done:
                    break
        if folder.done:
            opened.drain()
        yield from folder.ending()
    finally:
        opened.close()


async def adrive(
    folder: StreamFolder, opened: StreamingResponse, broke: Callable[[GatewayError], None]
) -> AsyncGenerator[StreamEvent]:
    """Async :func:`drive`."""
    try:
        yield folder.opening()
        with folder.reading(broke):
            async for chunk in opened.aiter_bytes():
                for event in folder.feed(chunk):
                    yield event
                if folder.done:
                    break
        if folder.done:
            await opened.adrain()
        for event in folder.ending():
            yield event
    finally:
        await opened.aclose()
