"""Whole gateway calls against a loopback server that answers with arbitrary statuses, headers and bodies.

Property: ``Gateway.complete`` and ``Gateway.stream`` end in a result (or events) or one of our typed errors,
whatever comes back: random bytes, random JSON, mutated real Azure bodies and streams, HTML pages, a status
from 200 to 599. No error text carries the api key. Nothing is retried (``max_retries=0``), so each example is
one round trip on loopback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from hypothesis import event, given
from hypothesis import strategies as st

from shared_core import Gateway
from shared_core.errors import GatewayError, InvalidResponseError
from shared_core.messages import Message
from shared_core.request import ChatRequest
from shared_core.result import StreamEvent
from shared_core.transport.error_map import parse_error_body
from tests.fuzz.json_values import json_text, json_values, mutated
from tests.fuzz.loopback_app import LoopbackApp
from tests.fuzz.outcomes import check_chat_result, check_stream_events
from tests.fuzz.recorded_samples import RecordedSamples

_CANARY = "CANARY-api-key-5e0d"
_REQUEST = ChatRequest(messages=(Message.user("hi"),))
_statuses = st.sampled_from([200, 200, 200, 400, 401, 403, 404, 408, 413, 429, 500, 502, 503, 504]) | st.integers(
    min_value=200, max_value=599
).filter(lambda s: s not in {204, 205, 304})
_content_types = st.sampled_from(["application/json", "text/event-stream", "text/html", "text/plain", ""])
_html = st.sampled_from(
    [b"<html><title>502 Bad Gateway</title></html>", b"<!DOCTYPE html><h1>Access denied</h1>", b"<html>"]
)


@dataclass
class _Answer:
    """What the loopback server sends next (one test example at a time)."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


@pytest.fixture(scope="module")
def scripted() -> Iterator[tuple[LoopbackApp, _Answer]]:
    """A server that answers every request with the current :class:`_Answer`."""
    answer = _Answer()

    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {"Content-Type": answer.content_type} if answer.content_type else {}
        response = web.Response(status=answer.status, body=answer.body, headers=headers)
        if not answer.content_type:
            response.headers.pop("Content-Type", None)
        return response

    with LoopbackApp(handler) as app:
        yield app, answer


def _gateway(app: LoopbackApp) -> Gateway:
    return Gateway(endpoint=app.endpoint, api_key=_CANARY, default_deployment="d", env={}, max_retries=0)


def _check_error(error: GatewayError) -> None:
    event(type(error).__name__)
    for text in (str(error), repr(error)):
        assert _CANARY not in text


@given(
    status=_statuses,
    content_type=_content_types,
    body=st.binary(max_size=300) | json_text.map(str.encode) | _html | st.sampled_from([b"", b"null", b"{}"]),
)
def test_gateway_complete_arbitrary_answer_is_result_or_typed_error(
    scripted: tuple[LoopbackApp, _Answer], status: int, content_type: str, body: bytes
) -> None:
    app, answer = scripted
    answer.status, answer.body, answer.content_type = status, body, content_type
    try:
        result = _gateway(app).complete(_REQUEST)
    except GatewayError as error:
        _check_error(error)
        return
    event("ChatResult")
    assert 200 <= status < 300
    check_chat_result(result)


@given(st.data())
def test_gateway_complete_mutated_recorded_body_is_result_or_typed_error(
    scripted: tuple[LoopbackApp, _Answer], recorded: RecordedSamples, data: st.DataObject
) -> None:
    app, answer = scripted
    body = data.draw(st.sampled_from(recorded.chat_bodies), label="recorded body")
    answer.status, answer.content_type = 200, "application/json"
    answer.body = json.dumps(data.draw(mutated(body, max_mutations=6), label="mutated body")).encode()
    try:
        result = _gateway(app).complete(_REQUEST)
    except GatewayError as error:
        _check_error(error)
        return
    event("ChatResult")
    check_chat_result(result)


@st.composite
def _stream_bodies(draw: st.DrawFn, recorded: RecordedSamples) -> bytes:
    body = draw(st.sampled_from(recorded.chat_stream_bodies))
    match draw(st.sampled_from(["cut", "noise", "drop_line", "mutate_chunk", "random"])):
        case "cut":
            return body[: draw(st.integers(min_value=0, max_value=len(body)))]
        case "noise":
            at = draw(st.integers(min_value=0, max_value=len(body)))
            return body[:at] + draw(st.binary(min_size=1, max_size=8)) + body[at:]
        case "drop_line":
            lines = body.split(b"\n")
            del lines[draw(st.integers(min_value=0, max_value=len(lines) - 1))]
            return b"\n".join(lines)
        case "mutate_chunk":
            chunk = draw(st.sampled_from(recorded.chat_chunks))
            return body.replace(b"\n\n", b"\n\ndata: " + json.dumps(draw(mutated(chunk))).encode() + b"\n\n", 1)
        case _:
            return draw(st.binary(max_size=200) | json_values.map(lambda v: f"data: {json.dumps(v)}\n\n".encode()))


@given(st.data())
def test_gateway_stream_arbitrary_stream_is_events_or_typed_error(
    scripted: tuple[LoopbackApp, _Answer], recorded: RecordedSamples, data: st.DataObject
) -> None:
    app, answer = scripted
    answer.status, answer.content_type = 200, "text/event-stream"
    answer.body = data.draw(_stream_bodies(recorded), label="stream body")
    events: list[StreamEvent] = []
    try:
        for item in _gateway(app).stream(_REQUEST):
            events.append(item)
    except GatewayError as error:
        _check_error(error)
        return
    event("completed stream")
    check_stream_events(tuple(events))


@pytest.mark.parametrize("status", [200, 500])
@pytest.mark.parametrize(
    "body", [b"[" * 100_000, b'{"error": {"code": ' + b"7" * 4_301 + b', "message": "m"}}'], ids=["deep", "huge_int"]
)
def test_gateway_complete_body_past_json_parser_limits_is_typed_error(
    scripted: tuple[LoopbackApp, _Answer], status: int, body: bytes
) -> None:
    app, answer = scripted
    answer.status, answer.body, answer.content_type = status, body, "application/json"
    with pytest.raises(GatewayError) as caught:
        _gateway(app).complete(_REQUEST)
    assert isinstance(caught.value, InvalidResponseError) or status != 200


@pytest.mark.parametrize(
    "body", [b"[" * 100_000, b'{"error": {"code": ' + b"7" * 4_301 + b', "message": "m"}}'], ids=["deep", "huge_int"]
)
def test_parse_error_body_json_parser_limits_is_text_details(body: bytes) -> None:
    # Past Python's recursion or digit limit the body is not JSON we can read: it is kept as text, never raised.
    details = parse_error_body(body, "application/json", 500)
    assert (details.form, details.status, details.code) == ("text", 500, None)
    assert details.raw_text == body.decode()[: len(details.raw_text)] and details.raw_text
