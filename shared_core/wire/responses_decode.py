"""Responses API answers -> ChatResult, StreamEvents and errors.

Decoding rules (the same for a JSON body and for a stream, so both fold to equal results):

- ``message`` items: ``output_text`` parts are the text (joined), ``refusal`` parts the refusal.
- ``function_call`` items: ``call_id``, ``name`` and ``arguments``, parsed by
  :func:`~shared_core.tool_calls.parse_tool_arguments` (malformed JSON is an invalid tool call, never ``{}``).
- ``reasoning`` items: a :class:`ReasoningPart` with the ``rs_`` id, the summary text (parts joined by a
  blank line; ``reasoning_text`` content when there is no summary) and ``encrypted_content``.
- Finish reason, chosen so that it reads like Chat Completions for the same turn: ``completed`` is
  ``tool_calls`` when the output holds a function call and ``stop`` otherwise; ``incomplete`` is ``length``
  for ``max_output_tokens``, ``content_filter`` for ``content_filter`` (so
  :func:`~shared_core.content_filter.completion_filter_error` fires) and ``incomplete`` for any other
  reason; ``cancelled`` is ``other`` (raw status kept in ``provider_details['finish_reason']``);
  ``queued`` / ``in_progress`` have none. ``failed`` raises.
- Azure's ``content_filters`` array: ``source_type: prompt`` entries become ``prompt_filter_results``,
  every other entry is merged into ``content_filter_results``; the raw array is also kept.
- Items of tools Azure runs itself and the citations on the text: :mod:`shared_core.wire.hosted_tools`.
- ``provider_details`` holds every other top-level field of the response that is not null (``status``,
  ``incomplete_details``, ``service_tier``, the echoed settings ...), plus ``annotations`` and ``logprobs``
  of the output text when not empty and ``other_output`` (output items of types we do not decode; hosted tool
  items are decoded, into :class:`~shared_core.messages.HostedToolPart` s).
- The output text's ``logprobs`` (asked for with ``include: message.output_text.logprobs``) also become
  :attr:`ChatResult.logprobs`, and each ``response.output_text.delta``'s ``logprobs`` its ``TextDelta.logprobs``.
"""

from __future__ import annotations

import json

from shared_core.content_filter import filter_categories, prompt_filter_error
from shared_core.errors import (
    ContentFilterError,
    GatewayError,
    InvalidResponseError,
    ServerError,
)
from shared_core.messages import (
    HostedToolPart,
    JsonValue,
    Message,
    MessagePart,
    ReasoningPart,
    TextPart,
    ToolCallPart,
)
from shared_core.result import (
    AnnotationEvent,
    ChatResult,
    ContentFilterDelta,
    FinishEvent,
    FinishReason,
    HostedToolEvent,
    PromptFilterEvent,
    PromptFilterResult,
    ReasoningDelta,
    ReasoningItemEvent,
    RefusalDelta,
    ResponseMetadata,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
    merge_filter_results,
)
from shared_core.tool_calls import InvalidToolCall, ToolCall, parse_tool_arguments
from shared_core.wire.chat_decode import decode_token_logprobs
from shared_core.wire.hosted_tools import HOSTED_ITEM_TYPES, decode_hosted_item, shift_annotation
from shared_core.wire.json_read import load_record

__all__ = [
    "ResponsesStreamDecoder",
    "decode_error",
    "decode_response",
    "decode_usage",
    "finish_reason",
    "response_details",
]

JsonObject = dict[str, JsonValue]

# Top-level fields that have a place of their own in ChatResult.
_MAPPED_FIELDS = frozenset({"id", "object", "created_at", "model", "output", "usage"})
_INCOMPLETE_REASONS: dict[str, FinishReason] = {"max_output_tokens": "length", "content_filter": "content_filter"}
_FILTER_CODES = frozenset({"content_filter", "ResponsibleAIPolicyViolation"})


def decode_response(payload: JsonValue) -> ChatResult:
    """Decode the parsed JSON of a 200 ``/responses`` body.

    Raises:
        InvalidResponseError: The body is not a response object (no ``output`` list).
        ContentFilterError: The response ``failed`` with a content-filter code.
        ServerError: The response ``failed`` for any other reason.
    """
    response = _require_response(payload, "response body")
    if response.get("status") == "failed":
        raise _failure_error(response.get("error"), response, streaming=False)
    output = _output(response)
    reasoning, texts, refusals, calls = _walk_output(output)
    hosted, annotations = _hosted_and_annotations(output)
    parts: list[MessagePart] = [*reasoning, *hosted]
    if texts:
        parts.append(TextPart("".join(texts), annotations))
    parts.extend(calls)
    valid, invalid = _parse_calls(calls)
    reason, raw = finish_reason(response)
    prompt_results, completion_results = _filters(response)
    details = response_details(response)
    if reason == "other" and raw:
        details["finish_reason"] = raw
    return ChatResult(
        message=Message("assistant", tuple(parts)),
        tool_calls=valid,
        invalid_tool_calls=invalid,
        finish_reason=reason,
        usage=decode_usage(response.get("usage")),
        response_id=_str(response.get("id")),
        model=_str(response.get("model")),
        created=_int(response.get("created_at")),
        refusal="".join(refusals) or None,
        prompt_filter_results=prompt_results,
        content_filter_results=completion_results,
        provider_details=details,
    )


