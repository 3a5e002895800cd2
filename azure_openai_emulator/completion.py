"""What the shape builders render: one decided answer and its parts, the deployment it comes from, and the
serialization every shape shares.

A :class:`Completion` holds everything a body or stream needs, identifiers included, so the builders in
:mod:`~azure_openai_emulator.shapes` (Chat Completions) and :mod:`~azure_openai_emulator.responses_shapes`
(Responses API) are pure: equal inputs give equal bytes. The ``obfuscation`` padding and item ids are derived
from a hash of the answer's id, never drawn at random.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Mapping
from dataclasses import dataclass, field

from azure_openai_emulator.content import ContentExtras
from shared_core.messages import JsonValue

__all__ = [
    "Completion",
    "DeploymentInfo",
    "FilterVerdict",
    "ToolCall",
    "Usage",
    "compact",
    "hex_id",
    "obfuscation",
    "pretty",
    "split_text",
]

_OBFUSCATION_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class DeploymentInfo:
    """What one emulated deployment reports about itself.

    Attributes:
        model: The versioned model Chat Completions bodies name (``gpt-4o-mini-2024-07-18``), not the deployment.
        system_fingerprint: ``fp_…`` for gpt-4o-family models; gpt-5-family deployments send ``null``.
        region: The ``x-ms-region`` header.
        requests_per_minute: ``x-ratelimit-limit-requests``.
        tokens_per_minute: ``x-ratelimit-limit-tokens``.
        enforce_quota: Answer 429 when a request's tokens exceed what is left of ``tokens_per_minute``, which
            refills over ``renewal_period`` (see :mod:`azure_openai_emulator.quota`); off, usage is only counted.
        renewal_period: Seconds over which an enforced token budget refills completely.
    """

    model: str = "gpt-4o-mini-2024-07-18"
    system_fingerprint: str | None = "fp_efad92c60b"
    region: str = "East US"
    requests_per_minute: int = 300
    tokens_per_minute: int = 30000
    enforce_quota: bool = False
    renewal_period: float = 60.0


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call the model makes.

    Attributes:
        name: Function name.
        arguments: The arguments as JSON text, sent exactly as given (it may be invalid on purpose).
        call_id: ``call_…``; left empty, the server fills one in.
    """

    name: str
    arguments: str = "{}"
    call_id: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts. ``completion_tokens`` includes ``reasoning_tokens``, as Azure counts them."""

    prompt_tokens: int = 10
    completion_tokens: int = 5
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class FilterVerdict:
    """The content-filter category that fired, and at which severity."""

    category: str = "violence"
    severity: str = "medium"

    def results(self, base: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
        """``base`` with this category marked filtered (added when ``base`` lacks it)."""
        out = dict(base)
        out[self.category] = {"filtered": True, "severity": self.severity}
        return out


@dataclass(frozen=True, slots=True)
class Completion:
    """One fully decided answer: everything the builders render, identifiers included.

    Attributes:
        response_id: ``chatcmpl-…`` (chat) or ``resp_…`` (Responses).
        created: Unix seconds.
        model: The ``model`` the body names.
        system_fingerprint: Chat only.
        text_pieces: The text as it streams, one piece per chunk; joined, the whole text.
        tool_calls: Calls with their ``call_id`` filled in.
        argument_pieces: How many fragments each call's arguments stream in.
        pack_tool_calls: Stream the k-th fragment of every call in one chunk (several indexes per chunk).
        usage: Token counts.
        finish_reason: ``stop``, ``tool_calls``, ``length`` or ``content_filter``.
        filtered: When set, the filter cut the answer after ``text_pieces``.
        extras: Hosted tool items, citations, reasoning text, audio and extra choices (``emulator.content``).
    """

    response_id: str
    created: int
    model: str
    system_fingerprint: str | None = None
    text_pieces: tuple[str, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    argument_pieces: int = 4
    pack_tool_calls: bool = False
    usage: Usage = Usage()
    finish_reason: str = "stop"
    filtered: FilterVerdict | None = None
    extras: ContentExtras = field(default_factory=ContentExtras)

    @property
    def text(self) -> str | None:
        """The whole text, or ``None`` for a tool-call-only answer."""
        return "".join(self.text_pieces) if self.text_pieces or not self.tool_calls else None


def compact(value: JsonValue) -> bytes:
    """Serialize as Chat Completions does: no spaces, non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def pretty(value: JsonValue) -> bytes:
    """Serialize as the Responses API and the OpenAI-style errors do: two-space indent."""
    return json.dumps(value, indent=2, ensure_ascii=False).encode("utf-8")


def split_text(text: str, pieces: int) -> tuple[str, ...]:
    """Split ``text`` into ``pieces`` near-equal parts (fewer when the text is shorter)."""
    pieces = max(1, min(pieces, len(text)))
    size, extra = divmod(len(text), pieces)
    out: list[str] = []
    start = 0
    for i in range(pieces):
        end = start + size + (1 if i < extra else 0)
        out.append(text[start:end])
        start = end
    return tuple(out)


def obfuscation(seed: str) -> str:
    """The ``obfuscation`` padding of a streamed event: 0-15 letters and digits derived from ``seed``."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return "".join(_OBFUSCATION_ALPHABET[b % len(_OBFUSCATION_ALPHABET)] for b in digest[1 : 1 + digest[0] % 16])


def hex_id(prefix: str, seed: str) -> str:
    """An item id (``msg_…``, ``fc_…``): ``prefix`` and 50 hex digits derived from ``seed``."""
    return prefix + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:50]
