"""ChatRequest -> Azure Chat Completions request (classic deployment route and GA ``/openai/v1``).

Decisions, with the Azure behaviour behind each:

- ``model`` is sent only on ``/openai/v1``, where it names the deployment. On the classic route the deployment
  in the path decides and Azure ignores ``model``: the recorded clients send it anyway, sometimes with a value
  unrelated to the deployment (dd-trace sent ``gpt-3.5-turbo`` to deployment ``gpt-4.1-mini`` and got a
  ``gpt-4.1-mini`` answer), so sending it would only mislead whoever reads the body.
- ``max_completion_tokens`` replaces ``max_tokens`` from api-version 2024-08-01-preview on (``v1`` counts as
  new) and always when the model profile demands it (reasoning models reject ``max_tokens`` with a 400).
- Reasoning models reject ``temperature`` / ``top_p``, and non-reasoning models reject ``reasoning_effort``:
  those are dropped, with a warning naming the model (in ``EncodedRequest.warnings`` and on the
  ``shared_core.wire`` logger). ``response_format: json_schema`` on an api-version before 2024-08-01-preview
  is refused before sending, naming the minimum version.
- ``tool_choice`` and ``parallel_tool_calls`` are sent only with tools: Azure answers them without tools with a
  400, and frameworks set them globally.
- A ``developer`` message is sent as ``developer`` only to a reasoning model on api-version 2024-12-01-preview
  or later (or ``v1``); otherwise as ``system``. Older api-versions reject the role outright, and for other
  models OpenAI defines ``developer`` as a synonym of ``system``, so ``system`` is the form every route takes.
- Reasoning parts in an assistant turn of the history are omitted: Chat Completions has no field for them, and
  reasoning that a previous (Responses) turn returned is routinely handed back by frameworks. Omitting it loses
  nothing Azure could use. Every other part an API slot cannot carry (an image in a system or tool message, a
  tool call in a user message ...) raises :class:`UnsupportedContentError` naming the message index and part kind.
- A ``tool`` message holds one or more tool results; each becomes its own wire message. ``is_error`` has no
  wire field: the result's text carries the failure. Chat Completions tool messages have no ``name``.
- ``extra_body`` is merged last and wins over anything encoded here.
- ``reasoning_effort`` is sent as given (any string, so Azure judges values this package does not know, such as
  ``none`` or ``xhigh``); the Responses-shaped ``reasoning`` object contributes its ``effort`` when
  ``reasoning_effort`` is unset, and its other keys (``summary``) have no Chat Completions field: dropped with
  a warning.
"""

from __future__ import annotations

import logging
import re
from typing import assert_never
from urllib.parse import quote

