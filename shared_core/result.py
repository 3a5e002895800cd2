"""Results in our own types: a finished call, the events of a stream, and the fold from one to the other.

A streamed call and a non-streamed call of the same exchange fold to equal :class:`ChatResult` s: the
:class:`StreamAccumulator` is the only place that knows how. The events themselves are defined in
:mod:`shared_core.stream_events` and importable from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, assert_never

from shared_core import display
from shared_core.messages import AudioPart, HostedToolPart, JsonValue, Message, MessagePart, ReasoningPart, TextPart
from shared_core.repair import ToolSequenceRepair
from shared_core.stream_events import (
    AnnotationEvent,
    AudioDelta,
    ChoiceEvent,
    ContentFilterDelta,
    FinishEvent,
    HostedToolEvent,
    PromptFilterEvent,
    ReasoningDelta,
    ReasoningItemEvent,
    RefusalDelta,
    ResponseMetadata,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UsageEvent,
)
from shared_core.tool_calls import InvalidToolCall, ToolCall, ToolCallAssembler

if TYPE_CHECKING:
    from shared_core.costs import CallCost

__all__ = [
    "AnnotationEvent",
    "AudioDelta",
    "ChatResult",
    "ChoiceEvent",
    "ContentFilterDelta",
    "FinishEvent",
    "FinishReason",
    "HostedToolEvent",
    "PromptFilterEvent",
    "PromptFilterResult",
    "ReasoningDelta",
    "ReasoningItemEvent",
    "RefusalDelta",
    "ResponseMetadata",
    "StreamAccumulator",
    "StreamEvent",
    "TextDelta",
    "TokenLogprob",
    "ToolCallDelta",
    "Usage",
    "UsageEvent",
    "fold_audio",
    "merge_filter_results",
    "public_headers",
]

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call", "incomplete", "other"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts Azure reported.

    Attributes:
        input_tokens: Prompt tokens.
        output_tokens: Completion tokens (reasoning included).
        total_tokens: As Azure reported it.
        cached_input_tokens: Prompt tokens served from the prompt cache.
        reasoning_tokens: Output tokens spent on reasoning.
    """

    input_tokens: int
    output_tokens: int
    total_tokens: int
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0

    def chat_completions_usage(self) -> dict[str, Any]:
        """The counts as Azure's Chat Completions ``usage`` object, in the openai SDK's field order (for the
        framework packages' ``token_usage`` / ``raw["usage"]`` when the raw object was not kept)."""
        return {
            "completion_tokens": self.output_tokens,
            "prompt_tokens": self.input_tokens,
            "total_tokens": self.total_tokens,
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "prompt_tokens_details": {"cached_tokens": self.cached_input_tokens},
        }


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """The log probability of one output token, with the most likely alternatives when asked for.

    Attributes:
        token: The token's text.
        logprob: Its log probability.
        bytes: Its UTF-8 bytes, as Azure sent them (``None`` when not sent).
        top_logprobs: The most likely tokens at this position (``top_logprobs`` of the request), each without
            alternatives of its own.
    """

    token: str
    logprob: float
    bytes: tuple[int, ...] | None = None
    top_logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True, slots=True)
class PromptFilterResult:
    """Azure's content-filter verdict on one prompt (``prompt_filter_results[i]``)."""

    prompt_index: int
    content_filter_results: Mapping[str, JsonValue]


