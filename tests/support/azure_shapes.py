"""Re-exports :mod:`azure_openai_emulator.shapes` under its old test-support name."""

from __future__ import annotations

from azure_openai_emulator.shapes import (
    CHAT_CHOICE_FILTER,
    CHAT_CHUNK_FILTER,
    PROMPT_FILTER,
    Completion,
    DeploymentInfo,
    FilterVerdict,
    ToolCall,
    Usage,
    chat_body,
    chat_stream,
    compact,
    pretty,
    responses_body,
    responses_stream,
    split_text,
)

__all__ = [
    "CHAT_CHOICE_FILTER",
    "CHAT_CHUNK_FILTER",
    "PROMPT_FILTER",
    "Completion",
    "DeploymentInfo",
    "FilterVerdict",
    "ToolCall",
    "Usage",
    "chat_body",
    "chat_stream",
    "compact",
    "pretty",
    "responses_body",
    "responses_stream",
    "split_text",
]
