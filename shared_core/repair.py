"""Conversation repair: make a history's tool calls and tool results fit what Azure accepts.

Azure's Chat Completions API rejects a request (400) unless every assistant message with ``tool_calls`` is
followed *immediately* by tool messages answering each of its ``tool_call_id`` s, and every tool message
answers a call of the assistant message before its run of tool messages ("An assistant message with
'tool_calls' must be followed by tool messages responding to each 'tool_call_id'", "messages with role 'tool'
must be a response to a preceding message with 'tool_calls'"). The Responses API fails the same way in both
directions ("No tool output found for function call", "No tool call found for function call output"). Agent
frameworks produce such histories routinely: LlamaIndex's FunctionAgent stops at a ``return_direct`` tool and
leaves its parallel siblings unanswered, memory truncation drops an assistant turn but keeps its tool messages,
an interrupted LangGraph run leaves a dangling call at the end.

The rules, applied in one pass by :func:`repair_conversation`:

1. A tool result answers the *nearest earlier* assistant turn that made a call with its id. Ids are only
   unique within one response (some deployments and proxies reuse ``call_0`` every turn), so a result that
   comes before any call with its id is an orphan even when a later turn reuses the id.
2. A result with no such call is an orphan and is removed (``removed_orphan_result``). The same holds for the
   Responses API, where ``function_call_output`` items need their ``function_call``.
3. A second result for the same call is removed; the first is kept (``removed_duplicate_result``).
4. A result separated from its assistant turn by any other message (a user turn, an assistant reply, another
   tool-calling turn) is moved up to that turn's run of tool messages, after the results already there
   (``moved_misplaced_result``). Dropping it instead would throw away a real output and then tell the model the
   call failed; moving it shows the model what the tool really returned.
5. A call still without a result gets a synthetic, ``is_error`` result naming the tool, placed after the real
   results of its turn, in call order (``inserted_missing_result``).
6. A tool message that carries no tool result at all has no ``tool_call_id`` to send and is removed
   (``removed_unlinked_tool_message``).

A repeated id within one assistant message counts as one call. The output is the stricter Chat Completions
shape, which the Responses API accepts too. Repair is pure and idempotent: nothing is remembered between calls,
a history that needs nothing is returned unchanged (the same message objects, in the same order), and
repairing a repaired history changes nothing. Non-tool messages are never altered or reordered; the gateway,
not this module, emits :data:`REPAIR_EVENT` with :meth:`RepairOutcome.event_payload`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from shared_core.errors import ConversationError
from shared_core.messages import JsonValue, Message, MessagePart, Role, ToolResultPart

__all__ = [
    "MISSING_RESULT_PREFIX",
    "REPAIR_EVENT",
    "RepairAction",
    "RepairOutcome",
    "ToolSequenceRepair",
    "check_conversation",
    "conversation_problems",
    "repair_conversation",
    "repairs_summary",
]

REPAIR_EVENT = "provider:tool_sequence_repaired"
"""Name of the debug event the gateway emits when a request's history was repaired."""

MISSING_RESULT_PREFIX = "[SYSTEM ERROR: Tool result missing from conversation history]"
"""The start of every synthetic tool result, so that models and people can recognise it."""

RepairAction = Literal[
    "inserted_missing_result",
    "removed_orphan_result",
    "removed_duplicate_result",
    "moved_misplaced_result",
    "removed_unlinked_tool_message",
]


@dataclass(frozen=True, slots=True)
class ToolSequenceRepair:
    """One change repair made.

    Attributes:
        tool_call_id: The call concerned ('' for a tool message without any tool result).
        tool_name: The tool's name, from the call or else from the result ('' when neither names it).
        action: What was done.
    """

    tool_call_id: str
    tool_name: str
    action: RepairAction