from shared_core.deployments import ResolvedDeployment
from shared_core.errors import (
    ConfigurationError,
    ConversationError,
    UnsupportedContentError,
    UnsupportedParameterError,
)
from shared_core.messages import (
    AudioPart,
    FilePart,
    HostedToolPart,
    ImagePart,
    JsonValue,
    Message,
    MessagePart,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from shared_core.request import (
    ChatRequest,
    GenerationSettings,
    HostedToolChoice,
    NamedToolChoice,
    ResponseFormat,
    ToolChoice,
    ToolSpec,
)
from shared_core.wire.envelope import EncodedRequest, route_family
from shared_core.wire.hosted_tools import refuse_hosted_on_chat
from shared_core.wire.media import chat_assistant_audio, chat_file_part, check_media, input_audio_part

__all__ = [
    "DEVELOPER_ROLE_API_VERSION",
    "JSON_SCHEMA_API_VERSION",
    "MAX_COMPLETION_TOKENS_API_VERSION",
    "encode_messages",
    "encode_request",
]

_log = logging.getLogger("shared_core.wire")

MAX_COMPLETION_TOKENS_API_VERSION = "2024-08-01-preview"
"""The first api-version that takes ``max_completion_tokens`` in place of ``max_tokens``."""
JSON_SCHEMA_API_VERSION = "2024-08-01-preview"
"""The first api-version that accepts ``response_format: json_schema``."""
DEVELOPER_ROLE_API_VERSION = "2024-12-01-preview"
"""The first api-version that accepts the ``developer`` role."""

_API_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")

JsonObject = dict[str, JsonValue]


def encode_request(
    request: ChatRequest, target: ResolvedDeployment, *, api_version: str, stream: bool
) -> EncodedRequest:
    """Encode a request for Chat Completions.

    Args:
        request: The neutral request.
        target: The deployment (URL, or ``model`` on ``/openai/v1``) and the model profile whose rules apply.
        api_version: A dated api-version for the classic route, or ``v1`` / ``latest`` / ``preview`` for the GA
            ``/openai/v1/chat/completions`` route.
        stream: Ask for a server-sent event stream (always with usage in the last chunk).

    Returns:
        The path, query and body; ``warnings`` lists every parameter that was dropped, naming the model.

    Raises:
        UnsupportedParameterError: ``json_schema`` output on an api-version before 2024-08-01-preview.
        UnsupportedContentError: A message holds a part its role cannot carry on Chat Completions.
        ConfigurationError: A ``json_schema`` response format without a name or schema.
    """
    refuse_hosted_on_chat(request, target.deployment)
    check_media(request.messages, target)
    v1 = route_family(api_version) == "v1"
    developer_role = target.profile.reasoning and _at_least(api_version, DEVELOPER_ROLE_API_VERSION)
    warnings: list[str] = []
    body: JsonObject = {"model": target.deployment} if v1 else {}
    body["messages"] = encode_messages(request.messages, developer_role=developer_role)
    if request.tools:
        _encode_tools(request, body)
    _encode_settings(request.settings, target, api_version, body, warnings)
    if request.store is not None:
        body["store"] = request.store
    if stream:
        body["stream"] = True
        # Without include_usage Azure sends no usage on a stream at all (and some clients forget to ask).
        body["stream_options"] = {"include_usage": True}
    body.update(request.settings.extra_body)
    for warning in warnings:
        _log.warning(warning)
    path, query = _route(target.deployment, api_version, v1)
    return EncodedRequest(
        path=path,
        query=query,
        body=body,
        stream=stream,
        api="chat",
        deployment=target.deployment,
        warnings=tuple(warnings),
    )


def _route(deployment: str, api_version: str, v1: bool) -> tuple[str, dict[str, str]]:
    """The path and query: the GA ``/openai/v1`` route, or the classic route with the deployment in the path."""
    if v1:
        return "/openai/v1/chat/completions", {}
    return f"/openai/deployments/{quote(deployment, safe='')}/chat/completions", {"api-version": api_version}


def _encode_tools(request: ChatRequest, body: JsonObject) -> None:
    """``tools``, with ``tool_choice`` and ``parallel_tool_calls``: sent only with tools (see the module docstring)."""
    body["tools"] = [_encode_tool(tool) for tool in request.tools if isinstance(tool, ToolSpec)]
    if request.tool_choice is not None:
        body["tool_choice"] = _encode_tool_choice(request.tool_choice)
    if request.settings.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = request.settings.parallel_tool_calls


def _at_least(api_version: str, minimum: str) -> bool:
    """Whether ``api_version`` is ``minimum`` or newer, comparing release dates (``v1`` and unknown: newest)."""
    if route_family(api_version) == "v1" or not _API_DATE.match(api_version):
        return True
    return api_version[:10] >= minimum[:10]


def _encode_settings(
    settings: GenerationSettings,
    target: ResolvedDeployment,
    api_version: str,
    body: JsonObject,
    warnings: list[str],
) -> None:
    profile = target.profile
    model = target.model or target.deployment
    _sampling(
        body,
        "temperature",
        settings.temperature,
        accepted=profile.accepts_temperature,
        target=target,
        warnings=warnings,
    )
    _sampling(body, "top_p", settings.top_p, accepted=profile.accepts_top_p, target=target, warnings=warnings)
    if settings.max_tokens is not None:
        param = profile.token_limit_param or (
            "max_completion_tokens" if _at_least(api_version, MAX_COMPLETION_TOKENS_API_VERSION) else "max_tokens"
        )
        body[param] = settings.max_tokens
    if settings.stop:
        body["stop"] = list(settings.stop)
    passthrough: tuple[tuple[str, JsonValue], ...] = (
        ("seed", settings.seed),
        ("presence_penalty", settings.presence_penalty),
        ("frequency_penalty", settings.frequency_penalty),
        ("user", settings.user),
        ("logprobs", settings.logprobs),
        ("top_logprobs", settings.top_logprobs),
        ("n", settings.n),
        ("service_tier", settings.service_tier),
        ("verbosity", settings.verbosity),
    )
    for name, value in passthrough:
        if value is not None:
            body[name] = value
    if settings.response_format is not None:
        body["response_format"] = _encode_response_format(settings.response_format, target, api_version)
    effort = _effort(settings, model, warnings)
    if effort is not None:
        if profile.supports_reasoning_effort:
            body["reasoning_effort"] = effort
        else:
            warnings.append(
                f"reasoning_effort={effort!r} was not sent: model {model!r} "
                f"(deployment {target.deployment!r}) is not a reasoning model and Azure rejects it"
            )


def _effort(settings: GenerationSettings, model: str, warnings: list[str]) -> JsonValue:
    """``reasoning_effort``, else the ``effort`` of a Responses-shaped ``reasoning`` object."""
    reasoning = settings.reasoning or {}
    others = sorted(k for k in reasoning if k != "effort")
    if others:
        warnings.append(
            f"reasoning {others} has no Chat Completions field and was not sent for model {model!r}; "
            "use the Responses API for reasoning summaries"
        )
    if settings.reasoning_effort is not None:
        return settings.reasoning_effort
    return reasoning.get("effort")


def _sampling(
    body: JsonObject,
    name: str,
    value: float | None,
    *,
    accepted: bool,
    target: ResolvedDeployment,
    warnings: list[str],
) -> None:
    if value is None:
        return
    if accepted:
        body[name] = value
        return
    model = target.model or target.deployment
    warnings.append(
        f"{name}={value} was not sent: reasoning model {model!r} (deployment {target.deployment!r}) "
        f"accepts only the default {name}"
    )


def _encode_response_format(fmt: ResponseFormat, target: ResolvedDeployment, api_version: str) -> JsonValue:
    if fmt.type != "json_schema":
        return {"type": fmt.type}
    if not _at_least(api_version, JSON_SCHEMA_API_VERSION):
        raise UnsupportedParameterError(
            f"response_format json_schema needs api-version {JSON_SCHEMA_API_VERSION} or later; "
            f"this request uses {api_version!r}. Use a newer api-version, or response_format json_object",
            parameter="response_format",
            model=target.model,
            api_version=api_version,
            deployment=target.deployment,
        )
    if not fmt.name or fmt.schema is None:
        raise ConfigurationError(
            "response_format json_schema needs both a name and a schema",
            fix="pass ResponseFormat('json_schema', name='MyModel', schema={...})",
        )
    schema: JsonObject = {"name": fmt.name, "schema": dict(fmt.schema)}
    if fmt.description is not None:
        schema["description"] = fmt.description
    if fmt.strict is not None:
        schema["strict"] = fmt.strict
    return {"type": "json_schema", "json_schema": schema}


def _encode_tool(tool: ToolSpec) -> JsonValue:
    function: JsonObject = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    function["parameters"] = dict(tool.parameters)
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _encode_tool_choice(choice: ToolChoice) -> JsonValue:
    if isinstance(choice, NamedToolChoice):
        return {"type": "function", "function": {"name": choice.name}}
    if isinstance(choice, HostedToolChoice):
        raise UnsupportedParameterError(
            f"tool_choice forces {choice.type!r}, a tool Azure runs itself, which only the Responses API carries. "
            "Fix: use the Responses API (use_responses_api=True), or choose a function tool",
            parameter="tool_choice",
        )
    return choice


def encode_messages(messages: tuple[Message, ...], *, developer_role: bool = False) -> list[JsonValue]:
    """Encode the conversation as Chat Completions ``messages``.

    Args:
        messages: The conversation, oldest first.
        developer_role: Send ``developer`` messages with their own role (else as ``system``).

    Raises:
        UnsupportedContentError: A message holds a part its role cannot carry, naming the message index and part kind.
    """
    out: list[JsonValue] = []
    for index, message in enumerate(messages):
        match message.role:
            case "system":
                out.append(_encode_instruction(message, index, "system"))
            case "developer":
                out.append(_encode_instruction(message, index, "developer" if developer_role else "system"))
            case "user":
                out.append(_encode_user(message, index))
            case "assistant":
                out.append(_encode_assistant(message, index))
            case "tool":
                out.extend(_encode_tool_results(message, index))
            case _:
                assert_never(message.role)
    return out


def _misplaced(index: int, message: Message, part: MessagePart, where: str) -> UnsupportedContentError:
    return UnsupportedContentError(
        f"message {index} ({message.role}) holds a {part.kind} part, which Chat Completions cannot carry "
        f"in a {message.role} message; {where}",
        index=index,
        block_type=part.kind,
    )


def _text_content(texts: list[str]) -> JsonValue:
    # A single text goes as a plain string: the shape every client sends and every api-version accepts.
    if len(texts) == 1:
        return texts[0]
    return [{"type": "text", "text": text} for text in texts]


def _with_name(wire: JsonObject, message: Message) -> JsonObject:
    if message.name:
        wire["name"] = message.name
    return wire


def _encode_instruction(message: Message, index: int, role: str) -> JsonValue:
    texts: list[str] = []
    for part in message.parts:
        match part:
            case TextPart(text=text):
                texts.append(text)
            case (
                ImagePart()
                | ToolCallPart()
                | ToolResultPart()
                | ReasoningPart()
                | AudioPart()
                | FilePart()
                | HostedToolPart()
            ):
                raise _misplaced(index, message, part, "instructions are text only")
            case _:
                assert_never(part)
    return _with_name({"role": role, "content": _text_content(texts) if texts else ""}, message)


def _encode_user(message: Message, index: int) -> JsonValue:
    content: list[JsonValue] = []
    for part in message.parts:
        match part:
            case TextPart(text=text):
                content.append({"type": "text", "text": text})
            case ImagePart(url=url, detail=detail):
                image: JsonObject = {"url": url}
                if detail is not None:
                    image["detail"] = detail
                content.append({"type": "image_url", "image_url": image})
            case AudioPart():
                content.append(input_audio_part(part))
            case FilePart():
                content.append(chat_file_part(part))
            case ToolCallPart() | ToolResultPart() | ReasoningPart() | HostedToolPart():
                raise _misplaced(index, message, part, "user messages carry text, images, audio and files only")
            case _:
                assert_never(part)
    first = message.parts[0] if len(message.parts) == 1 else None
    value: JsonValue = first.text if isinstance(first, TextPart) else (content or "")
    return _with_name({"role": "user", "content": value}, message)


def _encode_assistant(message: Message, index: int) -> JsonValue:
    texts: list[str] = []
    calls: list[JsonValue] = []
    audio: JsonObject | None = None
    for part in message.parts:
        match part:
            case TextPart(text=text):
                texts.append(text)
            case ToolCallPart(id=call_id, name=name, arguments=arguments):
                calls.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}})
            case ReasoningPart():
                pass  # no Chat Completions field for reasoning; see the module docstring
            case AudioPart():
                audio = chat_assistant_audio(part) or audio
                if audio is None and part.transcript and not texts:
                    texts.append(part.transcript)  # audio past its id's life: what it said is what is left
            case ImagePart() | ToolResultPart() | FilePart() | HostedToolPart():
                raise _misplaced(index, message, part, "assistant messages carry text, audio and tool calls only")
            case _:
                assert_never(part)
    content: JsonValue = _text_content(texts) if texts else (None if calls or audio else "")
    wire: JsonObject = {"role": "assistant", "content": content}
    if calls:
        wire["tool_calls"] = calls
    if audio is not None:
        wire["audio"] = audio
    return _with_name(wire, message)


def _encode_tool_results(message: Message, index: int) -> list[JsonValue]:
    out: list[JsonValue] = []
    for part in message.parts:
        match part:
            case ToolResultPart(tool_call_id=call_id, content=content):
                out.append({"role": "tool", "tool_call_id": call_id, "content": content})
            case (
                TextPart()
                | ImagePart()
                | ToolCallPart()
                | ReasoningPart()
                | AudioPart()
                | FilePart()
                | HostedToolPart()
            ):
                raise _misplaced(index, message, part, "tool messages carry tool results only")
            case _:
                assert_never(part)
    if not out:
        raise ConversationError(f"message {index} (tool) holds no tool result; Chat Completions needs one")
    return out
