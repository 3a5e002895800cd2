"""LangChain messages, tools and call arguments to the core's types; core results back to LangChain messages.

Everything is converted once per call; nothing here knows a wire shape. Content that Azure cannot carry raises
a :class:`~shared_core.ConfigurationError` naming the block; nothing is silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal, cast, get_args

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages import (
    InvalidToolCall as LCInvalidToolCall,
)
from langchain_core.messages import (
    ToolCall as LCToolCall,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import invalid_tool_call, tool_call
from langchain_core.utils.function_calling import convert_to_openai_function
from pydantic import BaseModel

from langchain_azure_gateway.content_blocks import (
    assistant_block_part,
    audio_kwargs,
    audio_kwargs_part,
    generated_images,
    result_content,
    user_block_part,
)
from langchain_azure_gateway.result_objects import text_message
from shared_core import (
    AudioPart,
    ChatRequest,
    ChatResult,
    ConfigurationError,
    GenerationSettings,
    ImagePart,
    Message,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
    UnsupportedContentError,
    Usage,
)
from shared_core.integration import (
    HostedToolSpec,
    JsonValue,
    MessagePart,
    NamedToolChoice,
    ReasoningPart,
    ResponseFormat,
    Role,
    ToolChoice,
    hosted_tool_choice,
    repairs_summary,
    tool_from_dict,
)

__all__ = [
    "ai_message",
    "from_core_result",
    "from_core_usage",
    "response_metadata",
    "to_core_messages",
    "to_core_request",
    "to_core_response_format",
    "to_core_tool_choice",
    "to_core_tools",
]

_ROLES: frozenset[str] = frozenset(get_args(Role))
_Detail = Literal["auto", "low", "high"]
# Call kwargs LangChain itself adds (tracing, streaming switches); they never reach Azure.
_LANGCHAIN_KWARGS = frozenset({"ls_structured_output_format", "stream", "stream_usage", "streaming"})


# -- messages ----------------------------------------------------------------------------------------------


def to_core_messages(messages: Sequence[BaseMessage]) -> tuple[Message, ...]:
    """Convert a LangChain history to core messages, in order.

    Raises:
        UnsupportedContentError: A message type or content block Azure cannot take (named in the message).
    """
    return tuple(_to_core_message(m) for m in messages)


def _to_core_message(message: BaseMessage) -> Message:
    name = message.name if isinstance(message.name, str) and message.name else None
    # The usual message classes by exact type: isinstance against a pydantic class goes through ABCMeta.
    exact = type(message)
    if exact is HumanMessage:
        return Message("user", _user_parts(message.content), name=name)
    if exact is SystemMessage:
        return Message("system", (TextPart(_text_only(message.content, "system")),), name=name)
    if isinstance(message, ToolMessage):
        content = _text_only(message.content, "tool")
        return Message(
            "tool",
            (ToolResultPart(message.tool_call_id, content, name=name, is_error=message.status == "error"),),
        )
    if isinstance(message, AIMessage):
        return Message("assistant", _assistant_parts(message), name=name)
    if isinstance(message, SystemMessage):
        return Message("system", (TextPart(_text_only(message.content, "system")),), name=name)
    if isinstance(message, HumanMessage):
        return Message("user", _user_parts(message.content), name=name)
    if isinstance(message, ChatMessage) and message.role in _ROLES:
        role = cast(Role, message.role)
        return Message(role, (TextPart(_text_only(message.content, message.role)),), name=name)
    raise UnsupportedContentError(
        f"a {type(message).__name__} (role {message.type!r}) cannot be sent to Azure OpenAI. "
        "Fix: use SystemMessage, HumanMessage, AIMessage or ToolMessage",
        block_type="role",
    )


def _blocks(content: str | list[str | dict[str, Any]]) -> list[str | dict[str, Any]]:
    return [content] if isinstance(content, str) else content


def _text_only(content: str | list[str | dict[str, Any]], role: str) -> str:
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for block in content:
        if isinstance(block, str):
            texts.append(block)
        elif block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        else:
            raise _unsupported_block(block, role)
    return "".join(texts)


def _unsupported_block(block: Mapping[str, Any], role: str) -> UnsupportedContentError:
    return UnsupportedContentError(
        f"a {block.get('type')!r} content block in a {role} message cannot be sent to Azure OpenAI. "
        "Fix: send text (and images in user messages) only",
        block_type=str(block.get("type")),
    )


def _user_parts(content: str | list[str | dict[str, Any]]) -> tuple[MessagePart, ...]:
    parts: list[MessagePart] = []
    for block in _blocks(content):
        if isinstance(block, str):
            parts.append(TextPart(block))
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append(TextPart(str(block.get("text", ""))))
        elif kind in {"image_url", "image"}:
            parts.append(_image_part(block))
        elif (media := user_block_part(block)) is not None:
            parts.append(media)
        else:
            raise _unsupported_block(block, "user")
    return tuple(parts)


def _image_part(block: Mapping[str, Any]) -> ImagePart:
    raw_detail = block.get("detail")
    url: object = None
    if block.get("type") == "image_url":
        inner = block.get("image_url")
        if isinstance(inner, Mapping):
            inner_map = cast(Mapping[str, Any], inner)
            url, raw_detail = inner_map.get("url"), inner_map.get("detail", raw_detail)
        else:
            url = inner
    elif isinstance(block.get("url"), str):
        url = block["url"]
    else:
        data = block.get("base64") or block.get("data")
        mime = block.get("mime_type") or "image/png"
        if isinstance(data, str):
            url = f"data:{mime};base64,{data}"
    if not isinstance(url, str) or not url:
        raise ConfigurationError("an image block has no URL or base64 data", fix="pass a URL or base64 data")
    detail = cast(_Detail, raw_detail) if raw_detail in {"auto", "low", "high"} else None
    return ImagePart(url, detail)


def _assistant_parts(message: AIMessage) -> tuple[MessagePart, ...]:
    parts: list[MessagePart] = list(_reasoning_items(message.additional_kwargs.get("reasoning_items")))
    images = generated_images(_blocks(message.content))
    for block in _blocks(message.content):
        if isinstance(block, str):
            if block:
                parts.append(TextPart(block))
            continue
        kind = block.get("type")
        if kind == "text":
            text = block.get("text")
            if isinstance(text, str) and text:
                parts.append(TextPart(text))
        elif kind in {"tool_use", "tool_call", "function_call", "tool_call_chunk", "reasoning"}:
            # Tool calls are taken from .tool_calls (the same calls); reasoning text cannot be sent back.
            continue
        elif (hosted := assistant_block_part(block, images)) is not None:
            parts.append(hosted)
        elif kind in {"server_tool_result", "image"}:
            continue  # what its server_tool_call says (content_blocks module docstring)
        else:
            raise _unsupported_block(block, "assistant")
    audio = audio_kwargs_part(message.additional_kwargs)
    if audio is not None:
        parts.append(audio)
    for call in message.tool_calls:
        arguments = json.dumps(call["args"], ensure_ascii=False, separators=(",", ":"))
        parts.append(ToolCallPart(call.get("id") or "", call["name"], arguments))
    for bad in message.invalid_tool_calls:
        parts.append(ToolCallPart(bad.get("id") or "", bad.get("name") or "", bad.get("args") or ""))
    return tuple(parts)


def _reasoning_items(raw: object) -> list[ReasoningPart]:
    if not isinstance(raw, list):
        return []
    out: list[ReasoningPart] = []
    for item in cast(list[object], raw):
        if isinstance(item, Mapping):
            entry = cast(Mapping[str, Any], item)
            out.append(ReasoningPart(str(entry.get("text") or ""), entry.get("id"), entry.get("encrypted_content")))
    return out


# -- tools and formats -------------------------------------------------------------------------------------


def to_core_tools(tools: Sequence[Mapping[str, Any]]) -> tuple[ToolSpec | HostedToolSpec, ...]:
    """Convert OpenAI-format tool dicts (what ``bind_tools`` binds) to core tool specs; a tool Azure runs itself
    (``{"type": "web_search_preview"}`` ...) becomes a hosted tool spec (Responses API only)."""
    return tuple(tool_from_dict(cast(Mapping[str, JsonValue], t)) for t in tools)


def to_core_tool_choice(choice: object) -> ToolChoice | None:
    """Convert LangChain's ``tool_choice`` (``"any"``, ``"auto"``, a tool name, an OpenAI dict, ``True``).

    Raises:
        ConfigurationError: A value that names no choice.
    """
    if choice is None or choice is False:
        return None
    if choice is True or choice == "any":
        return "required"
    hosted = hosted_tool_choice(choice)
    if hosted is not None:
        return hosted
    if isinstance(choice, str):
        return cast(ToolChoice, choice) if choice in {"auto", "none", "required"} else NamedToolChoice(choice)
    if isinstance(choice, Mapping):
        spec = cast(Mapping[str, Any], choice)
        inner = spec.get("function", spec)
        name = inner.get("name") if isinstance(inner, Mapping) else None
        if isinstance(name, str):
            return NamedToolChoice(name)
    raise ConfigurationError(f"tool_choice {choice!r} is not understood", fix="use 'auto', 'any', 'none' or a name")


def to_core_response_format(value: object, *, strict: bool | None = None) -> ResponseFormat | None:
    """Convert an OpenAI ``response_format`` dict, or a pydantic class / JSON schema, to a core format."""
    if value is None:
        return None
    if (isinstance(value, type) and issubclass(value, BaseModel)) or (
        isinstance(value, Mapping) and "type" not in value
    ):
        function = convert_to_openai_function(cast(Any, value), strict=strict)
        return ResponseFormat("json_schema", function["name"], function["parameters"], function.get("strict", strict))
    if isinstance(value, Mapping):
        spec = cast(Mapping[str, Any], value)
        kind = spec.get("type")
        if kind in {"text", "json_object"}:
            return ResponseFormat(kind)
        if kind == "json_schema":
            inner = cast(Mapping[str, Any], spec.get("json_schema", spec))
            return ResponseFormat("json_schema", inner.get("name"), inner.get("schema"), inner.get("strict"))
    raise ConfigurationError(f"response_format {value!r} is not understood", fix="pass an OpenAI response_format")


# -- the request -------------------------------------------------------------------------------------------


def to_core_request(
    messages: tuple[Message, ...],
    base: GenerationSettings,
    stop: Sequence[str] | None,
    kwargs: Mapping[str, Any],
) -> ChatRequest:
    """Build the request for one call: the model's settings with the call's kwargs over them.

    Args:
        messages: The converted history.
        base: The model's own settings (built once per model instance).
        stop: The call's stop sequences (they replace the model's).
        kwargs: LangChain call kwargs: ``model``, ``tools``, ``tool_choice``, ``response_format``, sampling
            settings; unknown keys go to Azure as extra body fields, as AzureChatOpenAI sends them.
    """
    settings = base if stop is None else replace(base, stop=tuple(stop) or None)
    if not kwargs:
        return ChatRequest(messages, settings=settings)
    extra: dict[str, JsonValue] = {}
    changes: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in _LANGCHAIN_KWARGS or key in {
            "model",
            "tools",
            "tool_choice",
            "previous_response_id",
            "store",
        }:
            continue
        _setting(key, value, changes, extra)
    if extra:
        changes["extra_body"] = {**settings.extra_body, **extra}
    if changes:
        settings = replace(settings, **changes)
    tools = kwargs.get("tools")
    model = kwargs.get("model")
    return ChatRequest(
        messages,
        tools=to_core_tools(tools) if tools else (),
        tool_choice=to_core_tool_choice(kwargs.get("tool_choice")),
        settings=settings,
        model=model if isinstance(model, str) else None,
        previous_response_id=kwargs.get("previous_response_id"),
        store=kwargs.get("store"),
    )


def _setting(key: str, value: Any, changes: dict[str, Any], extra: dict[str, JsonValue]) -> None:
    match key:
        case "max_tokens" | "max_completion_tokens" | "max_output_tokens":
            changes["max_tokens"] = value
        case "stop" | "stop_sequences":
            changes["stop"] = (value,) if isinstance(value, str) else tuple(value) if value else None
        case "response_format":
            changes["response_format"] = value if isinstance(value, ResponseFormat) else to_core_response_format(value)
        case "reasoning_effort":
            # Any string: Azure judges values this package does not know yet ("none", "xhigh" ...).
            if value is not None and not isinstance(value, str):
                raise ConfigurationError(f"reasoning_effort {value!r} is not a string", fix="pass e.g. 'low'")
            changes["reasoning_effort"] = value
        case "temperature" | "top_p" | "seed" | "presence_penalty" | "frequency_penalty" | "user" | "logprobs":
            changes[key] = value
        case "parallel_tool_calls":
            changes[key] = value
        case "extra_body":
            extra.update(cast(Mapping[str, JsonValue], value or {}))
        case _:
            extra[key] = cast(JsonValue, value)


# -- results -----------------------------------------------------------------------------------------------


def from_core_usage(usage: Usage) -> UsageMetadata:
    """Token counts as LangChain's ``usage_metadata`` (cache reads and reasoning tokens as details)."""
    # Literals, not the TypedDict calls: the same dicts, built without a call each.
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "input_token_details": {"cache_read": usage.cached_input_tokens},
        "output_token_details": {"reasoning": usage.reasoning_tokens},
    }


