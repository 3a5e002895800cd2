"""An invoke's ``ChatResult``, ``ChatGeneration`` and ``AIMessage`` are built with exactly the state pydantic's
validation gives them (``result_objects``), in both API shapes, for text answers and the shapes that are
validated instead (tool calls, content blocks, several choices)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.load import dumpd
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration
from langchain_core.outputs import ChatResult as LCChatResult

from langchain_azure_gateway import result_objects
from langchain_azure_gateway.chat_model import _chat_result  # pyright: ignore[reportPrivateUsage]
from langchain_azure_gateway.metadata import MetadataOptions
from shared_core import CallCost, ChatResult, Message, TextPart, ToolCall, ToolCallPart, Usage
from shared_core.integration import HostedToolPart, ReasoningPart, ToolSequenceRepair
from shared_core.result import PromptFilterResult
from shared_core.tool_calls import InvalidToolCall

_SAFE = {"hate": {"filtered": False, "severity": "safe"}}
_RESULTS = {
    "text": ChatResult(
        message=Message.assistant("Paris."),
        finish_reason="stop",
        usage=Usage(12, 3, 15, cached_input_tokens=2, reasoning_tokens=1),
        response_id="chatcmpl-1",
        model="gpt-4o-mini-2024-07-18",
        deployment="gpt-4o-mini",
        request_id="req-1",
        prompt_filter_results=(PromptFilterResult(0, _SAFE),),
        content_filter_results=_SAFE,
        provider_details={"usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}},
        cost=CallCost("gpt-4o-mini", "gpt-4o-mini", 0.0001),
        repairs=(ToolSequenceRepair("call_9", "lookup", "removed_orphan_result"),),
    ),
    "no usage, no id": ChatResult(message=Message("assistant", ())),
    "refusal and reasoning": ChatResult(
        message=Message("assistant", (ReasoningPart("thought", "rs_1", "enc"),)), refusal="I can't help with that."
    ),
    "tool calls": ChatResult(
        message=Message("assistant", (TextPart("a"), ToolCallPart("c1", "f", '{"x":1}'))),
        tool_calls=(ToolCall("c1", "f", {"x": 1}, '{"x":1}'),),
        invalid_tool_calls=(InvalidToolCall("c2", "g", '{"x":', "truncated"),),
        finish_reason="tool_calls",
    ),
    "content blocks": ChatResult(
        message=Message(
            "assistant",
            (HostedToolPart({"type": "web_search_call", "id": "ws_1", "status": "completed"}), TextPart("b")),
        )
    ),
    "choices": ChatResult(message=Message.assistant("one"), choices=(ChatResult(message=Message.assistant("two")),)),
}


def _state(model: Any) -> tuple[Any, ...]:
    typed = [(key, type(value), value) for key, value in model.__dict__.items()]
    return type(model), typed, model.__pydantic_fields_set__, model.__pydantic_extra__, model.__pydantic_private__


def _validated_message(message: AIMessage) -> AIMessage:
    return AIMessage(
        content=message.content,
        additional_kwargs=message.additional_kwargs,
        tool_calls=message.tool_calls,
        invalid_tool_calls=message.invalid_tool_calls,
        usage_metadata=message.usage_metadata,
        response_metadata=message.response_metadata,
        id=message.id,
    )


@pytest.mark.parametrize("name", list(_RESULTS))
@pytest.mark.parametrize("api", ["chat", "responses"])
def test_invoke_result_is_what_validation_builds(name: str, api: Any) -> None:
    assert result_objects.text_message is result_objects._built_message  # pyright: ignore[reportPrivateUsage]
    built = _chat_result(_RESULTS[name], MetadataOptions(api=api))
    generations = [
        ChatGeneration(message=_validated_message(g.message), generation_info=g.generation_info)  # type: ignore[arg-type]
        for g in built.generations
    ]
    validated = LCChatResult(generations=generations, llm_output=built.llm_output)
    assert _state(built) == _state(validated)
    for ours, theirs in zip(built.generations, validated.generations, strict=True):
        assert _state(ours) == _state(theirs)
        assert _state(ours.message) == _state(theirs.message)
    assert dumpd(built.generations[0].message) == dumpd(validated.generations[0].message)
    assert built.generations[0].text == built.generations[0].message.text


def test_invoke_results_share_no_containers() -> None:
    first = _chat_result(_RESULTS["text"], MetadataOptions())
    second = _chat_result(_RESULTS["text"], MetadataOptions())
    message = first.generations[0].message
    message.additional_kwargs["x"] = message.response_metadata["x"] = 1
    first.generations[0].generation_info["x"] = first.llm_output["x"] = 1  # type: ignore[index]
    again = second.generations[0]
    assert "x" not in again.message.additional_kwargs and "x" not in again.message.response_metadata
    assert "x" not in (again.generation_info or {}) and "x" not in (second.llm_output or {})
    assert again.message.additional_kwargs == {"refusal": None}
    assert again.message.response_metadata["conversation_repairs"]["count"] == 1
