"""LlamaIndex chat types to and from the core's: messages and blocks, tools, tool choice, results, tool calls.

Into the core (``to_core_*``): every block kind Azure can carry is converted; one it cannot carry raises
:class:`UnsupportedContentError` naming the message and the block, never dropped silently. Out of the core
(``from_core_*``): a :class:`ChatResult` becomes a ``ChatResponse`` whose ``raw`` has this documented shape::

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
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from llama_index.core.base.llms.types import (
    AudioBlock,
    CachePoint,
    ChatMessage,
    ChatResponse,
    CitableBlock,
    CitationBlock,
    DocumentBlock,
    ImageBlock,
    LogProb,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.tools.types import BaseTool

from llamaindex_azure_gateway.content_blocks import (
    assistant_extra_parts,
    from_core_extras,
    is_repeated_output,
    user_media_part,
)
from llamaindex_azure_gateway.sdk_shapes import responses_usage, tool_calls_kwargs
from shared_core import (
    AudioPart,
    ChatResult,
    ImagePart,
    InvalidResponseError,
    Message,
    TextPart,
    ToolCall,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
    UnsupportedContentError,
)
from shared_core.integration import (
    HostedToolPart,
    HostedToolSpec,
    JsonValue,
    MessagePart,
    NamedToolChoice,
    ReasoningPart,
    Role,
    ToolChoice,
    hosted_tool_choice,
    parse_tool_arguments,
    repairs_summary,
    tool_from_dict,
)

__all__ = [
    "InvalidToolCallError",
    "UnsupportedContentError",
    "from_core_logprobs",
    "from_core_message",
    "from_core_result",
    "response_additional_kwargs",
    "response_raw",
    "strict_json_schema",
    "to_core_messages",
    "to_core_tool_choice",
    "to_core_tools",
    "tool_selections_from_response",
]

_ROLES: Mapping[str, Role] = {
    "system": "system",
    "developer": "developer",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    # LlamaIndex's legacy and provider-specific names for the same roles.
    "function": "tool",
    "chatbot": "assistant",
    "model": "assistant",
}


class InvalidToolCallError(InvalidResponseError, ValueError):
    """The model called a tool with arguments that are not a JSON object; the call is reported, not run.

    A :class:`shared_core.InvalidResponseError` (the model's output could not be decoded), and a ``ValueError``
    as LlamaIndex's own tool-call parsing raises.

    Attributes:
        tool_id: The call id.
        tool_name: The tool's name.
        raw_arguments: Exactly what the model produced.
        error: Why it could not be parsed.
    """

    def __init__(self, tool_id: str, tool_name: str, raw_arguments: str, error: str) -> None:
        super().__init__(
            f"the model called tool {tool_name!r} (id {tool_id!r}) with invalid arguments: {error}; "
            f"raw arguments: {raw_arguments[:200]!r}"
        )
        self.tool_id = tool_id
        self.tool_name = tool_name
        self.raw_arguments = raw_arguments
        self.error = error


# -- into the core -----------------------------------------------------------------------------------------


def to_core_messages(messages: Sequence[ChatMessage]) -> tuple[Message, ...]:
    """Convert a LlamaIndex conversation; the input is never modified.

    Raises:
        UnsupportedContentError: A block Azure cannot carry, or a tool message without ``tool_call_id``.
    """
    return tuple(_to_core_message(i, m) for i, m in enumerate(messages))


def _to_core_message(index: int, message: ChatMessage) -> Message:
    role_name = message.role.value if isinstance(message.role, MessageRole) else str(message.role)
    role = _ROLES.get(role_name)
    if role is None:
        raise UnsupportedContentError(
            f"message {index} has role {role_name!r}, which Azure OpenAI does not know", index=index, block_type="role"
        )
    if role == "tool":
        return _to_core_tool_message(index, message)
    parts: list[MessagePart] = []
    for block in message.blocks:
        if role == "assistant" and is_repeated_output(block):
            continue
        part = _to_core_media(index, block) or _to_core_part(index, block)
        if part is not None:
            parts.append(part)
    if role == "assistant" and not any(isinstance(p, ToolCallPart) for p in parts):
        parts.extend(_legacy_tool_calls(message.additional_kwargs))
    if role == "assistant":
        extra = assistant_extra_parts(message.additional_kwargs)
        hosted = [p for p in extra if isinstance(p, HostedToolPart)]
        parts = hosted + parts + [p for p in extra if isinstance(p, AudioPart)]
    name = message.additional_kwargs.get("name")
    return Message(role, tuple(parts), name=name if isinstance(name, str) else None)


def _to_core_media(index: int, block: object) -> MessagePart | None:
    try:
        return user_media_part(block)
    except ValueError as error:
        kind = getattr(block, "block_type", type(block).__name__)
        raise UnsupportedContentError(
            f"message {index} holds a {kind} block {error}", index=index, block_type=str(kind)
        ) from error


def _to_core_part(index: int, block: object) -> MessagePart | None:
    if isinstance(block, TextBlock):
        return TextPart(block.text)
    if isinstance(block, ImageBlock):
        return _to_core_image(index, block)
    if isinstance(block, ToolCallBlock):
        if not block.tool_call_id:
            raise UnsupportedContentError(
                f"message {index} has a tool call to {block.tool_name!r} without a tool_call_id; Azure needs one "
                "to match the tool's result",
                index=index,
                block_type="tool_call",
            )
        args = block.tool_kwargs if isinstance(block.tool_kwargs, str) else json.dumps(block.tool_kwargs)
        return ToolCallPart(block.tool_call_id, block.tool_name, args)
    if isinstance(block, ThinkingBlock):
        info = block.additional_information
        item_id, encrypted = info.get("id"), info.get("encrypted_content")
        return ReasoningPart(
            text=block.content or "",
            id=item_id if isinstance(item_id, str) else None,
            encrypted_content=encrypted if isinstance(encrypted, str) else None,
        )
    if isinstance(block, CachePoint):
        # Azure caches prompt prefixes by itself; an explicit cache breakpoint (an Anthropic notion) means nothing.
        return None
    kind = _block_kind(block)
    raise UnsupportedContentError(
        f"message {index} holds a {kind} block, which Azure OpenAI chat cannot carry; convert it to text "
        "(or an image) first",
        index=index,
        block_type=kind,
    )


def _block_kind(block: object) -> str:
    if isinstance(block, AudioBlock | VideoBlock | DocumentBlock | CitableBlock | CitationBlock):
        return block.block_type
    return type(block).__name__


def _to_core_image(index: int, block: ImageBlock) -> ImagePart:
    detail = block.detail if block.detail in ("auto", "low", "high") else None
    if block.url is not None and block.image is None and block.path is None:
        # Azure fetches https:// images itself; downloading them here would only add latency.
        return ImagePart(str(block.url), detail=cast(Any, detail))
    if not block.image_mimetype:
        raise UnsupportedContentError(
            f"message {index} has an image whose media type is unknown; set ImageBlock(image_mimetype='image/png')",
            index=index,
            block_type="image",
        )
    return ImagePart(block.inline_url(), detail=cast(Any, detail))


def _to_core_tool_message(index: int, message: ChatMessage) -> Message:
    call_id = message.additional_kwargs.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise UnsupportedContentError(
            f"tool message {index} has no additional_kwargs['tool_call_id']; Azure needs it to match the call",
            index=index,
            block_type="tool",
        )
    texts: list[str] = []
    for block in message.blocks:
        if isinstance(block, TextBlock):
            texts.append(block.text)
        elif not isinstance(block, CachePoint):
            kind = getattr(block, "block_type", type(block).__name__)
            raise UnsupportedContentError(
                f"tool message {index} holds a {kind} block; Azure tool results are text only",
                index=index,
                block_type=str(kind),
            )
    name = message.additional_kwargs.get("name")
    is_error = message.additional_kwargs.get("is_error") is True
    return Message(
        "tool", (ToolResultPart(call_id, "\n".join(texts), name if isinstance(name, str) else None, is_error),)
    )


def _legacy_tool_calls(additional_kwargs: Mapping[str, Any]) -> list[ToolCallPart]:
    """Tool calls kept in ``additional_kwargs['tool_calls']`` (llama-index's OpenAI class, older versions)."""
    raw = additional_kwargs.get("tool_calls")
    if not isinstance(raw, list):
        return []
    parts: list[ToolCallPart] = []
    for call in cast(list[Any], raw):
        data: Any = call.model_dump() if hasattr(call, "model_dump") else call
        if not isinstance(data, dict):
            continue
        function: Any = cast(dict[str, Any], data).get("function") or {}
        arguments: Any = function.get("arguments", "")
        parts.append(
            ToolCallPart(
                str(data.get("id", "")),
                str(function.get("name", "")),
                arguments if isinstance(arguments, str) else json.dumps(arguments),
            )
        )
    return parts


def to_core_tools(tools: Sequence[object], *, strict: bool | None = None) -> tuple[ToolSpec | HostedToolSpec, ...]:
    """Convert LlamaIndex tools (or core ``ToolSpec`` s, or OpenAI-shaped dicts) to tool specs.

    Args:
        tools: The tools.
        strict: Ask Azure to enforce each tool's schema exactly; the schema is made strict-compatible.
    """
    specs: list[ToolSpec | HostedToolSpec] = []
    for tool in tools:
        if isinstance(tool, ToolSpec | HostedToolSpec):
            spec = tool
        elif isinstance(tool, BaseTool):
            spec = ToolSpec.from_dict(tool.metadata.to_openai_tool(skip_length_check=True))
        elif isinstance(tool, Mapping):
            # {"type": "web_search_preview"} and other tools Azure runs itself are hosted tool specs.
            spec = tool_from_dict(cast(Mapping[str, JsonValue], tool))
        else:
            raise TypeError(f"a tool must be a BaseTool, ToolSpec or dict, got {type(tool).__name__}")
        if strict and isinstance(spec, ToolSpec):
            spec = ToolSpec(spec.name, spec.description, strict_json_schema(spec.parameters), strict=True)
        specs.append(spec)
    return tuple(specs)


def to_core_tool_choice(tool_choice: object, *, tool_required: bool = False) -> ToolChoice:
    """LlamaIndex's tool choice (``auto``/``none``/``required``, a tool name, or an OpenAI dict) to the core's."""
    if tool_choice is None:
        return "required" if tool_required else "auto"
    if isinstance(tool_choice, NamedToolChoice):
        return tool_choice
    hosted = hosted_tool_choice(tool_choice)
    if hosted is not None:
        return hosted
    if tool_choice in ("auto", "none", "required"):
        return cast(ToolChoice, tool_choice)
    if isinstance(tool_choice, str):
        return NamedToolChoice(tool_choice)
    if isinstance(tool_choice, Mapping):
        choice = cast(Mapping[str, Any], tool_choice)
        function = choice.get("function", choice)
        name = function.get("name") if isinstance(function, Mapping) else None
        if isinstance(name, str):
            return NamedToolChoice(name)
    raise TypeError(f"tool_choice must be 'auto', 'none', 'required', a tool name or a dict, got {tool_choice!r}")


def strict_json_schema(schema: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """A copy of a JSON schema that Azure's strict mode accepts.

    Strict mode needs ``additionalProperties: false`` and every property listed in ``required`` on every
    object, and rejects ``default``; pydantic schemas have neither rule.
    """
    return cast(dict[str, JsonValue], _strict(dict(schema)))


def _strict(node: JsonValue) -> JsonValue:
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, JsonValue] = {k: _strict(v) for k, v in node.items() if k != "default"}
    properties = out.get("properties")
    if out.get("type") == "object" or isinstance(properties, dict):
        out["additionalProperties"] = False
        out["required"] = list(properties) if isinstance(properties, dict) else []
        out.setdefault("properties", {})
    return out


# -- out of the core ---------------------------------------------------------------------------------------


def from_core_message(message: Message, invalid_arguments: Mapping[str, str] | None = None) -> ChatMessage:
    """The assistant's message as a LlamaIndex ``ChatMessage`` (thinking, text and tool-call blocks, in order).

    Tool calls whose arguments parse become dict ``tool_kwargs``; the others keep the raw text (a ``str``), so
    :func:`tool_selections_from_response` reports them instead of running the tool with no input.
    """
    invalid = invalid_arguments or {}
    blocks: list[Any] = []
    calls: list[tuple[str | None, str, str]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            blocks.append(TextBlock(text=part.text))
        elif isinstance(part, ToolCallPart):
            parsed = parse_tool_arguments(part.id, part.name, part.arguments)
            kwargs: Any = (
                parsed.arguments if isinstance(parsed, ToolCall) and part.id not in invalid else part.arguments
            )
            blocks.append(ToolCallBlock(tool_call_id=part.id, tool_name=part.name, tool_kwargs=kwargs))
            calls.append((part.id, part.name, part.arguments))
        elif isinstance(part, ReasoningPart):
            info: dict[str, Any] = {}
            if part.id:
                info["id"] = part.id
            if part.encrypted_content:
                info["encrypted_content"] = part.encrypted_content
            blocks.append(ThinkingBlock(content=part.text or None, additional_information=info))
        elif isinstance(part, HostedToolPart | AudioPart):
            continue  # from_core_extras: built_in_tool_calls, an image block, the audio
        else:
            # Assistant results never hold images or tool results; the core's decoders only build the above.
            raise TypeError(f"unexpected {part.kind} part in an assistant result")
    # Also where llama-index-core and its agents read tool calls (see ``sdk_shapes``).
    extra: dict[str, Any] = {"tool_calls": tool_calls_kwargs(calls)} if calls else {}
    extra_blocks, extra_kwargs = from_core_extras(message)
    extra.update(extra_kwargs)
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks + extra_blocks, additional_kwargs=extra)


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
        "usage": None
        if usage is None
        else {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
            "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
            "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        },
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


def response_additional_kwargs(result: ChatResult) -> dict[str, Any]:
    """``ChatResponse.additional_kwargs``: the token counts, finish reason, request id and cost."""
    out: dict[str, Any] = {
        "finish_reason": result.finish_reason,
        "request_id": result.request_id,
        "cost": result.cost.summary() if result.cost is not None else None,
    }
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
    invalid = {c.id: c.error for c in result.invalid_tool_calls}
    message = from_core_message(result.message, invalid)
    extra = response_additional_kwargs(result)
    if result.repairs:
        extra["conversation_repairs"] = repairs_summary(result.repairs)
    if responses_api:
        extra["built_in_tool_calls"] = []
        if result.usage is not None:
            extra["usage"] = responses_usage(result.usage)
        if not streamed and any(isinstance(p, TextPart) for p in result.message.parts):
            extra["annotations"] = []
    # Where llama-index's OpenAIResponses puts them; the message keeps them too, to send them back next turn.
    extra.update({k: v for k, v in message.additional_kwargs.items() if k in ("built_in_tool_calls", "annotations")})
    return ChatResponse(
        message=message,
        raw=response_raw(result),
        delta=delta,
        # llama-index gives the log probabilities of whole answers only, never of stream chunks.
        logprobs=None if streamed else from_core_logprobs(result),
        additional_kwargs=extra,
    )


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


def tool_selections_from_response(response: ChatResponse, *, error_on_invalid: bool = True) -> list[ToolSelection]:
    """The tool calls of a response, as ``ToolSelection`` s.

    ``tool_kwargs`` held as text (what a result keeps for arguments that did not parse) are parsed here.

    Raises:
        InvalidToolCallError: A call's arguments are not a JSON object and ``error_on_invalid`` is set
            (otherwise the call is left out).
    """
    selections: list[ToolSelection] = []
    for block in response.message.blocks:
        if not isinstance(block, ToolCallBlock):
            continue
        call_id = block.tool_call_id or ""
        kwargs = block.tool_kwargs
        if isinstance(kwargs, str):
            parsed = parse_tool_arguments(call_id, block.tool_name, kwargs)
            error = parsed.error if not isinstance(parsed, ToolCall) else None
            if not call_id or not block.tool_name:
                # A stream that broke off before a call's id or name arrived: nothing to answer or run.
                error = "the call has no id or no tool name"
            if error is not None:
                if error_on_invalid:
                    raise InvalidToolCallError(call_id, block.tool_name, kwargs, error)
                continue
            kwargs = cast(dict[str, Any], cast(ToolCall, parsed).arguments)
        selections.append(ToolSelection(tool_id=call_id, tool_name=block.tool_name, tool_kwargs=kwargs))
    return selections
