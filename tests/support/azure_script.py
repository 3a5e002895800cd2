"""Re-exports the emulator's outcomes and responder (:mod:`azure_openai_emulator`) under their old test-support name."""

from __future__ import annotations

from azure_openai_emulator.responder import PromptView, decide_answer, deterministic_responder, read_prompt
from azure_openai_emulator.schema_example import schema_instance
from azure_openai_emulator.script import (
    ApiShape,
    BadGateway,
    ConnectionReset,
    HttpError,
    Outcome,
    PromptFiltered,
    RecordedRequest,
    Reply,
    Responder,
    RetryAfterHeader,
    Unparsable,
    as_responder,
)

__all__ = [
    "ApiShape",
    "BadGateway",
    "ConnectionReset",
    "HttpError",
    "Outcome",
    "PromptFiltered",
    "PromptView",
    "RecordedRequest",
    "Reply",
    "Responder",
    "RetryAfterHeader",
    "Unparsable",
    "as_responder",
    "decide_answer",
    "deterministic_responder",
    "read_prompt",
    "schema_instance",
]
