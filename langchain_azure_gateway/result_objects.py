"""LangChain's result objects for one call (``AIMessage``, ``ChatGeneration``, ``ChatResult``), built once per call.

Every ``invoke`` builds these three pydantic models from values that are valid by construction (a ``str`` answer,
dicts this package builds). Validating them costs about a tenth of what the package adds to a call, so in the
common shape (text content, no tool calls: the same shape a stream's text chunks have, ``chunks.py``) they are
built with the state validation gives them: the same ``__dict__`` (values of the same types), fields set, extras
and private state. That is checked at import against the validated objects (:func:`_pick`), and validation is
used instead when this langchain-core gives anything else; any other shape (tool calls, content blocks) is
always validated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.base import TextAccessor
from langchain_core.outputs import ChatGeneration, ChatResult

from shared_core.integration import direct_model, same_model_state

__all__ = ["chat_generation", "chat_result", "text_message"]

_new_str = str.__new__


def _built_message(
    content: str,
    additional_kwargs: dict[str, Any],
    usage: UsageMetadata | None,
    metadata: dict[str, Any],
    message_id: str | None,
) -> AIMessage:
    return direct_model(
        AIMessage,
        {
            "content": content, "additional_kwargs": additional_kwargs, "response_metadata": metadata, "type": "ai",
            "name": None, "id": message_id, "tool_calls": [], "invalid_tool_calls": [], "usage_metadata": usage,
        },
        {
            "content", "additional_kwargs", "response_metadata", "tool_calls", "invalid_tool_calls",
            "usage_metadata", "id",
        },
        extra={},
    )  # fmt: skip


def _validated_message(
    content: str,
    additional_kwargs: dict[str, Any],
    usage: UsageMetadata | None,
    metadata: dict[str, Any],
    message_id: str | None,
) -> AIMessage:
    return AIMessage(
        content=content,
        additional_kwargs=additional_kwargs,
        tool_calls=[],
        invalid_tool_calls=[],
        usage_metadata=usage,
        response_metadata=metadata,
        id=message_id,
    )


def _built_generation(message: AIMessage, info: dict[str, Any]) -> ChatGeneration:
    # What ChatGeneration's validator sets: message.text, a TextAccessor of the message's str content.
    text = _new_str(TextAccessor, message.content)
    values = {"text": text, "generation_info": info, "type": "ChatGeneration", "message": message}
    return direct_model(ChatGeneration, values, {"text", "generation_info", "message"})


def _validated_generation(message: AIMessage, info: dict[str, Any]) -> ChatGeneration:
    return ChatGeneration(message=message, generation_info=info)


def _built_result(generations: list[ChatGeneration], llm_output: dict[str, Any]) -> ChatResult:
    values = {"generations": generations, "llm_output": llm_output}
    return direct_model(ChatResult, values, {"generations", "llm_output"})


def _validated_result(generations: list[ChatGeneration], llm_output: dict[str, Any]) -> ChatResult:
    return ChatResult(generations=generations, llm_output=llm_output)


def _builders_hold() -> bool:
    usage: UsageMetadata = {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}
    for args in (
        ("x", {"refusal": None}, usage, {"model_name": "m"}, "chatcmpl-1"),
        ("", {}, None, {}, None),
    ):
        built, validated = _built_message(*args), _validated_message(*args)
        if not same_model_state(built, validated):
            return False
        info = {"finish_reason": "stop"}
        generation = _built_generation(built, info)
        if not (
            same_model_state(generation, _validated_generation(validated, info))
            and same_model_state(_built_result([generation], {"id": "1"}), _validated_result([generation], {"id": "1"}))
        ):
            return False
    return True


def _pick() -> tuple[
    Callable[[str, dict[str, Any], UsageMetadata | None, dict[str, Any], str | None], AIMessage],
    Callable[[AIMessage, dict[str, Any]], ChatGeneration],
    Callable[[list[ChatGeneration], dict[str, Any]], ChatResult],
]:
    """The direct builders when they give what validation gives (this langchain-core's fields), else validation."""
    if _builders_hold():
        return _built_message, _built_generation, _built_result
    return _validated_message, _validated_generation, _validated_result  # pragma: no cover - another langchain-core


text_message, _generation, _result = _pick()


def chat_generation(message: AIMessage, info: dict[str, Any]) -> ChatGeneration:
    """``ChatGeneration(message=message, generation_info=info)``: built directly when the content is a ``str``."""
    if type(message.content) is str:
        return _generation(message, info)
    return ChatGeneration(message=message, generation_info=info)


def chat_result(generations: list[ChatGeneration], llm_output: dict[str, Any]) -> ChatResult:
    """``ChatResult(generations=generations, llm_output=llm_output)``.

    Validation would copy the list and the dict; the caller hands over fresh ones, which are kept.
    """
    return _result(generations, llm_output)
