"""Pure builders of Azure OpenAI success bodies and SSE streams, in the shapes real Azure sends.

Every shape here was copied from the recordings in ``../shared/azure-recordings`` (see its README for the
quirks): key order, compact versus pretty-printed JSON, which filter categories appear where. Nothing in this
module does I/O or draws random numbers: identifiers come in through :class:`Completion`, and the
``obfuscation`` padding is derived from a hash, so equal inputs give equal bytes. Error bodies and headers
live in ``error_bodies``. Where no recording exists (a chat filter firing mid-answer) the docstring says so.

This module builds the Chat Completions shapes and is the one place to import every builder from: the answer
they render (:class:`Completion` and its parts) comes from :mod:`~azure_openai_emulator.completion`, the
Responses API shapes from :mod:`~azure_openai_emulator.responses_shapes`.
"""

from __future__ import annotations

from collections.abc import Mapping

from azure_openai_emulator.completion import (
    Completion,
    DeploymentInfo,
    FilterVerdict,
    ToolCall,
    Usage,
    compact,
    obfuscation,
    pretty,
    split_text,
)
from azure_openai_emulator.content import chat_extra_choices, chat_extra_deltas, chat_message_extras
from azure_openai_emulator.responses_shapes import responses_body, responses_stream
from shared_core.messages import JsonValue

__all__ = [
    "CHAT_CHOICE_FILTER",
    "CHAT_CHUNK_FILTER",
    "PROMPT_FILTER",
    "Completion",
    "DeploymentInfo",
    "FilterVerdict",
    "ToolCall",
    "Usage",
    "chat_body",
    "chat_stream",
    "compact",
    "pretty",
    "responses_body",
    "responses_stream",
    "split_text",
]

_SAFE: dict[str, JsonValue] = {"filtered": False, "severity": "safe"}
_NOT_DETECTED: dict[str, JsonValue] = {"filtered": False, "detected": False}

PROMPT_FILTER: dict[str, JsonValue] = {
    "hate": _SAFE,
    "jailbreak": _NOT_DETECTED,
    "self_harm": _SAFE,
    "sexual": _SAFE,
    "violence": _SAFE,
}
"""The verdict on an unfiltered prompt (``prompt_filter_results[0].content_filter_results``)."""

CHAT_CHOICE_FILTER: dict[str, JsonValue] = {
    "hate": _SAFE,
    "protected_material_code": _NOT_DETECTED,
    "protected_material_text": _NOT_DETECTED,
    "self_harm": _SAFE,
    "sexual": _SAFE,
    "violence": _SAFE,
}
"""A non-streamed text choice's ``content_filter_results`` (a tool-call-only choice gets ``{}``)."""

CHAT_CHUNK_FILTER: dict[str, JsonValue] = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}
"""A streamed text chunk's ``content_filter_results``; role, tool-call and finish chunks get ``{}``."""


def _chat_usage(usage: Usage) -> dict[str, JsonValue]:
    return {
        "completion_tokens": usage.completion_tokens,
        "completion_tokens_details": {
            "accepted_prediction_tokens": 0,
            "audio_tokens": 0,
            "reasoning_tokens": usage.reasoning_tokens,
            "rejected_prediction_tokens": 0,
        },
        "prompt_tokens": usage.prompt_tokens,
        "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": usage.cached_tokens},
        "total_tokens": usage.total_tokens,
    }


def _prompt_filter_results() -> list[JsonValue]:
    return [{"prompt_index": 0, "content_filter_results": dict(PROMPT_FILTER)}]


def chat_body(c: Completion) -> dict[str, JsonValue]:
    """The non-streamed ``chat.completion`` body (keys in Azure's alphabetical order)."""
    message: dict[str, JsonValue] = {"annotations": [], "content": c.text, "refusal": None, "role": "assistant"}
    if c.tool_calls:
        message["tool_calls"] = [
            {"function": {"arguments": t.arguments, "name": t.name}, "id": t.call_id, "type": "function"}
            for t in c.tool_calls
        ]
    filters: dict[str, JsonValue] = dict(CHAT_CHOICE_FILTER) if c.text_pieces else {}
    if c.filtered is not None:
        filters = c.filtered.results(CHAT_CHOICE_FILTER)
    choice: dict[str, JsonValue] = {
        "content_filter_results": filters,
        "finish_reason": c.finish_reason,
        "index": 0,
        "logprobs": None,
        "message": message,
    }
    chat_message_extras(c.extras, message)
    return {
        "choices": [choice, *chat_extra_choices(c.extras, CHAT_CHOICE_FILTER)],
        "created": c.created,
        "id": c.response_id,
        "model": c.model,
        "object": "chat.completion",
        "prompt_filter_results": _prompt_filter_results(),
        "system_fingerprint": c.system_fingerprint,
        "usage": _chat_usage(c.usage),
    }


