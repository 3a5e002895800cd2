"""Tests of the fold from stream events to a ChatResult (StreamAccumulator) and of filter-verdict merging."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared_core.messages import JsonValue, Message, ReasoningPart, TextPart, ToolCallPart
from shared_core.result import (
    ChatResult,
    ContentFilterDelta,
    FinishEvent,
    PromptFilterEvent,
    PromptFilterResult,
    ReasoningDelta,
    ReasoningItemEvent,
    RefusalDelta,
    ResponseMetadata,
    StreamAccumulator,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
    merge_filter_results,
)
from shared_core.tool_calls import InvalidToolCall, ToolCall

_SAFE = {"filtered": False, "severity": "safe"}
_PROMPT_VERDICT: dict[str, JsonValue] = {
    "hate": dict(_SAFE),
    "violence": dict(_SAFE),
    "jailbreak": {"filtered": False, "detected": False},
}


def _fold(events: list[StreamEvent]) -> StreamAccumulator:
    accumulator = StreamAccumulator()
    for event in events:
        accumulator.add(event)
    return accumulator


def test_stream_accumulator_folds_chat_completions_stream_with_tool_calls() -> None:
    events: list[StreamEvent] = [
        # Azure's first chunk: choices: [] and the prompt's filter verdicts, no id or model yet.
        PromptFilterEvent((PromptFilterResult(0, _PROMPT_VERDICT),)),
        ResponseMetadata(response_id="chatcmpl-1", model="gpt-4o-mini-2024-07-18", created=1_700_000_000),
        TextDelta("Let me "),
        ContentFilterDelta({"hate": dict(_SAFE)}),
        ResponseMetadata(response_id="chatcmpl-1", model="gpt-4o-mini-2024-07-18", system_fingerprint="fp_1"),
        TextDelta("check."),
        ToolCallDelta(0, id="call_a", name="get_weather", arguments='{"city": '),
        ToolCallDelta(1, id="call_b", name="get_time", arguments='{"tz": "CET"'),
        ToolCallDelta(0, arguments='"Oslo"}'),
        ToolCallDelta(1, arguments=""),
        ContentFilterDelta({"violence": {"filtered": False, "severity": "low"}}),
        FinishEvent("tool_calls", "tool_calls"),
        ResponseMetadata(),  # the trailing usage chunk carries empty identity fields
        UsageEvent(Usage(20, 30, 50, cached_input_tokens=4)),
    ]

    accumulator = _fold(events)
    result = accumulator.result(deployment="chat-mini", request_id="req-9")

    assert result == ChatResult(
        message=Message(
            "assistant",
            (
                TextPart("Let me check."),
                ToolCallPart("call_a", "get_weather", '{"city": "Oslo"}'),
                ToolCallPart("call_b", "get_time", '{"tz": "CET"'),
            ),
        ),
        tool_calls=(ToolCall("call_a", "get_weather", {"city": "Oslo"}, '{"city": "Oslo"}'),),
        invalid_tool_calls=(InvalidToolCall("call_b", "get_time", '{"tz": "CET"', result.invalid_tool_calls[0].error),),
        finish_reason="tool_calls",
        usage=Usage(20, 30, 50, cached_input_tokens=4),
        response_id="chatcmpl-1",
        model="gpt-4o-mini-2024-07-18",
        deployment="chat-mini",
        request_id="req-9",
        system_fingerprint="fp_1",
        created=1_700_000_000,
        prompt_filter_results=(PromptFilterResult(0, _PROMPT_VERDICT),),
        content_filter_results={"hate": _SAFE, "violence": {"filtered": False, "severity": "low"}},
    )
    assert "not valid JSON" in result.invalid_tool_calls[0].error
    assert result.text == accumulator.text == "Let me check."
    assert accumulator.events_seen == len(events)


def test_stream_accumulator_folds_responses_stream_with_reasoning_and_complete_arguments() -> None:
    events: list[StreamEvent] = [
        ResponseMetadata(response_id="resp_1", model="gpt-5-mini", created=1_700_000_001),
        ReasoningDelta("Need the "),
        ReasoningDelta("weather."),
        ReasoningItemEvent(ReasoningPart(id="rs_1", encrypted_content="gAAA")),
        ToolCallDelta(1, id="call_w", name="get_weather", arguments='{"ci'),
        ToolCallDelta(1, arguments='ty": "Ro'),
        # response.function_call_arguments.done carries the whole text and replaces the fragments.
        ToolCallDelta(1, arguments='{"city": "Rome"}', complete=True),
        UsageEvent(Usage(10, 40, 50, reasoning_tokens=32)),
        FinishEvent("tool_calls"),
    ]

    result = _fold(events).result()

    assert result == ChatResult(
        message=Message(
            "assistant",
            (
                ReasoningPart("Need the weather.", id="rs_1", encrypted_content="gAAA"),
                ToolCallPart("call_w", "get_weather", '{"city": "Rome"}'),
            ),
        ),
        tool_calls=(ToolCall("call_w", "get_weather", {"city": "Rome"}, '{"city": "Rome"}'),),
        finish_reason="tool_calls",
        usage=Usage(10, 40, 50, reasoning_tokens=32),
        response_id="resp_1",
        model="gpt-5-mini",
        created=1_700_000_001,
    )


def test_stream_accumulator_keeps_reasoning_summary_text_without_items() -> None:
    result = _fold([ReasoningDelta("step 1; "), ReasoningDelta("step 2"), TextDelta("42")]).result()

    assert result.message.parts == (ReasoningPart("step 1; step 2"), TextPart("42"))


def test_stream_accumulator_keeps_item_text_over_streamed_summary() -> None:
    item = ReasoningPart("item summary", id="rs_2")

    result = _fold([ReasoningDelta("streamed"), ReasoningItemEvent(item)]).result()

    assert result.message.parts == (item,)


def test_stream_accumulator_collects_refusal_apart_from_text() -> None:
    result = _fold([RefusalDelta("I can't "), RefusalDelta("help with that."), FinishEvent("stop")]).result()

    assert result.refusal == "I can't help with that."
    assert result.text == ""
    assert result.message == Message("assistant", ())
    assert result.finish_reason == "stop"


def test_stream_accumulator_has_no_refusal_when_none_streamed() -> None:
    assert _fold([TextDelta("hi")]).result().refusal is None


def test_stream_accumulator_metadata_last_non_empty_value_wins() -> None:
    events: list[StreamEvent] = [
        ResponseMetadata(response_id="a", model="m1", created=1, provider_details={"service_tier": "default"}),
        ResponseMetadata(response_id="b", system_fingerprint="fp"),
        ResponseMetadata(model="m2", provider_details={"obfuscation": "xyz"}),
        ResponseMetadata(response_id=None, model=None, created=None, system_fingerprint=None),
    ]

    result = _fold(events).result()

    assert (result.response_id, result.model, result.created, result.system_fingerprint) == ("b", "m2", 1, "fp")
    assert result.provider_details == {"service_tier": "default", "obfuscation": "xyz"}


def test_stream_accumulator_content_filter_filtered_true_is_sticky() -> None:
    events: list[StreamEvent] = [
        ContentFilterDelta({"hate": dict(_SAFE), "sexual": dict(_SAFE)}),
        ContentFilterDelta({"violence": {"filtered": True, "severity": "high"}}),
        ContentFilterDelta(
            {"violence": {"filtered": False, "severity": "high"}, "hate": {"filtered": False, "severity": "low"}}
        ),
        FinishEvent("content_filter"),
    ]

    result = _fold(events).result()

    assert result.content_filter_results == {
        "hate": {"filtered": False, "severity": "low"},
        "sexual": _SAFE,
        "violence": {"filtered": True, "severity": "high"},
    }
    assert result.finish_reason == "content_filter"


def test_stream_accumulator_keeps_prompt_filter_results_of_every_prompt() -> None:
    first = PromptFilterResult(0, _PROMPT_VERDICT)
    second = PromptFilterResult(1, {"hate": {"filtered": False, "severity": "low"}})

    result = _fold([PromptFilterEvent((first,)), PromptFilterEvent((second,))]).result()

    assert result.prompt_filter_results == (first, second)


def test_stream_accumulator_keeps_raw_reason_of_unknown_finish() -> None:
    result = _fold([TextDelta("x"), FinishEvent("other", "end_turn")]).result()

    assert result.finish_reason == "other"
    assert result.provider_details == {"finish_reason": "end_turn"}


def test_stream_accumulator_result_so_far_is_partial_and_not_consumed() -> None:
    accumulator = _fold([TextDelta("Hel"), ToolCallDelta(0, id="c", name="f", arguments='{"a": ')])

    partial = accumulator.result()
    accumulator.add(TextDelta("lo"))
    accumulator.add(ToolCallDelta(0, arguments="1}"))
    final = accumulator.result()

    assert partial.text == "Hel"
    assert partial.finish_reason is None
    assert partial.usage is None
    assert partial.tool_calls == ()
    assert partial.invalid_tool_calls[0].raw_arguments == '{"a": '
    assert final.text == "Hello"
    assert final.tool_calls == (ToolCall("c", "f", {"a": 1}, '{"a": 1}'),)


def test_stream_accumulator_empty_stream_gives_empty_assistant_message() -> None:
    result = StreamAccumulator().result()

    assert result == ChatResult(message=Message("assistant", ()))


def test_merge_filter_results_replaces_unfiltered_verdicts_and_adds_new_categories() -> None:
    running: dict[str, JsonValue] = {"hate": dict(_SAFE)}

    merge_filter_results(running, {"hate": {"filtered": False, "severity": "medium"}, "self_harm": dict(_SAFE)})

    assert running == {"hate": {"filtered": False, "severity": "medium"}, "self_harm": _SAFE}


def test_merge_filter_results_keeps_worst_severity() -> None:
    running: dict[str, JsonValue] = {}

    merge_filter_results(running, {"hate": {"filtered": False, "severity": "low"}})
    merge_filter_results(running, {"violence": {"filtered": True, "severity": "high"}})
    merge_filter_results(running, {"hate": dict(_SAFE), "violence": dict(_SAFE)})

    assert running == {
        "hate": {"filtered": False, "severity": "low"},
        "violence": {"filtered": True, "severity": "high"},
    }


def test_merge_filter_results_keeps_detected_true() -> None:
    running: dict[str, JsonValue] = {}

    merge_filter_results(running, {"protected_material_text": {"filtered": False, "detected": True}})
    merge_filter_results(running, {"protected_material_text": {"filtered": False, "detected": False}})

    assert running == {"protected_material_text": {"filtered": False, "detected": True}}


_VERDICTS: list[dict[str, JsonValue]] = [
    {"hate": dict(_SAFE), "violence": dict(_SAFE)},
    {"hate": {"filtered": False, "severity": "low"}, "violence": dict(_SAFE)},
    {"violence": {"filtered": True, "severity": "high"}},
    {"hate": dict(_SAFE), "jailbreak": {"filtered": False, "detected": True}},
    {},
]


@given(st.lists(st.sampled_from(range(len(_VERDICTS))), max_size=12))
def test_stream_accumulator_repeated_verdicts_fold_as_merging_every_one(picks: list[int]) -> None:
    # The accumulator skips a verdict equal to the one it merged last (Azure repeats them on every chunk).
    expected: dict[str, JsonValue] = {}
    events: list[StreamEvent] = []
    for pick in picks:
        merge_filter_results(expected, _VERDICTS[pick])
        events += [ContentFilterDelta(_VERDICTS[pick]), TextDelta("x")]
    assert _fold(events).result().content_filter_results == expected
