"""A LlamaIndex instrumentation handler that keeps every event, and a fixture that attaches it to the root."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent

__all__ = ["Recorder", "recorder"]


class Recorder(BaseEventHandler):
    """Collects instrumentation events."""

    events: list[BaseEvent] = []

    @classmethod
    def class_name(cls) -> str:
        return "Recorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """A :class:`Recorder` on the root dispatcher for the test's duration."""
    root = get_dispatcher()
    handler = Recorder(events=[])
    root.add_event_handler(handler)
    yield handler
    root.event_handlers.remove(handler)