def _chunk(c: Completion, n: int, choices: list[JsonValue], include_usage: bool) -> dict[str, JsonValue]:
    chunk: dict[str, JsonValue] = {
        "choices": choices,
        "created": c.created,
        "id": c.response_id,
        "model": c.model,
        "obfuscation": obfuscation(f"{c.response_id}/{n}"),
        "object": "chat.completion.chunk",
        "system_fingerprint": c.system_fingerprint,
    }
    if include_usage:
        chunk["usage"] = None
    return chunk


def _choice(delta: dict[str, JsonValue], filters: Mapping[str, JsonValue], finish: str | None) -> JsonValue:
    return {
        "content_filter_results": dict(filters),
        "delta": delta,
        "finish_reason": finish,
        "index": 0,
        "logprobs": None,
    }


def _tool_call_deltas(c: Completion) -> list[list[JsonValue]]:
    """Each inner list is the ``tool_calls`` of one chunk: the id and name come only in a call's first fragment."""
    per_call: list[list[JsonValue]] = []
    for index, call in enumerate(c.tool_calls):
        first: JsonValue = {
            "function": {"arguments": "", "name": call.name},
            "id": call.call_id,
            "index": index,
            "type": "function",
        }
        rest: list[JsonValue] = [
            {"function": {"arguments": piece}, "index": index}
            for piece in split_text(call.arguments, c.argument_pieces)
            if piece
        ]
        per_call.append([first, *rest])
    if not c.pack_tool_calls:
        return [[fragment] for fragments in per_call for fragment in fragments]
    depth = max((len(f) for f in per_call), default=0)
    return [[f[k] for f in per_call if k < len(f)] for k in range(depth)]


def chat_stream(c: Completion, *, include_usage: bool) -> list[bytes]:
    """The ``data:`` events of a chat stream, ``data: [DONE]`` last.

    The first event is Azure's ``choices: []`` chunk carrying ``prompt_filter_results`` (empty ``id`` and
    ``model``, no ``usage`` key); with ``include_usage`` every later chunk has ``"usage": null`` and a
    ``choices: []`` usage chunk follows the finish chunk. A filter that fires mid-answer (not recorded; as
    Azure documents it) ends the text with ``finish_reason: content_filter`` and the filtered category.
    """
    chunks: list[dict[str, JsonValue]] = [
        {
            "choices": [],
            "created": 0,
            "id": "",
            "model": "",
            "object": "",
            "prompt_filter_results": _prompt_filter_results(),
        }
    ]
    role_delta: dict[str, JsonValue] = (
        {"content": "", "refusal": None, "role": "assistant"}
        if c.text_pieces or not c.tool_calls
        else {"content": None, "role": "assistant"}
    )
    choices: list[list[JsonValue]] = [[_choice(role_delta, {}, None)]]
    before, after = chat_extra_deltas(c.extras)
    choices += [[choice] for choice in before]
    choices += [[_choice({"content": piece}, CHAT_CHUNK_FILTER, None)] for piece in c.text_pieces]
    choices += [[choice] for choice in after]
    choices += [[_choice({"tool_calls": deltas}, {}, None)] for deltas in _tool_call_deltas(c)]
    finish_filters: dict[str, JsonValue] = c.filtered.results(CHAT_CHUNK_FILTER) if c.filtered else {}
    choices.append([_choice({}, finish_filters, c.finish_reason)])
    chunks += [_chunk(c, n, ch, include_usage) for n, ch in enumerate(choices, start=1)]
    if include_usage:
        tail = _chunk(c, len(chunks), [], include_usage=False)
        tail["usage"] = _chat_usage(c.usage)
        chunks.append(tail)
    return [b"data: " + compact(chunk) + b"\n\n" for chunk in chunks] + [b"data: [DONE]\n\n"]
