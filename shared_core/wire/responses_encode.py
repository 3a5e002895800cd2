"""ChatRequest -> Responses API request (``/openai/responses`` preview, ``/openai/v1/responses`` GA).

Shapes follow what real clients sent to Azure (the recordings in ``azure-recordings``): a text-only turn is
the short ``{"role": ..., "content": "<text>"}`` item, a turn with images is a ``"type": "message"`` item
with ``input_text`` / ``input_image`` parts, tool calls and results are ``function_call`` /
``function_call_output`` items. System and developer text stay input items with their own role (no client
in the recordings used ``instructions``, and an item keeps its place in the conversation).

Parameters the Responses API does not have (``stop``, ``seed``, ``presence_penalty``,
``frequency_penalty``, ``n``) and parameters a reasoning model rejects (``temperature``, ``top_p``) are dropped
with a warning that names the parameter and the model: the same :class:`ChatRequest` must work on both API
shapes, and Azure answers an unknown parameter with a 400.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import assert_never

from shared_core.deployments import ResolvedDeployment
from shared_core.errors import ConfigurationError, UnsupportedContentError, UnsupportedParameterError
from shared_core.messages import (
    AudioPart,
    FilePart,
    HostedToolPart,
    ImagePart,
    JsonValue,
    Message,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from shared_core.request import ChatRequest, HostedToolChoice, NamedToolChoice, ResponseFormat, ToolChoice, ToolSpec
from shared_core.wire.envelope import EncodedRequest, route_family
from shared_core.wire.hosted_tools import USER_HOSTED_ITEM_TYPES, encode_hosted_tool, replay_item
from shared_core.wire.media import check_media, responses_file_part

__all__ = ["MIN_PREVIEW_API_VERSION", "encode_request"]

_log = logging.getLogger("shared_core.wire")

MIN_PREVIEW_API_VERSION = "2025-03-01-preview"
"""The first api-version that serves ``/openai/responses`` on the preview route."""

_API_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")

JsonObject = dict[str, JsonValue]


def encode_request(
    request: ChatRequest, target: ResolvedDeployment, *, api_version: str, stream: bool
) -> EncodedRequest:
    """Encode a request for the Responses API.

    Args:
        request: The neutral request.
        target: The deployment (``model`` in the body) and the model profile whose rules apply.
        api_version: ``v1`` / ``latest`` / ``preview`` for the GA ``/openai/v1/responses`` route, or a dated
            version (``2025-03-01-preview`` or later) for ``/openai/responses?api-version=``.
        stream: Ask for a server-sent event stream.

    Returns:
        The path, query and body; ``warnings`` lists every parameter that was dropped, naming the model.

    Raises:
        UnsupportedParameterError: A dated api-version older than ``2025-03-01-preview`` (checked before
            anything is sent).
        UnsupportedContentError: A message holds content the Responses API cannot carry (an image in an assistant
            turn, a tool call outside one).
        ConfigurationError: A ``json_schema`` response format without a name or schema.
    """
    path, query = _route(api_version, target)
    check_media(request.messages, target)
    warnings: list[str] = []
    body: JsonObject = {"model": target.deployment, "input": _encode_input(request.messages, warnings)}
    _encode_settings(request, target, body, warnings)
    _encode_tools(request, body)
    if request.previous_response_id is not None:
        body["previous_response_id"] = request.previous_response_id
    if request.store is not None:
        body["store"] = request.store
    if request.instructions is not None:
        body["instructions"] = request.instructions
    if request.truncation is not None:
        body["truncation"] = request.truncation
    if stream:
        body["stream"] = True
    merged = _merge_extra(body, request.settings.extra_body)
    for warning in warnings:
        _log.warning("%s", warning)
    return EncodedRequest(
        path=path,
        query=query,
        body=merged,
        stream=stream,
        api="responses",
        deployment=target.deployment,
        warnings=tuple(warnings),
    )


def _route(api_version: str, target: ResolvedDeployment) -> tuple[str, dict[str, str]]:
    if route_family(api_version) == "v1":
        return "/openai/v1/responses", {}
    match = _API_DATE.match(api_version)
    minimum = _API_DATE.match(MIN_PREVIEW_API_VERSION)
    assert minimum is not None
    if match is None or match.groups() < minimum.groups():
        raise UnsupportedParameterError(
            f"the Responses API needs api-version {MIN_PREVIEW_API_VERSION} or later (or 'v1' for the GA "
            f"/openai/v1/responses route); got api-version {api_version!r}",
            parameter="api-version",
            model=target.model,
            api_version=api_version,
            deployment=target.deployment,
        )
    return "/openai/responses", {"api-version": api_version}


def _encode_tools(request: ChatRequest, body: JsonObject) -> None:
    """``tools`` (function tools and the tools Azure runs itself) and ``tool_choice``."""
    if request.tools:
        body["tools"] = [
            _encode_tool(tool) if isinstance(tool, ToolSpec) else encode_hosted_tool(tool) for tool in request.tools
        ]
    if request.tool_choice is not None:
        body["tool_choice"] = _encode_tool_choice(request.tool_choice)


# --- input items -------------------------------------------------------------------------------------


def _encode_input(messages: tuple[Message, ...], warnings: list[str]) -> list[JsonValue]:
    items: list[JsonValue] = []
    for message in messages:
        if message.name is not None:
            warnings.append(
                f"the Responses API has no message 'name'; dropped name {message.name!r} of a {message.role} message"
            )
        items.extend(_encode_message(message))
    return items


def _encode_message(message: Message) -> list[JsonValue]:
    """One message -> input items, in part order.

    Consecutive content parts (text, images) form one message item; tool calls, tool results and reasoning
    are items of their own, because that is how the Responses API models them.
    """
    items: list[JsonValue] = []
    content: list[_ContentPart] = []
    for part in message.parts:
        match part:
            case TextPart() | ImagePart() | FilePart():
                _check_content_part(message, part)
                content.append(part)
                continue
            case AudioPart():
                raise UnsupportedContentError(
                    f"a {message.role} message holds audio, which the Responses API cannot carry (its input takes "
                    "text, images and files). Fix: use Chat Completions with an audio deployment "
                    "(gpt-4o-audio-preview ...), or send a transcript as text",
                    block_type="audio",
                )
            case HostedToolPart():
                _check_hosted(message, part)
                item = replay_item(part)
            case ToolCallPart():
                _require_role(message, part.kind, "assistant")
                item = _function_call(part)
            case ToolResultPart():
                item = _function_call_output(part)
            case ReasoningPart():
                _require_role(message, part.kind, "assistant")
                reasoning = _reasoning_item(part)
                if reasoning is None:
                    continue
                item = reasoning
            case _:
                assert_never(part)
        if content:
            items.append(_message_item(message, content))
            content = []
        items.append(item)
    if content:
        items.append(_message_item(message, content))
    return items


_ContentPart = TextPart | ImagePart | FilePart


def _check_hosted(message: Message, part: HostedToolPart) -> None:
    expected = "user" if part.item_type in USER_HOSTED_ITEM_TYPES else "assistant"
    if message.role != expected:
        raise UnsupportedContentError(
            f"a {message.role} message holds a {part.item_type or 'hosted tool'} item; only {expected} messages "
            "can carry one (Azure's own tool items come back in the assistant turn, approvals in a user turn)",
            block_type=part.item_type or part.kind,
        )


def _check_content_part(message: Message, part: TextPart | ImagePart | FilePart) -> None:
    if message.role == "tool":
        raise UnsupportedContentError(
            f"a tool message holds a {part.kind} part; the Responses API carries tool output only as "
            "function_call_output (put the text in the ToolResultPart's content)",
            block_type=part.kind,
        )
    if isinstance(part, ImagePart | FilePart) and message.role == "assistant":
        raise UnsupportedContentError(
            f"an assistant message holds a {part.kind} part; the Responses API accepts images and files only as input",
            block_type=part.kind,
        )


def _require_role(message: Message, kind: str, role: str) -> None:
    if message.role != role:
        raise UnsupportedContentError(
            f"a {message.role} message holds a {kind} part; only {role} messages can carry one", block_type=kind
        )


def _message_item(message: Message, content: list[_ContentPart]) -> JsonObject:
    role = message.role
    if all(isinstance(p, TextPart) for p in content):
        # The short form is what clients send for text (recordings): {"role", "content": "<text>"}.
        return {"role": role, "content": "".join(p.text for p in content if isinstance(p, TextPart))}
    parts: list[JsonValue] = []
    for part in content:
        if isinstance(part, TextPart):
            parts.append({"type": "input_text", "text": part.text})
        elif isinstance(part, FilePart):
            parts.append(responses_file_part(part))
        else:
            # `detail` is required by the API schema; "auto" is Azure's own default.
            parts.append({"type": "input_image", "image_url": part.url, "detail": part.detail or "auto"})
    return {"type": "message", "role": role, "content": parts}


def _function_call(part: ToolCallPart) -> JsonObject:
    # The output item id (fc_...) is not kept in our types and is optional on input; call_id links the result.
    return {"type": "function_call", "call_id": part.id, "name": part.name, "arguments": part.arguments}


def _function_call_output(part: ToolResultPart) -> JsonObject:
    return {"type": "function_call_output", "call_id": part.tool_call_id, "output": part.content}


def _reasoning_item(part: ReasoningPart) -> JsonObject | None:
    """A reasoning item to send back, or ``None`` when the part has no ``rs_`` id.

    Azure accepts a reasoning item only with the id it issued (the item points at stored or encrypted
    reasoning state); summary-only reasoning (from Chat Completions, or a stream cut before the item ended)
    cannot be replayed, and turning it into text would change what the model sees. It is left out.
    """
    if part.id is None:
        return None
    summary: list[JsonValue] = [{"type": "summary_text", "text": part.text}] if part.text else []
    item: JsonObject = {"type": "reasoning", "id": part.id, "summary": summary}
    if part.encrypted_content is not None:
        item["encrypted_content"] = part.encrypted_content
    return item


# --- settings ----------------------------------------------------------------------------------------


def _encode_settings(request: ChatRequest, target: ResolvedDeployment, body: JsonObject, warnings: list[str]) -> None:
    s = request.settings
    profile = target.profile
    model = target.model or target.deployment
    sampling = (("temperature", s.temperature, profile.accepts_temperature), ("top_p", s.top_p, profile.accepts_top_p))
    for name, value, accepted in sampling:
        if value is None:
            continue
        if accepted:
            body[name] = value
        else:
            warnings.append(f"model {model!r} is a reasoning model and rejects '{name}'; dropped {name}={value}")
    if s.max_tokens is not None:
        body["max_output_tokens"] = s.max_tokens
    unsupported: dict[str, object] = {
        "stop": s.stop,
        "seed": s.seed,
        "presence_penalty": s.presence_penalty,
        "frequency_penalty": s.frequency_penalty,
        "n": s.n,
    }
    for name, value in unsupported.items():
        if value is not None:
            warnings.append(f"the Responses API has no '{name}' parameter; dropped it for model {model!r}")
    reasoning = _reasoning(s.reasoning, s.reasoning_effort)
    if reasoning:
        known_non_reasoning = profile.family != "unknown" and not profile.supports_reasoning_effort
        if known_non_reasoning:
            warnings.append(
                f"model {model!r} does not take 'reasoning_effort' / 'reasoning' ({sorted(reasoning)}); dropped it"
            )
        else:
            body["reasoning"] = reasoning
    if s.response_format is not None or s.verbosity is not None:
        body["text"] = _encode_text(s.response_format, s.verbosity)
    passthrough: tuple[tuple[str, JsonValue], ...] = (
        ("parallel_tool_calls", s.parallel_tool_calls),
        ("user", s.user),
        ("top_logprobs", s.top_logprobs),
        ("service_tier", s.service_tier),
    )
    for name, value in passthrough:
        if value is not None:
            body[name] = value
    include = _include(request, target)
    if include:
        body["include"] = include


def _encode_text(fmt: ResponseFormat | None, verbosity: str | None) -> JsonObject:
    """The ``text`` object: the output format (``response_format`` on Chat Completions) and its verbosity."""
    text: JsonObject = {}
    if fmt is not None:
        text["format"] = _encode_format(fmt)
    if verbosity is not None:
        text["verbosity"] = verbosity
    return text


def _reasoning(reasoning: Mapping[str, JsonValue] | None, effort: str | None) -> JsonObject:
    """The ``reasoning`` object: the one given, with ``reasoning_effort`` as its ``effort`` when given."""
    out: JsonObject = dict(reasoning or {})
    if effort is not None:
        out["effort"] = effort
    return out


def _include(request: ChatRequest, target: ResolvedDeployment) -> list[JsonValue]:
    include: list[JsonValue] = list(request.include)
    # With store=false Azure keeps no reasoning state, so the next turn can replay a reasoning item only if
    # it carries the encrypted reasoning; ask for it whenever a reasoning model answers statelessly.
    if request.store is False and target.profile.reasoning:
        include.append("reasoning.encrypted_content")
    # Responses has no `logprobs` flag: log probabilities are an includable of the output text.
    if request.settings.logprobs:
        include.append("message.output_text.logprobs")
    return list(dict.fromkeys(include))


def _encode_format(fmt: ResponseFormat) -> JsonObject:
    if fmt.type != "json_schema":
        return {"type": fmt.type}
    if not fmt.name or fmt.schema is None:
        raise ConfigurationError(
            "a json_schema response format needs a name and a schema",
            source="ResponseFormat",
            fix="pass ResponseFormat('json_schema', name='MyType', schema={...})",
        )
    out: JsonObject = {"type": "json_schema", "name": fmt.name, "schema": dict(fmt.schema)}
    if fmt.description is not None:
        out["description"] = fmt.description
    if fmt.strict is not None:
        out["strict"] = fmt.strict
    return out


def _encode_tool(tool: ToolSpec) -> JsonObject:
    # `strict` unset means false, as on Chat Completions: the Responses API would otherwise default to strict
    # schemas and reject a tool that works on the chat route (the API schema also requires the key).
    out: JsonObject = {"type": "function", "name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    out["parameters"] = dict(tool.parameters)
    out["strict"] = bool(tool.strict)
    return out


def _encode_tool_choice(choice: ToolChoice) -> JsonValue:
    if isinstance(choice, NamedToolChoice):
        return {"type": "function", "name": choice.name}
    if isinstance(choice, HostedToolChoice):
        return {"type": choice.type}
    return choice


def _merge_extra(body: JsonObject, extra: Mapping[str, JsonValue]) -> JsonObject:
    """``extra_body`` wins; where both sides hold an object, the objects are merged key by key.

    So ``extra_body={"reasoning": {"summary": "auto"}}`` adds a summary request without losing the
    encoded ``reasoning.effort``.
    """
    out = dict(body)
    for key, value in extra.items():
        before = out.get(key)
        if isinstance(before, dict) and isinstance(value, dict):
            out[key] = _merge_extra(before, value)
        else:
            out[key] = value
    return out
