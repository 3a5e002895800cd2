"""Conversation messages in our own types: a role and a tuple of typed parts.

Framework packages convert into these (``to_core_messages``); the wire codecs encode them. Every part carries a
``kind`` tag so that code can ``match`` exhaustively over them.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

__all__ = [
    "AudioPart",
    "FilePart",
    "HostedToolPart",
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
    """Plain text.

    Attributes:
        text: The text.
        annotations: What the model cited for this text (Responses ``url_citation``, ``file_citation``,
            ``container_file_citation``, ``file_path`` annotations), as Azure sent them, with ``start_index`` /
            ``end_index`` counted in :attr:`text`.
    """

    text: str
    annotations: tuple[Mapping[str, JsonValue], ...] = ()
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


@dataclass(frozen=True, slots=True)
class AudioPart:
    """Audio: input audio a user sends, or audio the model answered with (Chat Completions ``message.audio``).

    Attributes:
        data: The audio as base64 ('' for an answer's audio referred to by ``id`` only).
        format: ``wav``, ``mp3`` ... (input audio needs one; an answer's audio has the requested format).
        id: The answer audio's id (``audio_...``), which the next turn sends back instead of the audio.
        transcript: What the answer's audio says.
        expires_at: Unix time after which Azure no longer accepts ``id`` in a next turn.
    """

    data: str = ""
    format: str | None = None
    id: str | None = None
    transcript: str | None = None
    expires_at: int | None = None
    kind: Literal["audio"] = "audio"

    @classmethod
    def from_bytes(cls, data: bytes, format: str) -> AudioPart:  # noqa: A002 - the wire's own name
        """Input audio from raw bytes and their format (``wav`` or ``mp3``)."""
        return cls(data=base64.b64encode(data).decode("ascii"), format=format)


@dataclass(frozen=True, slots=True)
class FilePart:
    """A file (a PDF ...) given to the model: inline as a base64 ``data:`` URL, or by uploaded ``file_id``.

    Attributes:
        data_url: ``data:<media type>;base64,<data>`` (``None`` with ``file_id``).
        file_id: The id of a file uploaded to the resource (``assistant-...`` / ``file-...``).
        filename: The file's name, shown to the model (Azure requires one with inline data).
    """

    data_url: str | None = None
    file_id: str | None = None
    filename: str | None = None
    kind: Literal["file"] = "file"

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str, filename: str) -> FilePart:
        """A file from raw bytes, its media type (``application/pdf``) and its name."""
        encoded = base64.b64encode(data).decode("ascii")
        return cls(data_url=f"data:{media_type};base64,{encoded}", filename=filename)

    @property
    def size(self) -> int:
        """The decoded size in bytes of inline data (0 for a ``file_id``)."""
        if not self.data_url:
            return 0
        encoded = self.data_url.partition(",")[2]
        return len(encoded) * 3 // 4 - encoded[-2:].count("=")


@dataclass(frozen=True, slots=True)
class HostedToolPart:
    """An item of a tool Azure runs itself (Responses API): a web search, file search, code interpreter run,
    generated image, MCP call or listing, an MCP approval request (or the user's approval response).

    The item is kept exactly as Azure sent it, so the next turn can send it back unchanged.

    Attributes:
        item: The Responses output item (``{"type": "web_search_call", "id": "ws_...", ...}``).
    """

    item: Mapping[str, JsonValue]
    kind: Literal["hosted_tool"] = "hosted_tool"

    @property
    def item_type(self) -> str:
        """The item's ``type`` (``web_search_call``, ``image_generation_call``, ``mcp_call`` ...)."""
        value = self.item.get("type")
        return value if isinstance(value, str) else ""

    @property
    def id(self) -> str:
        """The item's id ('' when it has none)."""
        value = self.item.get("id")
        return value if isinstance(value, str) else ""


MessagePart = (
    TextPart | ImagePart | ToolCallPart | ToolResultPart | ReasoningPart | AudioPart | FilePart | HostedToolPart
)


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
