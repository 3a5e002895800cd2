"""The Chat Completions decoders over garbage: arbitrary text, arbitrary JSON, and mutated real Azure chunks.

Property: every input ends in well-formed stream events (or a :class:`ChatResult`) or one of our typed errors;
input that is not a JSON object is always an :class:`InvalidResponseError`. A whole mutated stream still folds
into a result.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from shared_core.errors import GatewayError, InvalidResponseError
from shared_core.messages import JsonValue
from shared_core.result import ResponseMetadata, StreamAccumulator, TextDelta, ToolCallDelta
from shared_core.wire.chat_completions import ChatStreamDecoder, decode_response
from tests.fuzz.json_values import any_text, json_text, json_values, mutated, mutated_text, wire_objects
from tests.fuzz.outcomes import check_chat_result, check_stream_events
from tests.fuzz.recorded_samples import RecordedSamples


def _is_object_text(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


_MAX_RECORDS = 40  # longer recorded streams add only more of the same text chunks


def decode_one(data: str) -> None:
    """Decode one record with a fresh decoder and check the outcome against the text itself."""
    decoder = ChatStreamDecoder()
    try:
        events = decoder.decode(None, data)
    except InvalidResponseError:
        return
    except GatewayError:
        assert _is_object_text(data), "only an error object inside the stream may raise another typed error"
        return
    check_stream_events(events)
    if data.strip() == "[DONE]":
        assert events == () and decoder.done
    else:
        assert _is_object_text(data), f"non-object data decoded to {events!r}"


@given(any_text | json_text | st.sampled_from(["[DONE]", " [DONE] ", "[DONE", "", " ", "{}", "null", "NaN"]))
def test_chat_stream_decoder_arbitrary_text_ends_in_events_or_typed_error(data: str) -> None:
    decode_one(data)


@given(json_values | wire_objects)
def test_chat_stream_decoder_arbitrary_json_ends_in_events_or_typed_error(value: JsonValue) -> None:
    decode_one(json.dumps(value))


@given(st.data())
def test_chat_stream_decoder_mutated_recorded_chunk_ends_in_events_or_typed_error(
    recorded: RecordedSamples, data: st.DataObject
) -> None:
    chunk = data.draw(st.sampled_from(recorded.chat_chunks), label="recorded chunk")
    decode_one(data.draw(mutated_text(chunk), label="wire text"))


@given(st.data())
def test_chat_stream_decoder_mutated_recorded_stream_folds_to_result(
    recorded: RecordedSamples, data: st.DataObject
) -> None:
    stream = data.draw(st.sampled_from(recorded.chat_streams), label="recorded stream")
    decoder = ChatStreamDecoder()
    accumulator = StreamAccumulator()
    texts: list[str] = []
    for record in stream[:_MAX_RECORDS]:
        wire = record.data
        if record.data != "[DONE]" and data.draw(st.integers(min_value=0, max_value=3)) == 0:
            wire = data.draw(mutated_text(json.loads(record.data)))
        try:
            events = decoder.decode(record.event, wire)
        except GatewayError:
            continue
        check_stream_events(events)
        for event in events:
            accumulator.add(event)
            if isinstance(event, TextDelta):
                texts.append(event.text)
    result = accumulator.result()
    check_chat_result(result)
    assert result.text == "".join(texts)


@given(json_values | wire_objects)
def test_chat_decode_response_arbitrary_json_ends_in_result_or_typed_error(value: JsonValue) -> None:
    try:
        result = decode_response(value)
    except GatewayError as error:
        assert isinstance(error, InvalidResponseError), error
        return
    assert isinstance(value, dict)
    check_chat_result(result)


@given(st.data())
def test_chat_decode_response_mutated_recorded_body_ends_in_result_or_typed_error(
    recorded: RecordedSamples, data: st.DataObject
) -> None:
    body = data.draw(st.sampled_from(recorded.chat_bodies), label="recorded body")
    value = data.draw(mutated(body, max_mutations=6), label="mutated body")
    try:
        result = decode_response(value)
    except GatewayError as error:
        assert isinstance(error, InvalidResponseError), error
        return
    check_chat_result(result)


# ---- JSON booleans are ints to Python: none may pass as an index or a timestamp ------------------------------


def test_chat_stream_decoder_boolean_tool_call_index_is_int() -> None:
    chunk = {
        "choices": [{"index": 0, "delta": {"tool_calls": [{"index": True, "id": "c", "function": {"name": "f"}}]}}]
    }
    events = ChatStreamDecoder().decode(None, json.dumps(chunk))
    indexes = [e.index for e in events if isinstance(e, ToolCallDelta)]
    assert [type(i) for i in indexes] == [int]


def test_chat_stream_decoder_boolean_created_is_not_kept() -> None:
    events = ChatStreamDecoder().decode(None, json.dumps({"id": "x", "created": True, "choices": []}))
    created = [e.created for e in events if isinstance(e, ResponseMetadata)]
    assert created == [None]
    assert decode_response({"id": "x", "created": True, "choices": []}).created is None


def test_chat_stream_decoder_boolean_choice_index_is_not_choice_zero() -> None:
    chunk = {"choices": [{"index": False, "delta": {"content": "other"}}, {"index": 0, "delta": {"content": "hi"}}]}
    events = ChatStreamDecoder().decode(None, json.dumps(chunk))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["hi"]


def test_chat_decode_response_boolean_choice_index_is_not_choice_zero() -> None:
    other: JsonValue = {"index": False, "message": {"content": "other"}}
    result = decode_response({"choices": [other, {"index": 0, "message": {"content": "hi"}}]})
    assert result.text == "hi"
    assert result.provider_details["additional_choices"] == [other]
