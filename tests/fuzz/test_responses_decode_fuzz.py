"""The Responses decoders over garbage: arbitrary records, event-name/type mismatches, mutated real events
and streams replayed out of order.

Property: every record ends in well-formed stream events or one of our typed errors; data that is not a JSON
object, or whose ``type`` disagrees with the record's ``event:`` name, is an :class:`InvalidResponseError`.
Whatever order the events come in, the events decoded so far fold into a result.
"""

from __future__ import annotations

import json

from hypothesis import assume, given
from hypothesis import strategies as st

from shared_core.errors import ContentFilterError, GatewayError, InvalidResponseError, ServerError
from shared_core.messages import JsonValue
from shared_core.result import ResponseMetadata, StreamAccumulator, TextDelta
from shared_core.transport.sse import SSERecord
from shared_core.wire.responses import ResponsesStreamDecoder, decode_response
from tests.fuzz.json_values import any_text, json_text, json_values, mutated, mutated_text, wire_objects
from tests.fuzz.outcomes import check_chat_result, check_stream_events
from tests.fuzz.recorded_samples import RecordedSamples

EVENT_TYPES = (
    "response.created",
    "response.in_progress",
    "response.queued",
    "response.output_item.added",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.output_text.delta",
    "response.output_text.done",
    "response.refusal.delta",
    "response.reasoning_summary_text.delta",
    "response.reasoning_text.delta",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.completed",
    "response.incomplete",
    "response.failed",
    "error",
)
_MAX_RECORDS = 40  # longer recorded streams add only more of the same deltas
_event_names = st.none() | st.sampled_from(EVENT_TYPES) | st.text(max_size=12)


def _object(text: str) -> dict[str, JsonValue] | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def decode_checked(decoder: ResponsesStreamDecoder, event: str | None, data: str) -> None:
    """Decode one record and check the outcome against the record itself."""
    payload = _object(data)
    kind = payload.get("type") if payload is not None else None
    mismatch = event is not None and isinstance(kind, str) and kind != event
    try:
        events = decoder.decode(event, data)
    except InvalidResponseError:
        return
    except (ServerError, ContentFilterError):
        assert payload is not None and not mismatch
        assert (kind if isinstance(kind, str) and kind else event) in {"response.failed", "error"}
        assert decoder.done
        return
    check_stream_events(events)
    if data.strip() == "[DONE]":
        assert events == ()
        return
    assert payload is not None, f"non-object data decoded to {events!r}"
    assert not mismatch, f"event {event!r} with data of type {kind!r} was accepted"


@given(_event_names, any_text | json_text | st.sampled_from(["[DONE]", "", "{}", "[]", "null"]))
def test_responses_stream_decoder_arbitrary_record_ends_in_events_or_typed_error(event: str | None, data: str) -> None:
    decode_checked(ResponsesStreamDecoder(), event, data)


@st.composite
def _typed_payloads(draw: st.DrawFn) -> tuple[str | None, str]:
    payload = draw(wire_objects)
    payload["type"] = draw(st.sampled_from(EVENT_TYPES) | json_values)
    kind = payload["type"]
    match draw(st.sampled_from(["same", "none", "other"])):
        case "same" if isinstance(kind, str):
            event: str | None = kind
        case "other":
            event = draw(_event_names)
        case _:
            event = None
    return event, json.dumps(payload)


@given(_typed_payloads())
def test_responses_stream_decoder_typed_payload_ends_in_events_or_typed_error(
    record: tuple[str | None, str],
) -> None:
    decode_checked(ResponsesStreamDecoder(), *record)


@given(
    st.sampled_from(EVENT_TYPES),
    st.sampled_from(EVENT_TYPES),
    st.dictionaries(st.sampled_from(["delta", "response", "item", "output_index"]), json_values, max_size=2),
)
def test_responses_stream_decoder_event_type_mismatch_is_invalid_response(
    event: str, kind: str, payload: dict[str, JsonValue]
) -> None:
    assume(event != kind)
    decoder = ResponsesStreamDecoder()
    try:
        decoder.decode(event, json.dumps({**payload, "type": kind}))
    except InvalidResponseError:
        return
    raise AssertionError(f"'event: {event}' with data of type {kind!r} was accepted")


@given(st.data())
def test_responses_stream_decoder_mutated_recorded_event_ends_in_events_or_typed_error(
    recorded: RecordedSamples, data: st.DataObject
) -> None:
    stream = data.draw(st.sampled_from(recorded.responses_streams), label="recorded stream")
    record = data.draw(st.sampled_from(stream), label="recorded event")
    wire = data.draw(mutated_text(json.loads(record.data)), label="wire text")
    event = data.draw(st.sampled_from([record.event, None]) | _event_names, label="event name")
    decode_checked(ResponsesStreamDecoder(), event, wire)


@given(st.data())
def test_responses_stream_decoder_shuffled_mutated_stream_folds_to_result(
    recorded: RecordedSamples, data: st.DataObject
) -> None:
    stream = data.draw(st.sampled_from(recorded.responses_streams), label="recorded stream")
    records: list[SSERecord] = data.draw(st.permutations(stream[:_MAX_RECORDS]), label="order")
    records = records[: data.draw(st.integers(min_value=0, max_value=len(records)), label="kept")]
    decoder = ResponsesStreamDecoder()
    accumulator = StreamAccumulator()
    texts: list[str] = []
    for record in records:
        wire = record.data
        if data.draw(st.integers(min_value=0, max_value=3)) == 0:
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


def _decode_body(value: JsonValue) -> None:
    try:
        result = decode_response(value)
    except (InvalidResponseError, ServerError, ContentFilterError) as error:
        if not isinstance(error, InvalidResponseError):
            assert isinstance(value, dict) and value.get("status") == "failed"
        return
    assert isinstance(value, dict) and isinstance(value.get("output"), list)
    check_chat_result(result)


@given(json_values | wire_objects)
def test_responses_decode_response_arbitrary_json_ends_in_result_or_typed_error(value: JsonValue) -> None:
    _decode_body(value)


@given(st.data())
def test_responses_decode_response_mutated_recorded_body_ends_in_result_or_typed_error(
    recorded: RecordedSamples, data: st.DataObject
) -> None:
    body = data.draw(st.sampled_from(recorded.responses_bodies), label="recorded body")
    _decode_body(data.draw(mutated(body, max_mutations=6), label="mutated body"))


# ---- an output item's `type` may be any JSON value; one we cannot hash is still just an unknown item ---------


def test_responses_decode_response_output_item_type_list_is_other_output() -> None:
    items: list[JsonValue] = [{"type": []}, {"type": "message", "content": [{"type": "output_text", "text": "hi"}]}]
    result = decode_response({"output": items, "status": "completed"})
    assert result.text == "hi"
    assert result.provider_details["other_output"] == [{"type": []}]


def test_responses_stream_decoder_completed_output_item_type_object_is_other_output() -> None:
    data = json.dumps({"type": "response.completed", "response": {"output": [{"type": {}}]}})
    events = ResponsesStreamDecoder().decode("response.completed", data)
    details = [e.provider_details for e in events if isinstance(e, ResponseMetadata)]
    assert details == [{"other_output": [{"type": {}}]}]
