"""Azure Chat Completions responses -> ChatResult, and the field decoders the stream decoder shares.

Everything Azure sends is kept: ``prompt_filter_results`` (``prompt_annotations`` on 2023 api-versions; each
verdict under ``content_filter_results``, or ``content_filter_result`` when the prompt held an image), the
choice's ``content_filter_results``, the versioned ``model``, a ``null`` ``system_fingerprint``, cached and
reasoning token counts, ``refusal``. Fields with no place in :class:`ChatResult` go to ``provider_details``:
unknown top-level fields under their own name (``service_tier``, ``latency_checkpoint`` ...), unknown choice and
message fields as ``choice.<name>`` / ``message.<name>`` (``message.annotations``, ``choice.logprobs``), usage
counters we do not model as ``usage`` (the raw object, when one of them is non-zero), and a finish reason we do
not know as ``finish_reason``. ``null`` and empty values carry nothing and are not kept.

With ``n`` > 1 every choice is decoded: choice 0 is the result, choices 1, 2 ... are ``ChatResult.choices``; a
choice whose ``index`` is not an integer is kept raw under ``additional_choices``. ``choice.logprobs.content``
becomes :attr:`ChatResult.logprobs`; the rest of ``choice.logprobs`` (``refusal`` log probabilities) stays in
``provider_details`` as ``choice.logprobs``. Streams are decoded by :mod:`shared_core.wire.chat_stream_decode`,
with the field decoders below.

``message.reasoning_content`` (DeepSeek-R1 and other models on Azure's v1 endpoint) becomes a
:class:`ReasoningPart` first in the message. ``message.audio`` (``modalities`` with ``audio``: base64 ``data``,
``transcript``, ``id``, ``expires_at``) becomes an :class:`AudioPart` after the text.
"""

from __future__ import annotations

import json

from shared_core.content_filter import prompt_filter_error
from shared_core.errors import ContentFilterError, InvalidResponseError
from shared_core.messages import AudioPart, JsonValue, Message, MessagePart, ReasoningPart, TextPart, ToolCallPart
from shared_core.result import ChatResult, FinishReason, PromptFilterResult, TokenLogprob, Usage
from shared_core.tool_calls import InvalidToolCall, ToolCall, parse_tool_arguments
from shared_core.wire.json_read import json_int, json_str, kept

__all__ = [
    "KNOWN_TOP_FIELDS",
    "decode_error",
    "decode_finish_reason",
    "decode_prompt_filters",
    "decode_response",
    "decode_token_logprobs",
    "decode_usage",
]

JsonObject = dict[str, JsonValue]

_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
    "function_call": "function_call",
}
KNOWN_TOP_FIELDS = frozenset(
    {
        "id",
        "object",
        "created",
        "model",
        "system_fingerprint",
        "choices",
        "usage",
        "prompt_filter_results",
        "prompt_annotations",
    }
)
"""Top-level fields of a completion (or a chunk) that :class:`ChatResult` models; others go to provider details."""
_KNOWN_CHOICE = frozenset({"index", "message", "delta", "finish_reason", "content_filter_results", "logprobs"})
_KNOWN_MESSAGE = frozenset({"role", "content", "refusal", "tool_calls", "reasoning_content", "audio"})
_KNOWN_USAGE = frozenset({"prompt_tokens", "completion_tokens", "total_tokens"})
_MODELLED_DETAILS = {"prompt_tokens_details": "cached_tokens", "completion_tokens_details": "reasoning_tokens"}


def decode_response(payload: JsonValue) -> ChatResult:
    """Decode the parsed JSON of a successful (200) Chat Completions response.

    Raises:
        InvalidResponseError: The body is not a chat completion (not an object, no ``choices`` list, an error
            body under a success status, a message whose content is not text).
    """
    body, choices = _completion(payload)
    details: JsonObject = {k: v for k, v in body.items() if k not in KNOWN_TOP_FIELDS and kept(v)}
    choice, others = _first_choice(choices, details)
    parts: list[MessagePart] = []
    valid: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    refusal: str | None = None
    finish: FinishReason | None = None
    filters: JsonObject = {}
    logprobs: tuple[TokenLogprob, ...] | None = None
    if choice is not None:
        _extras(choice, _KNOWN_CHOICE, "choice.", details)
        logprobs = _choice_logprobs(choice, details)
        message = choice.get("message")
        if isinstance(message, dict):
            refusal = _decode_message(message, parts, valid, invalid, details)
        finish, raw_finish = decode_finish_reason(choice.get("finish_reason"))
        if finish == "other":
            details["finish_reason"] = raw_finish
        cfr = choice.get("content_filter_results")
        if isinstance(cfr, dict):
            filters = cfr
    return ChatResult(
        message=Message("assistant", tuple(parts)),
        tool_calls=tuple(valid),
        invalid_tool_calls=tuple(invalid),
        finish_reason=finish,
        usage=decode_usage(body.get("usage"), details),
        response_id=json_str(body.get("id")),
        model=json_str(body.get("model")),
        system_fingerprint=json_str(body.get("system_fingerprint")),
        created=json_int(body.get("created")),
        refusal=refusal,
        prompt_filter_results=decode_prompt_filters(body.get("prompt_filter_results", body.get("prompt_annotations"))),
        content_filter_results=filters,
        provider_details=details,
        logprobs=logprobs,
        choices=_other_choices(body, others),
    )


