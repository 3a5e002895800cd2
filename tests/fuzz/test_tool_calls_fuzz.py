"""Tool-argument assembly over arbitrary fragments, and the stream fold over arbitrary event sequences.

Properties: ``ToolCallAssembler.finish`` never raises; a call is valid exactly when it has an id and a name
and its joined text is blank or a JSON object; a valid call's arguments are that object, an invalid call carries
the exact raw text. ``StreamAccumulator`` folds any sequence of events without raising, and its text is the
text deltas joined. Fragments include lone surrogates, every plane of unicode, numbers at and past Python's
4,300-digit limit, nesting within and far past the recursion limit, non-JSON whitespace and JSON cut anywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_core.errors import GatewayError, InvalidResponseError
from shared_core.messages import JsonValue, ReasoningPart
from shared_core.result import (
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
)
from shared_core.tool_calls import InvalidToolCall, ToolCall, ToolCallAssembler, parse_tool_arguments
from shared_core.wire.chat_completions import ChatStreamDecoder
from shared_core.wire.chat_completions import decode_response as decode_chat_response
from shared_core.wire.responses import ResponsesStreamDecoder
from tests.fuzz.json_values import any_text, json_values
from tests.fuzz.outcomes import FINISH_REASONS, check_chat_result

_DIGITS_AT_LIMIT = 4_300  # Python's default int_max_str_digits: one more digit and json.loads raises ValueError
_TOO_DEEP = 100_000  # far past the recursion limit: json.loads raises RecursionError
_JSON_WHITESPACE = " \t\n\r"  # RFC 8259's whitespace; U+00A0 and U+3000 are text


@st.composite
def _argument_texts(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["object", "value", "cut", "text", "number", "nested", "blank"]))
    if kind == "object":
        return json.dumps(draw(st.dictionaries(st.text(max_size=6), json_values, max_size=4)))
    if kind == "value":
        return json.dumps(draw(json_values))
    if kind == "cut":
        text = json.dumps(draw(st.dictionaries(st.text(max_size=6), json_values, max_size=4)))
        return text[: draw(st.integers(min_value=0, max_value=len(text)))]
    if kind == "number":
        digits = "7" * draw(st.integers(min_value=1, max_value=_DIGITS_AT_LIMIT + 1))
        return draw(st.sampled_from([f'{{"n": {digits}}}', f'{{"n": -{digits}.5e99}}', '{"n": 1e999}', digits]))
    if kind == "nested":
        depth = draw(st.integers(min_value=1, max_value=200) | st.just(_TOO_DEEP))
        return '{"a": ' + "[" * depth + "]" * depth + "}"
    if kind == "blank":
        return draw(st.sampled_from(["", " ", "\n\t", "\u00a0", "\u3000"]))
    return draw(any_text)


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]


@dataclass
class _Expected:
    """What the assembler should hold for one index, tracked independently of it."""

    id: str = ""
    name: str = ""
    fragments: list[str] = field(default_factory=list[str])


@st.composite
def _fragment_ops(draw: st.DrawFn) -> list[tuple[str, int, str | None, str | None, str]]:
    ops: list[tuple[str, int, str | None, str | None, str]] = []
    for index in draw(st.lists(st.integers(min_value=-3, max_value=5), min_size=1, max_size=4, unique=True)):
        text = draw(_argument_texts())
        ids = st.none() | st.sampled_from(["", "call_1"]) | any_text
        names = st.none() | st.sampled_from(["", "get_weather"]) | any_text
        for piece in _split(text, draw(st.lists(st.integers(min_value=0, max_value=10**6), max_size=5))):
            op = draw(st.sampled_from(["add", "add", "add", "set"]))
            ops.append((op, index, draw(ids), draw(names), piece))
    return draw(st.permutations(ops)) if draw(st.booleans()) else ops


def _blank_or_object(raw: str) -> bool:
    if raw.strip(_JSON_WHITESPACE) == "":
        return True
    try:
        return isinstance(json.loads(raw), dict)
    except (ValueError, RecursionError):
        return False


def _replay(
    ops: list[tuple[str, int, str | None, str | None, str]],
) -> tuple[ToolCallAssembler, dict[int, _Expected]]:
    assembler = ToolCallAssembler()
    expected: dict[int, _Expected] = {}
    for op, index, call_id, name, piece in ops:
        slot = expected.setdefault(index, _Expected())
        if op == "set":
            assembler.set_arguments(index, piece)
            slot.fragments = [piece]
            continue
        assembler.add(index, id=call_id, name=name, arguments=piece)
        slot.id = call_id or slot.id
        slot.name = name or slot.name
        if piece:
            slot.fragments.append(piece)
    return assembler, expected


@given(_fragment_ops())
def test_tool_call_assembler_finish_valid_iff_named_and_blank_or_object(
    ops: list[tuple[str, int, str | None, str | None, str]],
) -> None:
    assembler, expected = _replay(ops)
    raws = {index: "".join(slot.fragments) for index, slot in expected.items()}
    valid, invalid = assembler.finish()
    want_valid = [i for i in sorted(expected) if expected[i].id and expected[i].name and _blank_or_object(raws[i])]
    want_invalid = [i for i in sorted(expected) if i not in want_valid]
    assert [c.raw_arguments for c in valid] == [raws[i] for i in want_valid]
    assert [(c.id, c.name) for c in valid] == [(expected[i].id, expected[i].name) for i in want_valid]
    assert [c.raw_arguments for c in invalid] == [raws[i] for i in want_invalid]
    assert all(isinstance(c.error, str) and c.error for c in invalid)
    for call, index in zip(valid, want_valid, strict=True):
        want = {} if raws[index].strip(_JSON_WHITESPACE) == "" else json.loads(raws[index])
        # Compared as text: NaN is legal in Python's JSON and never equals itself.
        assert json.dumps(call.arguments, sort_keys=True) == json.dumps(want, sort_keys=True)
    assert [p.arguments for p in assembler.as_parts()] == [raws[i] for i in sorted(expected)]


@given(any_text | st.builds(json.dumps, json_values) | _argument_texts())
def test_parse_tool_arguments_arbitrary_text_never_raises(raw: str) -> None:
    parsed = parse_tool_arguments("call_1", "f", raw)
    assert parsed.raw_arguments == raw
    assert isinstance(parsed, ToolCall) == _blank_or_object(raw)


_short_text = st.none() | st.text(max_size=6)
_json_maps = st.dictionaries(st.text(max_size=6), json_values, max_size=3)
_stream_events = st.one_of(
    st.builds(TextDelta, any_text),
    st.builds(RefusalDelta, any_text),
    st.builds(ReasoningDelta, any_text),
    st.builds(ReasoningItemEvent, st.builds(ReasoningPart, any_text, _short_text, _short_text)),
    st.builds(
        ToolCallDelta,
        index=st.integers(min_value=-2, max_value=3),
        id=_short_text,
        name=_short_text,
        arguments=any_text | st.builds(json.dumps, json_values),
        complete=st.booleans(),
    ),
    st.builds(
        PromptFilterEvent,
        st.lists(st.builds(PromptFilterResult, st.integers(), _json_maps), max_size=2).map(tuple),
    ),
    st.builds(ContentFilterDelta, _json_maps),
    st.builds(
        UsageEvent,
        st.builds(Usage, st.integers(), st.integers(), st.integers(), st.integers(), st.integers()),
    ),
    st.builds(FinishEvent, st.sampled_from(FINISH_REASONS), _short_text),
    st.builds(
        ResponseMetadata,
        response_id=_short_text,
        model=_short_text,
        created=st.none() | st.integers(),
        system_fingerprint=_short_text,
        provider_details=_json_maps,
    ),
)


@given(st.lists(_stream_events, max_size=25))
def test_stream_accumulator_arbitrary_events_fold_without_raising(events: list[StreamEvent]) -> None:
    args: dict[int, list[str]] = {}
    for event in events:
        if isinstance(event, ToolCallDelta):
            args.setdefault(event.index, [])
            args[event.index] = [event.arguments] if event.complete else [*args[event.index], event.arguments]
    accumulator = StreamAccumulator()
    for event in events:
        accumulator.add(event)
    result = accumulator.result(deployment="d", request_id="r")
    check_chat_result(result)
    assert accumulator.events_seen == len(events)
    assert result.text == "".join(e.text for e in events if isinstance(e, TextDelta))
    assert len(result.tool_calls) + len(result.invalid_tool_calls) == len(args)
    finishes = [e for e in events if isinstance(e, FinishEvent)]
    assert result.finish_reason == (finishes[-1].reason if finishes else None)
    usages = [e.usage for e in events if isinstance(e, UsageEvent)]
    assert result.usage == (usages[-1] if usages else None)


# ---- Python's JSON parser limits (a bare ValueError, a RecursionError) end as our types ------------------

_HUGE_INT = '{"n": ' + "7" * (_DIGITS_AT_LIMIT + 1) + "}"
_DEEP = '{"a": ' + "[" * _TOO_DEEP


def test_parse_tool_arguments_json_parser_limits_huge_integer_is_invalid_call() -> None:
    parsed = parse_tool_arguments("call_1", "f", _HUGE_INT)
    assert isinstance(parsed, InvalidToolCall) and parsed.raw_arguments == _HUGE_INT
    assert "digits" in parsed.error


def test_parse_tool_arguments_json_parser_limits_deep_nesting_is_invalid_call() -> None:
    parsed = parse_tool_arguments("call_1", "f", _DEEP)
    assert isinstance(parsed, InvalidToolCall) and parsed.raw_arguments == _DEEP
    assert "deep" in parsed.error


@pytest.mark.parametrize("raw", ["\u00a0", "\u3000", " \u2028 ", "\x1c"])
def test_parse_tool_arguments_non_json_whitespace_is_invalid_call(raw: str) -> None:
    # Python's str.strip() calls these blank; JSON does not, so they are text the model sent, not "no arguments".
    parsed = parse_tool_arguments("call_1", "f", raw)
    assert isinstance(parsed, InvalidToolCall) and parsed.raw_arguments == raw


def test_stream_accumulator_json_parser_limits_huge_integer_is_invalid_call() -> None:
    accumulator = StreamAccumulator()
    accumulator.add(ToolCallDelta(0, id="call_1", name="f", arguments=_HUGE_INT))
    result = accumulator.result()
    assert [c.raw_arguments for c in result.invalid_tool_calls] == [_HUGE_INT]


def test_chat_decode_response_json_parser_limits_deep_arguments_is_invalid_call() -> None:
    body: JsonValue = {
        "choices": [
            {
                "index": 0,
                "message": {"tool_calls": [{"id": "c", "function": {"name": "f", "arguments": _DEEP}}]},
            }
        ]
    }
    result = decode_chat_response(body)
    assert [c.raw_arguments for c in result.invalid_tool_calls] == [_DEEP]


def test_chat_stream_decoder_json_parser_limits_deep_chunk_is_invalid_response() -> None:
    with pytest.raises(InvalidResponseError):
        ChatStreamDecoder().decode(None, "[" * _TOO_DEEP)


def test_responses_stream_decoder_json_parser_limits_deep_event_is_invalid_response() -> None:
    with pytest.raises(InvalidResponseError):
        ResponsesStreamDecoder().decode("response.output_text.delta", "[" * _TOO_DEEP)


def test_chat_stream_decoder_json_parser_limits_huge_integer_is_invalid_response() -> None:
    with pytest.raises(GatewayError) as caught:
        ChatStreamDecoder().decode(None, _HUGE_INT)
    assert isinstance(caught.value, InvalidResponseError)
