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
from pydantic import BaseModel

__all__ = ["chat_generation", "chat_result", "text_message"]

_new = object.__new__
_new_str = str.__new__
# pydantic's slots, set through their descriptors (no attribute lookup on the instance's type).
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _built_message(
    content: str,
    additional_kwargs: dict[str, Any],
    usage: UsageMetadata | None,
    metadata: dict[str, Any],
    message_id: str | None,
) -> AIMessage:
    message = _new(AIMessage)
    _set_dict(message, {
        "content": content, "additional_kwargs": additional_kwargs, "response_metadata": metadata, "type": "ai",
        "name": None, "id": message_id, "tool_calls": [], "invalid_tool_calls": [], "usage_metadata": usage,
    })  # fmt: skip
    _set_fields_set(message, {
        "content", "additional_kwargs", "response_metadata", "tool_calls", "invalid_tool_calls", "usage_metadata", "id",
    })  # fmt: skip
    _set_extra(message, {})
    _set_private(message, None)
    return message


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
    generation = _new(ChatGeneration)
    # What ChatGeneration's validator sets: message.text, a TextAccessor of the message's str content.
    text = _new_str(TextAccessor, message.content)
    _set_dict(generation, {"text": text, "generation_info": info, "type": "ChatGeneration", "message": message})
    _set_fields_set(generation, {"text", "generation_info", "message"})
    _set_extra(generation, None)
    _set_private(generation, None)
    return generation


def _validated_generation(message: AIMessage, info: dict[str, Any]) -> ChatGeneration:
    return ChatGeneration(message=message, generation_info=info)


def _built_result(generations: list[ChatGeneration], llm_output: dict[str, Any]) -> ChatResult:
    result = _new(ChatResult)
    _set_dict(result, {"generations": generations, "llm_output": llm_output})
    _set_fields_set(result, {"generations", "llm_output"})
    _set_extra(result, None)
    _set_private(result, None)
    return result


def _validated_result(generations: list[ChatGeneration], llm_output: dict[str, Any]) -> ChatResult:
    return ChatResult(generations=generations, llm_output=llm_output)


def _same_state(built: Any, validated: Any) -> bool:
    def typed(values: dict[str, Any]) -> list[tuple[str, type, Any]]:
        return [(key, type(value), value) for key, value in values.items()]

    return (
        type(built) is type(validated)
        and typed(built.__dict__) == typed(validated.__dict__)
        and built.__pydantic_fields_set__ == validated.__pydantic_fields_set__
        and built.__pydantic_extra__ == validated.__pydantic_extra__
        and built.__pydantic_private__ == validated.__pydantic_private__
    )


def _builders_hold() -> bool:
    usage: UsageMetadata = {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}
    for args in (
        ("x", {"refusal": None}, usage, {"model_name": "m"}, "chatcmpl-1"),
        ("", {}, None, {}, None),
    ):
        built, validated = _built_message(*args), _validated_message(*args)
        if not _same_state(built, validated):
            return False
        info = {"finish_reason": "stop"}
        generation = _built_generation(built, info)
        if not (
            _same_state(generation, _validated_generation(validated, info))
            and _same_state(_built_result([generation], {"id": "1"}), _validated_result([generation], {"id": "1"}))
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