@dataclass(frozen=True, slots=True)
class RepairOutcome:
    """A repaired history and the changes that made it.

    Attributes:
        messages: The history to send.
        repairs: Every change, in history order; empty when the history was already acceptable.
    """

    messages: tuple[Message, ...]
    repairs: tuple[ToolSequenceRepair, ...]

    @property
    def changed(self) -> bool:
        """Whether repair changed anything (when False, ``messages`` holds the input messages unchanged)."""
        return bool(self.repairs)

    def event_payload(self) -> dict[str, JsonValue]:
        """The JSON-ready payload of the :data:`REPAIR_EVENT` debug event.

        Returns:
            ``{"count": n, "repairs": [[tool_call_id, tool_name], ...], "actions": [action, ...]}``, the two
            lists aligned.
        """
        pairs: list[JsonValue] = [[r.tool_call_id, r.tool_name] for r in self.repairs]
        actions: list[JsonValue] = [r.action for r in self.repairs]
        return {"count": len(self.repairs), "repairs": pairs, "actions": actions}


@dataclass(frozen=True, slots=True)
class _Problem:
    repair: ToolSequenceRepair
    description: str


@dataclass(slots=True)
class _Turn:
    """An assistant message with tool calls, and the results it will be followed by."""

    index: int
    names: dict[str, str]
    units: list[Message] = field(default_factory=lambda: [])
    answered: dict[str, int] = field(default_factory=lambda: {})


@dataclass(slots=True)
class _Plan:
    turns: dict[int, _Turn] = field(default_factory=lambda: {})
    problems: list[tuple[int, _Problem]] = field(default_factory=lambda: [])
    """Each violation with the index of the message it is about, for ordering."""

    def add(self, at: int, call_id: str, name: str, action: RepairAction, description: str) -> None:
        self.problems.append((at, _Problem(ToolSequenceRepair(call_id, name, action), description)))

    def ordered(self) -> tuple[_Problem, ...]:
        return tuple(p for _, p in sorted(self.problems, key=lambda item: item[0]))


def repair_conversation(messages: Sequence[Message]) -> RepairOutcome:
    """Apply the repair rules of this module to a history.

    Args:
        messages: The history, oldest first.

    Returns:
        The repaired history and the list of repairs (empty, with the input unchanged, when none was needed).
    """
    plan = _plan(messages)
    if not plan.problems:
        return RepairOutcome(tuple(messages), ())
    out: list[Message] = []
    for index, message in enumerate(messages):
        if message.role == "tool":
            continue
        out.append(message)
        turn = plan.turns.get(index)
        if turn is not None:
            out.extend(turn.units)
            out.extend(
                _synthetic_result(call_id, name) for call_id, name in turn.names.items() if call_id not in turn.answered
            )
    return RepairOutcome(tuple(out), tuple(p.repair for p in plan.ordered()))


def conversation_problems(messages: Sequence[Message]) -> tuple[str, ...]:
    """Describe every tool-sequence violation Azure would reject, in history order.

    Args:
        messages: The history, oldest first.

    Returns:
        One sentence per violation, naming the message index and the call; empty when Azure would accept it.
    """
    return tuple(p.description for p in _plan(messages).ordered())


def check_conversation(messages: Sequence[Message]) -> None:
    """Refuse a history Azure would reject; used when repair is switched off.

    Args:
        messages: The history, oldest first.

    Raises:
        ConversationError: Listing every problem and how to fix it.
    """
    problems = conversation_problems(messages)
    if not problems:
        return
    listing = "\n".join(f"  - {p}" for p in problems)
    raise ConversationError(
        f"Azure would reject this conversation ({len(problems)} tool-sequence problem(s)):\n{listing}\n"
        "Fix: turn conversation repair on, or give every assistant tool call exactly one tool result placed "
        "directly after the assistant message, and remove tool results whose call is not in the history."
    )


def _synthetic_result(call_id: str, name: str) -> Message:
    text = f"{MISSING_RESULT_PREFIX} Tool '{name}' (call {call_id}) has no result; treat the call as failed."
    return Message("tool", (ToolResultPart(call_id, text, name=name, is_error=True),))


