"""Typed debug events, the :class:`EventSink` protocol, and the sink that writes them to ``logging``.

Events are summaries by default (deployment, counts, usage, latency, finish reason); full bodies only when
raw debug is on. No event ever holds a credential: the transport removes auth headers before an event is
built, and bodies never contain them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from shared_core.messages import JsonValue

__all__ = [
    "DebugEvent",
    "EventName",
    "EventSink",
    "ListSink",
    "LoggingSink",
]

EventName = Literal[
    "llm:request:debug",
    "llm:response:debug",
    "llm:request:raw",
    "llm:response:raw",
    "provider:tool_sequence_repaired",
    "provider:attempt_failed",
    "provider:retry",
    "provider:failover",
    "provider:outcome",
    "provider:parameter_adjusted",
    "health:fleet_fallback",
    "health:fleet_rejoined",
]


@dataclass(frozen=True, slots=True)
class DebugEvent:
    """One event.

    Attributes:
        name: What happened (``llm:request:debug`` ...).
        data: JSON-ready details; never a credential.
        timestamp: ``time.time()`` when it was made.
    """

    name: EventName
    data: Mapping[str, JsonValue]
    timestamp: float = field(default_factory=time.time)


class EventSink(Protocol):
    """Receives events. Implementations must not raise."""

    def emit(self, event: DebugEvent) -> None:
        """Handle one event."""
        ...


class LoggingSink:
    """Writes events to the ``shared_core.events`` logger at DEBUG, as ``name {json}``."""

    __slots__ = ("_logger",)

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger("shared_core.events")

    def emit(self, event: DebugEvent) -> None:
        """Log the event at DEBUG (cheap when DEBUG is off)."""
        if self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug("%s %s", event.name, json.dumps(event.data, default=str, ensure_ascii=False))


class ListSink:
    """Keeps every event in a list; for tests and notebooks."""

    __slots__ = ("events",)

    def __init__(self) -> None:
        self.events: list[DebugEvent] = []

    def emit(self, event: DebugEvent) -> None:
        """Append the event."""
        self.events.append(event)

    def named(self, name: str) -> list[DebugEvent]:
        """The events with this name, in order."""
        return [e for e in self.events if e.name == name]
