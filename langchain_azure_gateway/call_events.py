"""Per-call capture of the gateway's debug events: deployment, request id and conversation repairs.

A model's gateway is shared by all its calls, so its event sink cannot belong to one call. The sink here
forwards every event to the user's sink (logging by default) and also records the few facts a LangChain
message needs into the :class:`CallScope` of the call running in the current context (a ``ContextVar``:
threads and asyncio tasks each see their own call).
"""

from __future__ import annotations

import contextlib
import logging
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from shared_core import REPAIR_EVENT, DebugEvent, EventSink

__all__ = ["CallScope", "ScopedSink", "enter_scope", "exit_scope"]

_log = logging.getLogger("langchain_azure_gateway")
_CURRENT: ContextVar[CallScope | None] = ContextVar("azure_gateway_call_scope", default=None)


@dataclass(slots=True)
class CallScope:
    """What the gateway reported about one call.

    Attributes:
        deployment: The deployment the request went to.
        request_id: Azure's ``apim-request-id`` (known once the answer is complete).
        repairs: The repair event's payload when the history was repaired before sending.
    """

    deployment: str | None = None
    request_id: str | None = None
    repairs: dict[str, Any] | None = None

    def metadata(self) -> dict[str, Any]:
        """Extra ``response_metadata`` for this call (the repairs, when any were made)."""
        return {"conversation_repairs": self.repairs} if self.repairs else {}


class ScopedSink:
    """An :class:`EventSink` that forwards to ``inner`` and records into the current :class:`CallScope`."""

    __slots__ = ("inner",)

    def __init__(self, inner: EventSink) -> None:
        self.inner = inner

    def emit(self, event: DebugEvent) -> None:
        """Forward the event, then note what the current call needs from it."""
        self.inner.emit(event)
        scope = _CURRENT.get()
        if event.name == REPAIR_EVENT:
            # Azure would have rejected this history with a 400; say so where users look.
            _log.warning("repaired the conversation before sending it to Azure OpenAI: %s", event.data)
        if scope is None:
            return
        payload = event.data
        if event.name == "llm:request:debug":
            deployment = payload.get("deployment")
            scope.deployment = deployment if isinstance(deployment, str) else None
        elif event.name == "llm:response:debug":
            request_id = payload.get("request_id")
            scope.request_id = request_id if isinstance(request_id, str) else None
        elif event.name == REPAIR_EVENT:
            scope.repairs = dict(payload)


def enter_scope() -> tuple[CallScope, Token[CallScope | None]]:
    """Start recording for the call about to run in this context."""
    scope = CallScope()
    return scope, _CURRENT.set(scope)


def exit_scope(token: Token[CallScope | None]) -> None:
    """Stop recording; a generator closed from another context (garbage collection) just lets go."""
    with contextlib.suppress(ValueError):
        _CURRENT.reset(token)
