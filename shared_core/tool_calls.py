"""Tool-call decoding: arguments parsed from JSON, streamed fragments assembled per call.

Malformed or truncated JSON never becomes ``{}``: it becomes an :class:`InvalidToolCall` that carries the raw
text and the parse error, so a framework can report it to the model instead of executing a tool with no input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from shared_core.messages import JsonValue, ToolCallPart

__all__ = [
    "InvalidToolCall",
    "ToolCall",
    "ToolCallAssembler",
    "parse_tool_arguments",
]

# Only these count as blank: a model that emits U+00A0 or U+3000 sent text, not "no arguments".
_JSON_WHITESPACE = " \t\n\r"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call whose arguments parsed to a JSON object.

    Attributes:
        id: The call id.
        name: The tool name.
        arguments: The parsed arguments.
        raw_arguments: The JSON text as the model produced it.
    """

    id: str
    name: str
    arguments: dict[str, JsonValue]
    raw_arguments: str
    kind: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class InvalidToolCall:
    """A tool call whose arguments are not a JSON object (malformed, truncated, or another JSON type).

    Attributes:
        id: The call id ('' if it never arrived).
        name: The tool name ('' if it never arrived).
        raw_arguments: Exactly what was received.
        error: Why it could not be parsed.
    """

    id: str
    name: str
    raw_arguments: str
    error: str
    kind: Literal["invalid_tool_call"] = "invalid_tool_call"


def parse_tool_arguments(call_id: str, name: str, raw: str) -> ToolCall | InvalidToolCall:
    """Parse a tool call's argument text.

    An empty string (or JSON whitespace only) means "no arguments" and parses to ``{}`` (Azure sends it for
    parameterless tools); anything else must be a JSON object. Text Python's parser refuses for its own limits
    (an integer of more than 4,300 digits, nesting deeper than the recursion limit) is invalid too.

    Args:
        call_id: The call id.
        name: The tool name.
        raw: The argument text.

    Returns:
        A :class:`ToolCall`, or an :class:`InvalidToolCall` carrying the raw text and the parse error.
    """
    if raw.strip(_JSON_WHITESPACE) == "":
        return ToolCall(call_id, name, {}, raw)
    try:
        value: JsonValue = json.loads(raw)
    except RecursionError:
        return InvalidToolCall(call_id, name, raw, "arguments are not valid JSON: nested too deeply to parse")
    except ValueError as exc:  # JSONDecodeError, and the bare ValueError of the integer digit limit
        return InvalidToolCall(call_id, name, raw, f"arguments are not valid JSON: {exc}")
    if not isinstance(value, dict):
        return InvalidToolCall(call_id, name, raw, f"arguments must be a JSON object, got {type(value).__name__}")
    return ToolCall(call_id, name, value, raw)


@dataclass(slots=True)
class _Pending:
    id: str
    name: str
    fragments: list[str]


class ToolCallAssembler:
    """Assembles streamed tool-call fragments, keyed by the call's index in the message.

    Chat Completions streams ``delta.tool_calls[i]`` with the id and name in the first fragment of each
    index (and several indexes in one chunk); the Responses API streams
    ``response.function_call_arguments.delta`` keyed by output index. Both feed :meth:`add`.
    """

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls: dict[int, _Pending] = {}

    def add(self, index: int, *, id: str | None = None, name: str | None = None, arguments: str = "") -> None:  # noqa: A002
        """Add one fragment. ``id`` and ``name`` may arrive late or repeat; the last non-empty wins."""
        pending = self._calls.get(index)
        if pending is None:
            pending = self._calls[index] = _Pending("", "", [])
        if id:
            pending.id = id
        if name:
            pending.name = name
        if arguments:
            pending.fragments.append(arguments)

    def set_arguments(self, index: int, arguments: str) -> None:
        """Replace the accumulated arguments with the complete text (Responses ``...arguments.done``)."""
        pending = self._calls.get(index)
        if pending is None:
            pending = self._calls[index] = _Pending("", "", [])
        pending.fragments = [arguments]

    def __bool__(self) -> bool:
        return bool(self._calls)

    def partial_arguments(self, index: int) -> str:
        """The argument text received so far for one call ('' if none)."""
        pending = self._calls.get(index)
        return "".join(pending.fragments) if pending else ""

    def as_parts(self) -> tuple[ToolCallPart, ...]:
        """Every call as a message part with its raw argument text, in index order."""
        return tuple(ToolCallPart(p.id, p.name, "".join(p.fragments)) for _, p in sorted(self._calls.items()))

    def finish(self) -> tuple[tuple[ToolCall, ...], tuple[InvalidToolCall, ...]]:
        """Parse every call, in index order.

        Returns:
            The valid calls and the invalid ones (a call with no id or name is invalid too).
        """
        valid: list[ToolCall] = []
        invalid: list[InvalidToolCall] = []
        for index in sorted(self._calls):
            pending = self._calls[index]
            raw = "".join(pending.fragments)
            if not pending.id or not pending.name:
                missing = " and ".join(w for w, v in (("an id", pending.id), ("a name", pending.name)) if not v)
                invalid.append(
                    InvalidToolCall(pending.id, pending.name, raw, f"tool call #{index} never received {missing}")
                )
                continue
            parsed = parse_tool_arguments(pending.id, pending.name, raw)
            if isinstance(parsed, ToolCall):
                valid.append(parsed)
            else:
                invalid.append(parsed)
        return tuple(valid), tuple(invalid)
