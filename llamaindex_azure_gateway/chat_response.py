"""Core results to LlamaIndex: a :class:`ChatResult` becomes a ``ChatResponse`` whose ``raw`` has this shape::

    {
        "id": "chatcmpl-…" | "resp_…",  "model": "gpt-4o-mini-2024-07-18",  "deployment": "…",
        "request_id": "<apim-request-id>",  "created": 1732000000,  "system_fingerprint": …,
        "finish_reason": "stop" | "length" | "tool_calls" | "content_filter" | …,
        "usage": {"prompt_tokens": int, "completion_tokens": int, "total_tokens": int,
                  "prompt_tokens_details": {"cached_tokens": int},
                  "completion_tokens_details": {"reasoning_tokens": int}} | None,
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {…}}],
        "content_filter_results": {…},  "refusal": str | None,
        "invalid_tool_calls": [{"id", "name", "raw_arguments", "error"}],  "provider_details": {…},
        "cost": {"amount": float | None, "currency": "USD", "reason": str | None, "deployment": "…",
                 "endpoint": str | None, "model": str | None} | None,
        "conversation_repairs": {"count": int, "repairs": [[tool_call_id, tool_name]], "actions": [...]} | None,
    }

``usage`` is what Azure reported (never an estimate), in the OpenAI shape that LlamaIndex's
``TokenCountingHandler`` reads from ``raw["usage"]``; ``ChatResponse.additional_kwargs`` repeats the three
counts (as llama-index's OpenAI class does) plus ``finish_reason``, ``request_id`` and ``cost``. ``cost`` is
what the call cost, priced by the deployment's base model: ``amount`` is ``None`` when unknown (``reason``
says why; a PTU deployment costs ``0.0`` with a reason too), ``endpoint`` names the region when the route
has several.

Each call builds a ``ChatResponse``, its ``ChatMessage`` and a ``TextBlock`` from values valid by construction;
validating them is about a third of this module's work per call. They are built with the state validation gives
them (the same ``__dict__``, fields set, extras and private state: checked at import against validated objects,
falling back to validation if this llama-index differs); the rarer blocks (tool calls, thinking) are validated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    LogProb,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from llamaindex_azure_gateway.content_blocks import from_core_extras
from llamaindex_azure_gateway.sdk_shapes import responses_usage, tool_calls_kwargs
from shared_core import AudioPart, ChatResult, Message, TextPart, ToolCall, ToolCallPart
from shared_core.integration import (
    HostedToolPart,
    ReasoningPart,
    direct_model,
    parse_tool_arguments,
    repairs_summary,
    same_model_state,
)

__all__ = [
    "from_core_logprobs",
    "from_core_message",
    "from_core_result",
    "response_additional_kwargs",
    "response_raw",
]


def from_core_message(message: Message, invalid_arguments: Mapping[str, str] | None = None) -> ChatMessage:
    """The assistant's message as a LlamaIndex ``ChatMessage`` (thinking, text and tool-call blocks, in order).

    Tool calls whose arguments parse become dict ``tool_kwargs``; the others keep the raw text (a ``str``), so
    :func:`~llamaindex_azure_gateway.convert.tool_selections_from_response` reports them instead of running the
    tool with no input.
    """
    invalid = invalid_arguments or {}
    blocks: list[Any] = []
    calls: list[tuple[str | None, str, str]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            blocks.append(_text_block(part.text))
        elif isinstance(part, ToolCallPart):
            parsed = parse_tool_arguments(part.id, part.name, part.arguments)
            kwargs: Any = (
                parsed.arguments if isinstance(parsed, ToolCall) and part.id not in invalid else part.arguments
            )
            blocks.append(ToolCallBlock(tool_call_id=part.id, tool_name=part.name, tool_kwargs=kwargs))
            calls.append((part.id, part.name, part.arguments))
        elif isinstance(part, ReasoningPart):
            blocks.append(_thinking_block(part))
        elif isinstance(part, HostedToolPart | AudioPart):
            continue  # from_core_extras: built_in_tool_calls, an image block, the audio
        else:
            # Assistant results never hold images or tool results; the core's decoders only build the above.
            raise TypeError(f"unexpected {part.kind} part in an assistant result")
    # Also where llama-index-core and its agents read tool calls (see ``sdk_shapes``).
    extra: dict[str, Any] = {"tool_calls": tool_calls_kwargs(calls)} if calls else {}
    extra_blocks, extra_kwargs = from_core_extras(message)
    extra.update(extra_kwargs)
    return _message(extra, blocks + extra_blocks if extra_blocks else blocks)


def _thinking_block(part: ReasoningPart) -> ThinkingBlock:
    info: dict[str, Any] = {}
    if part.id:
        info["id"] = part.id
    if part.encrypted_content:
        info["encrypted_content"] = part.encrypted_content
    return ThinkingBlock(content=part.text or None, additional_information=info)


def response_raw(result: ChatResult) -> dict[str, Any]:
    """``ChatResponse.raw`` for a result, in the shape the module docstring documents."""
    usage = result.usage
    return {
        "id": result.response_id,
        "model": result.model,
        "deployment": result.deployment,
        "request_id": result.request_id,
        "created": result.created,
        "system_fingerprint": result.system_fingerprint,
        "finish_reason": result.finish_reason,
        "usage": None if usage is None else usage.chat_completions_usage(),
        "prompt_filter_results": [
            {"prompt_index": r.prompt_index, "content_filter_results": dict(r.content_filter_results)}
            for r in result.prompt_filter_results
        ],
        "content_filter_results": dict(result.content_filter_results),
        "refusal": result.refusal,
        "invalid_tool_calls": [
            {"id": c.id, "name": c.name, "raw_arguments": c.raw_arguments, "error": c.error}
            for c in result.invalid_tool_calls
        ],
        "provider_details": dict(result.provider_details),
        "cost": result.cost.summary() if result.cost is not None else None,
        "conversation_repairs": repairs_summary(result.repairs),
    }


def response_additional_kwargs(result: ChatResult, *, cost: dict[str, Any] | None = None) -> dict[str, Any]:
    """``ChatResponse.additional_kwargs``: the token counts, finish reason, request id and cost.

    ``cost``: the cost's summary when already built (``raw``'s: a copy of it is used).
    """
    summary = dict(cost) if cost is not None else result.cost.summary() if result.cost is not None else None
    out: dict[str, Any] = {"finish_reason": result.finish_reason, "request_id": result.request_id, "cost": summary}
    if result.usage is not None:
        out["prompt_tokens"] = result.usage.input_tokens
        out["completion_tokens"] = result.usage.output_tokens
        out["total_tokens"] = result.usage.total_tokens
    return out


def from_core_result(
    result: ChatResult, *, delta: str | None = None, responses_api: bool = False, streamed: bool = False
) -> ChatResponse:
    """A finished result as a ``ChatResponse`` (``delta`` set for the last chunk of a stream).

    With ``responses_api``, ``additional_kwargs`` also holds what llama-index's ``AzureOpenAIResponses`` puts
    there: ``usage`` (the SDK's ``ResponseUsage`` attributes), ``built_in_tool_calls`` (the items of tools Azure
    ran) and, for a whole (not streamed) text answer, ``annotations``.
    """
    invalid = {c.id: c.error for c in result.invalid_tool_calls} if result.invalid_tool_calls else None
    message = from_core_message(result.message, invalid)
    raw = response_raw(result)
    extra = response_additional_kwargs(result, cost=raw["cost"])
    if result.repairs:
        extra["conversation_repairs"] = repairs_summary(result.repairs)
    if responses_api:
        extra["built_in_tool_calls"] = []
        if result.usage is not None:
            extra["usage"] = responses_usage(result.usage)
        if not streamed and any(isinstance(p, TextPart) for p in result.message.parts):
            extra["annotations"] = []
    kept = message.additional_kwargs
    if "built_in_tool_calls" in kept or "annotations" in kept:
        # Where llama-index's OpenAIResponses puts them; the message keeps them too, to send them back next turn.
        extra.update({k: v for k, v in kept.items() if k in ("built_in_tool_calls", "annotations")})
    # llama-index gives the log probabilities of whole answers only, never of stream chunks.
    logprobs = None if streamed else from_core_logprobs(result)
    return _response(message, raw, delta, logprobs, extra)


def from_core_logprobs(result: ChatResult) -> list[list[LogProb]] | None:
    """``ChatResponse.logprobs`` as llama-index's OpenAI class builds it: per token, its top alternatives
    (tokens without alternatives are left out, as there)."""
    if result.logprobs is None:
        return None
    return [
        [LogProb(token=alt.token, logprob=alt.logprob, bytes=list(alt.bytes or ())) for alt in token.top_logprobs]
        for token in result.logprobs
        if token.top_logprobs
    ]


# -- the objects, with their validated state ------------------------------------------------------------------


def _direct_text_block(text: str) -> TextBlock:
    return direct_model(TextBlock, {"block_type": "text", "text": text}, {"text"})


def _direct_message(kwargs: dict[str, Any], blocks: list[Any]) -> ChatMessage:
    if "images" in kwargs:  # pragma: no cover - ChatMessage's validator turns legacy images into blocks
        return _validated_message(kwargs, blocks)
    values = {"role": MessageRole.ASSISTANT, "additional_kwargs": kwargs, "blocks": blocks}
    return direct_model(ChatMessage, values, {"role", "additional_kwargs", "blocks"})


def _direct_response(
    message: ChatMessage, raw: Any, delta: str | None, logprobs: list[list[LogProb]] | None, extra: dict[str, Any]
) -> ChatResponse:
    values = {"message": message, "raw": raw, "delta": delta, "logprobs": logprobs, "additional_kwargs": extra}
    return direct_model(ChatResponse, values, {"message", "raw", "delta", "logprobs", "additional_kwargs"})


def _validated_text_block(text: str) -> TextBlock:
    return TextBlock(text=text)


def _validated_message(kwargs: dict[str, Any], blocks: list[Any]) -> ChatMessage:
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=kwargs)


def _validated_response(
    message: ChatMessage, raw: Any, delta: str | None, logprobs: list[list[LogProb]] | None, extra: dict[str, Any]
) -> ChatResponse:
    return ChatResponse(message=message, raw=raw, delta=delta, logprobs=logprobs, additional_kwargs=extra)


def _direct_builders_hold() -> bool:
    block = _validated_text_block("x")
    if not same_model_state(_direct_text_block("x"), block):
        return False
    kwargs = {"tool_calls": []}
    message = _validated_message(kwargs, [block])
    if not same_model_state(_direct_message(kwargs, [block]), message):
        return False
    logprobs = [[LogProb(token="x", logprob=-0.1, bytes=[120])]]
    return all(
        same_model_state(_direct_response(*args), _validated_response(*args))
        for args in ((message, {"id": "1"}, None, None, {"cost": None}), (message, None, "x", logprobs, {}))
    )


def _pick() -> tuple[
    Callable[[str], TextBlock],
    Callable[[dict[str, Any], list[Any]], ChatMessage],
    Callable[[ChatMessage, Any, str | None, list[list[LogProb]] | None, dict[str, Any]], ChatResponse],
]:
    if _direct_builders_hold():
        return _direct_text_block, _direct_message, _direct_response
    return _validated_text_block, _validated_message, _validated_response  # pragma: no cover - another llama-index


_text_block, _message, _response = _pick()