def _completion(payload: JsonValue) -> tuple[JsonObject, list[JsonValue]]:
    """The body as an object, and its ``choices``; or the error saying why it is not a chat completion."""
    if not isinstance(payload, dict):
        raise InvalidResponseError(f"chat completion body is a JSON {type(payload).__name__}, not an object")
    choices = payload.get("choices")
    if not isinstance(choices, list):
        error = payload.get("error")
        if isinstance(error, dict):
            raise InvalidResponseError(f"Azure sent an error body with a success status: {error.get('message')!r}")
        raise InvalidResponseError(f"chat completion body has no 'choices' list (keys: {sorted(payload)})")
    return payload, choices


def decode_token_logprobs(raw: JsonValue) -> tuple[TokenLogprob, ...]:
    """A list of ``{token, logprob, bytes, top_logprobs}`` objects (Chat Completions ``logprobs.content``, the
    Responses ``output_text.logprobs``) as :class:`TokenLogprob` s; entries that are not such objects are
    skipped."""
    out: list[TokenLogprob] = []
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, dict):
            continue
        token, logprob = entry.get("token"), entry.get("logprob")
        if not isinstance(token, str) or not isinstance(logprob, int | float) or isinstance(logprob, bool):
            continue
        raw_bytes = entry.get("bytes")
        as_bytes = tuple(b for b in raw_bytes if isinstance(b, int)) if isinstance(raw_bytes, list) else None
        top = decode_token_logprobs(entry.get("top_logprobs"))
        out.append(TokenLogprob(token, float(logprob), as_bytes, top))
    return tuple(out)


def _choice_logprobs(choice: JsonObject, details: JsonObject) -> tuple[TokenLogprob, ...] | None:
    raw = choice.get("logprobs")
    if not isinstance(raw, dict):
        return None
    if any(kept(v) for k, v in raw.items() if k != "content"):
        details["choice.logprobs"] = raw
    return decode_token_logprobs(raw.get("content"))


def _first_choice(choices: list[JsonValue], details: JsonObject) -> tuple[JsonObject | None, list[JsonObject]]:
    """Choice 0, and the other choices with an integer index (``n`` > 1); any other entry goes raw to details."""
    picked: JsonObject | None = None
    others: list[JsonValue] = []
    numbered: list[JsonObject] = []
    for choice in choices:
        index = json_int(choice.get("index", 0)) if isinstance(choice, dict) else None
        if picked is None and isinstance(choice, dict) and index == 0:
            picked = choice
        elif isinstance(choice, dict) and index is not None and index > 0:
            numbered.append(choice)
        else:
            others.append(choice)
    if others:
        details["additional_choices"] = others
    return picked, numbered


def _other_choices(payload: JsonObject, choices: list[JsonObject]) -> tuple[ChatResult, ...]:
    """Choices 1, 2 ... each decoded as a response of its own (choice 0 of a copy), in index order."""
    out: list[ChatResult] = []
    for choice in sorted(choices, key=lambda c: json_int(c.get("index")) or 0):
        alone: JsonObject = {
            "id": payload.get("id"),
            "model": payload.get("model"),
            "choices": [{**choice, "index": 0}],
        }
        out.append(decode_response(alone))
    return tuple(out)


def _decode_message(
    message: JsonObject,
    parts: list[MessagePart],
    valid: list[ToolCall],
    invalid: list[InvalidToolCall],
    details: JsonObject,
) -> str | None:
    _extras(message, _KNOWN_MESSAGE, "message.", details)
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        parts.append(ReasoningPart(text=reasoning))
    content = message.get("content")
    if isinstance(content, str):
        if content:
            parts.append(TextPart(content))
    elif content is not None:
        raise InvalidResponseError(f"assistant message content is a JSON {type(content).__name__}, not text")
    audio = _decode_audio(message.get("audio"))
    if audio is not None:
        parts.append(audio)
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        for call in calls:
            part, parsed = _decode_tool_call(call)
            parts.append(part)
            if isinstance(parsed, ToolCall):
                valid.append(parsed)
            else:
                invalid.append(parsed)
    refusal = message.get("refusal")
    return refusal if isinstance(refusal, str) and refusal else None


