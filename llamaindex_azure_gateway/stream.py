"""Core stream events to LlamaIndex ``ChatResponse`` chunks: one chunk per text, tool-call or reasoning delta.

Azure's first chunk (``choices: []``, prompt-filter verdicts only), usage and finish chunks carry no content, so
they produce no chunk of their own: the builder holds back the latest content chunk and, once the stream has
ended, yields it enriched with the final ``raw`` (usage, finish reason, filter verdicts, request id) and the
fully parsed tool calls. A listener therefore sees exactly one chunk per delta, never an empty token, and the
last chunk carries what ``TokenCountingHandler`` needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.llms.utils import parse_partial_json

from llamaindex_azure_gateway.convert import from_core_result
from llamaindex_azure_gateway.sdk_shapes import tool_call_kwarg
from shared_core import ChatResult, StreamEvent, TextDelta
from shared_core.integration import (
    ReasoningDelta,
    ResponseMetadata,
    StreamAccumulator,
    ToolCallDelta,
    ToolSequenceRepair,
)

__all__ = ["ChatStreamBuilder"]


class _PendingCall:
    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments = ""


class ChatStreamBuilder:
    """Folds stream events and builds the cumulative ``ChatResponse`` chunks LlamaIndex expects.

    Use: for each event, ``chunk = builder.feed(event)`` and yield it when not ``None``; after the stream,
    yield ``builder.finish(result)`` when not ``None``.
    """

    __slots__ = ("_calls", "_held", "_on_repairs", "_reasoning", "_responses_api", "_text", "accumulator")

    def __init__(
        self,
        *,
        responses_api: bool = False,
        on_repairs: Callable[[tuple[ToolSequenceRepair, ...]], None] | None = None,
    ) -> None:
        self._responses_api = responses_api
        self._on_repairs = on_repairs
        self.accumulator = StreamAccumulator()
        self._text = ""
        self._reasoning = ""
        self._calls: dict[int, _PendingCall] = {}
        self._held: ChatResponse | None = None

    def feed(self, event: StreamEvent) -> ChatResponse | None:
        """Fold one event; returns the previously held chunk when this event starts a new one."""
        self.accumulator.add(event)
        if isinstance(event, TextDelta):
            self._text += event.text
            return self._hold(self._chunk(delta=event.text))
        if isinstance(event, ToolCallDelta):
            call = self._calls.get(event.index)
            if call is None:
                call = self._calls[event.index] = _PendingCall()
            call.id = event.id or call.id
            call.name = event.name or call.name
            call.arguments = event.arguments if event.complete else call.arguments + event.arguments
            return self._hold(self._chunk(delta=None))
        if isinstance(event, ReasoningDelta):
            self._reasoning += event.text
            return self._hold(self._chunk(delta=None, thinking_delta=event.text))
        if isinstance(event, ResponseMetadata) and event.repairs and self._on_repairs is not None:
            self._on_repairs(event.repairs)  # the stream's first event: reported before any token
        return None

    def _hold(self, chunk: ChatResponse) -> ChatResponse | None:
        previous, self._held = self._held, chunk
        return previous

    def _chunk(self, *, delta: str | None, thinking_delta: str | None = None) -> ChatResponse:
        # model_construct: these objects are built per chunk, from values that are valid by construction.
        blocks: list[Any] = []
        if self._reasoning:
            blocks.append(
                ThinkingBlock.model_construct(content=self._reasoning, num_tokens=None, additional_information={})
            )
        if self._text:
            blocks.append(TextBlock.model_construct(text=self._text))
        message_kwargs: dict[str, Any] = {}
        if self._calls:
            ordered = sorted(self._calls.items())
            for _, call in ordered:
                blocks.append(
                    ToolCallBlock.model_construct(
                        tool_call_id=call.id or None,
                        tool_name=call.name,
                        tool_kwargs=_partial_arguments(call.arguments),
                    )
                )
            # llama-index-core's streaming structured output reads only this key (see ``sdk_shapes``).
            message_kwargs["tool_calls"] = [
                tool_call_kwarg(index, call.id or None, call.name, call.arguments) for index, call in ordered
            ]
        message = ChatMessage.model_construct(
            role=MessageRole.ASSISTANT, additional_kwargs=message_kwargs, blocks=blocks
        )
        extra: dict[str, Any] = {} if thinking_delta is None else {"thinking_delta": thinking_delta}
        return ChatResponse.model_construct(
            message=message, raw=None, delta=delta, logprobs=None, additional_kwargs=extra
        )

    def finish(self, result: ChatResult) -> ChatResponse | None:
        """The last chunk: the held one, rebuilt from the final result (usage, verdicts, parsed tool calls).

        Returns ``None`` only when the stream carried no content at all and no usage either.
        """
        held = self._held
        self._held = None
        if held is None and result.usage is None and not result.message.parts:
            return None
        final = from_core_result(
            result, delta=held.delta if held is not None else None, responses_api=self._responses_api, streamed=True
        )
        if held is not None and "thinking_delta" in held.additional_kwargs:
            final.additional_kwargs["thinking_delta"] = held.additional_kwargs["thinking_delta"]
        return final


def _partial_arguments(text: str) -> dict[str, Any]:
    """Best-effort arguments of a call still streaming, for display only; the final chunk holds the real ones."""
    if not text:
        return {}
    try:
        value = parse_partial_json(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
