"""Offline prompt token counts: no tokenizer download at run time, no ``transformers``.

``AzureChatOpenAI.get_num_tokens_from_messages`` uses tiktoken, which downloads its vocabulary on first use
(and fails without network); langchain-core's default needs ``transformers``. This estimate needs neither: text
is split the way the GPT-4o tokenizer pre-splits it (letter runs, 1-3 digit groups, punctuation runs, spaces),
a letter run counts one token per six letters (most English words are one token), non-Latin letters about
two per three characters, and each message adds the chat format's overhead (3 tokens a message, 1 for a name,
3 to prime the answer). Tools are counted as the model sees them (name, description, each parameter's name,
type, description and enum), after the OpenAI cookbook's rule for function definitions, with a larger
per-tool overhead measured on the recordings.

Measured against the prompt token counts Azure reported in ``../shared/azure-recordings`` (239 text-only Chat
Completions requests without a ``json_schema`` response format, which neither class counts): without tools (124
requests) the median absolute error is 6.7 % (p90 15.9 %, max 27.3 %, mean signed +1.1 %); with tools (115)
16.9 % (p90 36.5 %, max 42.8 %, mean signed -8.6 %: tool definitions of nested schemas are undercounted, and
reasoning models add a hidden preamble). ``tests/dropin/test_langchain_tokens.py`` recomputes and bounds them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

__all__ = ["count_chat_tokens", "count_text_tokens"]

_PIECE = re.compile(r"[^\W\d_]+|\d{1,3}|[^\s\w]+|\s+", re.UNICODE)
_PER_MESSAGE = 3
_PER_NAME = 1
_PRIMING = 3
_PER_TOOL = 25
_TOOLS_END = 12


def count_text_tokens(text: str) -> int:
    """Estimated tokens of ``text`` (GPT-4o family tokenizers)."""
    count = 0
    for match in _PIECE.finditer(text):
        piece = match.group()
        if piece.isspace():
            # A single space belongs to the next word's token.
            count += 0 if len(piece) == 1 else math.ceil(len(piece) / 8)
        elif piece[0].isalpha():
            count += max(1, math.ceil(len(piece) / 6)) if piece.isascii() else math.ceil(len(piece) / 1.5)
        elif piece[0].isdigit():
            count += 1
        else:
            count += max(1, math.ceil(len(piece) / 2))
    return count


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = cast(list[object], content)
        return "".join(str(cast(dict[str, Any], p).get("text", "")) for p in parts if isinstance(p, dict))
    return ""


def _message_tokens(message: Mapping[str, Any]) -> int:
    count = _PER_MESSAGE + count_text_tokens(str(message.get("role", "")))
    count += count_text_tokens(_content_text(message.get("content")))
    name = message.get("name")
    if isinstance(name, str) and name:
        count += _PER_NAME + count_text_tokens(name)
    for call in message.get("tool_calls") or []:
        function = call.get("function", {}) if isinstance(call, dict) else {}
        count += (
            3 + count_text_tokens(str(function.get("name", ""))) + count_text_tokens(str(function.get("arguments", "")))
        )
    return count


def _tool_tokens(tool: Mapping[str, Any]) -> int:
    function = tool.get("function", tool)
    description = str(function.get("description") or "").rstrip(".")
    count = _PER_TOOL + count_text_tokens(f"{function.get('name', '')}:{description}")
    properties = (function.get("parameters") or {}).get("properties") or {}
    if properties:
        count += 3
    for key, raw in properties.items():
        spec = raw if isinstance(raw, dict) else {}
        description = str(spec.get("description") or "").rstrip(".")
        count += 3 + count_text_tokens(f"{key}:{spec.get('type', '')}:{description}")
        for item in spec.get("enum") or []:
            count += 3 + count_text_tokens(str(item))
        if spec.get("enum"):
            count -= 3
    return count


def count_chat_tokens(messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] = ()) -> int:
    """Estimated prompt tokens of Chat Completions ``messages`` and ``tools`` (OpenAI-format dicts)."""
    count = _PRIMING + sum(_message_tokens(m) for m in messages)
    if tools:
        count += sum(_tool_tokens(t) for t in tools) + _TOOLS_END
    return count
