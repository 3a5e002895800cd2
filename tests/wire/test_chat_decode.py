"""Chat Completions decoding: responses, error bodies, and every stream quirk of the real Azure wire."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared_core.errors import ContentFilterError, InvalidResponseError, ServerError
from shared_core.messages import TextPart, ToolCallPart
from shared_core.result import (
    ChoiceEvent,
    ContentFilterDelta,
    FinishEvent,
    PromptFilterEvent,
    PromptFilterResult,
    RefusalDelta,
    ResponseMetadata,
    StreamAccumulator,
    TextDelta,
    TokenLogprob,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from shared_core.wire.chat_completions import ChatStreamDecoder, decode_error, decode_response

SAFE = {"filtered": False, "severity": "safe"}


# ---------------------------------------------------------------- decode_response


def completion(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "choices": [
            {
                "content_filter_results": {"hate": SAFE, "violence": SAFE},
                "finish_reason": "stop",
                "index": 0,
                "logprobs": None,
                "message": {"annotations": [], "content": "Hello!", "refusal": None, "role": "assistant"},
            }
        ],
        "created": 1752731406,
        "id": "chatcmpl-1",
        "model": "gpt-4o-mini-2024-07-18",
        "object": "chat.completion",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {"hate": SAFE}}],
        "system_fingerprint": None,
        "usage": {
            "completion_tokens": 30,
            "prompt_tokens": 20,
            "total_tokens": 50,
            "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 8},
            "completion_tokens_details": {
                "accepted_prediction_tokens": 0,
                "audio_tokens": 0,
                "reasoning_tokens": 12,
                "rejected_prediction_tokens": 0,
            },
        },
    }
    body.update(overrides)
    return body


def test_decode_response_keeps_text_usage_metadata_and_filters() -> None:
    result = decode_response(completion())
    assert result.text == "Hello!"
    assert result.message.parts == (TextPart("Hello!"),)
    assert result.finish_reason == "stop"
    assert result.usage == Usage(20, 30, 50, cached_input_tokens=8, reasoning_tokens=12)
    assert (result.response_id, result.model, result.created) == ("chatcmpl-1", "gpt-4o-mini-2024-07-18", 1752731406)
    assert result.system_fingerprint is None
    assert result.prompt_filter_results == (PromptFilterResult(0, {"hate": SAFE}),)
    assert result.content_filter_results == {"hate": SAFE, "violence": SAFE}
    assert result.refusal is None
    assert result.provider_details == {}


def test_decode_response_tool_calls_parsed_and_invalid_kept_raw() -> None:
    message = {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
            {"id": "c2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Os'}},
            {"id": "c3", "type": "function", "function": {"name": "ping", "arguments": ""}},
        ],
    }
    body = completion()
    body["choices"][0].update(message=message, finish_reason="tool_calls")
    result = decode_response(body)
    assert result.message.parts == (
        TextPart("Checking."),
        ToolCallPart("c1", "get_weather", '{"city": "Oslo"}'),
        ToolCallPart("c2", "get_weather", '{"city": "Os'),
        ToolCallPart("c3", "ping", ""),
    )
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
        ("c1", "get_weather", {"city": "Oslo"}),
        ("c3", "ping", {}),
    ]
    assert [(c.id, c.raw_arguments) for c in result.invalid_tool_calls] == [("c2", '{"city": "Os')]
    assert "not valid JSON" in result.invalid_tool_calls[0].error
    assert result.finish_reason == "tool_calls"


def test_decode_response_tool_call_without_function_is_invalid() -> None:
    body = completion()
    body["choices"][0]["message"] = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c9", "type": "custom", "custom": {"input": "x"}}],
    }
    result = decode_response(body)
    assert result.tool_calls == ()
    assert result.invalid_tool_calls[0].id == "c9" and "custom" in result.invalid_tool_calls[0].error


def test_decode_response_unknown_finish_reason_is_other_with_raw() -> None:
    body = completion()
    body["choices"][0]["finish_reason"] = "end_turn"
    result = decode_response(body)
    assert result.finish_reason == "other"
    assert result.provider_details["finish_reason"] == "end_turn"


def test_decode_response_unknown_fields_kept_in_provider_details() -> None:
    body = completion(service_tier="default", obfuscation="pad")
    body["choices"][0]["logprobs"] = {"content": [{"token": "Hello", "logprob": -0.1}], "refusal": [{"x": 1}]}
    body["choices"][0]["message"]["annotations"] = [{"type": "url_citation"}]
    body["choices"][0]["message"]["context"] = {"citations": [{"title": "doc"}]}
    details = decode_response(body).provider_details
    assert details == {
        "service_tier": "default",
        "obfuscation": "pad",
        "choice.logprobs": {"content": [{"token": "Hello", "logprob": -0.1}], "refusal": [{"x": 1}]},
        "message.annotations": [{"type": "url_citation"}],
        "message.context": {"citations": [{"title": "doc"}]},
    }


def test_decode_response_logprobs_become_token_logprobs() -> None:
    body = completion()
    body["choices"][0]["logprobs"] = {
        "content": [
            {"token": "Hi", "logprob": -0.5, "bytes": [72, 105], "top_logprobs": [{"token": "Hi", "logprob": -0.5}]}
        ],
        "refusal": None,
    }
    result = decode_response(body)
    assert result.logprobs == (TokenLogprob("Hi", -0.5, (72, 105), (TokenLogprob("Hi", -0.5),)),)
    assert "choice.logprobs" not in result.provider_details  # nothing but the decoded content was sent
    assert decode_response(completion()).logprobs is None


def test_decode_response_refusal() -> None:
    body = completion()
    body["choices"][0]["message"] = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
    result = decode_response(body)
    assert (result.refusal, result.text, result.message.parts) == ("I can't help with that.", "", ())


def test_decode_response_filtered_choice_without_message() -> None:
    hate = {"filtered": True, "severity": "high"}
    body = completion()
    body["choices"] = [{"content_filter_results": {"hate": hate}, "finish_reason": "content_filter", "index": 0}]
    result = decode_response(body)
    assert (result.text, result.finish_reason, result.content_filter_results) == ("", "content_filter", {"hate": hate})


def test_decode_response_prompt_annotations_of_2023_api_versions() -> None:
    body = completion(prompt_annotations=[{"prompt_index": 0, "content_filter_results": {"sexual": SAFE}}])
    del body["prompt_filter_results"]
    assert decode_response(body).prompt_filter_results == (PromptFilterResult(0, {"sexual": SAFE}),)


def test_decode_response_prompt_verdict_under_singular_key_when_prompt_had_an_image() -> None:
    body = completion(prompt_filter_results=[{"prompt_index": 0, "content_filter_result": {"violence": SAFE}}])
    assert decode_response(body).prompt_filter_results == (PromptFilterResult(0, {"violence": SAFE}),)


def test_decode_response_usage_without_details_and_unmodelled_counters() -> None:
    plain = decode_response(completion(usage={"completion_tokens": 19, "prompt_tokens": 15, "total_tokens": 34}))
    assert plain.usage == Usage(15, 19, 34)
    audio_usage = {
        "completion_tokens": 5,
        "prompt_tokens": 4,
        "total_tokens": 9,
        "completion_tokens_details": {"audio_tokens": 3, "reasoning_tokens": 0},
    }
    audio = decode_response(completion(usage=audio_usage))
    assert audio.provider_details["usage"] == audio_usage
    assert decode_response(completion(usage=None)).usage is None


def test_decode_response_n_choices_each_decoded() -> None:
    body = completion()
    second = {**body["choices"][0], "index": 1, "message": {"role": "assistant", "content": "Hi there!"}}
    body["choices"].append(second)
    result = decode_response(body)
    assert result.text == "Hello!"
    assert [c.text for c in result.choices] == ["Hi there!"]
    assert result.choices[0].response_id == result.response_id
    assert "additional_choices" not in result.provider_details


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2],
        {"id": "x"},
        {"error": {"message": "The response was filtered", "code": "content_filter"}},
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": 42}}]},
    ],
)
def test_decode_response_unusable_shape_raises(payload: Any) -> None:
    with pytest.raises(InvalidResponseError):
        decode_response(payload)


# ---------------------------------------------------------------- decode_error


def test_decode_error_content_filter_is_typed_with_categories() -> None:
    body: Any = {
        "error": {
            "message": "filtered",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": {
                    "hate": SAFE,
                    "self_harm": {"filtered": True, "severity": "medium"},
                    "jailbreak": {"filtered": False, "detected": False},
                },
            },
        }
    }
    error = decode_error(400, body)
    assert isinstance(error, ContentFilterError)
    assert (error.side, error.status) == ("prompt", 400)
    assert [c.name for c in error.categories] == ["hate", "jailbreak", "self_harm"]
    assert error.filtered_categories == ("self_harm",)


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"code": "unsupported_parameter", "message": "max_tokens", "param": "max_tokens"}},
        {"error": {"code": "DeploymentNotFound", "message": "nope"}},
        "<html>bad gateway</html>",
    ],
)
def test_decode_error_other_errors_are_none(body: Any) -> None:
    assert decode_error(400, body) is None


# ---------------------------------------------------------------- stream decoder


def chunk(choices: list[Any] | None = None, **top: Any) -> str:
    body: dict[str, Any] = {
        "choices": [] if choices is None else choices,
        "created": 1752731406,
        "id": "chatcmpl-1",
        "model": "gpt-4o-mini-2024-07-18",
        "object": "chat.completion.chunk",
        "system_fingerprint": "fp_1",
    }
    body.update(top)
    return json.dumps(body)


ABSENT: Any = object()


def delta(d: Any = ABSENT, *, finish: str | None = None, filters: Any = None, index: int = 0) -> Any:
    choice: dict[str, Any] = {
        "content_filter_results": filters or {},
        "finish_reason": finish,
        "index": index,
        "logprobs": None,
    }
    if d is not ABSENT:
        choice["delta"] = d
    return choice


PROMPT_CHUNK = json.dumps(
    {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {"hate": SAFE}}],
    }
)


def test_chat_stream_decoder_first_chunk_is_prompt_filter_only() -> None:
    events = ChatStreamDecoder().decode(None, PROMPT_CHUNK)
    assert events == (PromptFilterEvent((PromptFilterResult(0, {"hate": SAFE}),)),)


def test_chat_stream_decoder_role_chunk_emits_no_empty_text() -> None:
    decoder = ChatStreamDecoder()
    events = decoder.decode(None, chunk([delta({"content": "", "refusal": None, "role": "assistant"})]))
    assert [e for e in events if isinstance(e, TextDelta)] == []
    assert isinstance(events[0], ResponseMetadata)
    assert (events[0].response_id, events[0].model, events[0].created, events[0].system_fingerprint) == (
        "chatcmpl-1",
        "gpt-4o-mini-2024-07-18",
        1752731406,
        "fp_1",
    )


def test_chat_stream_decoder_metadata_only_when_it_changes_and_never_empty() -> None:
    decoder = ChatStreamDecoder()
    decoder.decode(None, chunk([delta({"content": "a"})]))
    again = decoder.decode(None, chunk([delta({"content": "b"})]))
    assert again == (TextDelta("b"),)
    changed = decoder.decode(None, chunk([delta({"content": "c"})], system_fingerprint="fp_2"))
    assert isinstance(changed[0], ResponseMetadata) and changed[0].system_fingerprint == "fp_2"
    empty = ChatStreamDecoder().decode(
        None, chunk([delta({"content": "x"})], id="", model="", created=0, system_fingerprint=None)
    )
    assert empty == (TextDelta("x"),)


def test_chat_stream_decoder_content_filter_only_when_not_empty() -> None:
    decoder = ChatStreamDecoder()
    decoder.decode(None, chunk([delta({"content": "a"})]))
    assert decoder.decode(None, chunk([delta({"content": "b"}, filters={})])) == (TextDelta("b"),)
    events = decoder.decode(None, chunk([delta({"content": "c"}, filters={"hate": SAFE})]))
    assert events == (ContentFilterDelta({"hate": SAFE}), TextDelta("c"))


@pytest.mark.parametrize("shape", ["null", "absent"])
def test_chat_stream_decoder_annotation_chunk_without_delta(shape: str) -> None:
    decoder = ChatStreamDecoder()
    decoder.decode(None, chunk([delta({"content": "a"})]))
    verdict: dict[str, Any] = {"protected_material_text": {"filtered": False, "detected": False}}
    choice = delta(None, filters=verdict) if shape == "null" else delta(filters=verdict)
    assert ("delta" in choice) == (shape == "null")
    assert decoder.decode(None, chunk([choice])) == (ContentFilterDelta(verdict),)


def test_chat_stream_decoder_usage_chunk_and_null_usage() -> None:
    decoder = ChatStreamDecoder()
    assert decoder.decode(None, chunk([delta({"content": "a"})], usage=None))[-1] == TextDelta("a")
    usage = {
        "completion_tokens": 3,
        "prompt_tokens": 2,
        "total_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 1},
        "completion_tokens_details": {"reasoning_tokens": 1},
    }
    assert decoder.decode(None, chunk([], usage=usage)) == (UsageEvent(Usage(2, 3, 5, 1, 1)),)


def test_chat_stream_decoder_tool_call_deltas_several_per_chunk_with_late_id_and_name() -> None:
    decoder = ChatStreamDecoder()
    decoder.decode(None, chunk([delta({"content": None, "role": "assistant"})]))
    first = decoder.decode(
        None,
        chunk(
            [
                delta(
                    {
                        "tool_calls": [
                            {"index": 0, "id": "c1", "type": "function", "function": {"name": "a", "arguments": ""}},
                            {"index": 1, "function": {"arguments": '{"x"'}},
                        ]
                    }
                )
            ]
        ),
    )
    assert first == (ToolCallDelta(0, "c1", "a", ""), ToolCallDelta(1, None, None, '{"x"'))
    late = decoder.decode(
        None, chunk([delta({"tool_calls": [{"index": 1, "id": "c2", "function": {"name": "b", "arguments": ": 1}"}}]})])
    )
    assert late == (ToolCallDelta(1, "c2", "b", ": 1}"),)
    acc = StreamAccumulator()
    for event in (*first, *late):
        acc.add(event)
    result = acc.result()
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [("c1", "a", {}), ("c2", "b", {"x": 1})]


def test_chat_stream_decoder_finish_reasons() -> None:
    decoder = ChatStreamDecoder()
    decoder.decode(None, chunk([delta({"content": "a"})]))
    assert decoder.decode(None, chunk([delta({}, finish="length")])) == (FinishEvent("length", "length"),)
    assert decoder.decode(None, chunk([delta({}, finish="weird")])) == (FinishEvent("other", "weird"),)


def test_chat_stream_decoder_refusal_delta() -> None:
    decoder = ChatStreamDecoder()
    decoder.decode(None, chunk([delta({"content": "a"})]))
    assert decoder.decode(None, chunk([delta({"refusal": "No."})])) == (RefusalDelta("No."),)


def test_chat_stream_decoder_done() -> None:
    decoder = ChatStreamDecoder()
    assert not decoder.done
    assert decoder.decode(None, "[DONE]") == ()
    assert decoder.done


def test_chat_stream_decoder_obfuscation_ignored_and_new_fields_reported_once() -> None:
    decoder = ChatStreamDecoder()
    decoder.decode(None, chunk([delta({"content": "a"})], obfuscation="Zq1"))
    assert decoder.decode(None, chunk([delta({"content": "b"})], obfuscation="x9fE")) == (TextDelta("b"),)
    usage = {"completion_tokens": 1, "prompt_tokens": 1, "total_tokens": 2}
    events = decoder.decode(None, chunk([], usage=usage, service_tier="default", obfuscation="Q"))
    meta = [e for e in events if isinstance(e, ResponseMetadata)]
    assert len(meta) == 1 and dict(meta[0].provider_details) == {"service_tier": "default"}
    assert decoder.decode(None, chunk([], service_tier="default")) == ()


def test_chat_stream_decoder_wraps_other_choice_indexes() -> None:
    decoder = ChatStreamDecoder()
    decoder.decode(None, chunk([delta({"content": "a"})]))
    assert decoder.decode(None, chunk([delta({"content": "other"}, index=1)])) == (ChoiceEvent(1, TextDelta("other")),)


@pytest.mark.parametrize("data", ["{not json", "[1, 2]"])
def test_chat_stream_decoder_invalid_chunk_raises(data: str) -> None:
    with pytest.raises(InvalidResponseError):
        ChatStreamDecoder().decode(None, data)


def test_chat_stream_decoder_error_inside_stream_raises_server_error() -> None:
    with pytest.raises(ServerError) as info:
        ChatStreamDecoder().decode(None, json.dumps({"error": {"code": "server_error", "message": "oops"}}))
    assert info.value.code == "server_error" and "oops" in str(info.value)


# ---------------------------------------------------------------- parity (synthetic)


def test_chat_stream_folds_to_decode_response_result() -> None:
    body = completion()
    body["choices"][0]["message"] = {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
            {"id": "c2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Ri'}},
        ],
    }
    body["choices"][0]["finish_reason"] = "tool_calls"
    expected = decode_response(body)
    records = [
        PROMPT_CHUNK,
        chunk([delta({"content": "", "role": "assistant"})], usage=None),
        chunk([delta({"content": "Let me"}, filters={"hate": SAFE})], usage=None),
        chunk([delta({"content": " check."}, filters={"violence": SAFE})], usage=None),
        chunk(
            [
                delta(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": '{"ci'},
                            },
                            {
                                "index": 1,
                                "id": "c2",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": ""},
                            },
                        ]
                    }
                )
            ],
            usage=None,
        ),
        chunk(
            [
                delta(
                    {
                        "tool_calls": [
                            {"index": 0, "function": {"arguments": 'ty": "Oslo"}'}},
                            {"index": 1, "function": {"arguments": '{"city": "Ri'}},
                        ]
                    }
                )
            ],
            usage=None,
        ),
        chunk([delta({}, finish="tool_calls")], usage=None),
        chunk([], usage=body["usage"], created=body["created"], system_fingerprint=None),
        "[DONE]",
    ]
    decoder = ChatStreamDecoder()
    acc = StreamAccumulator()
    for data in records:
        for event in decoder.decode(None, data):
            acc.add(event)
    folded = acc.result()
    assert decoder.done
    assert folded.message == expected.message
    assert folded.tool_calls == expected.tool_calls
    assert folded.invalid_tool_calls == expected.invalid_tool_calls
    assert (folded.finish_reason, folded.usage) == (expected.finish_reason, expected.usage)
    assert (folded.response_id, folded.model, folded.created) == (
        expected.response_id,
        expected.model,
        expected.created,
    )
    assert folded.prompt_filter_results == expected.prompt_filter_results
    assert folded.content_filter_results == expected.content_filter_results


@pytest.mark.parametrize("same_but_not", [1752731406.0, True])
def test_chat_stream_decoder_metadata_equal_value_of_another_type_is_a_change(same_but_not: Any) -> None:
    # A chunk repeating the last identity is skipped before it is read field by field; 1752731406.0 == 1752731406
    # in Python, but only an integer is a timestamp.
    decoder = ChatStreamDecoder()
    first = decoder.decode(None, chunk([delta({"content": "a"})], created=1))
    assert isinstance(first[0], ResponseMetadata) and first[0].created == 1
    changed = decoder.decode(None, chunk([delta({"content": "b"})], created=same_but_not))
    assert changed == (ResponseMetadata("chatcmpl-1", "gpt-4o-mini-2024-07-18", None, "fp_1"), TextDelta("b"))


def test_chat_stream_decoder_unknown_field_on_a_repeated_identity_is_reported_once() -> None:
    decoder = ChatStreamDecoder()
    decoder.decode(None, chunk([delta({"content": "a"})]))
    tier = decoder.decode(None, chunk([delta({"content": "b"})], service_tier="default"))
    assert tier[0] == ResponseMetadata(
        "chatcmpl-1", "gpt-4o-mini-2024-07-18", 1752731406, "fp_1", provider_details={"service_tier": "default"}
    )
    assert decoder.decode(None, chunk([delta({"content": "c"})], service_tier="default")) == (TextDelta("c"),)
    assert decoder.decode(None, chunk([delta({"content": "d"})])) == (TextDelta("d"),)
    other = decoder.decode(None, chunk([delta({"content": "e"})], service_tier="priority"))
    assert isinstance(other[0], ResponseMetadata) and other[0].provider_details == {"service_tier": "priority"}
