"""Re-exports the emulator's outcomes and responder (:mod:`shared_core.emulator`) under their old test-support name."""

from __future__ import annotations

from shared_core.emulator.responder import PromptView, decide_answer, deterministic_responder, read_prompt
from shared_core.emulator.schema_example import schema_instance
from shared_core.emulator.script import (
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
