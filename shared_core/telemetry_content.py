"""Prompt and completion content for spans, in the GenAI conventions' message shapes (only when opted in).

``gen_ai.system_instructions``, ``gen_ai.input.messages`` and ``gen_ai.output.messages`` are structured values
in the conventions; span attributes hold only primitives, so each is recorded as its JSON text, as the
conventions allow. Images, audio and files given inline are recorded by media type and size, not their bytes;
a hosted tool's item by its type and id.
"""

from __future__ import annotations

import json
from typing import assert_never

from shared_core.messages import JsonValue, Message, MessagePart
from shared_core.request import ChatRequest
from shared_core.result import ChatResult

__all__ = ["input_attributes", "output_attributes"]

GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
_INSTRUCTION_ROLES = frozenset({"system", "developer"})


def _arguments(text: str) -> JsonValue:
    try:
        value: JsonValue = json.loads(text)
    except (ValueError, RecursionError):
        return text
    return value


def _part(part: MessagePart) -> dict[str, JsonValue]:
    match part.kind:
        case "text":
            return {"type": "text", "content": part.text}
        case "image":
            if part.url.startswith("data:"):
                media_type = part.url[5:].split(";", 1)[0]
                return {"type": "blob", "modality": "image", "mime_type": media_type, "size": len(part.url)}
            return {"type": "uri", "modality": "image", "uri": part.url}
        case "tool_call":
            return {"type": "tool_call", "id": part.id, "name": part.name, "arguments": _arguments(part.arguments)}
        case "tool_result":
            return {"type": "tool_call_response", "id": part.tool_call_id, "response": part.content}
        case "reasoning":
            return {"type": "reasoning", "content": part.text}
        case "audio":
            audio: dict[str, JsonValue] = {"type": "blob", "modality": "audio", "size": len(part.data)}
            if part.format:
                audio["mime_type"] = f"audio/{part.format}"
            if part.transcript:
                audio["transcript"] = part.transcript
            return audio
        case "file":
            file: dict[str, JsonValue] = {"type": "file", "file_id": part.file_id, "filename": part.filename}
            if part.data_url:
                file["size"] = len(part.data_url)
            return file
        case "hosted_tool":
            # The item itself (search results, generated files) can be large: its type and id say what ran.
            return {"type": "hosted_tool", "item_type": part.item.get("type"), "id": part.item.get("id")}
        case _:
            assert_never(part)


def _message(message: Message) -> dict[str, JsonValue]:
    parts: list[JsonValue] = [_part(p) for p in message.parts]
    out: dict[str, JsonValue] = {"role": message.role, "parts": parts}
    if message.name:
        out["name"] = message.name
    return out


def _dumps(value: JsonValue) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def input_attributes(request: ChatRequest) -> dict[str, str]:
    """The request's system instructions and messages, as span attributes."""
    instructions: list[JsonValue] = []
    messages: list[JsonValue] = []
    for message in request.messages:
        if message.role in _INSTRUCTION_ROLES:
            instructions.extend(_part(p) for p in message.parts)
        else:
            messages.append(_message(message))
    out = {GEN_AI_INPUT_MESSAGES: _dumps(messages)}
    if instructions:
        out[GEN_AI_SYSTEM_INSTRUCTIONS] = _dumps(instructions)
    return out


def output_attributes(result: ChatResult) -> dict[str, str]:
    """The answer (text, reasoning, tool calls) and its finish reason, as a span attribute."""
    message = _message(result.message)
    if result.finish_reason is not None:
        message["finish_reason"] = result.finish_reason
    return {GEN_AI_OUTPUT_MESSAGES: _dumps([message])}