def response_metadata(result: ChatResult) -> dict[str, Any]:
    """The ``response_metadata`` of a result: what Azure says about the answer (invoke and stream alike),
    and what it cost (``cost``, see :meth:`shared_core.CallCost.summary`; ``None`` when the result was not priced)."""
    meta: dict[str, Any] = {
        "model_name": result.model,
        "deployment": result.deployment,
        "finish_reason": result.finish_reason,
        "system_fingerprint": result.system_fingerprint,
        "id": result.response_id,
        "request_id": result.request_id,
        "created": result.created,
        "prompt_filter_results": [
            {"prompt_index": p.prompt_index, "content_filter_results": dict(p.content_filter_results)}
            for p in result.prompt_filter_results
        ],
        "content_filter_results": dict(result.content_filter_results),
        "cost": result.cost.summary() if result.cost is not None else None,
    }
    if result.provider_details:
        meta["provider_details"] = dict(result.provider_details)
    if result.repairs:
        meta["conversation_repairs"] = repairs_summary(result.repairs)
    return meta


def _reasoning_kwargs(result: ChatResult) -> dict[str, Any]:
    out: dict[str, Any] = {}
    reasoning: list[ReasoningPart] = []
    audio: AudioPart | None = None
    for part in result.message.parts:
        if isinstance(part, ReasoningPart):
            reasoning.append(part)
        elif audio is None and isinstance(part, AudioPart):
            audio = part
    if reasoning:
        summary = "".join(p.text for p in reasoning)
        if summary:
            out["reasoning_content"] = summary
        items = [{"id": p.id, "text": p.text, "encrypted_content": p.encrypted_content} for p in reasoning if p.id]
        if items:
            out["reasoning_items"] = items
    if result.refusal:
        out["refusal"] = result.refusal
    if audio is not None:
        out["audio"] = audio_kwargs(audio)
    return out


