"""Pure builders of Azure OpenAI success bodies and SSE streams, in the shapes real Azure sends.

Every shape here was copied from the recordings in ``../shared/azure-recordings`` (see its README for the
quirks): key order, compact versus pretty-printed JSON, which filter categories appear where. Nothing in this
module does I/O or draws random numbers: identifiers come in through :class:`Completion`, and the
``obfuscation`` padding is derived from a hash, so equal inputs give equal bytes. Error bodies and headers
live in ``error_bodies``. Where no recording exists (a chat filter firing mid-answer) the docstring says so.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Mapping
from dataclasses import dataclass, field

from azure_openai_emulator.content import (
    ContentExtras,
    chat_extra_choices,
    chat_extra_deltas,
    chat_message_extras,
    hosted_item_events,
)
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

_OBFUSCATION_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class DeploymentInfo:
    """What one emulated deployment reports about itself.

    Attributes:
        model: The versioned model Chat Completions bodies name (``gpt-4o-mini-2024-07-18``), not the deployment.
        system_fingerprint: ``fp_…`` for gpt-4o-family models; gpt-5-family deployments send ``null``.
        region: The ``x-ms-region`` header.
        requests_per_minute: ``x-ratelimit-limit-requests``.
        tokens_per_minute: ``x-ratelimit-limit-tokens``.
        enforce_quota: Answer 429 when a request's tokens exceed what is left of ``tokens_per_minute``, which
            refills over ``renewal_period`` (see :mod:`azure_openai_emulator.quota`); off, usage is only counted.
        renewal_period: Seconds over which an enforced token budget refills completely.
    """

    model: str = "gpt-4o-mini-2024-07-18"
    system_fingerprint: str | None = "fp_efad92c60b"
    region: str = "East US"
    requests_per_minute: int = 300
    tokens_per_minute: int = 30000
    enforce_quota: bool = False
    renewal_period: float = 60.0


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call the model makes.

    Attributes:
        name: Function name.
        arguments: The arguments as JSON text, sent exactly as given (it may be invalid on purpose).
        call_id: ``call_…``; left empty, the server fills one in.
    """

    name: str
    arguments: str = "{}"
    call_id: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts. ``completion_tokens`` includes ``reasoning_tokens``, as Azure counts them."""

    prompt_tokens: int = 10
    completion_tokens: int = 5
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class FilterVerdict:
    """The content-filter category that fired, and at which severity."""

    category: str = "violence"
    severity: str = "medium"

    def results(self, base: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
        """``base`` with this category marked filtered (added when ``base`` lacks it)."""
        out = dict(base)
        out[self.category] = {"filtered": True, "severity": self.severity}
        return out


@dataclass(frozen=True, slots=True)
class Completion:
    """One fully decided answer: everything the builders render, identifiers included.

    Attributes:
        response_id: ``chatcmpl-…`` (chat) or ``resp_…`` (Responses).
        created: Unix seconds.
        model: The ``model`` the body names.
        system_fingerprint: Chat only.
        text_pieces: The text as it streams, one piece per chunk; joined, the whole text.
        tool_calls: Calls with their ``call_id`` filled in.
        argument_pieces: How many fragments each call's arguments stream in.
        pack_tool_calls: Stream the k-th fragment of every call in one chunk (several indexes per chunk).
        usage: Token counts.
        finish_reason: ``stop``, ``tool_calls``, ``length`` or ``content_filter``.
        filtered: When set, the filter cut the answer after ``text_pieces``.
        extras: Hosted tool items, citations, reasoning text, audio and extra choices (``emulator.content``).
    """

    response_id: str
    created: int
    model: str
    system_fingerprint: str | None = None
    text_pieces: tuple[str, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    argument_pieces: int = 4
    pack_tool_calls: bool = False
    usage: Usage = Usage()
    finish_reason: str = "stop"
    filtered: FilterVerdict | None = None
    extras: ContentExtras = field(default_factory=ContentExtras)

    @property
    def text(self) -> str | None:
        """The whole text, or ``None`` for a tool-call-only answer."""
        return "".join(self.text_pieces) if self.text_pieces or not self.tool_calls else None


def compact(value: JsonValue) -> bytes:
    """Serialize as Chat Completions does: no spaces, non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def pretty(value: JsonValue) -> bytes:
    """Serialize as the Responses API and the OpenAI-style errors do: two-space indent."""
    return json.dumps(value, indent=2, ensure_ascii=False).encode("utf-8")


