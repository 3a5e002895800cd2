"""Unit tests of the Responses API codec: one test per encoding and decoding rule.

Every body built here is also validated against the openai SDK's ``ResponseCreateParams`` (see ``_encode``).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from shared_core.deployments import ResolvedDeployment, profile_for
from shared_core.errors import (
    ConfigurationError,
    ConversationError,
    UnsupportedParameterError,
)
from shared_core.messages import ImagePart, Message, ReasoningPart, TextPart, ToolCallPart
from shared_core.request import ChatRequest, GenerationSettings, NamedToolChoice, ResponseFormat, ToolSpec
from shared_core.wire.envelope import EncodedRequest
from shared_core.wire.responses import (
    encode_request,
)
from tests.support.responses_bodies import assert_valid_request_body

PREVIEW = "2025-03-01-preview"


def _target(model: str | None = "gpt-4o-mini", deployment: str = "chat-prod") -> ResolvedDeployment:
    return ResolvedDeployment(
        requested=model, deployment=deployment, model=model, rule="explicit", profile=profile_for(model)
    )


def _encode(
    request: ChatRequest,
    target: ResolvedDeployment | None = None,
    *,
    api_version: str = PREVIEW,
    stream: bool = False,
    validate: bool = True,
) -> EncodedRequest:
    encoded = encode_request(request, target or _target(), api_version=api_version, stream=stream)
    if validate:
        assert_valid_request_body(encoded.body)
    return encoded


def _input(request: ChatRequest, target: ResolvedDeployment | None = None) -> list[Any]:
    items: Any = _encode(request, target).body["input"]
    return list(items)


def _req(*messages: Message, **kwargs: Any) -> ChatRequest:
    return ChatRequest(messages=messages or (Message.user("hi"),), **kwargs)


def _settings(**kwargs: Any) -> ChatRequest:
    return _req(settings=GenerationSettings(**kwargs))


# --- routes ------------------------------------------------------------------------------------------


def test_encode_request_preview_route_carries_api_version() -> None:
    encoded = _encode(_req())
    assert (encoded.path, dict(encoded.query), encoded.api) == (
        "/openai/responses",
        {"api-version": PREVIEW},
        "responses",
    )


def test_encode_request_preview_route_accepts_later_api_version() -> None:
    assert dict(_encode(_req(), api_version="2025-04-01-preview").query) == {"api-version": "2025-04-01-preview"}


@pytest.mark.parametrize("version", ["v1", "latest", "preview"])
def test_encode_request_v1_route_has_no_api_version(version: str) -> None:
    encoded = _encode(_req(), api_version=version)
    assert (encoded.path, dict(encoded.query)) == ("/openai/v1/responses", {})


@pytest.mark.parametrize("version", ["2024-10-21", "2025-02-01-preview", "2024-12-01-preview", "garbage"])
def test_encode_request_rejects_api_version_before_minimum(version: str) -> None:
    with pytest.raises(UnsupportedParameterError) as info:
        encode_request(_req(), _target(), api_version=version, stream=False)
    assert "2025-03-01-preview" in str(info.value)
    assert info.value.parameter == "api-version"
    assert info.value.api_version == version


def test_encode_request_model_is_deployment_name_on_both_routes() -> None:
    target = _target("gpt-4o-mini", deployment="my-deploy")
    assert _encode(_req(), target).body["model"] == "my-deploy"
    assert _encode(_req(), target, api_version="v1").body["model"] == "my-deploy"
    assert _encode(_req(), target).deployment == "my-deploy"


# --- input items ---------------------------------------------------------------------------------------


def test_encode_request_system_and_developer_stay_input_items() -> None:
    body = _encode(_req(Message.system("be brief"), Message("developer", (TextPart("dev"),)), Message.user("q"))).body
    assert body["input"] == [
        {"role": "system", "content": "be brief"},
        {"role": "developer", "content": "dev"},
        {"role": "user", "content": "q"},
    ]
    assert "instructions" not in body


def test_encode_request_user_image_becomes_message_item_with_parts() -> None:
    message = Message(
        "user",
        (TextPart("describe"), ImagePart("https://x/y.png", "high"), ImagePart("data:image/png;base64,AA==")),
    )
    assert _encode(_req(message)).body["input"] == [
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "describe"},
                {"type": "input_image", "image_url": "https://x/y.png", "detail": "high"},
                {"type": "input_image", "image_url": "data:image/png;base64,AA==", "detail": "auto"},
            ],
        }
    ]


def test_encode_request_assistant_text_then_tool_calls_keep_order() -> None:
    calls = (ToolCallPart("call_1", "f", '{"a":1}'), ToolCallPart("call_2", "g", "{}"))
    messages = (
        Message.user("q"),
        Message.assistant("let me look", calls),
        Message.tool("call_1", "one"),
        Message.tool("call_2", "two"),
    )
    assert _encode(_req(*messages)).body["input"] == [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "let me look"},
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": '{"a":1}'},
        {"type": "function_call", "call_id": "call_2", "name": "g", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "one"},
        {"type": "function_call_output", "call_id": "call_2", "output": "two"},
    ]


def test_encode_request_reasoning_with_id_is_replayed() -> None:
    part = ReasoningPart("thought about it", id="rs_1", encrypted_content="gAAA")
    assistant = Message("assistant", (part, TextPart("answer")))
    assert _input(_req(Message.user("q"), assistant))[1:] == [
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "thought about it"}],
            "encrypted_content": "gAAA",
        },
        {"role": "assistant", "content": "answer"},
    ]


def test_encode_request_reasoning_without_summary_has_empty_summary() -> None:
    assistant = Message("assistant", (ReasoningPart(id="rs_2"),))
    assert _input(_req(Message.user("q"), assistant))[1] == {
        "type": "reasoning",
        "id": "rs_2",
        "summary": [],
    }


def test_encode_request_reasoning_without_id_is_omitted() -> None:
    assistant = Message("assistant", (ReasoningPart("summary only"), TextPart("answer")))
    assert _encode(_req(Message.user("q"), assistant)).body["input"] == [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "answer"},
    ]


@pytest.mark.parametrize(
    "message",
    [
        Message("assistant", (ImagePart("https://x/y.png"),)),
        Message("user", (ToolCallPart("c", "f", "{}"),)),
        Message("tool", (TextPart("loose text"),)),
        Message("user", (ReasoningPart("x", id="rs_1"),)),
    ],
    ids=["image-in-assistant", "tool-call-in-user", "text-in-tool", "reasoning-in-user"],
)
def test_encode_request_rejects_content_responses_cannot_carry(message: Message) -> None:
    with pytest.raises(ConversationError):
        encode_request(_req(message), _target(), api_version=PREVIEW, stream=False)


def test_encode_request_message_name_dropped_with_warning() -> None:
    encoded = _encode(_req(Message("user", (TextPart("hi"),), name="alice")))
    assert encoded.body["input"] == [{"role": "user", "content": "hi"}]
    assert any("'alice'" in w and "name" in w for w in encoded.warnings)


# --- settings ------------------------------------------------------------------------------------------


def test_encode_request_max_tokens_becomes_max_output_tokens() -> None:
    body = _encode(_settings(max_tokens=50)).body
    assert body["max_output_tokens"] == 50
    assert "max_tokens" not in body and "max_completion_tokens" not in body


def test_encode_request_sampling_kept_for_non_reasoning_model() -> None:
    encoded = _encode(_settings(temperature=0.7, top_p=0.3))
    assert (encoded.body["temperature"], encoded.body["top_p"], encoded.warnings) == (0.7, 0.3, ())


@pytest.mark.parametrize("model", ["o3-mini", "gpt-5-mini-2025-08-07"])
def test_encode_request_sampling_dropped_for_reasoning_model_with_warning(
    model: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="shared_core.wire"):
        encoded = _encode(_settings(temperature=0.2, top_p=0.9), _target(model, deployment="dep"))
    assert "temperature" not in encoded.body and "top_p" not in encoded.body
    assert len(encoded.warnings) == 2
    assert all(model in w for w in encoded.warnings)
    logged = [r for r in caplog.records if r.name == "shared_core.wire" and r.levelno == logging.WARNING]
    assert [r.getMessage() for r in logged] == list(encoded.warnings)


def test_encode_request_reasoning_effort_for_reasoning_model() -> None:
    assert _encode(_settings(reasoning_effort="low"), _target("o4-mini")).body["reasoning"] == {"effort": "low"}


def test_encode_request_reasoning_effort_dropped_for_known_non_reasoning_model() -> None:
    encoded = _encode(_settings(reasoning_effort="high"), _target("gpt-4o"))
    assert "reasoning" not in encoded.body
    assert any("reasoning_effort" in w and "gpt-4o" in w for w in encoded.warnings)


def test_encode_request_reasoning_effort_sent_for_unknown_model() -> None:
    encoded = _encode(_settings(reasoning_effort="medium"), _target(None, deployment="whatever"))
    assert encoded.body["reasoning"] == {"effort": "medium"}


@pytest.mark.parametrize("name", ["stop", "seed", "presence_penalty", "frequency_penalty"])
def test_encode_request_parameters_responses_lacks_are_dropped_with_warning(name: str) -> None:
    value: Any = ("END",) if name == "stop" else 1
    encoded = _encode(_settings(**{name: value}))
    assert name not in encoded.body
    assert len(encoded.warnings) == 1 and f"'{name}'" in encoded.warnings[0] and "gpt-4o-mini" in encoded.warnings[0]


def test_encode_request_json_schema_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    fmt = ResponseFormat("json_schema", name="Thing", schema=schema, strict=True)
    assert _encode(_settings(response_format=fmt)).body["text"] == {
        "format": {"type": "json_schema", "name": "Thing", "schema": schema, "strict": True}
    }


@pytest.mark.parametrize("kind", ["json_object", "text"])
def test_encode_request_simple_formats(kind: Any) -> None:
    assert _encode(_settings(response_format=ResponseFormat(kind))).body["text"] == {"format": {"type": kind}}


def test_encode_request_json_schema_without_name_is_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        encode_request(
            _settings(response_format=ResponseFormat("json_schema", schema={"type": "object"})),
            _target(),
            api_version=PREVIEW,
            stream=False,
        )


def test_encode_request_tools_flat_function_shape() -> None:
    params = {"type": "object", "properties": {"x": {"type": "integer"}}}
    request = _req(tools=(ToolSpec("f", "does f", params), ToolSpec("g", None, params, strict=True)))
    assert _encode(request).body["tools"] == [
        {"type": "function", "name": "f", "description": "does f", "parameters": params, "strict": False},
        {"type": "function", "name": "g", "parameters": params, "strict": True},
    ]


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        (NamedToolChoice("f"), {"type": "function", "name": "f"}),
    ],
)
def test_encode_request_tool_choice(choice: Any, wire: Any) -> None:
    request = _req(tools=(ToolSpec("f"),), tool_choice=choice)
    assert _encode(request).body["tool_choice"] == wire


def test_encode_request_conversation_settings_pass_through() -> None:
    request = _req(
        settings=GenerationSettings(parallel_tool_calls=False, user="u-1"),
        previous_response_id="resp_1",
        store=True,
    )
    body = _encode(request).body
    assert (body["parallel_tool_calls"], body["user"], body["previous_response_id"], body["store"]) == (
        False,
        "u-1",
        "resp_1",
        True,
    )


def test_encode_request_include_encrypted_reasoning_when_stateless_reasoning_model() -> None:
    assert _encode(_req(store=False), _target("gpt-5")).body["include"] == ["reasoning.encrypted_content"]


@pytest.mark.parametrize(("model", "store"), [("gpt-5", None), ("gpt-5", True), ("gpt-4o", False)])
def test_encode_request_no_include_otherwise(model: str, store: bool | None) -> None:
    assert "include" not in _encode(_req(store=store), _target(model)).body


def test_encode_request_logprobs_become_include() -> None:
    assert _encode(_settings(logprobs=True)).body["include"] == ["message.output_text.logprobs"]


def test_encode_request_stream_flag() -> None:
    streamed, plain = _encode(_req(), stream=True), _encode(_req())
    assert (streamed.body["stream"], streamed.stream) == (True, True)
    assert ("stream" in plain.body, plain.stream) == (False, False)


def test_encode_request_extra_body_wins_and_merges_objects() -> None:
    request = _req(
        settings=GenerationSettings(
            reasoning_effort="low",
            max_tokens=10,
            extra_body={"reasoning": {"summary": "auto"}, "max_output_tokens": 99, "truncation": "auto"},
        )
    )
    body = _encode(request, _target("o3")).body
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}
    assert (body["max_output_tokens"], body["truncation"]) == (99, "auto")


def test_encode_request_minimal_body_exact() -> None:
    assert dict(_encode(_req(Message.user("What is 4200 + 42?")), _target(deployment="gpt-4o-mini")).body) == {
        "model": "gpt-4o-mini",
        "input": [{"role": "user", "content": "What is 4200 + 42?"}],
    }
