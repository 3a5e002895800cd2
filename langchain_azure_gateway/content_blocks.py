"""Content beyond text and function calls, between LangChain's blocks and the core's parts.

Into the core:

- User blocks: LangChain's standard ``audio`` (``base64`` + ``mime_type``) and OpenAI's ``input_audio``;
  standard ``file`` (``base64`` + ``mime_type`` [+ ``filename`` or ``extras.filename``], ``file_id``, or a
  ``data:`` ``url``) and OpenAI's ``{"type": "file", "file": {...}}``; an ``mcp_approval_response`` item.
- Assistant blocks: ``server_tool_call`` blocks this package produced carry the Azure item in
  ``extras["item"]`` and go back as that item (an ``image_generation_call`` gets its base64 ``result`` back
  from the ``image`` block of the same id); ``non_standard`` blocks holding a hosted item
  (``mcp_approval_request``) go back as that item, as do the raw items ``AzureChatOpenAI`` keeps in its
  ``responses/v1`` content; ``server_tool_result`` and such ``image`` blocks say
  nothing their call does not. ``additional_kwargs["audio"]["id"]`` (an audio answer) goes back by id.

Out of the core (:func:`result_content`): when a result holds hosted tool items, citations or reasoning text
(Chat Completions ``reasoning_content``), ``content`` is a list of LangChain v1 blocks, in
the message's order, and ``response_metadata["output_version"]`` is ``"v1"``: a ``reasoning`` block, then per
item a ``server_tool_call`` (``name``: ``web_search``, ``file_search``, ``code_interpreter``,
``image_generation``, the MCP tool's name, ``mcp_list_tools``) and its ``server_tool_result`` (``output``: file
search ``results``, code interpreter ``outputs``, MCP output or tool list), an ``image`` block for a generated
image, a ``non_standard`` block for an MCP approval request; the text as a ``text`` block whose ``annotations``
are ``citation`` s (``url_citation`` → ``url``, ``title``, ``start_index``, ``end_index``, ``cited_text``; file
citations with ``title`` = file name and the rest in ``extras``). Otherwise ``content`` stays the plain text
string (Responses reasoning summaries stay in ``additional_kwargs``, as before). An audio answer is
``additional_kwargs["audio"]`` (``id``, ``data``, ``transcript``, ``expires_at``), as ``AzureChatOpenAI`` has it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from langchain_core.outputs import ChatGeneration

from shared_core import AudioPart, ChatResult, FilePart, TextPart, UnsupportedContentError
from shared_core.integration import HostedToolPart, JsonValue, MessagePart, ReasoningPart

__all__ = [
    "assistant_block_part",
    "audio_kwargs",
    "audio_kwargs_part",
    "choice_generations",
    "choice_summaries",
    "citation",
    "generated_images",
    "hosted_blocks",
    "result_content",
    "user_block_part",
]

_AUDIO_FORMATS = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
}
_TOOL_NAMES = {
    "web_search_call": "web_search",
    "file_search_call": "file_search",
    "code_interpreter_call": "code_interpreter",
    "image_generation_call": "image_generation",
    "mcp_list_tools": "mcp_list_tools",
    "computer_call": "computer_use",
    "local_shell_call": "local_shell",
}
_RESULT_FIELDS = {"file_search_call": "results", "code_interpreter_call": "outputs", "mcp_list_tools": "tools"}
_USER_ITEMS = frozenset({"mcp_approval_response", "computer_call_output", "local_shell_call_output"})


# -- into the core --------------------------------------------------------------------------------------------


def user_block_part(block: Mapping[str, Any]) -> MessagePart | None:
    """The part of a user block that is audio, a file or an approval; ``None`` for any other block.

    Raises:
        UnsupportedContentError: An audio or file block missing what Azure needs (named in the message).
    """
    kind = block.get("type")
    if kind == "audio":
        return _standard_audio(block)
    if kind == "input_audio":
        inner = block.get("input_audio")
        inner_map = cast(Mapping[str, Any], inner) if isinstance(inner, Mapping) else {}
        return AudioPart(data=str(inner_map.get("data") or ""), format=inner_map.get("format"))
    if kind == "file":
        return _file(block)
    if kind in _USER_ITEMS:
        return HostedToolPart(cast(dict[str, JsonValue], dict(block)))
    return None


def _standard_audio(block: Mapping[str, Any]) -> AudioPart:
    data = block.get("base64") or block.get("data")
    mime = str(block.get("mime_type") or "")
    if not isinstance(data, str) or not data:
        raise UnsupportedContentError(
            "an audio block has no base64 data; Azure takes inline wav or mp3 audio only. "
            "Fix: pass {'type': 'audio', 'base64': ..., 'mime_type': 'audio/wav'}",
            block_type="audio",
        )
    audio_format = _AUDIO_FORMATS.get(mime.lower())
    if audio_format is None:
        raise UnsupportedContentError(
            f"an audio block has mime_type {mime!r}; Azure takes audio/wav or audio/mpeg (mp3). "
            "Fix: convert the audio to wav or mp3",
            block_type="audio",
        )
    return AudioPart(data=data, format=audio_format)


def _file(block: Mapping[str, Any]) -> FilePart:
    inner = block.get("file")
    if isinstance(inner, Mapping):
        spec = cast(Mapping[str, Any], inner)
        return FilePart(data_url=spec.get("file_data"), file_id=spec.get("file_id"), filename=spec.get("filename"))
    extras = block.get("extras")
    extras_map = cast(Mapping[str, Any], extras) if isinstance(extras, Mapping) else {}
    mime = str(block.get("mime_type") or "application/pdf")
    filename = block.get("filename") or extras_map.get("filename")
    if block.get("file_id"):
        return FilePart(file_id=str(block["file_id"]), filename=filename)
    data = block.get("base64") or block.get("data")
    url = block.get("url")
    if isinstance(data, str) and data:
        data_url = f"data:{mime};base64,{data}"
    elif isinstance(url, str) and url.startswith("data:"):
        data_url = url
    else:
        raise UnsupportedContentError(
            "a file block has no base64 data, data: URL or file_id; Azure takes files inline or by uploaded id. "
            "Fix: pass {'type': 'file', 'base64': ..., 'mime_type': 'application/pdf', 'filename': 'doc.pdf'}",
            block_type="file",
        )
    # Azure refuses inline file data without a name; LangChain's standard block often has none.
    return FilePart(data_url=data_url, filename=filename or f"document.{mime.rsplit('/', 1)[-1]}")


def generated_images(blocks: Sequence[object]) -> dict[str, str]:
    """The base64 of each ``image`` block with an id (a generated image), by id."""
    out: dict[str, str] = {}
    for block in blocks:
        if isinstance(block, Mapping):
            spec = cast(Mapping[str, Any], block)
            if spec.get("type") == "image" and isinstance(spec.get("id"), str) and isinstance(spec.get("base64"), str):
                out[spec["id"]] = spec["base64"]
    return out


def assistant_block_part(block: Mapping[str, Any], images: Mapping[str, str]) -> HostedToolPart | None:
    """The hosted tool item an assistant's v1 block carries (see the module docstring), or ``None``."""
    kind = block.get("type")
    extras = block.get("extras")
    item: object = None
    if kind == "server_tool_call" and isinstance(extras, Mapping):
        item = cast(Mapping[str, Any], extras).get("item")
    elif kind == "non_standard":
        item = block.get("value")
    elif kind in _TOOL_NAMES or kind in ("mcp_call", "mcp_approval_request"):
        # AzureChatOpenAI's "responses/v1" content holds the raw items (with LangChain's stream "index").
        item = {k: v for k, v in block.items() if k != "index"}
    if not isinstance(item, Mapping):
        return None
    item_map = dict(cast(Mapping[str, Any], item))
    if item_map.get("type") == "image_generation_call" and "result" not in item_map:
        item_map["result"] = images.get(str(item_map.get("id")))
    return HostedToolPart(cast(dict[str, JsonValue], item_map))


