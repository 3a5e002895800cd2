"""The emulator's answers for content beyond text and function calls: tools Azure runs itself (Responses),
citations, reasoning text and audio on Chat Completions, ``n`` > 1 choices, and the 400 for input a model cannot
take.

What the request asks decides what comes back, so equal requests get equal answers:

- A Responses request with hosted tools gets, before its message, one completed output item per tool
  (``web_search_call`` with a search action and sources, ``file_search_call`` with one result,
  ``code_interpreter_call`` with logs output, ``image_generation_call`` with a 1x1 PNG as base64 ``result``,
  ``mcp_list_tools`` then ``mcp_call``, or ``mcp_approval_request`` unless ``require_approval`` is ``never`` or
  the input approves the request); web search adds a ``url_citation`` and file search a ``file_citation`` to the
  text. Streams send each item's ``added`` / progress / ``done`` events and ``annotation.added`` after the text.
- A chat request with ``modalities`` holding ``audio`` gets ``message.audio`` (a short WAV, the transcript is the
  text; streamed as ``delta.audio`` pieces); ``n`` > 1 gets that many choices (``Reply.choices`` texts, else the
  text again); ``Reply.reasoning`` comes as ``message.reasoning_content`` / ``delta.reasoning_content``.
- ``input_audio`` sent to a deployment whose model has no ``audio`` in its name is Azure's recorded 400
  (``invalid_value``: "Content blocks are expected to be either text or image_url type.", gpt-5-mini, 2025).

Every body and event validates against the openai SDK's response models (tests/content/test_emulator_content.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from shared_core.messages import JsonValue

__all__ = [
    "ContentExtras",
    "audio_refusal",
    "chat_extra_choices",
    "chat_extra_deltas",
    "chat_message_extras",
    "content_extras",
    "hosted_item_events",
]

JsonObject = dict[str, JsonValue]

_PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
_AUDIO_EXPIRY_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class ContentExtras:
    """What an answer carries besides text and function calls.

    Attributes:
        reasoning: Chat ``reasoning_content``.
        audio: Chat ``message.audio`` (``id``, ``data``, ``expires_at``, ``transcript``).
        extra_choices: Texts of choices 1, 2 ... (chat ``n`` > 1).
        hosted_items: Completed Responses output items of hosted tools, in output order.
        annotations: Annotations on the Responses ``output_text``.
    """

    reasoning: str | None = None
    audio: JsonObject | None = None
    extra_choices: tuple[str, ...] = ()
    hosted_items: tuple[JsonObject, ...] = ()
    annotations: tuple[JsonObject, ...] = ()


def _id(prefix: str, seed: str) -> str:
    return prefix + hashlib.sha256(seed.encode()).hexdigest()[:40]


def _wav() -> str:
    samples = b"\x00\x00" * 8
    header = b"RIFF" + struct.pack("<I", 36 + len(samples)) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, 24000, 48000, 2, 16) + b"data" + struct.pack("<I", len(samples))
    return base64.b64encode(header + samples).decode("ascii")


def content_extras(
    api: str,
    request: Mapping[str, JsonValue],
    *,
    text: str,
    response_id: str,
    created: int,
    reasoning: str | None = None,
    choices: tuple[str, ...] = (),
) -> ContentExtras:
    """Decide the extras of one answer from the request (see the module docstring)."""
    if api == "chat":
        modalities = request.get("modalities")
        audio: JsonObject | None = None
        if isinstance(modalities, list) and "audio" in modalities:
            audio = {
                "id": _id("audio_", response_id),
                "data": _wav(),
                "expires_at": created + _AUDIO_EXPIRY_SECONDS,
                "transcript": text,
            }
        n = request.get("n")
        count = n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1
        extra = tuple(choices[k] if k < len(choices) else text for k in range(count - 1))
        return ContentExtras(reasoning=reasoning, audio=audio, extra_choices=extra)
    items: list[JsonObject] = []
    annotations: list[JsonObject] = []
    tools = request.get("tools")
    for n, tool in enumerate(tools if isinstance(tools, list) else []):
        if isinstance(tool, dict):
            _hosted(tool, request, f"{response_id}/{n}", text, out=(items, annotations))
    return ContentExtras(hosted_items=tuple(items), annotations=tuple(annotations))


def _last_user_text(request: Mapping[str, JsonValue]) -> str:
    items = request.get("input")
    if isinstance(items, str):
        return items
    for item in reversed(items if isinstance(items, list) else []):
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            for part in content if isinstance(content, list) else []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    return str(part["text"])
    return ""


def _approved(request: Mapping[str, JsonValue]) -> str | None:
    items = request.get("input")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("type") == "mcp_approval_response" and item.get("approve") is True:
            value = item.get("approval_request_id")
            return value if isinstance(value, str) else None
    return None


def _hosted(
    tool: JsonObject,
    request: Mapping[str, JsonValue],
    seed: str,
    text: str,
    *,
    out: tuple[list[JsonObject], list[JsonObject]],
) -> None:
    items, annotations = out
    kind = tool.get("type")
    query = _last_user_text(request)
    if kind in ("web_search_preview", "web_search", "web_search_preview_2025_03_11"):
        item, note = _web_search(seed, query, text)
    elif kind == "file_search":
        item, note = _file_search(seed, query, text)
    elif kind == "code_interpreter":
        logs: JsonObject = {"type": "logs", "logs": "4\n"}
        code: JsonObject = {"id": _id("ci_", seed), "type": "code_interpreter_call", "status": "completed"}
        code |= {"code": "print(2 + 2)", "container_id": "cntr_emulated", "outputs": [logs]}
        item, note = code, None
    elif kind == "image_generation":
        item, note = _image(seed, query), None
    elif kind == "mcp":
        _mcp(tool, request, seed, items)
        return
    else:
        return
    items.append(item)
    if note is not None:
        annotations.append(note)


def _web_search(seed: str, query: str, text: str) -> tuple[JsonObject, JsonObject]:
    url = "https://example.com/search-result"
    source: JsonObject = {"type": "url", "url": url}
    action: JsonObject = {"type": "search", "query": query, "sources": [source]}
    item: JsonObject = {"id": _id("ws_", seed), "type": "web_search_call", "status": "completed", "action": action}
    citation: JsonObject = {
        "type": "url_citation",
        "start_index": 0,
        "end_index": len(text),
        "title": "Example result",
        "url": url,
    }
    return item, citation


def _file_search(seed: str, query: str, text: str) -> tuple[JsonObject, JsonObject]:
    result: JsonObject = {
        "file_id": "assistant-emulated1",
        "filename": "notes.pdf",
        "score": 0.92,
        "text": "Emulated passage.",
        "attributes": {},
    }
    item: JsonObject = {
        "id": _id("fs_", seed),
        "type": "file_search_call",
        "status": "completed",
        "queries": [query],
        "results": [result],
    }
    cite: JsonObject = {"type": "file_citation", "file_id": "assistant-emulated1", "filename": "notes.pdf"}
    cite["index"] = len(text)
    return item, cite


def _image(seed: str, query: str) -> JsonObject:
    return {
        "id": _id("ig_", seed),
        "type": "image_generation_call",
        "status": "completed",
        "background": "opaque",
        "output_format": "png",
        "quality": "low",
        "revised_prompt": query,
        "size": "1024x1024",
        "result": _PNG_1X1,
    }


def _mcp(tool: JsonObject, request: Mapping[str, JsonValue], seed: str, items: list[JsonObject]) -> None:
    label = tool.get("server_label")
    server = label if isinstance(label, str) else "server"
    schema: JsonObject = {"type": "object", "properties": {"q": {"type": "string"}}}
    listing: JsonObject = {"name": "lookup", "input_schema": schema, "description": "Look something up."}
    items.append({"id": _id("mcpl_", seed), "type": "mcp_list_tools", "server_label": server, "tools": [listing]})
    arguments = json.dumps({"q": _last_user_text(request)})
    approved = _approved(request)
    if tool.get("require_approval") != "never" and approved is None:
        items.append(
            {
                "id": _id("mcpr_", seed),
                "type": "mcp_approval_request",
                "server_label": server,
                "name": "lookup",
                "arguments": arguments,
            }
        )
        return
    call: JsonObject = {
        "id": _id("mcp_", seed),
        "type": "mcp_call",
        "status": "completed",
        "server_label": server,
        "name": "lookup",
        "arguments": arguments,
        "output": "found it",
        "error": None,
        "approval_request_id": approved,
    }
    items.append(call)


# ---------------------------------------------------------------------------------------------- chat


def chat_message_extras(extras: ContentExtras, message: JsonObject) -> None:
    """Add ``reasoning_content`` and ``audio`` to a non-streamed chat message."""
    if extras.reasoning is not None:
        message["reasoning_content"] = extras.reasoning
    if extras.audio is not None:
        message["audio"] = dict(extras.audio)


def _delta_choice(delta: JsonObject, index: int = 0, finish: str | None = None) -> JsonObject:
    return {"content_filter_results": {}, "delta": delta, "finish_reason": finish, "index": index, "logprobs": None}


def _halves(text: str) -> list[str]:
    middle = (len(text) + 1) // 2
    return [piece for piece in (text[:middle], text[middle:]) if piece]


def chat_extra_choices(extras: ContentExtras, filters: Mapping[str, JsonValue]) -> list[JsonValue]:
    """Choices 1, 2 ... of a non-streamed ``n`` > 1 answer."""
    out: list[JsonValue] = []
    for index, text in enumerate(extras.extra_choices, start=1):
        message: JsonObject = {"annotations": [], "content": text, "refusal": None, "role": "assistant"}
        out.append(
            {
                "content_filter_results": dict(filters),
                "finish_reason": "stop",
                "index": index,
                "logprobs": None,
                "message": message,
            }
        )
    return out


def chat_extra_deltas(extras: ContentExtras) -> tuple[list[JsonValue], list[JsonValue]]:
    """Stream choices sent before the text (reasoning pieces) and after it (audio pieces, other choices)."""
    before: list[JsonValue] = [_delta_choice({"reasoning_content": p}) for p in _halves(extras.reasoning or "")]
    after: list[JsonValue] = []
    audio = extras.audio
    if audio is not None:
        first: JsonObject = {"id": audio["id"], "transcript": audio["transcript"], "expires_at": audio["expires_at"]}
        after.append(_delta_choice({"audio": first}))
        after += [_delta_choice({"audio": {"data": piece}}) for piece in _halves(str(audio["data"]))]
    for index, text in enumerate(extras.extra_choices, start=1):
        after.append(_delta_choice({"content": "", "role": "assistant"}, index))
        after.append(_delta_choice({"content": text}, index))
        after.append(_delta_choice({}, index, "stop"))
    return before, after


# ---------------------------------------------------------------------------------------------- responses

_PROGRESS: dict[str, tuple[str, ...]] = {
    "web_search_call": ("in_progress", "searching", "completed"),
    "file_search_call": ("in_progress", "searching", "completed"),
    "code_interpreter_call": ("in_progress", "interpreting", "completed"),
    "image_generation_call": ("in_progress", "generating", "completed"),
    "mcp_list_tools": ("in_progress", "completed"),
    "mcp_call": ("in_progress", "completed"),
}


def hosted_item_events(item: JsonObject, index: int) -> list[JsonObject]:
    """The stream events of one hosted item: ``added`` (in progress), its progress events, ``done``."""
    kind = str(item.get("type"))
    started: JsonObject = dict(item)
    if "status" in item:
        started["status"] = "in_progress"
    for key in ("result", "outputs", "results", "output"):
        if key in started:
            started[key] = None
    events: list[JsonObject] = [{"type": "response.output_item.added", "output_index": index, "item": started}]
    ids: JsonObject = {"item_id": item["id"], "output_index": index}
    for step in _PROGRESS.get(kind, ()):
        if kind == "code_interpreter_call" and step == "interpreting":
            code = item.get("code")
            events.append({"type": "response.code_interpreter_call_code.delta", **ids, "delta": code})
            events.append({"type": "response.code_interpreter_call_code.done", **ids, "code": code})
        if kind == "image_generation_call" and step == "generating":
            partial: JsonObject = {"partial_image_b64": item.get("result"), "partial_image_index": 0}
            events.append({"type": "response.image_generation_call.partial_image", **ids, **partial})
        if kind == "mcp_call" and step == "completed":
            arguments = item.get("arguments")
            events.append({"type": "response.mcp_call_arguments.delta", **ids, "delta": arguments})
            events.append({"type": "response.mcp_call_arguments.done", **ids, "arguments": arguments})
        events.append({"type": f"response.{kind}.{step}", **ids})
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events


def audio_refusal(api: str, request: Mapping[str, JsonValue], model: str) -> bytes | None:
    """Azure's 400 for ``input_audio`` sent to a model without audio input, or ``None`` when fine."""
    if api != "chat" or "audio" in model.lower():
        return None
    messages = request.get("messages")
    for index, message in enumerate(messages if isinstance(messages, list) else []):
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and part.get("type") == "input_audio":
                error: JsonObject = {
                    "message": f"Invalid 'messages[{index}]'. Content blocks are expected to be either text or "
                    "image_url type.",
                    "type": "invalid_request_error",
                    "param": f"messages[{index}]",
                    "code": "invalid_value",
                }
                return json.dumps({"error": error}, indent=2).encode()
    return None
