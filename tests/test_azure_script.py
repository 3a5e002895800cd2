"""The loopback Azure server's default answers, read from both API shapes' request bodies, and its schema filler."""

from __future__ import annotations

import json
from typing import Any, cast

import jsonschema
import pytest

from azure_openai_emulator.responder import decide_answer, deterministic_responder
from azure_openai_emulator.schema_example import schema_instance
from azure_openai_emulator.script import HttpError, RecordedRequest, Reply, as_responder
from shared_core.messages import JsonValue

WEATHER_PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
    "required": ["city", "unit"],
}
CHAT_WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_PARAMS}}
CHAT_LOOKUP = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
RESPONSES_WEATHER = {"type": "function", "name": "get_weather", "parameters": WEATHER_PARAMS}
BOOK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 12},
        "rating": {"type": "integer", "minimum": 3, "maximum": 7},
        "score": {"type": "number", "exclusiveMinimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "kind": {"type": "string", "enum": ["novel", "poem"]},
        "in_print": {"type": "boolean"},
        "author": {"$ref": "#/$defs/Person"},
        "subtitle": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "published": {"type": "string", "format": "date"},
    },
    "required": ["title", "rating", "score", "tags", "kind", "in_print", "author", "subtitle", "published"],
    "additionalProperties": False,
    "$defs": {
        "Person": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "born": {"type": ["integer", "null"]}},
            "required": ["name", "born"],
        }
    },
}


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def answer(api: str, body: dict[str, Any]) -> tuple[str | None, tuple[Any, ...]]:
    return decide_answer(api, cast("dict[str, JsonValue]", body))


def test_decide_answer_echoes_the_last_user_message() -> None:
    messages = [*user("first"), {"role": "assistant", "content": "a"}, *user("hello")]
    assert answer("chat", {"messages": messages}) == ("You said: hello", ())


def test_decide_answer_reads_text_parts_and_responses_input() -> None:
    parts = [{"role": "user", "content": [{"type": "text", "text": "from"}, {"type": "text", "text": "parts"}]}]
    assert answer("chat", {"messages": parts})[0] == "You said: from parts"
    assert answer("responses", {"input": "plain input"})[0] == "You said: plain input"


@pytest.mark.parametrize("prompt", ["What is the weather in Paris? Use get_weather.", "Please use the tool."])
def test_decide_answer_calls_the_tool_when_the_prompt_asks(prompt: str) -> None:
    text, calls = answer("chat", {"messages": user(prompt), "tools": [CHAT_WEATHER, CHAT_LOOKUP]})
    assert text is None
    assert [c.name for c in calls] == ["get_weather"]
    jsonschema.validate(json.loads(calls[0].arguments), WEATHER_PARAMS)


def test_decide_answer_does_not_call_a_tool_unasked() -> None:
    text, calls = answer("chat", {"messages": user("hello"), "tools": [CHAT_WEATHER]})
    assert (text, calls) == ("You said: hello", ())


def test_decide_answer_calls_every_named_tool_in_parallel() -> None:
    body = {"messages": user("call get_weather and lookup"), "tools": [CHAT_WEATHER, CHAT_LOOKUP]}
    _, calls = answer("chat", body)
    assert [(c.name, c.arguments) for c in calls][1] == ("lookup", "{}")
    assert [c.name for c in calls] == ["get_weather", "lookup"]


@pytest.mark.parametrize(
    ("api", "body"),
    [
        (
            "chat",
            {"tools": [CHAT_WEATHER, CHAT_LOOKUP], "tool_choice": {"type": "function", "function": {"name": "lookup"}}},
        ),
        ("chat", {"tools": [CHAT_LOOKUP, CHAT_WEATHER], "tool_choice": "required"}),
        ("responses", {"tools": [RESPONSES_WEATHER], "tool_choice": {"type": "function", "name": "lookup"}}),
    ],
)
def test_decide_answer_obeys_a_forced_tool_choice(api: str, body: dict[str, Any]) -> None:
    key = "messages" if api == "chat" else "input"
    _, calls = answer(api, {key: user("hello"), **body})
    assert [c.name for c in calls] == ["lookup"]


def test_decide_answer_quotes_the_tool_result_in_both_shapes() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    messages = [
        *user("Use get_weather"),
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "21 degrees and sunny"},
    ]
    text, calls = answer("chat", {"messages": messages, "tools": [CHAT_WEATHER]})
    assert text is not None and "21 degrees and sunny" in text and calls == ()
    items = [
        *user("Use get_weather"),
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "18 degrees"},
    ]
    text, _ = answer("responses", {"input": items, "tools": [RESPONSES_WEATHER]})
    assert text is not None and "18 degrees" in text


def test_decide_answer_fills_a_json_schema_in_both_shapes() -> None:
    chat_format = {"type": "json_schema", "json_schema": {"name": "Book", "schema": BOOK_SCHEMA}}
    text, _ = answer("chat", {"messages": user("a book"), "response_format": chat_format})
    jsonschema.validate(json.loads(text or ""), BOOK_SCHEMA)
    responses_format = {"format": {"type": "json_schema", "name": "Book", "schema": BOOK_SCHEMA}}
    text, _ = answer("responses", {"input": "a book", "text": responses_format})
    jsonschema.validate(json.loads(text or ""), BOOK_SCHEMA)


def test_decide_answer_returns_an_object_for_json_object_format() -> None:
    text, _ = answer("chat", {"messages": user("hi"), "response_format": {"type": "json_object"}})
    assert isinstance(json.loads(text or ""), dict)


@pytest.mark.parametrize(
    "schema",
    [
        BOOK_SCHEMA,
        {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "number", "maximum": -2}}}},
        {"oneOf": [{"const": 5}, {"type": "string"}]},
        {"type": "string", "maxLength": 3},
        {"type": "integer", "exclusiveMinimum": 10, "exclusiveMaximum": 12},
        {"type": "object", "properties": {"on": {"type": "string", "format": "date"}, "n": {"default": 4}}},
    ],
)
def test_schema_instance_is_valid_against_the_schema(schema: dict[str, Any]) -> None:
    jsonschema.validate(schema_instance(schema), schema, format_checker=jsonschema.FormatChecker())


def test_schema_instance_fills_every_property() -> None:
    instance = schema_instance(BOOK_SCHEMA)
    assert isinstance(instance, dict) and set(instance) == set(BOOK_SCHEMA["properties"])


def test_deterministic_responder_wraps_the_answer_in_a_reply() -> None:
    body = cast("JsonValue", {"messages": user("x")})
    request = RecordedRequest("POST", "/openai/v1/chat/completions", {}, {}, body, api="chat")
    assert deterministic_responder(request) == Reply(text="You said: x")
    fixed = as_responder(HttpError(503))
    assert fixed(request) == HttpError(503)