def _decode_audio(raw: JsonValue) -> AudioPart | None:
    if not isinstance(raw, dict):
        return None
    return AudioPart(
        data=json_str(raw.get("data")) or "",
        id=json_str(raw.get("id")),
        transcript=json_str(raw.get("transcript")),
        expires_at=json_int(raw.get("expires_at")),
    )


def _decode_tool_call(call: JsonValue) -> tuple[ToolCallPart, ToolCall | InvalidToolCall]:
    if not isinstance(call, dict):
        raw = json.dumps(call)
        return ToolCallPart("", "", raw), InvalidToolCall("", "", raw, "tool call is not a JSON object")
    call_id = json_str(call.get("id")) or ""
    function = call.get("function")
    if not isinstance(function, dict):
        kind = call.get("type")
        raw = json.dumps(call)
        error = f"tool call of type {kind!r} has no 'function' object; only function tools are supported"
        return ToolCallPart(call_id, "", raw), InvalidToolCall(call_id, "", raw, error)
    name = json_str(function.get("name")) or ""
    arguments = function.get("arguments")
    raw = arguments if isinstance(arguments, str) else "" if arguments is None else json.dumps(arguments)
    part = ToolCallPart(call_id, name, raw)
    if not name:
        return part, InvalidToolCall(call_id, "", raw, "tool call has no function name")
    return part, parse_tool_arguments(call_id, name, raw)


def decode_finish_reason(raw: JsonValue) -> tuple[FinishReason | None, str | None]:
    """Normalise a ``finish_reason``: a known one maps to itself, an unknown one to ``other``.

    Returns:
        The normalised reason (``None`` when Azure sent none) and the raw string.
    """
    if not isinstance(raw, str):
        return None, None
    return _FINISH_REASONS.get(raw, "other"), raw


def decode_usage(raw: JsonValue, details: JsonObject | None = None) -> Usage | None:
    """Read a ``usage`` object (``None`` for ``null`` or a non-object).

    Args:
        raw: The ``usage`` value.
        details: When given, receives the raw usage under ``usage`` if it holds a non-zero counter that
            :class:`Usage` does not model (audio or prediction tokens).
    """
    if not isinstance(raw, dict):
        return None
    prompt = json_int(raw.get("prompt_tokens")) or 0
    completion = json_int(raw.get("completion_tokens")) or 0
    total = json_int(raw.get("total_tokens"))
    counts = {"cached_tokens": 0, "reasoning_tokens": 0}
    unmodelled = False
    for key, value in raw.items():
        if key in _KNOWN_USAGE:
            continue
        if isinstance(value, dict):
            modelled = _MODELLED_DETAILS.get(key)
            for name, count in value.items():
                if name == modelled:
                    counts[name] = json_int(count) or 0
                elif count:
                    unmodelled = True
        elif kept(value):
            unmodelled = True
    if unmodelled and details is not None:
        details["usage"] = raw
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        total_tokens=total if total is not None else prompt + completion,
        cached_input_tokens=counts["cached_tokens"],
        reasoning_tokens=counts["reasoning_tokens"],
    )


def decode_prompt_filters(raw: JsonValue) -> tuple[PromptFilterResult, ...]:
    """Read ``prompt_filter_results`` (or the 2023 ``prompt_annotations``): one verdict per prompt."""
    if not isinstance(raw, list):
        return ()
    out: list[PromptFilterResult] = []
    for position, item in enumerate(raw):
        if not isinstance(item, dict):
            continue
        index = json_int(item.get("prompt_index"))
        # Prompts with images come back with the singular key (recorded on gpt-5-mini, 2025).
        results = item.get("content_filter_results", item.get("content_filter_result"))
        out.append(
            PromptFilterResult(
                prompt_index=position if index is None else index,
                content_filter_results=results if isinstance(results, dict) else {},
            )
        )
    return tuple(out)


def decode_error(status: int, payload: JsonValue) -> ContentFilterError | None:
    """The typed error for a rejected prompt, or ``None`` when the error body is not a content filter.

    Azure answers a filtered prompt with a 400 whose ``code`` is ``content_filter`` (as plain JSON, even when a
    stream was asked for); every other error is left to the transport's error table.
    """
    return prompt_filter_error(payload, status=status)


def _extras(obj: JsonObject, known: frozenset[str], prefix: str, details: JsonObject) -> None:
    for key, value in obj.items():
        if key not in known and kept(value):
            details[prefix + key] = value
