"""Responses API request bodies in tests: read a recorded body back into neutral types, and check a body
against the openai SDK's generated request type.

``parse_request_body`` is written from the wire format, independently of ``shared_core.wire.responses``, so
that re-encoding its result and comparing with what the real client sent tests the codec. A body that uses
something our neutral types cannot hold raises :class:`Inexpressible` with the reason.

``assert_valid_request_body`` validates against ``openai.types.responses.ResponseCreateParams`` (a TypedDict
union) with pydantic, extra keys forbidden. pydantic validates ``Iterable[...]`` fields lazily, so the
validated value is walked to force every nested iterator (otherwise a bad tool would pass).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shared_core.messages import ImagePart, Message, MessagePart, ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from shared_core.request import ChatRequest, GenerationSettings, NamedToolChoice, ResponseFormat, ToolChoice, ToolSpec


class Inexpressible(Exception):
    """The recorded body uses something ChatRequest cannot hold (the message says what)."""


@dataclass(frozen=True)
class ParsedBody:
    """A recorded body in neutral types, with the stream flag it was sent with."""

    request: ChatRequest
    stream: bool


_SETTING_KEYS = {"max_output_tokens", "temperature", "top_p", "parallel_tool_calls", "user", "reasoning", "text"}
_REQUEST_KEYS = {"model", "input", "tools", "tool_choice", "stream", "store", "previous_response_id"}


def parse_request_body(body: dict[str, Any]) -> ParsedBody:
    """Read a recorded ``/responses`` request body into a :class:`ChatRequest`.

    Raises:
        Inexpressible: A key, item type, tool type or tool choice our types cannot hold.
    """
    unknown = set(body) - _SETTING_KEYS - _REQUEST_KEYS
    if unknown:
        raise Inexpressible(f"top-level keys {sorted(unknown)}")
    choice = _tool_choice(body["tool_choice"]) if "tool_choice" in body else None
    request = ChatRequest(
        messages=_messages(body["input"]),
        tools=tuple(_tool(t) for t in body.get("tools", [])),
        tool_choice=choice,
        settings=_settings(body),
        model=body.get("model"),
        previous_response_id=body.get("previous_response_id"),
        store=body.get("store"),
    )
    return ParsedBody(request, stream=body.get("stream") is True)


def _settings(body: dict[str, Any]) -> GenerationSettings:
    reasoning = body.get("reasoning") or {}
    if set(reasoning) - {"effort"}:
        raise Inexpressible(f"reasoning keys {sorted(reasoning)}")
    fmt = body.get("text", {}).get("format")
    if set(body.get("text", {})) - {"format"}:
        raise Inexpressible(f"text keys {sorted(body['text'])}")
    return GenerationSettings(
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        max_tokens=body.get("max_output_tokens"),
        parallel_tool_calls=body.get("parallel_tool_calls"),
        user=body.get("user"),
        reasoning_effort=reasoning.get("effort"),
        response_format=_format(fmt) if fmt is not None else None,
    )


def _format(fmt: dict[str, Any]) -> ResponseFormat:
    if fmt["type"] in {"text", "json_object"}:
        return ResponseFormat(fmt["type"])
    if fmt["type"] == "json_schema":
        if set(fmt) - {"type", "name", "schema", "strict", "description"}:
            raise Inexpressible(f"json_schema keys {sorted(fmt)}")
        return ResponseFormat(
            "json_schema",
            name=fmt["name"],
            schema=fmt["schema"],
            strict=fmt.get("strict"),
            description=fmt.get("description"),
        )
    raise Inexpressible(f"text.format type {fmt['type']!r}")


def _tool(tool: dict[str, Any]) -> ToolSpec:
    if tool.get("type") != "function" or set(tool) - {"type", "name", "description", "parameters", "strict"}:
        raise Inexpressible(f"tool {tool.get('type')!r} with keys {sorted(tool)}")
    return ToolSpec(tool["name"], tool.get("description"), tool["parameters"], tool.get("strict"))


def _tool_choice(choice: Any) -> ToolChoice:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and set(choice) == {"type", "name"}:
        return NamedToolChoice(choice["name"])
    raise Inexpressible(f"tool_choice {choice if isinstance(choice, str) else choice.get('type')!r}")


def _messages(items: Any) -> tuple[Message, ...]:
    if isinstance(items, str):
        raise Inexpressible("input as a bare string (encoded back as a list of items)")
    out: list[Message] = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            out.append(Message(item["role"], _content(item)))
        elif kind == "function_call":
            _append_assistant(out, ToolCallPart(item["call_id"], item["name"], item["arguments"]))
        elif kind == "function_call_output":
            if not isinstance(item["output"], str):
                raise Inexpressible("function_call_output with a list output")
            out.append(Message("tool", (ToolResultPart(item["call_id"], item["output"]),)))
        elif kind == "reasoning":
            summary = "".join(s["text"] for s in item.get("summary", []))
            _append_assistant(out, ReasoningPart(summary, item["id"], item.get("encrypted_content")))
        else:
            raise Inexpressible(f"input item type {kind!r}")
    return tuple(out)


def _append_assistant(out: list[Message], part: MessagePart) -> None:
    """Tool calls and reasoning belong to the assistant turn they follow (a new turn when none does)."""
    if out and out[-1].role == "assistant":
        out[-1] = Message("assistant", (*out[-1].parts, part))
    else:
        out.append(Message("assistant", (part,)))


def _content(item: dict[str, Any]) -> tuple[MessagePart, ...]:
    content = item["content"]
    if isinstance(content, str):
        return (TextPart(content),)
    parts: list[MessagePart] = []
    for part in content:
        if part["type"] in {"input_text", "output_text"}:
            parts.append(TextPart(part["text"]))
        elif part["type"] == "input_image" and "image_url" in part:
            parts.append(ImagePart(part["image_url"], part.get("detail")))
        else:
            raise Inexpressible(f"content part {part['type']!r}")
    return tuple(parts)


@functools.cache
def _request_adapter() -> Any:
    from openai.types.responses.response_create_params import (
        ResponseCreateParamsNonStreaming,
        ResponseCreateParamsStreaming,
    )
    from pydantic import ConfigDict, TypeAdapter

    union: Any = ResponseCreateParamsNonStreaming | ResponseCreateParamsStreaming
    return TypeAdapter(union, config=ConfigDict(extra="forbid"))


def _drain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_drain(v) for v in value]
    if isinstance(value, Iterator):
        return [_drain(v) for v in value]
    return value


def assert_valid_request_body(body: Any) -> None:
    """Validate a body against the SDK's ``ResponseCreateParams``; raises pydantic's ValidationError."""
    _drain(_request_adapter().validate_python(body))