def audio_kwargs_part(additional_kwargs: Mapping[str, Any]) -> AudioPart | None:
    """An earlier audio answer (``additional_kwargs["audio"]``), to send back by id."""
    audio = additional_kwargs.get("audio")
    if not isinstance(audio, Mapping):
        return None
    spec = cast(Mapping[str, Any], audio)
    audio_id = spec.get("id")
    transcript = spec.get("transcript")
    if not isinstance(audio_id, str) and not isinstance(transcript, str):
        return None
    return AudioPart(id=audio_id if isinstance(audio_id, str) else None, transcript=transcript)


# -- out of the core ------------------------------------------------------------------------------------------


def result_content(result: ChatResult) -> str | list[str | dict[str, Any]]:
    """``AIMessage.content`` for a result: v1 blocks when it holds hosted items or citations, else its text."""
    parts = result.message.parts
    if not any(_needs_blocks(p) for p in parts):
        return result.text
    content: list[str | dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ReasoningPart) and part.text and part.id is None:
            content.append({"type": "reasoning", "reasoning": part.text})
        elif isinstance(part, HostedToolPart):
            content.extend(hosted_blocks(part))
        elif isinstance(part, TextPart):
            block: dict[str, Any] = {"type": "text", "text": part.text}
            if part.annotations:
                block["annotations"] = [citation(a, part.text) for a in part.annotations]
            content.append(block)
    return content


def _needs_blocks(part: MessagePart) -> bool:
    return (
        isinstance(part, HostedToolPart)
        or (isinstance(part, TextPart) and bool(part.annotations))
        or (isinstance(part, ReasoningPart) and bool(part.text) and part.id is None)
    )