def decode_error(status: int, payload: JsonValue) -> ContentFilterError | None:
    """The typed error for a rejected prompt, or ``None`` when the error body is not a content filter.

    The Responses API's 400 ``content_filter`` has ``type: invalid_request_error`` and no ``innererror``, so
    the error names no category; Azure's message is kept in it. Every other error is the transport's to map.
    """
    return prompt_filter_error(payload, status=status, code="content_filter")


def decode_usage(usage: JsonValue) -> Usage | None:
    """Read a Responses ``usage`` object (``None`` when absent or null)."""
    if not isinstance(usage, dict):
        return None
    inputs = _int(usage.get("input_tokens")) or 0
    outputs = _int(usage.get("output_tokens")) or 0
    total = _int(usage.get("total_tokens"))
    return Usage(
        input_tokens=inputs,
        output_tokens=outputs,
        total_tokens=total if total is not None else inputs + outputs,
        cached_input_tokens=_int(_get(usage.get("input_tokens_details"), "cached_tokens")) or 0,
        reasoning_tokens=_int(_get(usage.get("output_tokens_details"), "reasoning_tokens")) or 0,
    )


def finish_reason(response: JsonObject) -> tuple[FinishReason | None, str | None]:
    """The normalised finish reason of a response object and the raw value it came from."""
    status = response.get("status")
    if status == "completed":
        has_calls = any(_get(item, "type") == "function_call" for item in _output(response))
        return ("tool_calls" if has_calls else "stop"), "completed"
    if status == "incomplete":
        raw = _str(_get(response.get("incomplete_details"), "reason"))
        return _INCOMPLETE_REASONS.get(raw or "", "incomplete"), raw
    if isinstance(status, str) and status not in {"queued", "in_progress"}:
        return "other", status
    return None, None


def response_details(response: JsonObject) -> JsonObject:
    """Everything in a response object that has no ChatResult field of its own (nulls left out)."""
    details: JsonObject = {k: v for k, v in response.items() if k not in _MAPPED_FIELDS and v is not None}
    annotations: list[JsonValue] = []
    logprobs: list[JsonValue] = []
    other: list[JsonValue] = []
    for item in _output(response):
        kind = _get(item, "type")
        if kind == "message":
            for part in _list(_get(item, "content")):
                annotations.extend(_list(_get(part, "annotations")))
                logprobs.extend(_list(_get(part, "logprobs")))
        elif kind not in ("function_call", "reasoning") and not (isinstance(kind, str) and kind in HOSTED_ITEM_TYPES):
            other.append(item)
    for key, values in (("annotations", annotations), ("logprobs", logprobs), ("other_output", other)):
        if values:
            details[key] = values
    return details


