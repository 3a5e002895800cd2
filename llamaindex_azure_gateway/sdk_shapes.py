"""Objects in the openai SDK's shapes, where code written for llama-index's OpenAI classes reads SDK objects.

Tool calls in ``ChatMessage.additional_kwargs["tool_calls"]``, where llama-index-core and its agents read them:

llama-index's OpenAI classes put the SDK's tool-call objects there (besides the ``ToolCallBlock`` s):
llama-index-core's streaming structured output (``process_streaming_objects``) only looks for tool calls when
that key is set, ``TokenCountingHandler`` counts ``call.function.name`` / ``call.function.arguments``, and
chat engines test ``is_function(message)`` on it. :class:`ToolCallKwarg` has the same attributes as the SDK's
``ChatCompletionMessageToolCall`` (``id``, ``type``, ``function.name``, ``function.arguments``) plus the stream's
``index``, without importing ``openai``; ``model_dump()`` gives the Chat Completions dict shape.

The Responses API's token usage in ``ChatResponse.additional_kwargs["usage"]``, as llama-index's
``OpenAIResponses`` puts it there: :class:`ResponsesUsage` has the attributes of the SDK's ``ResponseUsage``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel

from shared_core import Usage

__all__ = [
    "InputTokensDetails",
    "OutputTokensDetails",
    "ResponsesUsage",
    "ToolCallFunction",
    "ToolCallKwarg",
    "responses_usage",
    "tool_call_kwarg",
    "tool_calls_kwargs",
]


class ToolCallFunction(BaseModel):
    """The called function: its name and its arguments as the model wrote them (JSON text, maybe partial)."""

    name: str = ""
    arguments: str = ""


class ToolCallKwarg(BaseModel):
    """One tool call, in the shape of the openai SDK's ``ChatCompletionMessageToolCall``.

    Attributes:
        id: The call id (``call_…``); ``None`` while a stream has not sent it yet.
        type: Always ``function``.
        index: The call's position in the answer.
        function: Name and arguments.
    """

    id: str | None = None
    type: Literal["function"] = "function"
    index: int | None = None
    function: ToolCallFunction


def tool_call_kwarg(index: int, call_id: str | None, name: str, arguments: str) -> ToolCallKwarg:
    """One entry of ``additional_kwargs["tool_calls"]`` (built without validation: the values are typed already)."""
    function = ToolCallFunction.model_construct(name=name, arguments=arguments)
    return ToolCallKwarg.model_construct(id=call_id, type="function", index=index, function=function)


def tool_calls_kwargs(calls: Iterable[tuple[str | None, str, str]]) -> list[ToolCallKwarg]:
    """``additional_kwargs["tool_calls"]`` for (id, name, raw arguments) triples, in order."""
    return [tool_call_kwarg(i, call_id, name, args) for i, (call_id, name, args) in enumerate(calls)]


class InputTokensDetails(BaseModel):
    """Cached prompt tokens."""

    cached_tokens: int = 0


class OutputTokensDetails(BaseModel):
    """Reasoning tokens within the output."""

    reasoning_tokens: int = 0


class ResponsesUsage(BaseModel):
    """Token usage with the attributes of the openai SDK's ``ResponseUsage``."""

    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


def responses_usage(usage: Usage) -> ResponsesUsage:
    """The core's usage as llama-index's Responses class shows it."""
    return ResponsesUsage(
        input_tokens=usage.input_tokens,
        input_tokens_details=InputTokensDetails(cached_tokens=usage.cached_input_tokens),
        output_tokens=usage.output_tokens,
        output_tokens_details=OutputTokensDetails(reasoning_tokens=usage.reasoning_tokens),
        total_tokens=usage.total_tokens,
    )