def split_text(text: str, pieces: int) -> tuple[str, ...]:
    """Split ``text`` into ``pieces`` near-equal parts (fewer when the text is shorter)."""
    pieces = max(1, min(pieces, len(text)))
    size, extra = divmod(len(text), pieces)
    out: list[str] = []
    start = 0
    for i in range(pieces):
        end = start + size + (1 if i < extra else 0)
        out.append(text[start:end])
        start = end
    return tuple(out)


def _obfuscation(seed: str) -> str:
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return "".join(_OBFUSCATION_ALPHABET[b % len(_OBFUSCATION_ALPHABET)] for b in digest[1 : 1 + digest[0] % 16])


def _hex_id(prefix: str, seed: str) -> str:
    return prefix + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:50]


# ---------------------------------------------------------------------------------------------- chat


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
        "obfuscation": _obfuscation(f"{c.response_id}/{n}"),
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


# ---------------------------------------------------------------------------------------------- responses


def _responses_tools(request: Mapping[str, JsonValue]) -> list[JsonValue]:
    tools = request.get("tools")
    out: list[JsonValue] = []
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict) and tool.get("type") == "function":
            out.append(
                {
                    "type": "function",
                    "description": tool.get("description"),
                    "name": tool.get("name"),
                    "parameters": tool.get("parameters"),
                    "strict": tool.get("strict", True),
                }
            )
        else:
            out.append(tool)
    return out


def _text_format(request: Mapping[str, JsonValue]) -> JsonValue:
    text = request.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return fmt if isinstance(fmt, dict) else {"type": "text"}
    out: dict[str, JsonValue] = {"type": "json_schema", "description": fmt.get("description")}
    out.update({k: v for k, v in fmt.items() if k not in ("type", "description")})
    return out


def _responses_usage(usage: Usage) -> dict[str, JsonValue]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def _output_items(c: Completion, *, done: bool) -> list[dict[str, JsonValue]]:
    items: list[dict[str, JsonValue]] = [dict(item) for item in c.extras.hosted_items]
    if c.text is not None:
        status = "incomplete" if c.filtered else ("completed" if done else "in_progress")
        annotations: list[JsonValue] = list(c.extras.annotations)
        content: list[JsonValue] = [{"type": "output_text", "annotations": annotations, "logprobs": [], "text": c.text}]
        items.append(
            {
                "id": _hex_id("msg_", c.response_id),
                "type": "message",
                "status": status,
                "content": content if done else [],
                "role": "assistant",
            }
        )
    for index, call in enumerate(c.tool_calls):
        items.append(
            {
                "id": _hex_id("fc_", f"{c.response_id}/{index}"),
                "type": "function_call",
                "status": "completed" if done else "in_progress",
                "arguments": call.arguments if done else "",
                "call_id": call.call_id,
                "name": call.name,
            }
        )
    return items


def responses_body(c: Completion, request: Mapping[str, JsonValue], *, done: bool = True) -> dict[str, JsonValue]:
    """The ``response`` object (the non-streamed body, and the payload of created/completed events).

    ``model`` echoes the deployment name, not a versioned model, as recorded. A filtered answer is
    ``status: incomplete`` with ``incomplete_details.reason: content_filter`` (recorded on a stream).
    """
    reasoning = request.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    status = ("incomplete" if c.filtered else "completed") if done else "in_progress"
    return {
        "id": c.response_id,
        "object": "response",
        "created_at": c.created,
        "status": status,
        "background": False,
        "content_filters": None,
        "error": None,
        "incomplete_details": {"reason": "content_filter"} if c.filtered and done else None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": c.model,
        "output": list[JsonValue](_output_items(c, done=True)) if done else [],
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": request.get("previous_response_id"),
        "prompt_cache_key": None,
        "reasoning": {"effort": effort, "summary": None},
        "safety_identifier": None,
        "service_tier": "default" if done else "auto",
        "store": request.get("store", True),
        "temperature": request.get("temperature", 1.0),
        "text": {"format": _text_format(request), "verbosity": "medium"},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": _responses_tools(request),
        "top_logprobs": 0,
        "top_p": request.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": _responses_usage(c.usage) if done else None,
        "user": None,
        "metadata": request.get("metadata", {}),
    }


