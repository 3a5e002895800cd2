"""Streams release their connection wherever the consumer stops, and reuse it when they end (issue 12 item 2).

Before the fix, ``Gateway.stream``/``astream`` yielded their first event before the ``try/finally`` that closes
the response: a consumer that stopped there leaked the connection (100 of 100 sync, 58-100 of 100 async), and
with a pool of 5 the next call failed with a pool timeout; a cancelled read of a stalled error body leaked too.
And the reader stopped at ``[DONE]`` without reading the body's end, so every stream opened a new connection.

Leaks are counted as this process's ESTABLISHED sockets to the server once the generators are closed, with a
user client that keeps no idle connection (so whatever is still established is held by someone).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from itertools import islice

import httpx
import pytest

from shared_core import ChatRequest, Gateway, Message, StreamEvent, TextDelta, load_config
from shared_core.result import ToolCallDelta
from tests.faults.channels import DEPLOYMENT, KEY
from tests.faults.raw_server import RawServer, Step
from tests.faults.sockets import CountingForwarder, established, port_of, settle
from tests.support.azure_server import AzureTestServer, Reply, ToolCall

STREAMS_PER_POINT = 125  # four points, sync and async: 1,000 streams
REQUEST = ChatRequest(messages=(Message.user("tell me about the weather in Oslo"),))
WEATHER = ToolCall(name="get_weather", arguments='{"city": "Oslo", "unit": "celsius"}')


def _gateway(endpoint: str, **clients: object) -> Gateway:
    config = load_config(env={}, endpoint=endpoint, api_key=KEY, default_deployment=DEPLOYMENT, max_retries=0)
    return Gateway(config, **clients)  # type: ignore[arg-type]


def _limits() -> dict[str, object]:
    # Five connections, none kept idle: a connection still established afterwards is one somebody holds.
    return {"limits": httpx.Limits(max_connections=5, max_keepalive_connections=0), "timeout": httpx.Timeout(5, pool=1)}


def _nth(kind: type[StreamEvent], n: int) -> Callable[[list[StreamEvent]], bool]:
    return lambda seen: sum(isinstance(e, kind) for e in seen) >= n


# Where the consumer stops: after how many events (a predicate over what it saw so far).
POINTS: dict[str, Callable[[list[StreamEvent]], bool]] = {
    "before the first event": lambda seen: True,
    "after the first event": lambda seen: len(seen) >= 1,
    "mid-text": _nth(TextDelta, 2),
    "mid-tool-call": _nth(ToolCallDelta, 2),
}


def _reply_for(point: str) -> Reply:
    if point == "mid-tool-call":
        return Reply(text="Let me look.", tool_calls=(WEATHER,), argument_pieces=6)
    return Reply(text="one two three four five six seven eight", chunks=8)


def _abandon(events: Iterator[StreamEvent], stop: Callable[[list[StreamEvent]], bool]) -> None:
    seen: list[StreamEvent] = []
    for event in islice(events, 0 if stop(seen) else None):
        seen.append(event)
        if stop(seen):
            break


async def _aabandon(events: AsyncIterator[StreamEvent], stop: Callable[[list[StreamEvent]], bool]) -> None:
    seen: list[StreamEvent] = []
    if stop(seen):
        return
    async for event in events:
        seen.append(event)
        if stop(seen):
            break


@pytest.mark.parametrize("point", list(POINTS))
def test_a_stream_abandoned_anywhere_releases_its_connection(server: AzureTestServer, point: str) -> None:
    server.set_default(_reply_for(point))
    port = port_of(server.endpoint)
    with httpx.Client(**_limits()) as client:  # type: ignore[arg-type]
        gateway = _gateway(server.endpoint, http_client=client)
        for _ in range(STREAMS_PER_POINT):
            events = gateway.stream(REQUEST)
            _abandon(events, POINTS[point])
            events.close()  # type: ignore[attr-defined]
        assert settle(port) == 0, f"connections still held after {STREAMS_PER_POINT} streams stopped {point}"
        server.set_default(Reply(text="still here"))
        assert gateway.complete(REQUEST).text == "still here", "the pool of five still has room"


@pytest.mark.parametrize("point", list(POINTS))
async def test_an_async_stream_abandoned_anywhere_releases_its_connection(server: AzureTestServer, point: str) -> None:
    server.set_default(_reply_for(point))
    port = port_of(server.endpoint)
    async with httpx.AsyncClient(**_limits()) as client:  # type: ignore[arg-type]
        gateway = _gateway(server.endpoint, async_http_client=client)
        for _ in range(STREAMS_PER_POINT):
            events = gateway.astream(REQUEST)
            await _aabandon(events, POINTS[point])
            await events.aclose()  # type: ignore[attr-defined]
        assert settle(port) == 0, f"connections still held after {STREAMS_PER_POINT} streams stopped {point}"
        server.set_default(Reply(text="still here"))
        assert (await gateway.acomplete(REQUEST)).text == "still here"


def _stalled_error_body(number: int, request: bytes) -> Iterator[Step]:
    yield b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n"
    yield b'{"error": {"code": "500", '
    yield 30.0


async def test_an_async_stream_cancelled_while_an_error_body_stalls_releases_its_connection() -> None:
    with RawServer(_stalled_error_body) as raw:
        async with httpx.AsyncClient(**_limits()) as client:  # type: ignore[arg-type]
            gateway = _gateway(raw.endpoint, async_http_client=client)
            for _ in range(5):
                events = gateway.astream(REQUEST)
                first = asyncio.ensure_future(anext(events))  # type: ignore[arg-type]
                await asyncio.sleep(0.05)
                first.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await first
                await events.aclose()  # type: ignore[attr-defined]
            assert settle(port_of(raw.endpoint)) == 0, "a cancelled error-body read left its connection open"


def test_sequential_streams_reuse_one_connection(server: AzureTestServer) -> None:
    with CountingForwarder(server.endpoint) as forwarder:
        gateway = _gateway(forwarder.endpoint)
        for n in range(20):
            text = "".join(e.text for e in gateway.stream(REQUEST) if isinstance(e, TextDelta))
            assert text, f"stream {n} said nothing"
        assert forwarder.connections <= 2, f"20 sequential streams opened {forwarder.connections} connections"
        assert established(port_of(forwarder.endpoint)) <= 2


async def test_sequential_async_streams_reuse_one_connection(server: AzureTestServer) -> None:
    with CountingForwarder(server.endpoint) as forwarder:
        gateway = _gateway(forwarder.endpoint)
        for n in range(20):
            text = "".join([e.text async for e in gateway.astream(REQUEST) if isinstance(e, TextDelta)])
            assert text, f"stream {n} said nothing"
        assert forwarder.connections <= 2, f"20 sequential async streams opened {forwarder.connections} connections"
