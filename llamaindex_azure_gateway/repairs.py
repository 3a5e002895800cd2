"""Conversation repairs as LlamaIndex users see them.

When the gateway had to repair the history before sending it (a tool call without its result, a result without
its call: Azure would answer 400), what it changed is reported three ways: ``ChatResponse.additional_kwargs``
and ``raw`` get ``"conversation_repairs"`` (the shape LangChain users get in ``response_metadata``), and a
:class:`ConversationRepairedEvent` goes to LlamaIndex's instrumentation dispatcher, before the first token of a
stream.
"""

from __future__ import annotations

from collections.abc import Sequence

from llama_index.core.instrumentation.events import BaseEvent

from shared_core.integration import ToolSequenceRepair

__all__ = ["ConversationRepairedEvent"]


class ConversationRepairedEvent(BaseEvent):
    """The history was repaired before sending.

    Attributes:
        repairs: One entry per change, in history order: ``tool_call_id``, ``tool_name`` and ``action``.
    """

    repairs: list[dict[str, str]]

    @classmethod
    def class_name(cls) -> str:
        """The event's name for handlers."""
        return "ConversationRepairedEvent"

    @classmethod
    def of(cls, repairs: Sequence[ToolSequenceRepair]) -> ConversationRepairedEvent:
        """The event for the gateway's repairs."""
        return cls(
            repairs=[{"tool_call_id": r.tool_call_id, "tool_name": r.tool_name, "action": r.action} for r in repairs]
        )
