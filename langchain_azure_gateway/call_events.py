"""Per-call capture of conversation repairs, for LangChain callbacks and ``response_metadata``.

The gateway sends its repair event to its sink when it had to fix a history Azure would reject. A model's
gateway, and so its sink, serves all the model's calls, so :class:`RepairSink` records the event into the
:class:`CallScope` of the call running in the current context (a ``ContextVar``: threads and asyncio tasks
each see their own call). Deployment and request id do not come this way: they are on the result (invoke)
and on the stream's first event.

Every event also goes on to the user's sink, or to logging as the gateway does when given none. The gateway
builds its per-call summaries (``llm:request:debug`` / ``llm:response:debug``) once any sink is passed, so
this sink drops them unless the user gave a sink or turned debug on, which is when the gateway sends them.
"""

from __future__ import annotations

import contextlib
import logging
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from shared_core import REPAIR_EVENT, DebugEvent, EventSink, LoggingSink

__all__ = ["CallScope", "RepairSink", "enter_scope", "exit_scope"]

_log = logging.getLogger("langchain_azure_gateway")
_CURRENT: ContextVar[CallScope | None] = ContextVar("azure_gateway_call_scope", default=None)
_SUMMARIES = frozenset({"llm:request:debug", "llm:response:debug"})


@dataclass(slots=True)
class CallScope:
    """What the gateway reported about one call that only its events say.

    Attributes:
        repairs: The repair event's payload when the history was repaired before sending.
    """

    repairs: dict[str, Any] | None = None

    def metadata(self) -> dict[str, Any]:
        """Extra ``response_metadata`` for this call (the repairs, when any were made)."""
        return {"conversation_repairs": self.repairs} if self.repairs else {}


class RepairSink:
    """An :class:`EventSink` that records repairs into the current :class:`CallScope` and forwards events.

    Args:
        user_sink: The sink the user gave, if any; events then go there, else to logging.
        summaries: Forward the per-call summary events (the user gave a sink, or debug is on).
    """

    __slots__ = ("_inner", "summaries")

    def __init__(self, user_sink: EventSink | None, *, summaries: bool) -> None:
        self._inner: EventSink = user_sink if user_sink is not None else LoggingSink()
        self.summaries = summaries

    def emit(self, event: DebugEvent) -> None:
        """Note a repair for the current call, then forward what the gateway would have sent."""
        if event.name == REPAIR_EVENT:
            # Azure would have rejected this history with a 400; say so where users look.
            _log.warning("repaired the conversation before sending it to Azure OpenAI: %s", event.data)
            scope = _CURRENT.get()
            if scope is not None:
                scope.repairs = dict(event.data)
        elif event.name in _SUMMARIES and not self.summaries:
            return
        self._inner.emit(event)


def enter_scope() -> tuple[CallScope, Token[CallScope | None]]:
    """Start recording for the call about to run in this context."""
    scope = CallScope()
    return scope, _CURRENT.set(scope)


def exit_scope(token: Token[CallScope | None]) -> None:
    """Stop recording; a generator closed from another context (garbage collection) just lets go."""
    with contextlib.suppress(ValueError):
        _CURRENT.reset(token)