def _message_events(
    c: Completion, item: dict[str, JsonValue], final: dict[str, JsonValue], index: int = 0
) -> list[dict[str, JsonValue]]:
    ids: dict[str, JsonValue] = {"item_id": item["id"], "output_index": index, "content_index": 0}
    part: dict[str, JsonValue] = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    events: list[dict[str, JsonValue]] = [
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.content_part.added", **ids, "part": part},
    ]
    for n, piece in enumerate(c.text_pieces):
        events.append(
            {
                "type": "response.output_text.delta",
                **ids,
                "delta": piece,
                "logprobs": [],
                "obfuscation": _obfuscation(f"{c.response_id}/t{n}"),
            }
        )
    text = c.text or ""
    for n, annotation in enumerate(c.extras.annotations):
        events.append(
            {"type": "response.output_text.annotation.added", **ids, "annotation_index": n, "annotation": annotation}
        )
    done_part: dict[str, JsonValue] = {**part, "text": text, "annotations": list(c.extras.annotations)}
    tail: list[dict[str, JsonValue]] = [
        {"type": "response.output_text.done", **ids, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **ids, "part": done_part},
        {"type": "response.output_item.done", "output_index": index, "item": final},
    ]
    return events + tail


def _call_events(
    c: Completion, index: int, item: dict[str, JsonValue], final: dict[str, JsonValue]
) -> list[dict[str, JsonValue]]:
    ids: dict[str, JsonValue] = {"item_id": item["id"], "output_index": index}
    call = c.tool_calls[index - len(c.extras.hosted_items) - (1 if c.text is not None else 0)]
    events: list[dict[str, JsonValue]] = [{"type": "response.output_item.added", "output_index": index, "item": item}]
    for n, piece in enumerate(split_text(call.arguments, c.argument_pieces)):
        obfuscation = _obfuscation(f"{c.response_id}/{index}/{n}")
        events.append(
            {"type": "response.function_call_arguments.delta", **ids, "delta": piece, "obfuscation": obfuscation}
        )
    tail: list[dict[str, JsonValue]] = [
        {"type": "response.function_call_arguments.done", **ids, "arguments": call.arguments},
        {"type": "response.output_item.done", "output_index": index, "item": final},
    ]
    return events + tail


def responses_stream(c: Completion, request: Mapping[str, JsonValue]) -> list[bytes]:
    """The ``event:``/``data:`` pairs of a Responses stream, numbered by ``sequence_number``.

    It ends at ``response.completed`` (``response.incomplete`` when the filter cut it) with no ``[DONE]``.
    A message item streams with ``status: incomplete`` throughout when the filter fires, as recorded.
    """
    pending = responses_body(c, request, done=False)
    events: list[dict[str, JsonValue]] = [
        {"type": "response.created", "response": pending},
        {"type": "response.in_progress", "response": pending},
    ]
    started, finished = _output_items(c, done=False), _output_items(c, done=True)
    for index, (item, final) in enumerate(zip(started, finished, strict=True)):
        if index < len(c.extras.hosted_items):
            events += hosted_item_events(final, index)
        elif item["type"] == "message":
            events += _message_events(c, item, final, index)
        else:
            events += _call_events(c, index, item, final)
    last = "response.incomplete" if c.filtered else "response.completed"
    events.append({"type": last, "response": responses_body(c, request, done=True)})
    out: list[bytes] = []
    for n, event in enumerate(events):
        numbered: dict[str, JsonValue] = {"type": event["type"], "sequence_number": n}
        numbered.update({k: v for k, v in event.items() if k != "type"})
        out.append(f"event: {event['type']}\ndata: ".encode() + compact(numbered) + b"\n\n")
    return out
