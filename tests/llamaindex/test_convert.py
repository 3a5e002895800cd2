"""Conversion between LlamaIndex chat types and the core's, both ways (pure; no server)."""

from __future__ import annotations

import base64
import json

import pytest
from llama_index.core.base.llms.types import (
    AudioBlock,
    CacheControl,
    CachePoint,
    ChatMessage,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)
from llama_index.core.tools import FunctionTool

from llamaindex_azure_gateway import InvalidToolCallError, UnsupportedContentError
from llamaindex_azure_gateway.convert import (
    from_core_result,
    strict_json_schema,
    to_core_messages,
    to_core_tool_choice,
    to_core_tools,
    tool_selections_from_response,
)
from llamaindex_azure_gateway.options import to_core_response_format, to_core_settings
from shared_core import (
    CallCost,
    ChatResult,
    GenerationSettings,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
    ToolCallPart,
    ToolResultPart,
    Usage,
)
from shared_core.messages import ReasoningPart
from shared_core.request import NamedToolChoice
from shared_core.result import PromptFilterResult
from shared_core.tool_calls import InvalidToolCall

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def test_to_core_messages_converts_every_role_and_text() -> None:
    messages = [
        ChatMessage(role=MessageRole.SYSTEM, content="be brief"),
        ChatMessage(role=MessageRole.DEVELOPER, content="dev rules"),
        ChatMessage(role=MessageRole.USER, content="hi"),
        ChatMessage(role=MessageRole.ASSISTANT, content="hello"),
        ChatMessage(role=MessageRole.CHATBOT, content="legacy assistant"),
    ]
    core = to_core_messages(messages)
    assert [(m.role, m.text) for m in core] == [
        ("system", "be brief"),
        ("developer", "dev rules"),
        ("user", "hi"),
        ("assistant", "hello"),
        ("assistant", "legacy assistant"),
    ]


def test_to_core_messages_image_url_is_passed_through_with_detail() -> None:
    message = ChatMessage(
        role="user",
        blocks=[TextBlock(text="what is this?"), ImageBlock(url="https://example.com/cat.png", detail="low")],
    )
    (core,) = to_core_messages([message])
    assert core.parts == (TextPart("what is this?"), ImagePart("https://example.com/cat.png", detail="low"))


def test_to_core_messages_image_bytes_become_a_data_url() -> None:
    (core,) = to_core_messages([ChatMessage(role="user", blocks=[ImageBlock(image=PNG, image_mimetype="image/png")])])
    (part,) = core.parts
    assert isinstance(part, ImagePart)
    assert part.url == "data:image/png;base64," + base64.b64encode(PNG).decode()


def test_to_core_messages_tool_call_blocks_and_tool_results() -> None:
    messages = [
        ChatMessage(
            role="assistant",
            blocks=[
                ThinkingBlock(content="think", additional_information={"id": "rs_1", "encrypted_content": "enc"}),
                ToolCallBlock(tool_call_id="call_1", tool_name="add", tool_kwargs={"a": 1}),
                ToolCallBlock(tool_call_id="call_2", tool_name="raw", tool_kwargs='{"x": 2}'),
            ],
        ),
        ChatMessage(role="tool", content="3", additional_kwargs={"tool_call_id": "call_1", "name": "add"}),
    ]
    assistant, tool = to_core_messages(messages)
    assert assistant.parts == (
        ReasoningPart(text="think", id="rs_1", encrypted_content="enc"),
        ToolCallPart("call_1", "add", '{"a": 1}'),
        ToolCallPart("call_2", "raw", '{"x": 2}'),
    )
    assert tool == Message("tool", (ToolResultPart("call_1", "3", "add"),))


