"""Chat Completions encoding: every parameter rule both ways, every route, every message kind and misplaced part."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from shared_core.deployments import ResolvedDeployment, profile_for
from shared_core.errors import ConfigurationError, ConversationError, UnsupportedParameterError
from shared_core.messages import ImagePart, Message, ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from shared_core.request import ChatRequest, GenerationSettings, NamedToolChoice, ResponseFormat, ToolSpec
from shared_core.wire.chat_completions import encode_request

HI = (Message.user("hi"),)
WEATHER = ToolSpec("get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}})


def target(model: str | None = "gpt-4o-mini", deployment: str = "chat-dep") -> ResolvedDeployment:
    return ResolvedDeployment(model, deployment, model, "explicit", profile_for(model))


def encode(
    request: ChatRequest | None = None,
    *,
    model: str | None = "gpt-4o-mini",
    api_version: str = "2024-10-21",
    stream: bool = False,
    **settings: Any,
) -> dict[str, Any]:
    req = request or ChatRequest(HI, settings=GenerationSettings(**settings))
    return dict(encode_request(req, target(model), api_version=api_version, stream=stream).body)


def encode_messages(*messages: Message, model: str = "gpt-4o-mini", api_version: str = "2024-10-21") -> list[Any]:
    return encode(ChatRequest(messages), model=model, api_version=api_version)["messages"]


# ---------------------------------------------------------------- routes


def test_encode_request_classic_route_has_api_version_and_no_model() -> None:
    enc = encode_request(ChatRequest(HI), target(), api_version="2024-10-21", stream=False)
    assert enc.path == "/openai/deployments/chat-dep/chat/completions"
    assert dict(enc.query) == {"api-version": "2024-10-21"}
    assert "model" not in enc.body
    assert (enc.api, enc.deployment, enc.stream, enc.warnings) == ("chat", "chat-dep", False, ())


@pytest.mark.parametrize("api_version", ["v1", "latest", "preview"])
def test_encode_request_v1_route_sends_deployment_as_model(api_version: str) -> None:
    enc = encode_request(ChatRequest(HI), target("gpt-4o", "prod-4o"), api_version=api_version, stream=False)
    assert enc.path == "/openai/v1/chat/completions"
    assert dict(enc.query) == {}
    assert enc.body["model"] == "prod-4o"


def test_encode_request_quotes_deployment_in_path() -> None:
    enc = encode_request(ChatRequest(HI), target("gpt-4o", "a b/c?d"), api_version="2024-10-21", stream=False)
    assert enc.path == "/openai/deployments/a%20b%2Fc%3Fd/chat/completions"


# ---------------------------------------------------------------- token limit


@pytest.mark.parametrize("api_version", ["2023-05-15", "2024-02-01", "2024-07-01-preview"])
def test_encode_request_max_tokens_before_2024_08_01_preview(api_version: str) -> None:
    body = encode(api_version=api_version, max_tokens=50)
    assert body["max_tokens"] == 50
    assert "max_completion_tokens" not in body


@pytest.mark.parametrize("api_version", ["2024-08-01-preview", "2024-10-21", "2025-04-01-preview", "v1"])
def test_encode_request_max_completion_tokens_from_2024_08_01_preview(api_version: str) -> None:
    body = encode(api_version=api_version, max_tokens=50)
    assert body["max_completion_tokens"] == 50
    assert "max_tokens" not in body


@pytest.mark.parametrize("model", ["o1", "o3-mini", "gpt-5-mini-2025-08-07", "gpt-5-chat"])
def test_encode_request_max_completion_tokens_for_profile_on_old_api_version(model: str) -> None:
    body = encode(model=model, api_version="2024-02-01", max_tokens=50)
    assert body["max_completion_tokens"] == 50
    assert "max_tokens" not in body


# ---------------------------------------------------------------- sampling on reasoning models


def test_encode_request_drops_temperature_and_top_p_for_reasoning_model_with_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="shared_core.wire")
    req = ChatRequest(HI, settings=GenerationSettings(temperature=0.2, top_p=0.9))
    enc = encode_request(req, target("gpt-5-mini", "reasoner"), api_version="2024-10-21", stream=False)
    assert "temperature" not in enc.body
    assert "top_p" not in enc.body
    assert len(enc.warnings) == 2
    assert all("gpt-5-mini" in w for w in enc.warnings)
    assert any("temperature" in w for w in enc.warnings) and any("top_p" in w for w in enc.warnings)
    logged = [r.getMessage() for r in caplog.records if r.name == "shared_core.wire" and r.levelno == logging.WARNING]
    assert logged == list(enc.warnings)


def test_encode_request_warning_names_deployment_when_model_unknown() -> None:
    reasoning = ResolvedDeployment(None, "mystery", None, "pass-through", profile_for("o3"))
    req = ChatRequest(HI, settings=GenerationSettings(temperature=0.2))
    enc = encode_request(req, reasoning, api_version="v1", stream=False)
    assert "temperature" not in enc.body
    assert "'mystery'" in enc.warnings[0]


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-5-chat", None])
def test_encode_request_keeps_temperature_and_top_p_for_non_reasoning_model(model: str | None) -> None:
    enc = encode_request(
        ChatRequest(HI, settings=GenerationSettings(temperature=0.0, top_p=0.5)),
        target(model),
        api_version="2024-10-21",
        stream=False,
    )
    assert (enc.body["temperature"], enc.body["top_p"], enc.warnings) == (0.0, 0.5, ())


# ---------------------------------------------------------------- response format


def test_encode_request_json_schema_before_2024_08_01_preview_raises_naming_minimum() -> None:
    fmt = ResponseFormat("json_schema", name="Book", schema={"type": "object"})
    with pytest.raises(UnsupportedParameterError) as info:
        encode(api_version="2024-06-01", response_format=fmt)
    assert "2024-08-01-preview" in str(info.value)
    assert (info.value.parameter, info.value.api_version) == ("response_format", "2024-06-01")


@pytest.mark.parametrize("api_version", ["2024-08-01-preview", "2024-10-21", "v1"])
def test_encode_request_json_schema_from_2024_08_01_preview(api_version: str) -> None:
    fmt = ResponseFormat("json_schema", name="Book", schema={"type": "object"}, strict=True)
    body = encode(api_version=api_version, response_format=fmt)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Book", "schema": {"type": "object"}, "strict": True},
    }


def test_encode_request_json_schema_strict_unset_is_not_sent() -> None:
    fmt = ResponseFormat("json_schema", name="Book", schema={"type": "object"})
    assert "strict" not in encode(response_format=fmt)["response_format"]["json_schema"]


@pytest.mark.parametrize("kind", ["json_object", "text"])
def test_encode_request_other_formats_on_old_api_version(kind: Any) -> None:
    assert encode(api_version="2024-02-01", response_format=ResponseFormat(kind))["response_format"] == {"type": kind}


def test_encode_request_json_schema_without_name_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        encode(response_format=ResponseFormat("json_schema", schema={"type": "object"}))


# ---------------------------------------------------------------- stream


def test_encode_request_stream_always_asks_for_usage() -> None:
    body = encode(stream=True)
    assert (body["stream"], body["stream_options"]) == (True, {"include_usage": True})


def test_encode_request_non_stream_sends_no_stream_fields() -> None:
    body = encode(stream=False)
    assert "stream" not in body and "stream_options" not in body


# ---------------------------------------------------------------- tools


def test_encode_request_tools_shape() -> None:
    bare = ToolSpec("ping")
    strict = ToolSpec("lookup", None, {"type": "object", "properties": {}}, strict=True)
    body = encode(ChatRequest(HI, tools=(WEATHER, bare, strict)))
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": dict(WEATHER.parameters),
            },
        },
        {"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}},
        {
            "type": "function",
            "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}, "strict": True},
        },
    ]


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        (NamedToolChoice("get_weather"), {"type": "function", "function": {"name": "get_weather"}}),
    ],
)
def test_encode_request_tool_choice(choice: Any, wire: Any) -> None:
    assert encode(ChatRequest(HI, tools=(WEATHER,), tool_choice=choice))["tool_choice"] == wire


def test_encode_request_tool_choice_and_parallel_only_with_tools() -> None:
    settings = GenerationSettings(parallel_tool_calls=False)
    with_tools = encode(ChatRequest(HI, tools=(WEATHER,), tool_choice="required", settings=settings))
    without = encode(ChatRequest(HI, tool_choice="required", settings=settings))
    assert (with_tools["parallel_tool_calls"], with_tools["tool_choice"]) == (False, "required")
    assert "parallel_tool_calls" not in without and "tool_choice" not in without and "tools" not in without


# ---------------------------------------------------------------- other settings


def test_encode_request_reasoning_effort_for_reasoning_model() -> None:
    enc = encode_request(
        ChatRequest(HI, settings=GenerationSettings(reasoning_effort="low")),
        target("o4-mini"),
        api_version="2025-04-01-preview",
        stream=False,
    )
    assert (enc.body["reasoning_effort"], enc.warnings) == ("low", ())


def test_encode_request_reasoning_effort_dropped_with_warning_for_other_models() -> None:
    enc = encode_request(
        ChatRequest(HI, settings=GenerationSettings(reasoning_effort="high")),
        target("gpt-4o"),
        api_version="2024-10-21",
        stream=False,
    )
    assert "reasoning_effort" not in enc.body
    assert len(enc.warnings) == 1 and "gpt-4o" in enc.warnings[0]


def test_encode_request_passes_settings_through() -> None:
    body = encode(
        seed=42, stop=("END", "STOP"), presence_penalty=0.5, frequency_penalty=-0.5, user="u-1", logprobs=True
    )
    expected = {
        "seed": 42,
        "stop": ["END", "STOP"],
        "presence_penalty": 0.5,
        "frequency_penalty": -0.5,
        "user": "u-1",
        "logprobs": True,
    }
    assert {k: body[k] for k in expected} == expected


def test_encode_request_unset_settings_are_not_sent() -> None:
    assert set(encode(stop=())) == {"messages"}


def test_encode_request_extra_body_merged_last() -> None:
    body = encode(temperature=0.3, extra_body={"temperature": 0.9, "n": 2, "data_sources": [{"type": "x"}]})
    assert (body["temperature"], body["n"], body["data_sources"]) == (0.9, 2, [{"type": "x"}])


# ---------------------------------------------------------------- messages


def test_encode_messages_system_is_a_string() -> None:
    assert encode_messages(Message.system("be brief")) == [{"role": "system", "content": "be brief"}]


@pytest.mark.parametrize(
    ("model", "api_version", "role"),
    [
        ("gpt-4o", "v1", "system"),
        ("o3", "2024-10-21", "system"),
        ("o3", "2024-12-01-preview", "developer"),
        ("gpt-5", "v1", "developer"),
    ],
)
def test_encode_messages_developer_role_by_model_and_api_version(model: str, api_version: str, role: str) -> None:
    wire = encode_messages(Message("developer", (TextPart("rules"),)), model=model, api_version=api_version)
    assert wire == [{"role": role, "content": "rules"}]


def test_encode_messages_user_text_only_is_a_string_with_name() -> None:
    msg = Message("user", (TextPart("hello"),), name="ann")
    assert encode_messages(msg) == [{"role": "user", "content": "hello", "name": "ann"}]


def test_encode_messages_user_text_and_images_is_a_part_list() -> None:
    msg = Message(
        "user",
        (TextPart("what is this?"), ImagePart("https://x/cat.png", "low"), ImagePart("data:image/png;base64,AAAA")),
    )
    assert encode_messages(msg) == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        }
    ]


def test_encode_messages_user_image_only_is_a_part_list() -> None:
    wire = encode_messages(Message("user", (ImagePart("https://x/a.png"),)))
    assert wire[0]["content"] == [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}]


def test_encode_messages_assistant_text() -> None:
    assert encode_messages(Message.assistant("sure")) == [{"role": "assistant", "content": "sure"}]


def test_encode_messages_assistant_tool_calls_only_has_null_content() -> None:
    call = ToolCallPart("call_1", "get_weather", '{"city":"Oslo"}')
    assert encode_messages(Message.assistant(tool_calls=(call,))) == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        }
    ]


def test_encode_messages_assistant_text_and_tool_calls_and_several_texts() -> None:
    calls = (ToolCallPart("c1", "a", "{}"), ToolCallPart("c2", "b", ""))
    wire = encode_messages(Message("assistant", (TextPart("one"), *calls, TextPart("two"))))[0]
    assert wire["content"] == [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    assert [c["id"] for c in wire["tool_calls"]] == ["c1", "c2"]
    assert wire["tool_calls"][1]["function"]["arguments"] == ""


def test_encode_messages_assistant_reasoning_is_omitted() -> None:
    msg = Message("assistant", (ReasoningPart("thought", id="rs_1", encrypted_content="xx"), TextPart("answer")))
    assert encode_messages(msg) == [{"role": "assistant", "content": "answer"}]


def test_encode_messages_empty_assistant_has_empty_content() -> None:
    assert encode_messages(Message("assistant", ())) == [{"role": "assistant", "content": ""}]


def test_encode_messages_tool_results_become_one_message_each() -> None:
    msg = Message(
        "tool", (ToolResultPart("c1", "sunny", name="get_weather"), ToolResultPart("c2", "boom", is_error=True))
    )
    assert encode_messages(msg) == [
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "c2", "content": "boom"},
    ]


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (Message("system", (ImagePart("https://x/a.png"),)), "image"),
        (Message("developer", (ToolResultPart("c", "x"),)), "tool_result"),
        (Message("user", (ToolCallPart("c", "f", "{}"),)), "tool_call"),
        (Message("user", (ToolResultPart("c", "x"),)), "tool_result"),
        (Message("user", (ReasoningPart("r"),)), "reasoning"),
        (Message("assistant", (ImagePart("https://x/a.png"),)), "image"),
        (Message("assistant", (ToolResultPart("c", "x"),)), "tool_result"),
        (Message("tool", (TextPart("loose text"),)), "text"),
        (Message("tool", (ImagePart("https://x/a.png"),)), "image"),
    ],
)
def test_encode_messages_part_the_role_cannot_carry_raises(message: Message, kind: str) -> None:
    with pytest.raises(ConversationError) as info:
        encode_messages(Message.system("s"), message)
    assert "message 1" in str(info.value)
    assert f"{kind} part" in str(info.value)


def test_encode_messages_empty_tool_message_raises() -> None:
    with pytest.raises(ConversationError, match="message 0"):
        encode_messages(Message("tool", ()))
