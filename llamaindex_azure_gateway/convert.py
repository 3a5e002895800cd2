"""LlamaIndex chat types to the core's: messages and blocks, tools and tool choice; and a response's tool calls.

Into the core (``to_core_*``): every block kind Azure can carry is converted; one it cannot carry raises
:class:`UnsupportedContentError` naming the message and the block, never dropped silently. Out of the core:
``chat_response.py`` builds the ``ChatResponse`` (``from_core_result``, re-exported here); a response's tool calls
become ``ToolSelection`` s here (:func:`tool_selections_from_response`), and a call whose arguments are not a JSON
object is reported (:class:`InvalidToolCallError`), never run.
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
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.tools.types import BaseTool

from llamaindex_azure_gateway.chat_response import from_core_result  # re-exported: the stream module imports it here
from llamaindex_azure_gateway.content_blocks import (
    assistant_extra_parts,
    is_repeated_output,
    user_media_part,
)
from shared_core import (
    AudioPart,
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
    tool_from_dict,
)

__all__ = [
    "InvalidToolCallError",
    "UnsupportedContentError",
    "from_core_result",
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

# By enum member: MessageRole.value is a descriptor call on every read.
_MEMBER_ROLES: Mapping[object, Role] = {
    member: _ROLES[member.value] for member in MessageRole if member.value in _ROLES
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
    role = _MEMBER_ROLES.get(message.role) or _role(index, message.role)
    if role == "tool":
        return _to_core_tool_message(index, message)
    parts: list[MessagePart] = []
    for block in message.blocks:
        if type(block) is TextBlock:  # the usual block, before the media checks (isinstance through ABCMeta)
            parts.append(TextPart(block.text))
            continue
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


def _role(index: int, value: object) -> Role:
    role_name = value.value if isinstance(value, MessageRole) else str(value)
    role = _ROLES.get(role_name)
    if role is None:
        raise UnsupportedContentError(
            f"message {index} has role {role_name!r}, which Azure OpenAI does not know", index=index, block_type="role"
        )
    return role


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


# -- tool calls of a response -----------------------------------------------------------------------------


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