def test_to_core_messages_reads_legacy_openai_tool_calls() -> None:
    legacy = {"tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
    (core,) = to_core_messages([ChatMessage(role="assistant", content="", additional_kwargs=legacy)])
    assert core.tool_calls == (ToolCallPart("call_9", "f", "{}"),)


def test_to_core_messages_cache_point_is_dropped_as_meaningless_to_azure() -> None:
    block = CachePoint(cache_control=CacheControl(type="ephemeral"))
    (core,) = to_core_messages([ChatMessage(role="user", blocks=[TextBlock(text="a"), block])])
    assert core.parts == (TextPart("a"),)


@pytest.mark.parametrize(
    ("block", "kind"),
    [
        (AudioBlock(url="https://example.com/a.wav", format="wav"), "audio"),
        (VideoBlock(url="https://example.com/v.mp4"), "video"),
        (DocumentBlock(url="https://example.com/d.pdf", document_mimetype="application/pdf"), "document"),
    ],
)
def test_to_core_messages_unsendable_block_raises_naming_it(block: object, kind: str) -> None:
    with pytest.raises(UnsupportedContentError, match=f"message 1 holds a {kind} block") as info:
        to_core_messages([ChatMessage(role="user", content="x"), ChatMessage(role="user", blocks=[block])])
    assert (info.value.index, info.value.block_type) == (1, kind)


def test_to_core_messages_tool_message_without_call_id_raises() -> None:
    with pytest.raises(UnsupportedContentError, match="tool_call_id"):
        to_core_messages([ChatMessage(role="tool", content="42")])


def test_to_core_messages_never_changes_the_input() -> None:
    message = ChatMessage(role="user", content="hi", additional_kwargs={"name": "ann"})
    before = message.model_dump()
    to_core_messages([message])
    assert message.model_dump() == before


def test_to_core_tools_reads_function_tools_and_makes_strict_schemas() -> None:
    def add(a: int, b: int = 2) -> int:
        """Add two numbers."""
        return a + b

    (spec,) = to_core_tools([FunctionTool.from_defaults(fn=add)], strict=True)
    assert spec.name == "add" and spec.strict is True
    assert spec.parameters["additionalProperties"] is False
    assert spec.parameters["required"] == ["a", "b"]
    assert "default" not in json.dumps(spec.parameters)


def test_strict_json_schema_reaches_nested_definitions() -> None:
    schema = {
        "type": "object",
        "properties": {"inner": {"$ref": "#/$defs/Inner"}},
        "$defs": {"Inner": {"type": "object", "properties": {"x": {"type": "integer", "default": 1}}}},
    }
    strict = strict_json_schema(schema)
    inner = strict["$defs"]["Inner"]  # type: ignore[index]
    assert inner == {
        "type": "object",
        "properties": {"x": {"type": "integer"}},
        "additionalProperties": False,
        "required": ["x"],
    }
    assert "additionalProperties" not in schema  # the input is left alone


@pytest.mark.parametrize(
    ("choice", "required", "expected"),
    [
        (None, False, "auto"),
        (None, True, "required"),
        ("none", False, "none"),
        ("add", False, NamedToolChoice("add")),
        ({"type": "function", "function": {"name": "add"}}, False, NamedToolChoice("add")),
    ],
)
def test_to_core_tool_choice_forms(choice: object, required: bool, expected: object) -> None:
    assert to_core_tool_choice(choice, tool_required=required) == expected


def test_to_core_settings_maps_known_names_and_passes_the_rest_through() -> None:
    settings = to_core_settings(
        {"temperature": 0, "max_tokens": 5, "stop": "END", "seed": 3, "logit_bias": {"1": 2}},
        GenerationSettings(top_p=0.5),
    )
    assert (settings.temperature, settings.max_tokens, settings.stop, settings.seed, settings.top_p) == (
        0.0,
        5,
        ("END",),
        3,
        0.5,
    )
    assert settings.extra_body == {"logit_bias": {"1": 2}}


def test_to_core_response_format_from_dict_shapes() -> None:
    fmt = to_core_response_format({"type": "json_schema", "json_schema": {"name": "A", "schema": {"type": "object"}}})
    assert (fmt.type, fmt.name, fmt.schema) == ("json_schema", "A", {"type": "object"})
    assert to_core_response_format({"type": "json_object"}).type == "json_object"


def _result(message: Message, **kwargs: object) -> ChatResult:
    return ChatResult(message=message, **kwargs)  # type: ignore[arg-type]


def test_from_core_result_raw_and_additional_kwargs_shape() -> None:
    result = _result(
        Message.assistant("hi"),
        finish_reason="stop",
        usage=Usage(10, 4, 14, cached_input_tokens=2, reasoning_tokens=1),
        response_id="chatcmpl-1",
        model="gpt-4o-mini-2024-07-18",
        deployment="dep",
        request_id="req-1",
        prompt_filter_results=(PromptFilterResult(0, {"hate": {"filtered": False}}),),
        content_filter_results={"violence": {"filtered": False, "severity": "safe"}},
        cost=CallCost("dep", "gpt-4o-mini", 0.25, endpoint="west", reason=None),
    )
    response = from_core_result(result)
    assert response.message.role == MessageRole.ASSISTANT and response.message.content == "hi"
    assert response.raw["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 4,
        "total_tokens": 14,
        "prompt_tokens_details": {"cached_tokens": 2},
        "completion_tokens_details": {"reasoning_tokens": 1},
    }
    assert response.raw["request_id"] == "req-1" and response.raw["finish_reason"] == "stop"
    assert response.raw["prompt_filter_results"] == [
        {"prompt_index": 0, "content_filter_results": {"hate": {"filtered": False}}}
    ]
    cost = {
        "amount": 0.25,
        "currency": "USD",
        "reason": None,
        "deployment": "dep",
        "endpoint": "west",
        "model": "gpt-4o-mini",
    }
    assert response.raw["cost"] == cost
    assert response.additional_kwargs == {
        "finish_reason": "stop",
        "request_id": "req-1",
        "cost": cost,
        "prompt_tokens": 10,
        "completion_tokens": 4,
        "total_tokens": 14,
    }
    assert from_core_result(_result(Message.assistant("hi"))).raw["cost"] is None


def test_from_core_result_tool_calls_and_reasoning_become_blocks() -> None:
    message = Message(
        "assistant",
        (ReasoningPart("why", id="rs_1"), TextPart("ok"), ToolCallPart("call_1", "add", '{"a": 1}')),
    )
    response = from_core_result(_result(message, tool_calls=(ToolCall("call_1", "add", {"a": 1}, '{"a": 1}'),)))
    thinking, text, call = response.message.blocks
    assert isinstance(thinking, ThinkingBlock) and thinking.content == "why"
    assert thinking.additional_information == {"id": "rs_1"}
    assert isinstance(text, TextBlock) and text.text == "ok"
    assert isinstance(call, ToolCallBlock) and (call.tool_call_id, call.tool_name, call.tool_kwargs) == (
        "call_1",
        "add",
        {"a": 1},
    )
    # and back again: the same core message
    assert to_core_messages([response.message])[0].parts == (
        ReasoningPart("why", id="rs_1"),
        TextPart("ok"),
        ToolCallPart("call_1", "add", '{"a": 1}'),
    )


def test_tool_selections_invalid_arguments_are_reported_not_emptied() -> None:
    message = Message("assistant", (ToolCallPart("call_1", "add", '{"a": 1'),))
    invalid = InvalidToolCall("call_1", "add", '{"a": 1', "arguments are not valid JSON")
    response = from_core_result(_result(message, invalid_tool_calls=(invalid,)))
    assert response.raw["invalid_tool_calls"][0]["raw_arguments"] == '{"a": 1'
    with pytest.raises(InvalidToolCallError, match="invalid arguments") as info:
        tool_selections_from_response(response)
    assert info.value.raw_arguments == '{"a": 1' and info.value.tool_name == "add"
    assert tool_selections_from_response(response, error_on_invalid=False) == []


def test_tool_selections_call_without_id_is_reported_not_run() -> None:
    message = Message("assistant", (ToolCallPart("", "add", ""),))
    invalid = InvalidToolCall("", "add", "", "tool call #0 never received an id")
    response = from_core_result(_result(message, invalid_tool_calls=(invalid,)))
    with pytest.raises(InvalidToolCallError, match="no id"):
        tool_selections_from_response(response)
