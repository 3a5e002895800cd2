"""The events of a stream, as the gateway yields them: one small frozen value per thing Azure said.

A text chunk of a Chat Completions stream is two events (its filter verdicts, its text); metadata only when it
changes. :class:`~shared_core.result.StreamAccumulator` folds them into the :class:`~shared_core.result.ChatResult`
a non-streaming call of the same exchange gives; ``shared_core.result`` re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeAlias

from shared_core.messages import HostedToolPart, JsonValue, ReasoningPart
from shared_core.repair import ToolSequenceRepair

if TYPE_CHECKING:
    from shared_core.costs import CallCost
    from shared_core.result import ChatResult, FinishReason, PromptFilterResult, TokenLogprob, Usage

__all__ = [
    "AnnotationEvent",
    "AudioDelta",
    "ChoiceEvent",
    "ContentFilterDelta",
    "FinishEvent",
    "HostedToolEvent",
    "PromptFilterEvent",
    "ReasoningDelta",
    "ReasoningItemEvent",
    "RefusalDelta",
    "ResponseMetadata",
    "StreamEvent",
    "TextDelta",
    "ToolCallDelta",
    "UsageEvent",
]


@dataclass(frozen=True, slots=True)
class ResponseMetadata:
    """Identity of the response, sent on (almost) every chunk; the last non-empty value wins.

    The gateway sends one more as the first event of every stream, carrying what only the transport knows:
    the deployment that answered (after any failover), its endpoint, Azure's request id and the conversation
    repairs made before sending; and one as the last event, carrying the stream's ``cost`` once the gateway has
    priced it (before any completion content-filter error is raised), and the whole stream folded.

    Attributes:
        endpoint: The endpoint that answered: its configured name, else its URL (first event only).
        cost: What the stream cost (last event only).
        repairs: What conversation repair changed before sending (first event only).
        response_headers: The HTTP response headers, credentials and cookies left out (first event only).
        result: Every event of the stream folded, this one included: the priced :class:`ChatResult` that
            :meth:`StreamAccumulator.result` gives at the end (last event only). Left out of the event's ``repr``
            and equality: it is what the events before it already say.
    """

    response_id: str | None = None
    model: str | None = None
    created: int | None = None
    system_fingerprint: str | None = None
    provider_details: Mapping[str, JsonValue] = field(default_factory=lambda: {})
    deployment: str | None = None
    request_id: str | None = None
    endpoint: str | None = None
    cost: CallCost | None = None
    repairs: tuple[ToolSequenceRepair, ...] = ()
    response_headers: Mapping[str, str] = field(default_factory=lambda: {})
    result: ChatResult | None = field(default=None, repr=False, compare=False)
    kind: Literal["metadata"] = "metadata"


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer's text (never empty), with its tokens' log probabilities when asked for."""

    text: str
    logprobs: tuple[TokenLogprob, ...] = ()
    kind: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class RefusalDelta:
    """A piece of a refusal."""

    text: str
    kind: Literal["refusal"] = "refusal"


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of reasoning summary text."""

    text: str
    kind: Literal["reasoning"] = "reasoning"


@dataclass(frozen=True, slots=True)
class ReasoningItemEvent:
    """A finished reasoning item (Responses API), with its id and encrypted content."""

    part: ReasoningPart
    kind: Literal["reasoning_item"] = "reasoning_item"


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a tool call; ``id`` and ``name`` usually come only with the first fragment of an index.

    ``complete`` marks ``arguments`` as the whole argument text (Responses ``...arguments.done``), replacing
    the fragments received so far.
    """

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    complete: bool = False
    kind: Literal["tool_call_delta"] = "tool_call_delta"


@dataclass(frozen=True, slots=True)
class HostedToolEvent:
    """A finished item of a tool Azure ran itself (Responses ``response.output_item.done``)."""

    part: HostedToolPart
    kind: Literal["hosted_tool"] = "hosted_tool"


@dataclass(frozen=True, slots=True)
class AnnotationEvent:
    """A citation added to the answer's text (Responses ``response.output_text.annotation.added``).

    ``start_index`` / ``end_index`` count in the whole text received so far, as in the folded result.
    """

    annotation: Mapping[str, JsonValue]
    kind: Literal["annotation"] = "annotation"


@dataclass(frozen=True, slots=True)
class AudioDelta:
    """A piece of the answer's audio (Chat Completions ``delta.audio``): base64 data, transcript, id, expiry."""

    data: str = ""
    transcript: str = ""
    id: str | None = None
    expires_at: int | None = None
    format: str | None = None
    kind: Literal["audio"] = "audio"


@dataclass(frozen=True, slots=True)
class ChoiceEvent:
    """An event of choice ``index`` > 0 of a Chat Completions stream asked with ``n`` > 1."""

    index: int
    event: StreamEvent
    kind: Literal["choice"] = "choice"


@dataclass(frozen=True, slots=True)
class PromptFilterEvent:
    """Azure's verdicts on the prompt (the stream's first, ``choices: []`` chunk)."""

    results: tuple[PromptFilterResult, ...]
    kind: Literal["prompt_filter"] = "prompt_filter"


@dataclass(frozen=True, slots=True)
class ContentFilterDelta:
    """Azure's per-chunk verdict on the completion (categories present in this chunk only)."""

    results: Mapping[str, JsonValue]
    kind: Literal["content_filter"] = "content_filter"


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """Token counts (the trailing usage chunk, or ``response.completed``)."""

    usage: Usage
    kind: Literal["usage"] = "usage"


@dataclass(frozen=True, slots=True)
class FinishEvent:
    """Generation stopped."""

    reason: FinishReason
    raw_reason: str | None = None
    kind: Literal["finish"] = "finish"


StreamEvent: TypeAlias = (
    ResponseMetadata
    | TextDelta
    | RefusalDelta
    | ReasoningDelta
    | ReasoningItemEvent
    | ToolCallDelta
    | PromptFilterEvent
    | ContentFilterDelta
    | UsageEvent
    | FinishEvent
    | HostedToolEvent
    | AnnotationEvent
    | AudioDelta
    | ChoiceEvent
)
