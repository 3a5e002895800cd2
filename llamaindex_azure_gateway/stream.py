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
    ContentFilterDelta,
    ReasoningDelta,
    ResponseMetadata,
    ToolCallDelta,
    ToolSequenceRepair,
    direct_model,
    same_model_state,
)

__all__ = ["ChatStreamBuilder"]


class _PendingCall:
    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments = ""


class ChatStreamBuilder:
    """Builds the cumulative ``ChatResponse`` chunks LlamaIndex expects from one stream's events.

    Use: for each event, ``chunk = builder.feed(event)`` and yield it when not ``None``; after the stream,
    yield ``builder.finish(builder.result())`` when not ``None``. The folded result is the gateway's own (its
    closing event carries it, priced): nothing is folded twice.
    """

    __slots__ = ("_calls", "_held", "_on_repairs", "_reasoning", "_responses_api", "_result", "_text")

    def __init__(
        self,
        *,
        responses_api: bool = False,
        on_repairs: Callable[[tuple[ToolSequenceRepair, ...]], None] | None = None,
    ) -> None:
        self._responses_api = responses_api
        self._on_repairs = on_repairs
        self._result: ChatResult | None = None
        self._text = ""
        self._reasoning = ""
        self._calls: dict[int, _PendingCall] = {}
        self._held: ChatResponse | None = None

    def feed(self, event: StreamEvent) -> ChatResponse | None:
        """Take one event; returns the previously held chunk when this event starts a new one."""
        if isinstance(event, TextDelta):  # the hot path: one text delta per chunk
            self._text += event.text
            return self._hold(self._chunk(delta=event.text))
        if type(event) is ContentFilterDelta:  # the other event of every text chunk: in the closing result
            return None
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
        if isinstance(event, ResponseMetadata):
            if event.repairs and self._on_repairs is not None:
                self._on_repairs(event.repairs)  # the stream's first event: reported before any token
            if event.result is not None:
                self._result = event.result  # the stream's last event: the gateway's fold, priced
        return None

    def result(self) -> ChatResult:
        """The whole stream folded and priced, from the gateway's closing event.

        Raises:
            RuntimeError: The events did not end with the gateway's closing event (not a ``Gateway`` stream).
        """
        if self._result is None:
            raise RuntimeError("the stream's events ended without the gateway's closing event (its folded result)")
        return self._result

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
            blocks.append(_text_block(self._text))
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
        extra: dict[str, Any] = {} if thinking_delta is None else {"thinking_delta": thinking_delta}
        return _response(_message(message_kwargs, blocks), delta, extra)

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


# Per chunk, three objects are built from values valid by construction. ``model_construct`` still walks every
# field; these set the instance's state directly: the same ``__dict__``, fields set, extras and private state
# as ``model_construct`` gives (checked at import against it, falling back to it if this llama-index differs).


def _direct_text_block(text: str) -> TextBlock:
    return direct_model(TextBlock, {"block_type": "text", "text": text}, {"text"})


def _direct_message(kwargs: dict[str, Any], blocks: list[Any]) -> ChatMessage:
    values = {"role": MessageRole.ASSISTANT, "additional_kwargs": kwargs, "blocks": blocks}
    return direct_model(ChatMessage, values, {"role", "additional_kwargs", "blocks"})


def _direct_response(message: ChatMessage, delta: str | None, extra: dict[str, Any]) -> ChatResponse:
    values = {"message": message, "raw": None, "delta": delta, "logprobs": None, "additional_kwargs": extra}
    return direct_model(ChatResponse, values, {"message", "raw", "delta", "logprobs", "additional_kwargs"})


def _constructed_text_block(text: str) -> TextBlock:
    return TextBlock.model_construct(text=text)


def _constructed_message(kwargs: dict[str, Any], blocks: list[Any]) -> ChatMessage:
    return ChatMessage.model_construct(role=MessageRole.ASSISTANT, additional_kwargs=kwargs, blocks=blocks)


def _constructed_response(message: ChatMessage, delta: str | None, extra: dict[str, Any]) -> ChatResponse:
    return ChatResponse.model_construct(message=message, raw=None, delta=delta, logprobs=None, additional_kwargs=extra)


def _direct_builders_hold() -> bool:
    block = _constructed_text_block("x")
    message = _constructed_message({}, [block])
    return (
        same_model_state(_direct_text_block("x"), block)
        and same_model_state(_direct_message({}, [block]), message)
        and same_model_state(_direct_response(message, "x", {}), _constructed_response(message, "x", {}))
    )


if _direct_builders_hold():
    _text_block, _message, _response = _direct_text_block, _direct_message, _direct_response
else:  # pragma: no cover - a llama-index whose models keep other state
    _text_block, _message, _response = _constructed_text_block, _constructed_message, _constructed_response


def _partial_arguments(text: str) -> dict[str, Any]:
    """Best-effort arguments of a call still streaming, for display only; the final chunk holds the real ones."""
    if not text:
        return {}
    try:
        value = parse_partial_json(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