@dataclass(frozen=True, slots=True)
class ChatResult:
    """The outcome of one model call.

    Attributes:
        message: The assistant message (reasoning, text and tool-call parts, in order).
        tool_calls: Calls whose arguments parsed.
        invalid_tool_calls: Calls whose arguments did not parse, with the raw text and the error.
        finish_reason: Why generation stopped, normalised (``other`` keeps the raw one in provider_details).
        usage: Token counts, when Azure reported them.
        response_id: Azure's id (``chatcmpl-...`` or ``resp_...``).
        model: The model Azure says answered (versioned, e.g. ``gpt-4o-mini-2024-07-18``).
        deployment: The deployment the request went to.
        request_id: Azure's ``apim-request-id``.
        system_fingerprint: As returned (often ``None`` on Azure).
        created: Unix time of creation, as returned.
        refusal: The model's refusal text, when it refused.
        prompt_filter_results: Azure's verdicts on the prompt.
        content_filter_results: Azure's verdict on the completion (merged over a stream).
        provider_details: Other fields Azure sent that have no place above (kept, not dropped).
        cost: What the call cost, priced by the deployment's base model (set by the gateway).
        choices: With ``n`` > 1 (Chat Completions), the answers of choices 1, 2 ... in order, each a result
            of its own (message, tool calls, finish reason, filter verdicts); this result is choice 0.
        repairs: What conversation repair changed in the history before sending (set by the gateway; empty when
            the history needed nothing).
        logprobs: Log probabilities of the answer's tokens, when asked for (``None`` when Azure sent none).
        response_headers: The HTTP response headers (lower-case names), without any that could carry a
            credential or cookie (set by the gateway).
    """

    message: Message
    tool_calls: tuple[ToolCall, ...] = ()
    invalid_tool_calls: tuple[InvalidToolCall, ...] = ()
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    response_id: str | None = None
    model: str | None = None
    deployment: str | None = None
    request_id: str | None = None
    system_fingerprint: str | None = None
    created: int | None = None
    refusal: str | None = None
    prompt_filter_results: tuple[PromptFilterResult, ...] = ()
    content_filter_results: Mapping[str, JsonValue] = field(default_factory=lambda: {})
    provider_details: Mapping[str, JsonValue] = field(default_factory=lambda: {})
    cost: CallCost | None = None
    choices: tuple[ChatResult, ...] = ()
    repairs: tuple[ToolSequenceRepair, ...] = ()
    logprobs: tuple[TokenLogprob, ...] | None = None
    response_headers: Mapping[str, str] = field(default_factory=lambda: {})

    @property
    def text(self) -> str:
        """The assistant's text."""
        return self.message.text

    def _repr_html_(self) -> str:
        """Notebook display: the text, tool calls, usage, cost, deployment and request id (escaped)."""
        return display.chat_result_html(self)

    def with_transport(self, *, deployment: str | None, request_id: str | None) -> ChatResult:
        """A copy carrying what only the transport knows."""
        return replace(self, deployment=deployment, request_id=request_id)


def fold_audio(deltas: list[AudioDelta]) -> AudioPart | None:
    """The audio of a stream's :class:`AudioDelta` s (data and transcript joined), or ``None`` when none came."""
    if not deltas:
        return None
    return AudioPart(
        data="".join(d.data for d in deltas),
        format=next((d.format for d in deltas if d.format), None),
        id=next((d.id for d in deltas if d.id), None),
        transcript="".join(d.transcript for d in deltas) or None,
        expires_at=next((d.expires_at for d in deltas if d.expires_at), None),
    )


_SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "cookie",
        "set-cookie",
        "ocp-apim-subscription-key",
    }
)


