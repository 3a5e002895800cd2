"""Tests of tool-call decoding: argument parsing and the assembly of streamed fragments."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_core.messages import JsonValue, ToolCallPart
from shared_core.tool_calls import InvalidToolCall, ToolCall, ToolCallAssembler, parse_tool_arguments

# --- parse_tool_arguments -----------------------------------------------------------------------------------


def test_parse_tool_arguments_returns_parsed_object() -> None:
    raw = '{"city": "Paris", "days": 3, "units": ["C"], "exact": null}'

    parsed = parse_tool_arguments("call_1", "get_weather", raw)

    assert parsed == ToolCall("call_1", "get_weather", {"city": "Paris", "days": 3, "units": ["C"], "exact": None}, raw)


@pytest.mark.parametrize("raw", ["", "   ", "\n"])
def test_parse_tool_arguments_treats_blank_text_as_no_arguments(raw: str) -> None:
    parsed = parse_tool_arguments("call_1", "now", raw)

    assert parsed == ToolCall("call_1", "now", {}, raw)


@pytest.mark.parametrize(
    ("raw", "error_fragment"),
    [
        ("{city: Paris}", "not valid JSON"),
        ('{"city": "Par', "not valid JSON"),  # truncated by max_tokens
        ('{"a": 1}{"b": 2}', "not valid JSON"),  # two objects glued together
        ('{"a": 1', "not valid JSON"),
        ("[1, 2]", "got list"),
        ("42", "got int"),
        ('"Paris"', "got str"),
        ("null", "got NoneType"),
        ("true", "got bool"),
    ],
)
def test_parse_tool_arguments_reports_non_object_as_invalid(raw: str, error_fragment: str) -> None:
    parsed = parse_tool_arguments("call_1", "get_weather", raw)

    assert isinstance(parsed, InvalidToolCall)
    assert (parsed.id, parsed.name, parsed.raw_arguments) == ("call_1", "get_weather", raw)
    assert error_fragment in parsed.error


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text(alphabet=st.sampled_from('{}[]":,0123456789abc \n-.etruflsn'), max_size=20) | st.text(max_size=20))
def test_parse_tool_arguments_never_turns_non_object_into_empty_arguments(raw: str) -> None:
    parsed = parse_tool_arguments("id", "f", raw)

    try:
        value = json.loads(raw)
    except ValueError:
        value = ...
    if raw.strip(" \t\n\r") == "":
        assert parsed == ToolCall("id", "f", {}, raw)
    elif isinstance(value, dict):
        assert parsed == ToolCall("id", "f", value, raw)
    else:
        assert isinstance(parsed, InvalidToolCall)
        assert parsed.raw_arguments == raw


# --- ToolCallAssembler --------------------------------------------------------------------------------------


def test_tool_call_assembler_assembles_several_calls_sent_in_one_chunk() -> None:
    assembler = ToolCallAssembler()
    # One Chat Completions chunk can open two indexes at once; fragments then alternate.
    assembler.add(0, id="call_a", name="get_weather", arguments='{"city":')
    assembler.add(1, id="call_b", name="get_time", arguments='{"tz":')
    assembler.add(1, arguments=' "CET"}')
    assembler.add(0, arguments=' "Oslo"}')

    valid, invalid = assembler.finish()

    assert valid == (
        ToolCall("call_a", "get_weather", {"city": "Oslo"}, '{"city": "Oslo"}'),
        ToolCall("call_b", "get_time", {"tz": "CET"}, '{"tz": "CET"}'),
    )
    assert invalid == ()
    assert assembler.as_parts() == (
        ToolCallPart("call_a", "get_weather", '{"city": "Oslo"}'),
        ToolCallPart("call_b", "get_time", '{"tz": "CET"}'),
    )


def test_tool_call_assembler_orders_calls_by_index_not_arrival() -> None:
    assembler = ToolCallAssembler()
    assembler.add(2, id="c2", name="f", arguments="{}")
    assembler.add(0, id="c0", name="g", arguments="{}")

    valid, _ = assembler.finish()

    assert [c.id for c in valid] == ["c0", "c2"]


def test_tool_call_assembler_accepts_id_and_name_arriving_late() -> None:
    assembler = ToolCallAssembler()
    assembler.add(0, arguments='{"q": ')
    assembler.add(0, id="call_late", arguments='"x"}')
    assembler.add(0, name="search")

    valid, invalid = assembler.finish()

    assert valid == (ToolCall("call_late", "search", {"q": "x"}, '{"q": "x"}'),)
    assert invalid == ()


def test_tool_call_assembler_keeps_repeated_name_once() -> None:
    assembler = ToolCallAssembler()
    assembler.add(0, id="c", name="search", arguments='{"q"')
    assembler.add(0, id="c", name="search", arguments=": 1}")
    assembler.add(0, id="", name="", arguments="")

    valid, _ = assembler.finish()

    assert valid == (ToolCall("c", "search", {"q": 1}, '{"q": 1}'),)


def test_tool_call_assembler_set_arguments_replaces_fragments() -> None:
    assembler = ToolCallAssembler()
    assembler.add(0, id="fc_1", name="lookup", arguments='{"k": "par')
    assert assembler.partial_arguments(0) == '{"k": "par'

    assembler.set_arguments(0, '{"k": "paris"}')
    assembler.add(0, arguments="")

    assert assembler.partial_arguments(0) == '{"k": "paris"}'
    assert assembler.finish() == ((ToolCall("fc_1", "lookup", {"k": "paris"}, '{"k": "paris"}'),), ())


def test_tool_call_assembler_reports_call_without_name_as_invalid() -> None:
    assembler = ToolCallAssembler()
    assembler.add(0, id="call_x", arguments='{"a": 1}')

    valid, invalid = assembler.finish()

    assert valid == ()
    assert len(invalid) == 1
    assert (invalid[0].id, invalid[0].name, invalid[0].raw_arguments) == ("call_x", "", '{"a": 1}')
    assert "name" in invalid[0].error


def test_tool_call_assembler_reports_call_without_id_as_invalid() -> None:
    assembler = ToolCallAssembler()
    assembler.add(0, name="search", arguments='{"q": 1}')

    valid, invalid = assembler.finish()

    assert valid == ()
    assert len(invalid) == 1
    assert "id" in invalid[0].error


def test_tool_call_assembler_reports_truncated_stream_as_invalid_with_raw_text() -> None:
    assembler = ToolCallAssembler()
    assembler.add(0, id="c", name="write_file", arguments='{"path": "a.txt", "body": "hel')

    valid, invalid = assembler.finish()

    assert valid == ()
    assert invalid == (InvalidToolCall("c", "write_file", '{"path": "a.txt", "body": "hel', invalid[0].error),)
    assert "not valid JSON" in invalid[0].error


def test_tool_call_assembler_is_empty_until_a_fragment_arrives() -> None:
    assembler = ToolCallAssembler()

    assert not assembler
    assert assembler.partial_arguments(0) == ""
    assert assembler.finish() == ((), ())
    assembler.add(0, id="c")
    assert assembler


# --- fragmentation property --------------------------------------------------------------------------------

_JSON_OBJECTS = st.dictionaries(
    st.text(max_size=5),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
        max_leaves=6,
    ),
    max_size=4,
)
_ARGUMENTS = _JSON_OBJECTS.map(lambda value: json.dumps(value, ensure_ascii=False)) | st.text(max_size=30)


def _split(data: st.DataObject, text: str) -> list[str]:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=6)))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["search", "fetch", "store"]), _ARGUMENTS), min_size=1, max_size=4),
    st.data(),
)
def test_tool_call_assembler_result_is_independent_of_fragmentation(
    calls: list[tuple[str, str]], data: st.DataObject
) -> None:
    indexes = data.draw(st.permutations(range(len(calls) * 2)))[: len(calls)]
    whole = ToolCallAssembler()
    for index, (name, arguments) in zip(indexes, calls, strict=True):
        whole.add(index, id=f"call_{index}", name=name, arguments=arguments)

    pending: dict[int, list[tuple[str | None, str | None, str]]] = {}
    for index, (name, arguments) in zip(indexes, calls, strict=True):
        pieces = _split(data, arguments)
        # The id and name usually ride on the first fragment, but may come later or repeat.
        carrier = data.draw(st.integers(0, len(pieces) - 1))
        pending[index] = [
            (f"call_{index}" if i == carrier else None, name if i in {carrier, len(pieces) - 1} else None, piece)
            for i, piece in enumerate(pieces)
        ]
    fragmented = ToolCallAssembler()
    while pending:
        index = data.draw(st.sampled_from(sorted(pending)))
        call_id, name, piece = pending[index].pop(0)
        fragmented.add(index, id=call_id, name=name, arguments=piece)
        if not pending[index]:
            del pending[index]

    assert fragmented.finish() == whole.finish()
    assert fragmented.as_parts() == whole.as_parts()
    valid, invalid = fragmented.finish()
    valid_by_id = {c.id: c for c in valid}
    invalid_by_id = {c.id: c for c in invalid}
    assert len(valid_by_id) + len(invalid_by_id) == len(calls)
    for index, (name, arguments) in zip(indexes, calls, strict=True):
        call_id = f"call_{index}"
        expected = _json_object_or_none(arguments)
        if expected is None:
            assert invalid_by_id[call_id].raw_arguments == arguments
        else:
            assert valid_by_id[call_id] == ToolCall(call_id, name, expected, arguments)


def _json_object_or_none(text: str) -> dict[str, JsonValue] | None:
    if not text.strip(" \t\n\r"):
        return {}
    try:
        value: JsonValue = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