def from_core_result(result: ChatResult, extra_metadata: Mapping[str, Any] | None = None) -> AIMessage:
    """The assistant message of a result, with tool calls, invalid tool calls, usage and response metadata."""
    meta = response_metadata(result)
    if extra_metadata:
        meta.update(extra_metadata)
    return ai_message(result, meta)


def ai_message(result: ChatResult, metadata: dict[str, Any]) -> AIMessage:
    """:func:`from_core_result` with its ``response_metadata`` already built (kept, not copied)."""
    content = result_content(result)
    usage = from_core_usage(result.usage) if result.usage else None
    if not result.tool_calls and not result.invalid_tool_calls and type(content) is str:
        return text_message(content, _reasoning_kwargs(result), usage, metadata, result.response_id)
    if isinstance(content, list):
        metadata["output_version"] = "v1"  # content_blocks returns these v1 blocks as they are
    calls: list[LCToolCall] = [tool_call(name=c.name, args=dict(c.arguments), id=c.id) for c in result.tool_calls]
    bad: list[LCInvalidToolCall] = [
        invalid_tool_call(name=c.name or None, args=c.raw_arguments, id=c.id or None, error=c.error)
        for c in result.invalid_tool_calls
    ]
    return AIMessage(
        content=content,
        additional_kwargs=_reasoning_kwargs(result),
        tool_calls=calls,
        invalid_tool_calls=bad,
        usage_metadata=usage,
        response_metadata=metadata,
        id=result.response_id,
    )
