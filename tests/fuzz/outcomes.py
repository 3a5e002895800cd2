"""What a decoder may hand back, checked independently of how it decoded: well-formed events and results.

A decoder's only other way out is one of our typed errors; the tests let anything else propagate and fail.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import get_args

from shared_core.messages import Message, MessagePart, ReasoningPart, TextPart, ToolCallPart
from shared_core.result import (
    ChatResult,
    FinishEvent,
    FinishReason,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from shared_core.tool_calls import InvalidToolCall, ToolCall

__all__ = ["FINISH_REASONS", "STREAM_EVENT_TYPES", "check_chat_result", "check_stream_events"]

STREAM_EVENT_TYPES: tuple[type, ...] = get_args(StreamEvent)
FINISH_REASONS: tuple[str, ...] = get_args(FinishReason)
_PART_TYPES = (TextPart, ToolCallPart, ReasoningPart)


def _check_usage(usage: Usage) -> None:
    for count in (usage.input_tokens, usage.output_tokens, usage.total_tokens):
        assert type(count) is int
    assert type(usage.cached_input_tokens) is int
    assert type(usage.reasoning_tokens) is int


def check_stream_events(events: Sequence[StreamEvent]) -> None:
    """Every event is one of the union's classes, with fields of the declared types."""
    assert isinstance(events, tuple)
    for event in events:
        assert isinstance(event, STREAM_EVENT_TYPES), event
        if isinstance(event, TextDelta):
            assert isinstance(event.text, str)
            assert event.text, "a TextDelta is never empty"
        elif isinstance(event, ToolCallDelta):
            # type(), not isinstance(): a JSON boolean is an int to Python and must not pass as an index.
            assert type(event.index) is int
            assert isinstance(event.arguments, str)
            assert event.id is None or isinstance(event.id, str)
            assert event.name is None or isinstance(event.name, str)
        elif isinstance(event, UsageEvent):
            _check_usage(event.usage)
        elif isinstance(event, FinishEvent):
            assert event.reason in FINISH_REASONS


def check_chat_result(result: ChatResult) -> None:
    """A result is an assistant message of known parts whose tool calls agree with its tool-call lists."""
    assert isinstance(result, ChatResult)
    assert isinstance(result.message, Message)
    assert result.message.role == "assistant"
    parts: tuple[MessagePart, ...] = result.message.parts
    assert all(isinstance(p, _PART_TYPES) for p in parts), parts
    assert isinstance(result.text, str)
    assert all(isinstance(c, ToolCall) and isinstance(c.arguments, dict) for c in result.tool_calls)
    assert all(isinstance(c, InvalidToolCall) and isinstance(c.raw_arguments, str) for c in result.invalid_tool_calls)
    for call in result.tool_calls:
        # Only JSON's own whitespace makes blank arguments (RFC 8259); U+00A0 is text.
        expected = {} if call.raw_arguments.strip(" \t\n\r") == "" else json.loads(call.raw_arguments)
        # Compared as text: NaN arguments are legal in Python's JSON and never equal themselves.
        assert json.dumps(call.arguments, sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert result.finish_reason is None or result.finish_reason in FINISH_REASONS
    if result.usage is not None:
        _check_usage(result.usage)
