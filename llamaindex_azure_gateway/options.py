"""Keyword arguments as LlamaIndex passes them (``llm.chat(messages, temperature=0, ...)``, the LLM's
``additional_kwargs``) to the core's :class:`GenerationSettings` and request fields.

Known names become typed settings; any other name is passed through to the request body (``extra_body``), as
llama-index's OpenAI class does, so Azure answers an unknown parameter with its own clear 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

from pydantic import BaseModel

from llamaindex_azure_gateway.content_blocks import refuse_many_choices
from llamaindex_azure_gateway.convert import strict_json_schema, to_core_tool_choice, to_core_tools
from shared_core import ChatRequest, GenerationSettings, Message, ToolSpec
from shared_core.integration import HostedToolSpec, JsonValue, ReasoningEffort, ResponseFormat, ToolChoice

__all__ = ["RequestOptions", "to_core_request", "to_core_response_format", "to_core_settings"]

_FLOATS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
_REQUEST_KEYS = frozenset(
    {"tools", "tool_choice", "model", "previous_response_id", "store", "instructions", "include", "truncation"}
)
_INTS = ("seed", "top_logprobs", "n")
_STRINGS = ("user", "service_tier", "verbosity")


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """What the LLM instance contributes to every request."""

    settings: GenerationSettings
    model: str | None = None


def to_core_settings(options: Mapping[str, Any], base: GenerationSettings) -> GenerationSettings:
    """Apply keyword options over ``base``; unknown names go to ``extra_body``.

    ``base`` itself when no option changes a setting (building settings is the costly part of a call's request).
    """
    changes: dict[str, Any] = {}
    extra: dict[str, JsonValue] | None = None  # base.extra_body's copy, made for the first extra field
    for key, value in options.items():
        if value is None or key in _REQUEST_KEYS:
            continue
        if key in _FLOATS:
            changes[key] = float(value)
        elif key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
            changes["max_tokens"] = int(value)
        elif key == "stop":
            changes["stop"] = (value,) if isinstance(value, str) else tuple(value)
        elif key in _INTS:
            changes[key] = int(value)
        elif key in ("parallel_tool_calls", "logprobs"):
            changes[key] = bool(value)
        elif key == "reasoning_effort":
            changes[key] = cast(ReasoningEffort, value)
        elif key in _STRINGS:
            changes[key] = str(value)
        elif key == "reasoning" and isinstance(value, Mapping):
            changes[key] = dict(cast(Mapping[str, JsonValue], value))
        elif key == "response_format":
            changes[key] = to_core_response_format(value)
        elif key in ("extra_headers", "extra_query"):
            # The openai SDK's per-call arguments, which llama-index passes through to it.
            merged = {**getattr(base, key), **{str(k): str(v) for k, v in cast(Mapping[str, Any], value).items()}}
            changes[key] = merged
        else:
            extra = dict(base.extra_body) if extra is None else extra
            if key == "extra_body":
                extra.update(cast(Mapping[str, JsonValue], value))
            else:
                extra[key] = cast(JsonValue, value)
    if extra is not None:
        changes["extra_body"] = extra
    return replace(base, **changes) if changes else base


def to_core_response_format(value: object) -> ResponseFormat:
    """A response format from a ``ResponseFormat``, a pydantic class, or the OpenAI dict shapes."""
    if isinstance(value, ResponseFormat):
        return value
    if isinstance(value, type) and issubclass(value, BaseModel):
        schema = cast(dict[str, JsonValue], value.model_json_schema())
        return ResponseFormat("json_schema", name=value.__name__, schema=strict_json_schema(schema), strict=True)
    if isinstance(value, Mapping):
        fmt = cast(Mapping[str, Any], value)
        kind = fmt.get("type")
        if kind in ("text", "json_object"):
            return ResponseFormat(kind)
        if kind == "json_schema":
            body = cast(Mapping[str, Any], fmt.get("json_schema", fmt))
            strict = body.get("strict")
            return ResponseFormat(
                "json_schema",
                name=body.get("name"),
                schema=body.get("schema"),
                strict=strict if isinstance(strict, bool) else None,
            )
    raise TypeError(
        f"response_format must be a pydantic class, ResponseFormat, or {{'type': 'json_object' | 'json_schema', ...}}, "
        f"got {value!r}"
    )


def to_core_request(messages: tuple[Message, ...], options: Mapping[str, Any], defaults: RequestOptions) -> ChatRequest:
    """Build a request from converted messages, per-call keyword options and the instance's defaults."""
    if not options:  # a plain chat call: the instance's settings as they are
        refuse_many_choices(defaults.settings)
        return ChatRequest(messages=messages, settings=defaults.settings, model=defaults.model)
    tools: tuple[ToolSpec | HostedToolSpec, ...] = ()
    raw_tools = options.get("tools")
    if raw_tools:
        tools = to_core_tools(list(cast(list[object], raw_tools)))
    tool_choice: ToolChoice | None = None
    if tools and options.get("tool_choice") is not None:
        tool_choice = to_core_tool_choice(options["tool_choice"])
    model = options.get("model")
    store = options.get("store")
    previous = options.get("previous_response_id")
    settings = to_core_settings(options, defaults.settings)
    refuse_many_choices(settings)
    instructions = options.get("instructions")
    truncation = options.get("truncation")
    return ChatRequest(
        messages=messages,
        tools=tools,
        tool_choice=tool_choice,
        settings=settings,
        model=str(model) if model else defaults.model,
        previous_response_id=str(previous) if previous else None,
        store=bool(store) if store is not None else None,
        instructions=str(instructions) if instructions is not None else None,
        include=tuple(str(i) for i in options.get("include") or ()),
        truncation=str(truncation) if truncation is not None else None,
    )