class ResponsesStreamDecoder:
    """Turns the server-sent events of a ``/responses`` stream into :class:`StreamEvent` s.

    Azure sends ``event: <type>`` plus ``data: {"type": <type>, "sequence_number": n, ...}`` and no
    ``[DONE]``: the stream ends at ``response.completed``, ``response.incomplete`` or ``response.failed``,
    after which :attr:`done` is true. Text, refusal and reasoning-summary deltas and tool-call fragments
    (keyed by ``output_index``; id and name from ``response.output_item.added``) are emitted as they come;
    the terminal event brings metadata, filter verdicts, usage and the finish reason, decoded from its full
    response object with the same rules as :func:`decode_response`.

    A ``response.failed`` or ``error`` event raises :class:`ServerError` with Azure's code and message (as the
    Chat Completions decoder does for an error chunk; whether to retry is the router's call, by how far the
    stream got), or :class:`ContentFilterError` when the code is a content-filter code.

    Attributes:
        done: True once a terminal event has been decoded.
    """

    __slots__ = ("_part_offsets", "_text_length", "done")

    def __init__(self) -> None:
        self.done = False
        self._text_length = 0
        self._part_offsets: dict[tuple[int, int], int] = {}

    def decode(self, event: str | None, data: str) -> tuple[StreamEvent, ...]:
        """Decode one SSE record.

        Args:
            event: The record's ``event:`` field, if any; it must agree with ``data["type"]``.
            data: The record's ``data:`` text (one JSON object).

        Raises:
            InvalidResponseError: ``data`` is not a JSON object, or its type disagrees with ``event``.
            ServerError: Azure reported an error or a failed response.
            ContentFilterError: Azure failed the response for a content-filter reason.
        """
        if data.strip() == "[DONE]":
            self.done = True
            return ()
        payload = _load_event(event, data)
        kind = _str(payload.get("type")) or event
        if kind in {"response.completed", "response.incomplete"}:
            self.done = True
            return _terminal_events(_require_response(payload.get("response"), f"{kind} event"))
        if kind == "response.failed":
            self.done = True
            response = _obj(payload.get("response")) or {}
            raise _failure_error(response.get("error"), response, streaming=True)
        if kind == "error":
            self.done = True
            raise _failure_error(payload, {}, streaming=True)
        if kind in ("response.output_text.delta", "response.output_text.annotation.added"):
            return self._text_event(kind, payload)
        return _delta_events(kind, payload)

    def _text_event(self, kind: str, payload: JsonObject) -> tuple[StreamEvent, ...]:
        # Annotations count in their own content part's text; the folded text joins the parts.
        key = (_int(payload.get("output_index")) or 0, _int(payload.get("content_index")) or 0)
        offset = self._part_offsets.setdefault(key, self._text_length)
        if kind == "response.output_text.annotation.added":
            shifted = shift_annotation(payload.get("annotation"), offset)
            return (AnnotationEvent(shifted),) if shifted is not None else ()
        # `obfuscation` is padding against size side channels; it is never text.
        delta = _str(payload.get("delta"))
        if not delta:
            return ()
        self._text_length += len(delta)
        return (TextDelta(delta, decode_token_logprobs(payload.get("logprobs"))),)


def _load_event(event: str | None, data: str) -> JsonObject:
    try:
        payload = load_record(data)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than Python's parser goes
        raise InvalidResponseError(f"a Responses stream event is not JSON: {data[:200]!r}") from exc
    if not isinstance(payload, dict):
        raise InvalidResponseError(f"a Responses stream event is not a JSON object: {data[:200]!r}")
    kind = payload.get("type")
    if event is not None and isinstance(kind, str) and kind != event:
        raise InvalidResponseError(f"a Responses stream record says 'event: {event}' but its data is type {kind!r}")
    return payload


def _delta_events(kind: str | None, payload: JsonObject) -> tuple[StreamEvent, ...]:
    index = _int(payload.get("output_index")) or 0
    match kind:
        case "response.created" | "response.in_progress" | "response.queued":
            response = _obj(payload.get("response")) or {}
            return (_metadata(response, details={}),)
        case "response.refusal.delta":
            delta = _str(payload.get("delta"))
            return (RefusalDelta(delta),) if delta else ()
        case "response.reasoning_summary_text.delta" | "response.reasoning_text.delta":
            delta = _str(payload.get("delta"))
            return (ReasoningDelta(delta),) if delta else ()
        case "response.output_item.added":
            item = _obj(payload.get("item")) or {}
            if item.get("type") != "function_call":
                return ()
            return (
                ToolCallDelta(
                    index,
                    id=_str(item.get("call_id")),
                    name=_str(item.get("name")),
                    arguments=_str(item.get("arguments")) or "",
                ),
            )
        case "response.function_call_arguments.delta":
            delta = _str(payload.get("delta"))
            return (ToolCallDelta(index, arguments=delta),) if delta else ()
        case "response.function_call_arguments.done":
            return (ToolCallDelta(index, arguments=_str(payload.get("arguments")) or "", complete=True),)
        case "response.output_item.done":
            item = _obj(payload.get("item")) or {}
            if item.get("type") == "reasoning":
                return (ReasoningItemEvent(_reasoning_part(item)),)
            hosted = decode_hosted_item(item)
            return (HostedToolEvent(hosted),) if hosted is not None else ()
        case _:
            return ()


def _terminal_events(response: JsonObject) -> tuple[StreamEvent, ...]:
    reason, raw = finish_reason(response)
    events: list[StreamEvent] = [_metadata(response, details=response_details(response))]
    prompt_results, completion_results = _filters(response)
    if prompt_results:
        events.append(PromptFilterEvent(prompt_results))
    if completion_results:
        events.append(ContentFilterDelta(completion_results))
    usage = decode_usage(response.get("usage"))
    if usage is not None:
        events.append(UsageEvent(usage))
    if reason is not None:
        events.append(FinishEvent(reason, raw_reason=raw))
    return tuple(events)


def _metadata(response: JsonObject, *, details: JsonObject) -> ResponseMetadata:
    return ResponseMetadata(
        response_id=_str(response.get("id")),
        model=_str(response.get("model")),
        created=_int(response.get("created_at")),
        provider_details=details,
    )


