"""Read a recorded Chat Completions request body back into a :class:`ChatRequest`.

Used by the conformance test to re-encode what real clients sent and compare it field by field. Fields that
describe the transport rather than the request (``model``, ``stream``, ``stream_options``, ``n``) are not part
of a ChatRequest and are left to the comparison's table of documented differences. A body holding something
the neutral types cannot express raises :class:`NotExpressible` with the reason.
"""

from __future__ import annotations

from typing import Any, Literal, cast
from urllib.parse import unquote

from shared_core.deployments import ResolvedDeployment, profile_for
from shared_core.messages import ImagePart, JsonValue, Message, MessagePart, TextPart, ToolCallPart, ToolResultPart
from shared_core.request import (
    ChatRequest,
    GenerationSettings,
    NamedToolChoice,
    ReasoningEffort,
    ResponseFormat,
    ToolChoice,
    ToolSpec,
)
from shared_core.wire.chat_completions import encode_request
from shared_core.wire.envelope import EncodedRequest

__all__ = [
    "TRANSPORT_FIELDS",
    "NotExpressible",
    "chat_request_from_body",
    "recorded_api_version",
    "recorded_target",
    "reencode_recorded",
]

TRANSPORT_FIELDS = frozenset({"model", "stream", "stream_options", "n"})
"""Body fields that are not part of a ChatRequest (the comparison's table says how each is handled)."""

_SETTINGS = {
    "temperature",
    "top_p",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "user",
    "logprobs",
    "parallel_tool_calls",
}


class NotExpressible(ValueError):
    """The body holds something ChatRequest cannot express (the message says what)."""


def chat_request_from_body(body: dict[str, Any]) -> ChatRequest:
    """Parse a Chat Completions request body into neutral types.

    Raises:
        NotExpressible: An audio part, a function message, a content shape the neutral types lack ...
    """
    messages = tuple(_message(i, m) for i, m in enumerate(body["messages"]))
    tools = tuple(ToolSpec.from_dict(t) for t in body.get("tools", ()))
    settings: dict[str, Any] = {k: body[k] for k in _SETTINGS if k in body}
    if "max_completion_tokens" in body:
        settings["max_tokens"] = body["max_completion_tokens"]
    elif "max_tokens" in body:
        settings["max_tokens"] = body["max_tokens"]
    if "stop" in body and body["stop"] is not None:
        stop = body["stop"]
        settings["stop"] = (stop,) if isinstance(stop, str) else tuple(stop)
    if "reasoning_effort" in body:
        settings["reasoning_effort"] = cast(ReasoningEffort, body["reasoning_effort"])
    if "response_format" in body:
        settings["response_format"] = _response_format(body["response_format"])
    known = (
        _SETTINGS
        | TRANSPORT_FIELDS
        | {
            "messages",
            "tools",
            "tool_choice",
            "max_tokens",
            "max_completion_tokens",
            "stop",
            "reasoning_effort",
            "response_format",
        }
    )
    extra = {k: cast(JsonValue, v) for k, v in body.items() if k not in known}
    return ChatRequest(
        messages=messages,
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice")),
        settings=GenerationSettings(**settings, extra_body=extra),
    )


def _message(index: int, wire: dict[str, Any]) -> Message:
    role = wire["role"]
    name = wire.get("name")
    if role in {"system", "developer", "user"}:
        return Message(role, _content_parts(index, wire.get("content")), name=name)
    if role == "assistant":
        parts: list[MessagePart] = list(_content_parts(index, wire.get("content")))
        for call in wire.get("tool_calls") or ():
            function = call["function"]
            parts.append(ToolCallPart(call["id"], function["name"], function["arguments"]))
        return Message("assistant", tuple(parts), name=name)
    if role == "tool":
        content = wire["content"]
        if not isinstance(content, str):
            raise NotExpressible(f"message {index}: tool content that is not a string")
        return Message("tool", (ToolResultPart(wire["tool_call_id"], content),))
    raise NotExpressible(f"message {index}: role {role!r}")


def _content_parts(index: int, content: Any) -> tuple[MessagePart, ...]:
    if content is None:
        return ()
    if isinstance(content, str):
        return (TextPart(content),)
    parts: list[MessagePart] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            parts.append(TextPart(part["text"]))
        elif kind == "image_url":
            image = part["image_url"]
            parts.append(ImagePart(image["url"], detail=image.get("detail")))
        else:
            raise NotExpressible(f"message {index}: a {kind!r} content part")
    return tuple(parts)


def _response_format(raw: dict[str, Any]) -> ResponseFormat:
    kind = cast(Literal["text", "json_object", "json_schema"], raw["type"])
    if kind != "json_schema":
        return ResponseFormat(kind)
    schema = raw["json_schema"]
    return ResponseFormat(
        kind,
        name=schema.get("name"),
        schema=schema.get("schema"),
        strict=schema.get("strict"),
        description=schema.get("description"),
    )


def _tool_choice(raw: Any) -> ToolChoice | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return cast(ToolChoice, raw)
    return NamedToolChoice(raw["function"]["name"])


def recorded_api_version(uri_path: str, query: dict[str, str]) -> str:
    """The api-version a recorded request used: ``v1`` on the GA route, else the ``api-version`` query."""
    return "v1" if uri_path.startswith("/openai/v1/") else query.get("api-version", "")


def recorded_target(uri_path: str, body: dict[str, Any]) -> ResolvedDeployment:
    """The deployment a recorded request went to, with the profile of the model its body names.

    On the classic route the deployment is the path segment; on ``/openai/v1`` it is the body's ``model``.
    The profile follows the body's ``model`` (the deployment name when the body has none).
    """
    v1 = uri_path.startswith("/openai/v1/")
    deployment = body["model"] if v1 else unquote(uri_path.split("/")[3])
    model = body.get("model") or deployment
    return ResolvedDeployment(model, deployment, model, "explicit", profile_for(model))


def reencode_recorded(uri_path: str, query: dict[str, str], body: dict[str, Any]) -> EncodedRequest:
    """Parse a recorded body and encode it again for the same route and api-version.

    Raises:
        NotExpressible: The body holds something ChatRequest cannot express.
    """
    return encode_request(
        chat_request_from_body(body),
        recorded_target(uri_path, body),
        api_version=recorded_api_version(uri_path, query),
        stream=body.get("stream") is True,
    )
