"""Conversation messages in our own types: a role and a tuple of typed parts.

Framework packages convert into these (``to_core_messages``); the wire codecs encode them. Every part carries a
``kind`` tag so that code can ``match`` exhaustively over them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Literal, TypeAlias

__all__ = [
    "ImagePart",
    "JsonValue",
    "Message",
    "MessagePart",
    "ReasoningPart",
    "Role",
    "TextPart",
    "ToolCallPart",
    "ToolResultPart",
]

JsonValue: TypeAlias = "None | bool | int | float | str | list[JsonValue] | dict[str, JsonValue]"
"""Any JSON value; the one open type that crosses layers (tool arguments, provider details)."""

Role = Literal["system", "developer", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class TextPart:
    """Plain text."""

    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image, as an ``https://`` URL or a ``data:`` URL.

    Attributes:
        url: Where the image is, or the image itself as a base64 ``data:`` URL.
        detail: The vision detail level Azure should use, if set.
    """

    url: str
    detail: Literal["auto", "low", "high"] | None = None
    kind: Literal["image"] = "image"

    @classmethod
    def from_bytes(
        cls, data: bytes, media_type: str, detail: Literal["auto", "low", "high"] | None = None
    ) -> ImagePart:
        """Build an image part from raw bytes and their media type (``image/png`` ...)."""
        encoded = base64.b64encode(data).decode("ascii")
        return cls(url=f"data:{media_type};base64,{encoded}", detail=detail)


@dataclass(frozen=True, slots=True)
class ToolCallPart:
    """A call the assistant made to a tool.

    Attributes:
        id: The call id that the matching :class:`ToolResultPart` refers to.
        name: The tool's name.
        arguments: The arguments as the raw JSON text the model produced (kept verbatim, even if malformed).
    """

    id: str
    name: str
    arguments: str
    kind: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class ToolResultPart:
    """The output of a tool call, sent back to the model in a ``tool`` message.

    Attributes:
        tool_call_id: The id of the call this answers.
        content: The tool's output as text.
        name: The tool's name, when known (Chat Completions does not send it; repair uses it in messages).
        is_error: True when the tool failed and ``content`` describes the failure.
    """

    tool_call_id: str
    content: str
    name: str | None = None
    is_error: bool = False
    kind: Literal["tool_result"] = "tool_result"


@dataclass(frozen=True, slots=True)
class ReasoningPart:
    """Reasoning the model did: a readable summary and/or Azure's encrypted reasoning item.

    Attributes:
        text: The reasoning summary text ('' when only encrypted content came back).
        id: The Responses API reasoning item id (``rs_...``), needed to send the item back.
        encrypted_content: The opaque encrypted reasoning, to pass back for stateless multi-turn use.
    """

    text: str = ""
    id: str | None = None
    encrypted_content: str | None = None
    kind: Literal["reasoning"] = "reasoning"


MessagePart = TextPart | ImagePart | ToolCallPart | ToolResultPart | ReasoningPart


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of a conversation.

    Attributes:
        role: Who speaks. ``tool`` messages hold :class:`ToolResultPart` s.
        parts: The content, in order.
        name: An optional participant name (Chat Completions ``name``).
    """

    role: Role
    parts: tuple[MessagePart, ...]
    name: str | None = None

    @classmethod
    def system(cls, text: str) -> Message:
        """A system message."""
        return cls("system", (TextPart(text),))

    @classmethod
    def user(cls, text: str) -> Message:
        """A user message with text only."""
        return cls("user", (TextPart(text),))

    @classmethod
    def assistant(cls, text: str = "", tool_calls: tuple[ToolCallPart, ...] = ()) -> Message:
        """An assistant message with optional text and tool calls."""
        parts: tuple[MessagePart, ...] = ((TextPart(text),) if text else ()) + tool_calls
        return cls("assistant", parts)

    @classmethod
    def tool(cls, tool_call_id: str, content: str, name: str | None = None) -> Message:
        """A tool message answering ``tool_call_id``."""
        return cls("tool", (ToolResultPart(tool_call_id, content, name),))

    @property
    def text(self) -> str:
        """All text parts joined (tool results and reasoning excluded)."""
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def tool_calls(self) -> tuple[ToolCallPart, ...]:
        """The tool calls in this message, in order."""
        return tuple(p for p in self.parts if isinstance(p, ToolCallPart))

    @property
    def tool_results(self) -> tuple[ToolResultPart, ...]:
        """The tool results in this message, in order."""
        return tuple(p for p in self.parts if isinstance(p, ToolResultPart))