def _walk_output(
    output: list[JsonValue],
) -> tuple[list[ReasoningPart], list[str], list[str], list[ToolCallPart]]:
    reasoning: list[ReasoningPart] = []
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[ToolCallPart] = []
    for item in output:
        kind = _get(item, "type")
        if kind == "message":
            for part in _list(_get(item, "content")):
                part_kind = _get(part, "type")
                if part_kind == "output_text":
                    texts.append(_str(_get(part, "text")) or "")
                elif part_kind == "refusal":
                    refusals.append(_str(_get(part, "refusal")) or "")
        elif kind == "function_call":
            calls.append(
                ToolCallPart(
                    id=_str(_get(item, "call_id")) or "",
                    name=_str(_get(item, "name")) or "",
                    arguments=_str(_get(item, "arguments")) or "",
                )
            )
        elif kind == "reasoning" and isinstance(item, dict):
            reasoning.append(_reasoning_part(item))
    return reasoning, texts, refusals, calls


def _hosted_and_annotations(output: list[JsonValue]) -> tuple[list[HostedToolPart], tuple[JsonObject, ...]]:
    """Hosted tool items, and the text's annotations with indexes counted in the joined text."""
    hosted: list[HostedToolPart] = []
    annotations: list[JsonObject] = []
    offset = 0
    for item in output:
        part = decode_hosted_item(item)
        if part is not None:
            hosted.append(part)
            continue
        if _get(item, "type") != "message":
            continue
        for content in _list(_get(item, "content")):
            if _get(content, "type") != "output_text":
                continue
            for annotation in _list(_get(content, "annotations")):
                shifted = shift_annotation(annotation, offset)
                if shifted is not None:
                    annotations.append(dict(shifted))
            offset += len(_str(_get(content, "text")) or "")
    return hosted, tuple(annotations)


def _reasoning_part(item: JsonObject) -> ReasoningPart:
    summary = [_str(_get(s, "text")) or "" for s in _list(item.get("summary"))]
    if not any(summary):
        summary = [_str(_get(c, "text")) or "" for c in _list(item.get("content"))]
    return ReasoningPart(
        text="\n\n".join(s for s in summary if s),
        id=_str(item.get("id")),
        encrypted_content=_str(item.get("encrypted_content")),
    )


def _parse_calls(calls: list[ToolCallPart]) -> tuple[tuple[ToolCall, ...], tuple[InvalidToolCall, ...]]:
    valid: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for call in calls:
        parsed = parse_tool_arguments(call.id, call.name, call.arguments)
        if isinstance(parsed, ToolCall):
            valid.append(parsed)
        else:
            invalid.append(parsed)
    return tuple(valid), tuple(invalid)


def _filters(response: JsonObject) -> tuple[tuple[PromptFilterResult, ...], JsonObject]:
    prompt: list[PromptFilterResult] = []
    completion: JsonObject = {}
    for entry in _list(response.get("content_filters")):
        results = _obj(_get(entry, "content_filter_results"))
        if results is None:
            continue
        if _get(entry, "source_type") == "prompt":
            prompt.append(PromptFilterResult(prompt_index=len(prompt), content_filter_results=results))
        else:
            merge_filter_results(completion, results)
    return tuple(prompt), completion


def _failure_error(error: JsonValue, response: JsonObject, *, streaming: bool) -> GatewayError:
    code = _str(_get(error, "code"))
    message = _str(_get(error, "message")) or "no message"
    if code in _FILTER_CODES:
        _, completion = _filters(response)
        return ContentFilterError(
            f"Azure's content filter stopped the response: {message}",
            side="completion",
            categories=filter_categories(completion),
            code=code,
        )
    where = "inside the stream" if streaming else "in a failed response"
    return ServerError(f"Azure reported an error {where} ({code}): {message}", code=code)


def _require_response(payload: JsonValue, what: str) -> JsonObject:
    if not isinstance(payload, dict) or not isinstance(payload.get("output"), list):
        shown = json.dumps(payload)[:200] if payload is not None else "null"
        raise InvalidResponseError(f"the {what} is not a Responses API response object (no 'output' list): {shown}")
    return payload


def _output(response: JsonObject) -> list[JsonValue]:
    return _list(response.get("output"))


def _obj(value: JsonValue) -> JsonObject | None:
    return value if isinstance(value, dict) else None


def _list(value: JsonValue) -> list[JsonValue]:
    return value if isinstance(value, list) else []


def _get(value: JsonValue, key: str) -> JsonValue:
    return value.get(key) if isinstance(value, dict) else None


def _str(value: JsonValue) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: JsonValue) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
