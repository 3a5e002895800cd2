"""Pure conversions between LangChain's and the core's types: messages, tools, formats, results, errors."""

from __future__ import annotations

import pytest
from langchain_core.exceptions import ContextOverflowError, ModelNotFoundError
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from langchain_azure_gateway.convert import (
    from_core_result,
    to_core_messages,
    to_core_request,
    to_core_response_format,
    to_core_tool_choice,
)
from langchain_azure_gateway.errors import from_core_error
from shared_core import (
    CallCost,
    ChatResult,
    ConfigurationError,
    ContextLengthExceededError,
    DeploymentNotFoundError,
    GenerationSettings,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
    ToolCallPart,
    ToolResultPart,
    UnsupportedContentError,
    Usage,
)
from shared_core.messages import ReasoningPart
from shared_core.request import NamedToolChoice
from shared_core.tool_calls import InvalidToolCall


def test_convert_messages_keep_roles_images_tool_calls_and_errors() -> None:
    messages = to_core_messages(
        [
            SystemMessage("rules"),
            ChatMessage(role="developer", content="dev rules"),
            HumanMessage(
                [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "low"}},
                    {"type": "image", "base64": "AAAA", "mime_type": "image/jpeg"},
                ]
            ),
            AIMessage("calling", tool_calls=[{"name": "f", "args": {"a": 1}, "id": "call_1"}]),
            ToolMessage("boom", tool_call_id="call_1", status="error"),
        ]
    )
    assert [m.role for m in messages] == ["system", "developer", "user", "assistant", "tool"]
    assert messages[2].parts == (
        TextPart("look"),
        ImagePart("https://x/cat.png", "low"),
        ImagePart("data:image/jpeg;base64,AAAA"),
    )
    assert messages[3].parts == (TextPart("calling"), ToolCallPart("call_1", "f", '{"a":1}'))
    assert messages[4].parts == (ToolResultPart("call_1", "boom", is_error=True),)


@pytest.mark.parametrize(
    "message",
    [
        FunctionMessage(name="f", content="x"),
        HumanMessage([{"type": "video", "base64": "AAAA", "mime_type": "video/mp4"}]),
        SystemMessage([{"type": "image_url", "image_url": {"url": "https://x"}}]),
    ],
)
def test_convert_messages_refuse_what_azure_cannot_carry(message: object) -> None:
    with pytest.raises(UnsupportedContentError):
        to_core_messages([message])  # type: ignore[list-item]


def test_convert_tool_choice_maps_langchain_spellings() -> None:
    assert to_core_tool_choice("any") == "required"
    assert to_core_tool_choice(True) == "required"
    assert to_core_tool_choice("auto") == "auto"
    assert to_core_tool_choice("get_weather") == NamedToolChoice("get_weather")
    assert to_core_tool_choice({"type": "function", "function": {"name": "g"}}) == NamedToolChoice("g")
    assert to_core_tool_choice(None) is None


def test_convert_request_applies_call_kwargs_over_model_settings() -> None:
    base = GenerationSettings(top_p=0.5, stop=("A",))
    request = to_core_request(
        (Message.user("hi"),),
        base,
        ["B"],
        {
            "model": "gpt-4o",
            "max_completion_tokens": 5,
            "response_format": {"type": "json_object"},
            "ls_structured_output_format": {"ignored": True},
            "logit_bias": {"1": 2},
        },
    )
    assert request.model == "gpt-4o"
    assert request.settings.stop == ("B",)
    assert request.settings.max_tokens == 5
    assert request.settings.top_p == 0.5
    assert request.settings.response_format is not None
    assert request.settings.response_format.type == "json_object"
    assert dict(request.settings.extra_body) == {"logit_bias": {"1": 2}}


def test_convert_response_format_from_openai_json_schema() -> None:
    fmt = to_core_response_format(
        {"type": "json_schema", "json_schema": {"name": "P", "schema": {"type": "object"}, "strict": True}}
    )
    assert fmt is not None
    assert (fmt.type, fmt.name, fmt.strict) == ("json_schema", "P", True)


def test_convert_result_carries_calls_invalid_calls_usage_and_reasoning() -> None:
    result = ChatResult(
        message=Message("assistant", (ReasoningPart("thought", "rs_1", "enc"), TextPart("ok"))),
        tool_calls=(ToolCall("call_1", "f", {"a": 1}, '{"a":1}'),),
        invalid_tool_calls=(InvalidToolCall("call_2", "g", '{"a":', "truncated"),),
        finish_reason="tool_calls",
        usage=Usage(10, 20, 30, cached_input_tokens=4, reasoning_tokens=8),
        response_id="chatcmpl-1",
        model="gpt-4o-2024-11-20",
        deployment="prod",
        request_id="req-1",
    )
    message = from_core_result(result)
    assert message.content == "ok"
    assert message.id == "chatcmpl-1"
    assert message.tool_calls == [{"name": "f", "args": {"a": 1}, "id": "call_1", "type": "tool_call"}]
    assert message.invalid_tool_calls[0]["args"] == '{"a":'
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_token_details"] == {"cache_read": 4}
    assert message.usage_metadata["output_token_details"] == {"reasoning": 8}
    assert message.additional_kwargs["reasoning_content"] == "thought"
    assert message.response_metadata["model_name"] == "gpt-4o-2024-11-20"
    assert message.response_metadata["deployment"] == "prod"
    back = to_core_messages([message])[0]
    assert back.parts[0] == ReasoningPart("thought", "rs_1", "enc")


def test_convert_result_cost_lands_in_response_metadata() -> None:
    priced = ChatResult(
        message=Message.assistant("ok"),
        deployment="prod",
        cost=CallCost("prod", "gpt-4o", None, reason="no price for model 'gpt-4o'", endpoint="east"),
    )
    assert from_core_result(priced).response_metadata["cost"] == {
        "amount": None,
        "currency": "USD",
        "reason": "no price for model 'gpt-4o'",
        "deployment": "prod",
        "endpoint": "east",
        "model": "gpt-4o",
    }
    assert from_core_result(ChatResult(message=Message.assistant("ok"))).response_metadata["cost"] is None


def test_convert_errors_keep_their_context_and_gain_langchain_types() -> None:
    converted = from_core_error(DeploymentNotFoundError("no such deployment", deployment="d", status=404))
    assert isinstance(converted, DeploymentNotFoundError)
    assert isinstance(converted, ModelNotFoundError)
    assert (converted.deployment, converted.status, str(converted)) == (
        "d",
        404,
        "no such deployment [deployment=d, status=404]",
    )
    assert isinstance(from_core_error(ContextLengthExceededError("too long")), ContextOverflowError)
    config_error = ConfigurationError("bad")
    assert from_core_error(config_error) is config_error
