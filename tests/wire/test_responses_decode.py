"""Unit tests of the Responses API decoder: bodies, errors and stream events, one test per rule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared_core.content_filter import completion_filter_error
from shared_core.errors import ContentFilterError, InvalidResponseError, ServerError
from shared_core.messages import ReasoningPart, TextPart, ToolCallPart
from shared_core.result import (
    FinishEvent,
    ReasoningDelta,
    ReasoningItemEvent,
    RefusalDelta,
    ResponseMetadata,
    StreamAccumulator,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from shared_core.wire.responses import ResponsesStreamDecoder, decode_error, decode_response

# --- decode_response -----------------------------------------------------------------------------------


def _usage(inputs: int = 10, outputs: int = 5, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": inputs,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": outputs,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": inputs + outputs,
    }


def _msg(text: str) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}],
    }


def _call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "id": f"fc_{call_id}",
        "type": "function_call",
        "status": "completed",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def _response(*output: dict[str, Any], status: str = "completed", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1762402675,
        "status": status,
        "content_filters": None,
        "error": None,
        "incomplete_details": None,
        "model": "gpt-4o-mini",
        "output": list(output),
        "service_tier": "default",
        "usage": _usage(),
    }
    body.update(extra)
    return body


def test_decode_response_text_usage_and_identity() -> None:
    result = decode_response(_response(_msg("4200 + 42 equals 4242."), usage=_usage(16, 11, cached=4, reasoning=2)))
    assert result.text == "4200 + 42 equals 4242."
    assert result.finish_reason == "stop"
    assert result.usage == Usage(16, 11, 27, cached_input_tokens=4, reasoning_tokens=2)
    assert (result.response_id, result.model, result.created) == ("resp_1", "gpt-4o-mini", 1762402675)


def test_decode_response_function_calls_finish_tool_calls() -> None:
    result = decode_response(_response(_call("c1", "f", '{"password":"mellon"}'), _call("c2", "f", "")))
    assert result.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
        ("c1", "f", {"password": "mellon"}),
        ("c2", "f", {}),
    ]
    assert result.message.tool_calls == (ToolCallPart("c1", "f", '{"password":"mellon"}'), ToolCallPart("c2", "f", ""))


def test_decode_response_invalid_arguments_never_become_empty_dict() -> None:
    result = decode_response(_response(_call("c1", "f", '{"a": ')))
    assert result.tool_calls == ()
    assert [(c.id, c.name, c.raw_arguments) for c in result.invalid_tool_calls] == [("c1", "f", '{"a": ')]
    assert "JSON" in result.invalid_tool_calls[0].error


def test_decode_response_reasoning_item_first_with_id_and_encrypted() -> None:
    reasoning = {
        "id": "rs_1",
        "type": "reasoning",
        "encrypted_content": "gAAA",
        "summary": [{"type": "summary_text", "text": "one"}, {"type": "summary_text", "text": "two"}],
    }
    result = decode_response(_response(_msg("hi"), reasoning))
    assert result.message.parts[0] == ReasoningPart("one\n\ntwo", id="rs_1", encrypted_content="gAAA")
    assert result.message.parts[1] == TextPart("hi")


def test_decode_response_refusal() -> None:
    item = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "refusal", "refusal": "I can't help with that."}],
    }
    result = decode_response(_response(item))
    assert (result.refusal, result.text) == ("I can't help with that.", "")


@pytest.mark.parametrize(
    ("reason", "finish"),
    [("max_output_tokens", "length"), ("content_filter", "content_filter"), ("something_new", "incomplete")],
)
def test_decode_response_incomplete_reasons(reason: str, finish: str) -> None:
    result = decode_response(_response(_msg("partial"), status="incomplete", incomplete_details={"reason": reason}))
    assert result.finish_reason == finish
    assert result.provider_details["incomplete_details"] == {"reason": reason}


def test_decode_response_content_filter_feeds_completion_filter_error() -> None:
    filters = [
        {"blocked": False, "source_type": "prompt", "content_filter_results": {"hate": {"filtered": False}}},
        {
            "blocked": True,
            "source_type": "completion",
            "content_filter_results": {"violence": {"filtered": True, "severity": "high"}},
        },
    ]
    result = decode_response(
        _response(
            _msg("partial"),
            status="incomplete",
            incomplete_details={"reason": "content_filter"},
            content_filters=filters,
        )
    )
    assert result.content_filter_results == {"violence": {"filtered": True, "severity": "high"}}
    assert [(p.prompt_index, p.content_filter_results) for p in result.prompt_filter_results] == [
        (0, {"hate": {"filtered": False}})
    ]
    assert result.provider_details["content_filters"] == filters
    error = completion_filter_error(result)
    assert error is not None and error.filtered_categories == ("violence",) and error.partial_text == "partial"


def test_decode_response_cancelled_is_other_with_raw_status() -> None:
    result = decode_response(_response(status="cancelled"))
    assert (result.finish_reason, result.provider_details["finish_reason"]) == ("other", "cancelled")


def test_decode_response_failed_raises_server_error() -> None:
    with pytest.raises(ServerError) as info:
        decode_response(_response(status="failed", error={"code": "server_error", "message": "boom"}))
    assert info.value.code == "server_error" and "boom" in str(info.value)


def test_decode_response_failed_content_filter_raises_content_filter_error() -> None:
    with pytest.raises(ContentFilterError) as info:
        decode_response(_response(status="failed", error={"code": "content_filter", "message": "filtered"}))
    assert info.value.side == "completion"


def test_decode_response_provider_details_keep_non_null_unmapped_fields() -> None:
    annotation = {"type": "url_citation", "url": "https://x"}
    message = _msg("hi")
    message["content"][0]["annotations"] = [annotation]
    other = {"id": "x_1", "type": "some_future_item", "status": "completed"}
    details = decode_response(_response(message, other)).provider_details
    assert details["status"] == "completed" and details["service_tier"] == "default"
    assert details["annotations"] == [annotation] and details["other_output"] == [other]
    assert not {"id", "output", "usage", "model", "created_at", "error", "content_filters"} & set(details)


@pytest.mark.parametrize("payload", [None, [], {"error": {"message": "x"}}, {"output": "nope"}])
def test_decode_response_rejects_non_response(payload: Any) -> None:
    with pytest.raises(InvalidResponseError):
        decode_response(payload)


# --- decode_error --------------------------------------------------------------------------------------

_FILTER_400: Any = {
    "error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
        "type": "invalid_request_error",
        "param": "prompt",
        "code": "content_filter",
    }
}


def test_decode_error_responses_content_filter_400() -> None:
    error = decode_error(400, _FILTER_400)
    assert isinstance(error, ContentFilterError)
    assert (error.side, error.status, error.code, error.categories) == ("prompt", 400, "content_filter", ())
    assert "content management policy" in str(error)


@pytest.mark.parametrize(
    "payload",
    [{"error": {"message": "bad", "type": "invalid_request_error", "code": "invalid_value"}}, "text", None],
)
def test_decode_error_other_errors_are_none(payload: Any) -> None:
    assert decode_error(400, payload) is None


# --- stream --------------------------------------------------------------------------------------------


def _sse(decoder: ResponsesStreamDecoder, payload: dict[str, Any], *, named: bool = True) -> tuple[Any, ...]:
    return decoder.decode(payload["type"] if named else None, json.dumps(payload))


def test_stream_created_gives_metadata_not_done() -> None:
    decoder = ResponsesStreamDecoder()
    events = _sse(
        decoder,
        {"type": "response.created", "sequence_number": 0, "response": _response(status="in_progress", usage=None)},
    )
    assert events == (ResponseMetadata("resp_1", "gpt-4o-mini", 1762402675),)
    assert decoder.done is False


def test_stream_text_delta_ignores_obfuscation() -> None:
    decoder = ResponsesStreamDecoder()
    payload = {
        "type": "response.output_text.delta",
        "sequence_number": 4,
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "delta": "Hello",
        "logprobs": [],
        "obfuscation": "xYz12",
    }
    assert _sse(decoder, payload) == (TextDelta("Hello"),)
    assert _sse(decoder, {**payload, "delta": ""}) == ()


def test_stream_function_call_fragments_keyed_by_output_index() -> None:
    decoder = ResponsesStreamDecoder()
    added = {
        "type": "response.output_item.added",
        "sequence_number": 2,
        "output_index": 1,
        "item": {
            "id": "fc_1",
            "type": "function_call",
            "status": "in_progress",
            "arguments": "",
            "call_id": "call_1",
            "name": "f",
        },
    }
    delta = {
        "type": "response.function_call_arguments.delta",
        "sequence_number": 3,
        "item_id": "fc_1",
        "output_index": 1,
        "delta": '{"a"',
        "obfuscation": "q",
    }
    done = {
        "type": "response.function_call_arguments.done",
        "sequence_number": 4,
        "item_id": "fc_1",
        "output_index": 1,
        "arguments": '{"a":1}',
    }
    assert _sse(decoder, added) == (ToolCallDelta(1, id="call_1", name="f"),)
    assert _sse(decoder, delta) == (ToolCallDelta(1, arguments='{"a"'),)
    assert _sse(decoder, done) == (ToolCallDelta(1, arguments='{"a":1}', complete=True),)


def test_stream_reasoning_summary_and_item() -> None:
    decoder = ResponsesStreamDecoder()
    delta = {
        "type": "response.reasoning_summary_text.delta",
        "sequence_number": 3,
        "item_id": "rs_1",
        "output_index": 0,
        "summary_index": 0,
        "delta": "thinking",
    }
    done = {
        "type": "response.output_item.done",
        "sequence_number": 5,
        "output_index": 0,
        "item": {
            "id": "rs_1",
            "type": "reasoning",
            "encrypted_content": "gAAA",
            "summary": [{"type": "summary_text", "text": "thinking"}],
        },
    }
    assert _sse(decoder, delta) == (ReasoningDelta("thinking"),)
    assert _sse(decoder, done) == (ReasoningItemEvent(ReasoningPart("thinking", "rs_1", "gAAA")),)


def test_stream_refusal_delta() -> None:
    payload = {
        "type": "response.refusal.delta",
        "sequence_number": 3,
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "delta": "No.",
    }
    assert _sse(ResponsesStreamDecoder(), payload) == (RefusalDelta("No."),)


def test_stream_completed_gives_usage_finish_and_done() -> None:
    decoder = ResponsesStreamDecoder()
    events = _sse(
        decoder,
        {"type": "response.completed", "sequence_number": 9, "response": _response(_msg("hi"), usage=_usage(3, 2))},
    )
    assert decoder.done is True
    assert isinstance(events[0], ResponseMetadata) and events[0].provider_details["status"] == "completed"
    assert events[1:] == (UsageEvent(Usage(3, 2, 5)), FinishEvent("stop", raw_reason="completed"))


def test_stream_incomplete_gives_length_and_done() -> None:
    decoder = ResponsesStreamDecoder()
    response = _response(_msg("Alabama"), status="incomplete", incomplete_details={"reason": "max_output_tokens"})
    events = _sse(decoder, {"type": "response.incomplete", "sequence_number": 9, "response": response})
    assert decoder.done is True
    assert events[-1] == FinishEvent("length", raw_reason="max_output_tokens")


def test_stream_failed_raises_server_error_and_is_done() -> None:
    decoder = ResponsesStreamDecoder()
    response = _response(status="failed", error={"code": "server_error", "message": "The server had an error"})
    with pytest.raises(ServerError) as info:
        _sse(decoder, {"type": "response.failed", "sequence_number": 5, "response": response})
    assert decoder.done is True and info.value.code == "server_error" and "server had an error" in str(info.value)


def test_stream_error_event_raises_with_message() -> None:
    decoder = ResponsesStreamDecoder()
    with pytest.raises(ServerError) as info:
        _sse(
            decoder,
            {
                "type": "error",
                "sequence_number": 3,
                "code": "rate_limit_exceeded",
                "message": "slow down",
                "param": None,
            },
        )
    assert (info.value.code, decoder.done) == ("rate_limit_exceeded", True)
    assert "slow down" in str(info.value)


def test_stream_error_event_content_filter_raises_content_filter_error() -> None:
    with pytest.raises(ContentFilterError):
        _sse(
            ResponsesStreamDecoder(),
            {"type": "error", "sequence_number": 3, "code": "content_filter", "message": "filtered", "param": None},
        )


def test_stream_event_name_must_agree_with_data_type() -> None:
    with pytest.raises(InvalidResponseError):
        ResponsesStreamDecoder().decode("response.completed", json.dumps({"type": "response.output_text.delta"}))


@pytest.mark.parametrize("data", ["not json", "[1, 2]"])
def test_stream_rejects_non_object_data(data: str) -> None:
    with pytest.raises(InvalidResponseError):
        ResponsesStreamDecoder().decode(None, data)


def test_stream_without_event_name_uses_data_type() -> None:
    payload = {"type": "response.output_text.delta", "sequence_number": 1, "output_index": 0, "delta": "x"}
    assert _sse(ResponsesStreamDecoder(), payload, named=False) == (TextDelta("x"),)


def test_stream_unknown_and_bookkeeping_events_yield_nothing() -> None:
    decoder = ResponsesStreamDecoder()
    for kind in ["response.content_part.added", "response.output_text.done", "response.something_new"]:
        assert _sse(decoder, {"type": kind, "sequence_number": 1}) == ()
    assert decoder.done is False


def test_stream_done_marker_ends_stream() -> None:
    decoder = ResponsesStreamDecoder()
    assert decoder.decode(None, "[DONE]") == () and decoder.done is True


def test_stream_fold_equals_decode_response_of_final_response() -> None:
    reasoning = {
        "id": "rs_1",
        "type": "reasoning",
        "encrypted_content": "gAAA",
        "summary": [{"type": "summary_text", "text": "plan"}],
    }
    final = _response(reasoning, _msg("Hi there"), _call("call_1", "f", '{"a":1}'), usage=_usage(7, 9, reasoning=4))
    records = [
        {"type": "response.created", "response": _response(status="in_progress", usage=None)},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "delta": "plan"},
        {"type": "response.output_item.done", "output_index": 0, "item": reasoning},
        {"type": "response.output_text.delta", "output_index": 1, "delta": "Hi "},
        {"type": "response.output_text.delta", "output_index": 1, "delta": "there"},
        {
            "type": "response.output_item.added",
            "output_index": 2,
            "item": {**_call("call_1", "f", ""), "status": "in_progress"},
        },
        {"type": "response.function_call_arguments.delta", "output_index": 2, "delta": '{"a"'},
        {"type": "response.function_call_arguments.delta", "output_index": 2, "delta": ":1}"},
        {"type": "response.function_call_arguments.done", "output_index": 2, "arguments": '{"a":1}'},
        {"type": "response.completed", "response": final},
    ]
    decoder, accumulator = ResponsesStreamDecoder(), StreamAccumulator()
    for seq, record in enumerate(records):
        for event in _sse(decoder, {**record, "sequence_number": seq}):
            accumulator.add(event)
    assert decoder.done
    assert accumulator.result() == decode_response(final)
    assert accumulator.result().finish_reason == "tool_calls"