def hosted_blocks(part: HostedToolPart) -> list[dict[str, Any]]:
    """A hosted tool item as v1 blocks: ``server_tool_call`` + ``server_tool_result`` (+ ``image``)."""
    item = dict(part.item)
    kind = part.item_type
    if kind not in _TOOL_NAMES and kind != "mcp_call":
        return [{"type": "non_standard", "value": item}]
    image = item.pop("result", None) if kind == "image_generation_call" else None
    call: dict[str, Any] = {
        "type": "server_tool_call",
        "id": part.id,
        "name": _TOOL_NAMES.get(kind) or str(item.get("name") or kind),
        "args": _args(item),
        "extras": {"item": item},
    }
    status = item.get("status")
    failed = item.get("error") is not None or status in ("failed", "incomplete")
    result: dict[str, Any] = {"type": "server_tool_result", "tool_call_id": part.id}
    result["status"] = "error" if failed else "success"
    output = item.get(_RESULT_FIELDS.get(kind, "output"))
    if output is not None:
        result["output"] = output
    if item.get("error") is not None:
        result["extras"] = {"error": item["error"]}
    blocks = [call, result]
    if isinstance(image, str):
        blocks.append({"type": "image", "id": part.id, "base64": image, "mime_type": _image_mime(item)})
    return blocks


def _image_mime(item: Mapping[str, Any]) -> str:
    return f"image/{item.get('output_format') or 'png'}"


def _args(item: Mapping[str, Any]) -> dict[str, Any]:
    match item.get("type"):
        case "web_search_call":
            action = item.get("action")
            return dict(cast(Mapping[str, Any], action)) if isinstance(action, Mapping) else {}
        case "file_search_call":
            return {"queries": item.get("queries") or []}
        case "code_interpreter_call":
            return {"code": item.get("code"), "container_id": item.get("container_id")}
        case "image_generation_call":
            return {"revised_prompt": item["revised_prompt"]} if item.get("revised_prompt") else {}
        case "mcp_call":
            try:
                parsed = json.loads(str(item.get("arguments") or "{}"))
            except ValueError:
                return {"arguments": item.get("arguments")}
            return cast(dict[str, Any], parsed) if isinstance(parsed, dict) else {"arguments": parsed}
        case "mcp_list_tools":
            return {"server_label": item.get("server_label")}
        case _:
            return {}


def citation(annotation: Mapping[str, JsonValue], text: str) -> dict[str, Any]:
    """An Azure annotation as a LangChain ``citation`` (or ``non_standard_annotation`` for unknown kinds)."""
    kind = annotation.get("type")
    if kind == "url_citation":
        out: dict[str, Any] = {"type": "citation"}
        for key in ("url", "title", "start_index", "end_index"):
            if annotation.get(key) is not None:
                out[key] = annotation[key]
        start, end = annotation.get("start_index"), annotation.get("end_index")
        if isinstance(start, int) and isinstance(end, int):
            out["cited_text"] = text[start:end]
        return out
    if kind in ("file_citation", "container_file_citation", "file_path"):
        extras = {k: v for k, v in annotation.items() if k not in ("type", "filename")}
        cite: dict[str, Any] = {"type": "citation", "extras": {"type": kind, **extras}}
        if annotation.get("filename") is not None:
            cite["title"] = annotation["filename"]
        for key in ("start_index", "end_index"):
            if annotation.get(key) is not None:
                cite[key] = annotation[key]
        return cite
    return {"type": "non_standard_annotation", "value": dict(annotation)}


def audio_kwargs(part: AudioPart) -> dict[str, Any]:
    """An audio answer as ``additional_kwargs["audio"]`` (AzureChatOpenAI's shape)."""
    return {"id": part.id, "data": part.data, "transcript": part.transcript, "expires_at": part.expires_at}


def choice_generations(result: ChatResult) -> list[ChatGeneration]:
    """Choices 1, 2 ... of an ``n`` > 1 answer, one generation each (choice 0 is the model's own)."""
    from langchain_azure_gateway.convert import from_core_result  # noqa: PLC0415 - convert imports this module

    return [
        ChatGeneration(message=from_core_result(choice), generation_info={"finish_reason": choice.finish_reason})
        for choice in result.choices
    ]


def choice_summaries(result: ChatResult) -> list[dict[str, Any]]:
    """Choices 1, 2 ... of an ``n`` > 1 stream, for the closing chunk's ``response_metadata["choices"]``."""
    return [
        {
            "index": index,
            "content": choice.text,
            "finish_reason": choice.finish_reason,
            "tool_calls": [{"id": c.id, "name": c.name, "args": dict(c.arguments)} for c in choice.tool_calls],
        }
        for index, choice in enumerate(result.choices, start=1)
    ]