def public_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Response headers a result may carry: every one but those that could hold a credential or a cookie."""
    return {name: value for name, value in headers.items() if name.lower() not in _SECRET_HEADERS}


_SEVERITY_RANK = {"safe": 0, "low": 1, "medium": 2, "high": 3}


def merge_filter_results(into: dict[str, JsonValue], new: Mapping[str, JsonValue]) -> None:
    """Merge one chunk's filter verdicts into the running verdict.

    A ``filtered``/``detected`` true is never undone and the highest severity seen is kept, so a stream never
    ends with a milder verdict than the non-streaming call of the same exchange.
    """
    for category, verdict in new.items():
        before = into.get(category)
        if before is not None and before == verdict:
            # Azure repeats the same "safe" verdicts on every text chunk; merging them again was half of
            # StreamAccumulator.add (0.94 -> 0.43 µs an event; benchmarks/README.md hot spot 7).
            continue
        if not (isinstance(before, dict) and isinstance(verdict, dict)):
            into[category] = verdict
            continue
        merged: dict[str, JsonValue] = {**before, **verdict}
        for flag in ("filtered", "detected"):
            if before.get(flag) is True:
                merged[flag] = True
        old, new_severity = before.get("severity"), verdict.get("severity")
        new_rank = _SEVERITY_RANK.get(new_severity, -1) if isinstance(new_severity, str) else -1
        if isinstance(old, str) and _SEVERITY_RANK.get(old, -1) > new_rank:
            merged["severity"] = old
        into[category] = merged


class StreamAccumulator:
    """Folds stream events into the :class:`ChatResult` a non-streaming call of the same exchange gives.

    It also serves as the record of "what was received so far" when a stream breaks or a filter fires.
    """

    __slots__ = (
        "_annotations",
        "_audio",
        "_choices",
        "_content_filter",
        "_cost",
        "_details",
        "_finish",
        "_hosted",
        "_last_filter",
        "_logprobs",
        "_meta",
        "_prompt_filter",
        "_reasoning_items",
        "_reasoning_text",
        "_refusal",
        "_repairs",
        "_response_headers",
        "_text",
        "_tools",
        "_usage",
        "events_seen",
    )

    def __init__(self) -> None:
        self._text: list[str] = []
        self._refusal: list[str] = []
        self._reasoning_text: list[str] = []
        self._reasoning_items: list[ReasoningPart] = []
        self._tools = ToolCallAssembler()
        self._prompt_filter: list[PromptFilterResult] = []
        self._content_filter: dict[str, JsonValue] = {}
        self._last_filter: Mapping[str, JsonValue] | None = None  # the verdicts of the last ContentFilterDelta
        self._usage: Usage | None = None
        self._finish: FinishEvent | None = None
        self._cost: CallCost | None = None
        self._meta = ResponseMetadata()
        self._details: dict[str, JsonValue] = {}
        self._hosted: list[HostedToolPart] = []
        self._annotations: list[Mapping[str, JsonValue]] = []
        self._audio: list[AudioDelta] = []
        self._choices: dict[int, StreamAccumulator] = {}
        self._logprobs: list[TokenLogprob] | None = None
        self._repairs: tuple[ToolSequenceRepair, ...] = ()
        self._response_headers: Mapping[str, str] = {}
        self.events_seen = 0

    def add(self, event: StreamEvent) -> None:
        """Fold one event in."""
        self.events_seen += 1
        # The two events of every text chunk first, without the match below (class patterns test in order).
        if type(event) is TextDelta:
            self._text.append(event.text)
            if event.logprobs:
                self._add_logprobs(event.logprobs)
            return
        if type(event) is ContentFilterDelta:
            self._add_filter(event.results)
            return
        match event:
            case TextDelta(text=text, logprobs=logprobs):
                self._text.append(text)
                if logprobs:
                    self._add_logprobs(logprobs)
            case RefusalDelta(text=text):
                self._refusal.append(text)
            case ReasoningDelta(text=text):
                self._reasoning_text.append(text)
            case ReasoningItemEvent(part=part):
                self._reasoning_items.append(part)
            case ToolCallDelta():
                self._add_tool(event)
            case PromptFilterEvent(results=results):
                self._prompt_filter.extend(results)
            case ContentFilterDelta(results=results):
                self._add_filter(results)
            case UsageEvent(usage=usage):
                self._usage = usage
            case FinishEvent():
                self._finish = event
            case ResponseMetadata():
                self._merge_meta(event)
            case HostedToolEvent(part=part):
                self._hosted.append(part)
            case AnnotationEvent(annotation=annotation):
                self._annotations.append(annotation)
            case AudioDelta():
                self._audio.append(event)
            case ChoiceEvent(index=index, event=inner):
                if index not in self._choices:
                    self._choices[index] = StreamAccumulator()
                self._choices[index].add(inner)
            case _:
                assert_never(event)

    def _add_tool(self, event: ToolCallDelta) -> None:
        if event.complete:
            self._tools.add(event.index, id=event.id, name=event.name)
            self._tools.set_arguments(event.index, event.arguments)
        else:
            self._tools.add(event.index, id=event.id, name=event.name, arguments=event.arguments)

    def _add_filter(self, results: Mapping[str, JsonValue]) -> None:
        # Azure repeats the same verdicts on every text chunk; merging verdicts just merged changes nothing.
        if results != self._last_filter:
            self._last_filter = results
            merge_filter_results(self._content_filter, results)

    def _add_logprobs(self, logprobs: tuple[TokenLogprob, ...]) -> None:
        if self._logprobs is None:
            self._logprobs = []
        self._logprobs.extend(logprobs)

    def _merge_meta(self, event: ResponseMetadata) -> None:
        m = self._meta
        self._meta = ResponseMetadata(
            response_id=event.response_id or m.response_id,
            model=event.model or m.model,
            created=event.created or m.created,
            system_fingerprint=event.system_fingerprint or m.system_fingerprint,
            deployment=event.deployment or m.deployment,
            request_id=event.request_id or m.request_id,
            endpoint=event.endpoint or m.endpoint,
        )
        if event.cost is not None:
            self._cost = event.cost
        if event.repairs:
            self._repairs = event.repairs
        if event.response_headers:
            self._response_headers = event.response_headers
        self._details.update(event.provider_details)

    @property
    def endpoint(self) -> str | None:
        """The endpoint that answered (configured name, else URL), from the stream's first event."""
        return self._meta.endpoint

    @property
    def text(self) -> str:
        """The text received so far."""
        return "".join(self._text)

    def result(self, *, deployment: str | None = None, request_id: str | None = None) -> ChatResult:
        """The result so far (complete once the stream has ended).

        ``deployment`` and ``request_id`` default to the ones the stream's metadata carried; ``cost`` is the one
        the stream's last metadata event carried (``None`` until the gateway has priced the stream).
        """
        parts: list[MessagePart] = []
        parts.extend(self._reasoning_parts())
        parts.extend(self._hosted)
        text = self.text
        if text:
            parts.append(TextPart(text, tuple(self._annotations)))
        audio = fold_audio(self._audio)
        if audio is not None:
            parts.append(audio)
        parts.extend(self._tools.as_parts())
        valid, invalid = self._tools.finish()
        details = dict(self._details)
        if self._finish is not None and self._finish.reason == "other" and self._finish.raw_reason:
            details["finish_reason"] = self._finish.raw_reason
        return ChatResult(
            message=Message("assistant", tuple(parts)),
            tool_calls=valid,
            invalid_tool_calls=invalid,
            finish_reason=self._finish.reason if self._finish else None,
            usage=self._usage,
            response_id=self._meta.response_id,
            model=self._meta.model,
            deployment=deployment or self._meta.deployment,
            request_id=request_id or self._meta.request_id,
            system_fingerprint=self._meta.system_fingerprint,
            created=self._meta.created,
            refusal="".join(self._refusal) or None,
            prompt_filter_results=tuple(self._prompt_filter),
            content_filter_results=dict(self._content_filter),
            provider_details=details,
            cost=self._cost,
            choices=tuple(
                replace(self._choices[i].result(), response_id=self._meta.response_id, model=self._meta.model)
                for i in sorted(self._choices)
            ),
            repairs=self._repairs,
            response_headers=self._response_headers,
            logprobs=tuple(self._logprobs) if self._logprobs is not None else None,
        )

    def _reasoning_parts(self) -> list[ReasoningPart]:
        if self._reasoning_items:
            items = list(self._reasoning_items)
            summary = "".join(self._reasoning_text)
            if summary and not any(p.text for p in items):
                items[0] = replace(items[0], text=summary)
            return items
        summary = "".join(self._reasoning_text)
        return [ReasoningPart(text=summary)] if summary else []
