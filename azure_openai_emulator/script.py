"""What the emulator answers: scripted outcomes, the requests it records, and the responder type.

A test (or a fault rule) decides a request's :data:`Outcome`: a :class:`Reply` in Azure's success shapes, or
one of Azure's failures (:class:`HttpError`, :class:`PromptFiltered`, :class:`BadGateway`,
:class:`ConnectionReset`, :class:`Unparsable`). When nothing is scripted the emulator asks its
:data:`Responder` (by default :func:`azure_openai_emulator.responder.deterministic_responder`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from azure_openai_emulator.completion import FilterVerdict, ToolCall, Usage
from shared_core.messages import JsonValue

__all__ = [
    "ApiShape",
    "BadGateway",
    "ConnectionReset",
    "HttpError",
    "Outcome",
    "PromptFiltered",
    "RecordedRequest",
    "Reply",
    "Responder",
    "RetryAfterHeader",
    "Unparsable",
    "as_responder",
]


RetryAfterHeader = Literal["retry-after", "retry-after-ms", "x-ms-retry-after-ms"]
ApiShape = Literal["chat", "responses"]


@dataclass(frozen=True, slots=True)
class Reply:
    """A 200 answer: text, tool calls (one or parallel), or both; streamed when the request asked.

    Attributes:
        text: The answer text (a JSON string for structured output); ``None`` with tool calls only.
        tool_calls: Calls to make; their arguments stream in ``argument_pieces`` fragments.
        usage: Token counts; ``None`` estimates them from the lengths.
        chunks: Stream the text in this many chunks; ``None`` streams it word by word.
        argument_pieces: Fragments per tool call's arguments.
        pack_tool_calls: Put the k-th fragment of every call in one chunk (several indexes per chunk).
        finish_reason: Override; by default ``stop``, ``tool_calls``, or ``content_filter`` when filtered.
        filter_after: The content filter cuts the answer after this many text chunks (stream and not).
        filter: The category that fires when ``filter_after`` is set.
        cut_after: Close the connection after this many stream events (the prompt-filter chunk is the first),
            without ``[DONE]`` / ``response.completed``.
        chunk_delay: Seconds between stream events.
        first_byte_delay: Seconds before the status line.
        reasoning: Chat ``reasoning_content`` (models such as DeepSeek-R1 on the v1 endpoint send it).
        choices: Texts of choices 1, 2 ... when the request asks ``n`` > 1 (else the text again).
    """

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage | None = None
    chunks: int | None = None
    argument_pieces: int = 4
    pack_tool_calls: bool = False
    finish_reason: str | None = None
    filter_after: int | None = None
    filter: FilterVerdict = field(default_factory=FilterVerdict)
    cut_after: int | None = None
    chunk_delay: float = 0.0
    first_byte_delay: float = 0.0
    reasoning: str | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PromptFiltered:
    """A 400 ``content_filter`` on the prompt, as plain JSON even when a stream was asked (recorded shapes)."""

    filter: FilterVerdict = field(default_factory=lambda: FilterVerdict(category="self_harm"))
    first_byte_delay: float = 0.0


@dataclass(frozen=True, slots=True)
class HttpError:
    """An error status with Azure's body for it: 401, 404 (``DeploymentNotFound``), 429, 500, 503, or any.

    Attributes:
        status: The HTTP status.
        retry_after: Seconds to announce (429 and 503 mostly), in the header kinds of ``retry_after_headers``.
        retry_after_headers: Which headers carry it: ``retry-after`` (whole seconds), ``retry-after-ms``,
            ``x-ms-retry-after-ms`` (milliseconds); one name or several.
        body: Replaces Azure's body for ``status``.
        first_byte_delay: Seconds before the status line.
    """

    status: int
    retry_after: float | None = None
    retry_after_headers: RetryAfterHeader | tuple[RetryAfterHeader, ...] = "retry-after"
    body: bytes | None = None
    first_byte_delay: float = 0.0


@dataclass(frozen=True, slots=True)
class BadGateway:
    """An HTML 502 page, as an Application Gateway or proxy in front of Azure sends (no ``apim-request-id``)."""

    first_byte_delay: float = 0.0


@dataclass(frozen=True, slots=True)
class ConnectionReset:
    """Drop the connection without a response (TCP RST; with ``rst=False`` a plain close)."""

    rst: bool = True
    first_byte_delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Unparsable:
    """A 200 whose body does not parse (a JSON body, or an event stream when a stream was asked)."""

    body: bytes | None = None
    first_byte_delay: float = 0.0


Outcome: TypeAlias = Reply | PromptFiltered | HttpError | BadGateway | ConnectionReset | Unparsable


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the server received it (headers lower-cased; secrets hidden from ``repr``).

    Attributes:
        method: HTTP method.
        path: URL path.
        query: Query parameters, one value per name.
        headers: Request headers, lower-cased names.
        body: The parsed JSON body (``None`` when absent or not JSON).
        api: ``chat`` or ``responses`` for a known route, else ``None``.
        deployment: The deployment from the path or the body's ``model``.
        stream: The body asked for a stream.
        received_at: ``time.monotonic()`` on arrival.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(repr=False)
    body: JsonValue = field(repr=False)
    api: ApiShape | None = None
    deployment: str | None = None
    stream: bool = False
    received_at: float = 0.0

    @property
    def json(self) -> dict[str, JsonValue]:
        """The body as a JSON object (empty when it was not one)."""
        return self.body if isinstance(self.body, dict) else {}


Responder: TypeAlias = Callable[[RecordedRequest], Outcome]
"""Decides the outcome of a request the script has nothing queued for."""


def as_responder(default: Responder | Outcome) -> Responder:
    """``default`` itself when it is a responder; a responder always giving ``default`` when it is an outcome."""
    if isinstance(default, Reply | PromptFiltered | HttpError | BadGateway | ConnectionReset | Unparsable):
        fixed: Outcome = default
        return lambda _request: fixed
    return default
