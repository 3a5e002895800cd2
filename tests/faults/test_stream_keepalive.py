"""Keep-alives, pings and trailing bytes do not break a finished stream; an error event keeps the partial answer.

Issue 12 item 5: an empty ``data:`` keep-alive, an ``event: ping`` (proxies in front of Azure send both), or bytes
after ``[DONE]`` in the same read broke a finished stream with ``StreamInterruptedError``; and an error event
inside the stream raised a bare ``ServerError`` without the partial output, deployment or request id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from shared_core import ChatRequest, Gateway, Message, StreamInterruptedError, load_config
from shared_core.result import StreamAccumulator
from tests.faults.channels import DEPLOYMENT, KEY
from tests.faults.raw_server import RawServer, Step

REQUEST = ChatRequest(messages=(Message.user("hello"),))


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _delta(text: str) -> bytes:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


def _stream(*records: bytes) -> Iterator[Step]:
    yield (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\napim-request-id: req-42\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    )
    for record in records:
        yield _chunk(record)
    yield b"0\r\n\r\n"


KEEPALIVES = {
    "empty data keep-alive": (_delta("Hel"), b"data:\n\n", _delta("lo"), b"data: [DONE]\n\n"),
    "event ping": (_delta("Hel"), b"event: ping\ndata: {}\n\n", _delta("lo"), b"data: [DONE]\n\n"),
    "comment": (_delta("Hel"), b": keep-alive\n\n", _delta("lo"), b"data: [DONE]\n\n"),
    "bytes after [DONE] in the same read": (_delta("Hel"), _delta("lo") + b"data: [DONE]\n\ndata: {oops\n\n"),
}


def _gateway(endpoint: str) -> Gateway:
    return Gateway(load_config(env={}, endpoint=endpoint, api_key=KEY, default_deployment=DEPLOYMENT, max_retries=0))


@pytest.mark.parametrize("case", list(KEEPALIVES))
def test_keepalives_and_trailing_bytes_leave_a_finished_stream_whole(case: str) -> None:
    with RawServer(lambda n, r: _stream(*KEEPALIVES[case])) as raw:
        folded = StreamAccumulator()
        for event in _gateway(raw.endpoint).stream(REQUEST):
            folded.add(event)
    assert folded.result(deployment=DEPLOYMENT, request_id=None).text == "Hello"


@pytest.mark.parametrize("case", list(KEEPALIVES))
async def test_keepalives_and_trailing_bytes_leave_a_finished_async_stream_whole(case: str) -> None:
    with RawServer(lambda n, r: _stream(*KEEPALIVES[case])) as raw:
        folded = StreamAccumulator()
        async for event in _gateway(raw.endpoint).astream(REQUEST):
            folded.add(event)
    assert folded.result(deployment=DEPLOYMENT, request_id=None).text == "Hello"


def test_an_error_event_inside_the_stream_keeps_the_partial_answer() -> None:
    failure = b'data: {"error": {"code": "server_error", "message": "The server had an error"}}\n\n'
    with (
        RawServer(lambda n, r: _stream(_delta("Hel"), _delta("lo"), failure)) as raw,
        pytest.raises(StreamInterruptedError) as caught,
    ):
        list(_gateway(raw.endpoint).stream(REQUEST))
    error = caught.value
    assert error.partial is not None and error.partial.text == "Hello"
    assert (error.deployment, error.request_id, error.code) == (DEPLOYMENT, "req-42", "server_error")
    assert "The server had an error" in error.message