def _plan(messages: Sequence[Message]) -> _Plan:
    """Assign every tool result to its turn (or reject it) and record each violation."""
    plan = _Plan()
    nearest: dict[str, _Turn] = {}
    all_call_ids = {c.id for m in messages if m.role == "assistant" for c in m.tool_calls}
    open_turn: _Turn | None = None
    last_non_tool: Role = "user"
    for index, message in enumerate(messages):
        if message.role == "tool":
            where = _Where(index, open_turn, last_non_tool)
            _place_tool_message(plan, nearest, where, message, all_call_ids)
            continue
        open_turn = None
        last_non_tool = message.role
        calls = message.tool_calls if message.role == "assistant" else ()
        if calls:
            names: dict[str, str] = {}
            for call in calls:
                names.setdefault(call.id, call.name)
            open_turn = plan.turns[index] = _Turn(index, names)
            nearest.update(dict.fromkeys(names, open_turn))
    for turn in plan.turns.values():
        for call_id, name in turn.names.items():
            if call_id not in turn.answered:
                plan.add(
                    turn.index,
                    call_id,
                    name,
                    "inserted_missing_result",
                    f"messages[{turn.index}]: assistant tool call '{call_id}' ({name}) has no tool result",
                )
    return plan


@dataclass(frozen=True, slots=True)
class _Where:
    """Where a tool message sits: its index, the turn whose run of tool messages it is in, what came before."""

    index: int
    open_turn: _Turn | None
    last_non_tool: Role


def _place_tool_message(
    plan: _Plan, nearest: dict[str, _Turn], where: _Where, message: Message, all_call_ids: set[str]
) -> None:
    results = message.tool_results
    if not results:
        plan.add(
            where.index,
            "",
            "",
            "removed_unlinked_tool_message",
            f"messages[{where.index}]: tool message carries no tool result, so it has no tool_call_id",
        )
        return
    kept: dict[int, list[ToolResultPart]] = {}
    for part in results:
        turn = _accept_result(plan, nearest, where, part, all_call_ids)
        if turn is not None:
            kept.setdefault(turn.index, []).append(part)
    _queue_kept(plan, message, kept)


def _accept_result(
    plan: _Plan, nearest: dict[str, _Turn], where: _Where, part: ToolResultPart, all_call_ids: set[str]
) -> _Turn | None:
    """The turn this result is kept for, or None when it is removed; records the violation if any."""
    call_id, at = part.tool_call_id, where.index
    turn = nearest.get(call_id)
    if turn is None:
        later = " (a later assistant turn makes that call; results must follow it)" if call_id in all_call_ids else ""
        plan.add(
            at,
            call_id,
            part.name or "",
            "removed_orphan_result",
            f"messages[{at}]: tool result for call '{call_id}' answers no earlier assistant tool call{later}",
        )
        return None
    name = turn.names[call_id]
    first = turn.answered.get(call_id)
    if first is not None:
        plan.add(
            at,
            call_id,
            name,
            "removed_duplicate_result",
            f"messages[{at}]: second tool result for call '{call_id}' ({name}); the first is at messages[{first}]",
        )
        return None
    if turn is not where.open_turn:
        plan.add(
            at,
            call_id,
            name,
            "moved_misplaced_result",
            f"messages[{at}]: tool result for call '{call_id}' ({name}) is separated from its assistant turn "
            f"messages[{turn.index}] by a later {where.last_non_tool} message; tool messages must follow it directly",
        )
    turn.answered[call_id] = at
    return turn


def _queue_kept(plan: _Plan, message: Message, kept: dict[int, list[ToolResultPart]]) -> None:
    """Queue the kept results of one tool message behind their turns.

    The message object is kept whole when all its results stay together; otherwise each turn gets a copy
    holding only its results, and parts of other kinds ride with the first kept group.
    """
    if len(kept) == 1 and len(next(iter(kept.values()))) == len(message.tool_results):
        plan.turns[next(iter(kept))].units.append(message)
        return
    extra = tuple(p for p in message.parts if not isinstance(p, ToolResultPart))
    for position, (turn_index, group) in enumerate(kept.items()):
        parts: tuple[MessagePart, ...] = (*group, *extra) if position == 0 else tuple(group)
        plan.turns[turn_index].units.append(replace(message, parts=parts))


def repairs_summary(repairs: Sequence[ToolSequenceRepair]) -> dict[str, object] | None:
    """The repairs made before sending as the framework packages report them: ``{"count", "repairs":
    [[tool_call_id, tool_name], ...], "actions": [...]}``, or ``None`` when the history needed none."""
    if not repairs:
        return None
    return {
        "count": len(repairs),
        "repairs": [[r.tool_call_id, r.tool_name] for r in repairs],
        "actions": [r.action for r in repairs],
    }
