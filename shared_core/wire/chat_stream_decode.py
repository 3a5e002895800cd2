"""Azure Chat Completions streams -> stream events, one server-sent event at a time.

Streams (one :class:`ChatStreamDecoder` per stream) follow the real wire, not the spec: the first chunk has
``choices: []`` and only ``prompt_filter_results``; the role chunk has ``"content": ""``, which never becomes a
:class:`TextDelta`; every chunk carries ``content_filter_results`` (often ``{}``, which is skipped); filter
annotation chunks come with no ``delta`` or ``delta: null``; with ``include_usage`` every chunk has
``"usage": null`` and a trailing ``choices: []`` chunk carries the usage. Metadata (id, model, created,
fingerprint, unknown top-level fields) is emitted only when it changes, so a text chunk costs one small event.
``obfuscation`` is random padding that Azure puts on every chunk to hide token lengths; it carries no content
and is not kept on streams. With ``n`` > 1 every choice is decoded: choice 0's events as they are, those of
choices 1, 2 ... wrapped in :class:`ChoiceEvent`. Each text chunk's ``choice.logprobs.content`` becomes its
``TextDelta.logprobs``; ``delta.reasoning_content`` a :class:`ReasoningDelta`; ``delta.audio`` an
:class:`AudioDelta`. The fields shared with whole responses are read by :mod:`shared_core.wire.chat_decode`.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared_core.errors import InvalidResponseError, ServerError
from shared_core.messages import JsonValue
from shared_core.result import (
    AudioDelta,
    ChoiceEvent,
    ContentFilterDelta,
    FinishEvent,
    PromptFilterEvent,
    ReasoningDelta,
    RefusalDelta,
    ResponseMetadata,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UsageEvent,
)
from shared_core.wire.chat_decode import (
    KNOWN_TOP_FIELDS,
    decode_finish_reason,
    decode_prompt_filters,
    decode_token_logprobs,
    decode_usage,
)
from shared_core.wire.json_read import json_int, json_str, kept, load_record

__all__ = ["ChatStreamDecoder"]

JsonObject = dict[str, JsonValue]

_NO_META: tuple[None, None, None, None] = (None, None, None, None)
# Stream fields never reported as provider details: the modelled ones, and per-chunk padding (module docstring).
_IGNORED_STREAM_TOP = KNOWN_TOP_FIELDS | {"obfuscation"}


class ChatStreamDecoder:
    """Decodes one Chat Completions stream, one server-sent event at a time.

    Attributes:
        done: True once ``data: [DONE]`` arrived.
    """

    __slots__ = ("_extras", "_meta", "_raw_meta", "done")

    def __init__(self) -> None:
        self.done = False
        self._meta: tuple[str | None, str | None, int | None, str | None] = (None, None, None, None)
        self._raw_meta: tuple[object, ...] = ()
        self._extras: JsonObject = {}

    def decode(self, event: str | None, data: str) -> tuple[StreamEvent, ...]:
        """Decode one SSE record's data into stream events (none, for ``[DONE]`` or an empty keep-alive).

        Args:
            event: The SSE event name (Chat Completions sends none; unused).
            data: The record's data.

        Raises:
            InvalidResponseError: The data is not a JSON object.
            ServerError: Azure reported an error inside the stream.
        """
        if data == "[DONE]" or data.strip() == "[DONE]":
            self.done = True
            return ()
        try:
            chunk = load_record(data)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than Python's parser goes
            raise InvalidResponseError(f"stream chunk is not JSON ({exc}): {data[:200]!r}") from exc
        if not isinstance(chunk, dict):
            raise InvalidResponseError(f"stream chunk is a JSON {type(chunk).__name__}, not an object")
        out: list[StreamEvent] = []
        self._metadata(chunk, out)
        filters = chunk.get("prompt_filter_results", chunk.get("prompt_annotations"))
        if filters:
            out.append(PromptFilterEvent(decode_prompt_filters(filters)))
        choices = chunk.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                index = json_int(choice.get("index", 0)) if isinstance(choice, dict) else None
                if isinstance(choice, dict) and index == 0:
                    _decode_choice_delta(choice, out)
                elif isinstance(choice, dict) and index is not None and index > 0:
                    inner: list[StreamEvent] = []
                    _decode_choice_delta(choice, inner)
                    out.extend(ChoiceEvent(index, event) for event in inner)
        elif isinstance(chunk.get("error"), dict):
            raise _stream_error(chunk)
        usage = chunk.get("usage")
        if usage is not None:
            details: JsonObject = {}
            decoded = decode_usage(usage, details)
            if decoded is not None:
                out.append(UsageEvent(decoded))
            if details:
                out.append(ResponseMetadata(provider_details=details))
        return tuple(out)

    def _metadata(self, chunk: JsonObject, out: list[StreamEvent]) -> None:
        created = chunk.get("created")
        raw = (chunk.get("id"), chunk.get("model"), created, type(created), chunk.get("system_fingerprint"))
        if raw == self._raw_meta and chunk.keys() <= _IGNORED_STREAM_TOP:
            return  # the same identity as the chunk before (every chunk repeats it): no event, as below
        self._raw_meta = raw
        meta = (
            json_str(chunk.get("id")),
            json_str(chunk.get("model")),
            # The prompt-filter chunk that opens a stream has "created": 0; it is not a timestamp.
            json_int(chunk.get("created")) or None,
            json_str(chunk.get("system_fingerprint")),
        )
        changed: JsonObject = {}
        if not chunk.keys() <= _IGNORED_STREAM_TOP:
            for key, value in chunk.items():
                if key not in _IGNORED_STREAM_TOP and self._extras.get(key) != value and kept(value):
                    changed[key] = value
        if not changed and meta in (self._meta, _NO_META):
            return
        self._meta = meta
        self._extras.update(changed)
        out.append(
            ResponseMetadata(
                response_id=meta[0],
                model=meta[1],
                created=meta[2],
                system_fingerprint=meta[3],
                provider_details=changed,
            )
        )


def _decode_choice_delta(choice: JsonObject, out: list[StreamEvent]) -> None:
    filters = choice.get("content_filter_results")
    if filters and isinstance(filters, dict):
        out.append(ContentFilterDelta(filters))
    delta = choice.get("delta")
    if isinstance(delta, dict):
        reasoning = delta.get("reasoning_content")
        if reasoning and isinstance(reasoning, str):
            out.append(ReasoningDelta(reasoning))
        content = delta.get("content")
        if content and isinstance(content, str):
            logprobs = choice.get("logprobs")
            tokens = decode_token_logprobs(logprobs.get("content")) if isinstance(logprobs, dict) else ()
            out.append(TextDelta(content, tokens))
        audio = delta.get("audio")
        if isinstance(audio, dict):
            out.append(_audio_delta(audio))
        refusal = delta.get("refusal")
        if refusal and isinstance(refusal, str):
            out.append(RefusalDelta(refusal))
        calls = delta.get("tool_calls")
        if calls and isinstance(calls, list):
            out.extend(_tool_call_delta(call) for call in calls)
    finish = choice.get("finish_reason")
    if finish is not None:
        reason, raw = decode_finish_reason(finish)
        if reason is not None:
            out.append(FinishEvent(reason, raw))


def _audio_delta(audio: JsonObject) -> AudioDelta:
    return AudioDelta(
        data=json_str(audio.get("data")) or "",
        transcript=json_str(audio.get("transcript")) or "",
        id=json_str(audio.get("id")),
        expires_at=json_int(audio.get("expires_at")),
    )


def _tool_call_delta(call: JsonValue) -> ToolCallDelta:
    if not isinstance(call, dict):
        raise InvalidResponseError(f"stream tool call delta is a JSON {type(call).__name__}, not an object")
    index = call.get("index")
    function = call.get("function")
    name: str | None = None
    arguments = ""
    if isinstance(function, dict):
        name = json_str(function.get("name"))
        fragment = function.get("arguments")
        if isinstance(fragment, str):
            arguments = fragment
    return ToolCallDelta(index=json_int(index) or 0, id=json_str(call.get("id")), name=name, arguments=arguments)


def _stream_error(chunk: JsonObject) -> ServerError:
    error = chunk.get("error")
    body: Mapping[str, JsonValue] = error if isinstance(error, dict) else {}
    code = body.get("code")
    message = body.get("message")
    return ServerError(
        f"Azure reported an error inside the stream: {message if isinstance(message, str) else body!r}",
        code=str(code) if code is not None else None,
    )
