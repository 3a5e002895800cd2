"""Tests of conversation repair: concrete agent histories, then properties over arbitrary histories."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_core.errors import ConversationError, GatewayError
from shared_core.messages import Message, TextPart, ToolCallPart, ToolResultPart
from shared_core.repair import (
    MISSING_RESULT_PREFIX,
    REPAIR_EVENT,
    RepairOutcome,
    ToolSequenceRepair,
    check_conversation,
    conversation_problems,
    repair_conversation,
)


def _call(call_id: str, name: str, arguments: str = "{}") -> ToolCallPart:
    return ToolCallPart(call_id, name, arguments)


def _assistant(*calls: ToolCallPart, text: str = "") -> Message:
    return Message.assistant(text, calls)


def _missing(call_id: str, name: str) -> Message:
    text = (
        "[SYSTEM ERROR: Tool result missing from conversation history] "
        f"Tool '{name}' (call {call_id}) has no result; treat the call as failed."
    )
    return Message("tool", (ToolResultPart(call_id, text, name=name, is_error=True),))


# --- Azure's acceptance rule, written independently of shared_core.repair ---------------------------------


def azure_violations(messages: Sequence[Message]) -> list[str]:
    """Azure's Chat Completions rule (plus "one result per call"), checked the plain way.

    Every assistant message with tool_calls is followed immediately by tool messages that answer each of its
    distinct call ids exactly once, and every tool message sits in such a run and answers a call of that
    assistant message.
    """
    found: list[str] = []
    i = 0
    while i < len(messages):
        message = messages[i]
        if message.role == "tool":
            found.append(f"{i}: tool message without a preceding assistant message with tool_calls")
            i += 1
            continue
        call_ids = (
            {p.id for p in message.parts if isinstance(p, ToolCallPart)} if message.role == "assistant" else set()
        )
        i += 1
        if not call_ids:
            continue
        answered: list[str] = []
        while i < len(messages) and messages[i].role == "tool":
            results = [p for p in messages[i].parts if isinstance(p, ToolResultPart)]
            if not results:
                found.append(f"{i}: tool message without tool_call_id")
            answered.extend(r.tool_call_id for r in results)
            i += 1
        counts = Counter(answered)
        found.extend(f"answer to unknown call {a}" for a in counts if a not in call_ids)
        found.extend(f"call {c} unanswered" for c in call_ids if counts[c] == 0)
        found.extend(f"call {c} answered {n} times" for c, n in counts.items() if n > 1)
    return found


# --- concrete histories -------------------------------------------------------------------------------------


def test_repair_conversation_returns_valid_history_unchanged() -> None:
    history = (
        Message.system("You are terse."),
        Message.user("Weather in Paris and Rome?"),
        _assistant(_call("call_p", "get_weather", '{"city": "Paris"}'), _call("call_r", "get_weather")),
        Message.tool("call_r", "18C"),
        Message.tool("call_p", "21C"),
        _assistant(text="Paris 21C, Rome 18C."),
        Message.user("Thanks"),
    )

    outcome = repair_conversation(history)

    assert outcome.repairs == ()
    assert not outcome.changed
    assert all(a is b for a, b in zip(outcome.messages, history, strict=True))
    assert outcome.event_payload() == {"count": 0, "repairs": [], "actions": []}
    assert conversation_problems(history) == ()
    check_conversation(history)


def test_repair_conversation_inserts_missing_result_for_llamaindex_return_direct_parallel_calls() -> None:
    # FunctionAgent stops at the return_direct tool; its parallel sibling never gets a tool message.
    assistant = _assistant(_call("call_w", "get_weather", '{"city": "Oslo"}'), _call("call_b", "book_table"))
    history = (
        Message.user("Check the weather and book a table"),
        assistant,
        Message.tool("call_b", "Booked for 19:00", name="book_table"),
        _assistant(text="Booked for 19:00"),
        Message.user("And the weather?"),
    )

    outcome = repair_conversation(history)

    assert outcome.messages == (
        history[0],
        assistant,
        history[2],
        _missing("call_w", "get_weather"),
        history[3],
        history[4],
    )
    assert outcome.repairs == (ToolSequenceRepair("call_w", "get_weather", "inserted_missing_result"),)
    assert outcome.changed
    assert azure_violations(outcome.messages) == []


def test_repair_conversation_places_synthetic_results_after_real_ones_in_call_order() -> None:
    assistant = _assistant(_call("a", "alpha"), _call("b", "beta"), _call("c", "gamma"))
    history = (Message.user("go"), assistant, Message.tool("c", "done"))

    outcome = repair_conversation(history)

    assert outcome.messages == (history[0], assistant, history[2], _missing("a", "alpha"), _missing("b", "beta"))
    synthetic = outcome.messages[3].tool_results[0]
    assert synthetic.content.startswith(MISSING_RESULT_PREFIX)
    assert synthetic.is_error
    assert synthetic.name == "alpha"
    assert "'alpha'" in synthetic.content
    assert "call a" in synthetic.content


def test_repair_conversation_removes_tool_messages_orphaned_by_memory_truncation() -> None:
    # A token-limited memory cut the assistant turn that made the calls but kept its tool messages.
    history = (
        Message.system("sys"),
        Message.tool("call_1", "42 rows", name="sql_query"),
        Message.tool("call_2", "ok"),
        _assistant(text="There are 42 rows."),
        Message.user("And now?"),
    )

    outcome = repair_conversation(history)

    assert outcome.messages == (history[0], history[3], history[4])
    assert outcome.repairs == (
        ToolSequenceRepair("call_1", "sql_query", "removed_orphan_result"),
        ToolSequenceRepair("call_2", "", "removed_orphan_result"),
    )
    assert azure_violations(outcome.messages) == []


def test_repair_conversation_answers_dangling_call_of_interrupted_langgraph_run() -> None:
    # The graph was interrupted before the tool node ran: the history ends on the assistant's call.
    history = (
        Message.user("Search for flights"),
        _assistant(_call("call_s", "search_flights", '{"to": "LIS"}'), text="Searching..."),
    )

    outcome = repair_conversation(history)

    assert outcome.messages == (*history, _missing("call_s", "search_flights"))
    assert outcome.event_payload() == {
        "count": 1,
        "repairs": [["call_s", "search_flights"]],
        "actions": ["inserted_missing_result"],
    }


def test_repair_conversation_fixes_each_turn_of_a_long_history() -> None:
    turn1 = _assistant(_call("t1a", "lookup"), _call("t1b", "lookup"))
    turn2 = _assistant(_call("t2a", "fetch"))
    turn3 = _assistant(_call("t3a", "store"), _call("t3b", "notify"))
    history = (
        Message.system("sys"),
        Message.user("q1"),
        turn1,
        Message.tool("t1a", "A"),
        Message.tool("t1a", "A again"),
        _assistant(text="a1"),
        Message.user("q2"),
        turn2,
        Message.tool("ghost", "from nowhere"),
        _assistant(text="a2"),
        Message.user("q3"),
        turn3,
        Message.tool("t3b", "sent"),
    )

    outcome = repair_conversation(history)

    assert outcome.messages == (
        history[0],
        history[1],
        turn1,
        history[3],
        _missing("t1b", "lookup"),
        history[5],
        history[6],
        turn2,
        _missing("t2a", "fetch"),
        history[9],
        history[10],
        turn3,
        history[12],
        _missing("t3a", "store"),
    )
    assert outcome.repairs == (
        ToolSequenceRepair("t1b", "lookup", "inserted_missing_result"),
        ToolSequenceRepair("t1a", "lookup", "removed_duplicate_result"),
        ToolSequenceRepair("t2a", "fetch", "inserted_missing_result"),
        ToolSequenceRepair("ghost", "", "removed_orphan_result"),
        ToolSequenceRepair("t3a", "store", "inserted_missing_result"),
    )
    assert azure_violations(outcome.messages) == []


def test_repair_conversation_keeps_first_of_duplicate_results() -> None:
    assistant = _assistant(_call("c1", "roll_die"))
    history = (Message.user("roll"), assistant, Message.tool("c1", "4"), Message.tool("c1", "6"))

    outcome = repair_conversation(history)

    assert outcome.messages == history[:3]
    assert outcome.repairs == (ToolSequenceRepair("c1", "roll_die", "removed_duplicate_result"),)


def test_repair_conversation_moves_result_separated_by_user_turn_up_to_its_call() -> None:
    assistant = _assistant(_call("c1", "long_job"))
    late_result = Message.tool("c1", "job finished")
    history = (Message.user("start the job"), assistant, Message.user("are you done?"), late_result)

    outcome = repair_conversation(history)

    assert outcome.messages == (history[0], assistant, late_result, history[2])
    assert outcome.repairs == (ToolSequenceRepair("c1", "long_job", "moved_misplaced_result"),)
    assert "separated from its assistant turn messages[1] by a later user message" in conversation_problems(history)[0]


def test_repair_conversation_moves_result_answering_an_earlier_tool_turn() -> None:
    first = _assistant(_call("a", "first_tool"))
    second = _assistant(_call("b", "second_tool"))
    history = (Message.user("go"), first, second, Message.tool("b", "B"), Message.tool("a", "A"))

    outcome = repair_conversation(history)

    assert outcome.messages == (history[0], first, history[4], second, history[3])
    assert outcome.repairs == (ToolSequenceRepair("a", "first_tool", "moved_misplaced_result"),)


def test_repair_conversation_moved_result_lands_after_results_already_in_place() -> None:
    assistant = _assistant(_call("a", "f"), _call("b", "g"), _call("c", "h"))
    history = (assistant, Message.tool("b", "B"), Message.user("u"), Message.tool("a", "A"))

    outcome = repair_conversation(history)

    assert outcome.messages == (assistant, history[1], history[3], _missing("c", "h"), history[2])


def test_repair_conversation_treats_result_before_its_call_as_orphan() -> None:
    # Ids are unique only within one response; a result cannot answer a call made after it.
    early = Message.tool("call_0", "stale")
    assistant = _assistant(_call("call_0", "clock"))
    history = (Message.user("time?"), early, assistant)

    outcome = repair_conversation(history)

    assert outcome.messages == (history[0], assistant, _missing("call_0", "clock"))
    assert outcome.repairs == (
        ToolSequenceRepair("call_0", "", "removed_orphan_result"),
        ToolSequenceRepair("call_0", "clock", "inserted_missing_result"),
    )
    assert "a later assistant turn makes that call" in conversation_problems(history)[0]


def test_repair_conversation_accepts_call_ids_reused_across_turns() -> None:
    history = (
        Message.user("q"),
        _assistant(_call("call_0", "f")),
        Message.tool("call_0", "first"),
        Message.user("again"),
        _assistant(_call("call_0", "f")),
        Message.tool("call_0", "second"),
    )

    assert repair_conversation(history).repairs == ()
    assert azure_violations(history) == []


def test_repair_conversation_counts_repeated_id_in_one_turn_as_one_call() -> None:
    assistant = _assistant(_call("dup", "f"), _call("dup", "f"))

    outcome = repair_conversation((assistant,))

    assert outcome.messages == (assistant, _missing("dup", "f"))


def test_repair_conversation_removes_tool_message_without_result() -> None:
    assistant = _assistant(_call("a", "f"))
    history = (assistant, Message.tool("a", "ok"), Message("tool", (TextPart("stray"),)))

    outcome = repair_conversation(history)

    assert outcome.messages == history[:2]
    assert outcome.repairs == (ToolSequenceRepair("", "", "removed_unlinked_tool_message"),)


def test_repair_conversation_splits_multi_result_tool_message_dropping_only_the_orphan() -> None:
    assistant = _assistant(_call("a", "f"))
    mixed = Message("tool", (ToolResultPart("a", "A"), ToolResultPart("zzz", "Z")))

    outcome = repair_conversation((assistant, mixed))

    assert outcome.messages == (assistant, Message("tool", (ToolResultPart("a", "A"),)))
    assert outcome.repairs == (ToolSequenceRepair("zzz", "", "removed_orphan_result"),)


def test_repair_conversation_keeps_multi_result_tool_message_whole_when_valid() -> None:
    assistant = _assistant(_call("a", "f"), _call("b", "g"))
    both = Message("tool", (ToolResultPart("a", "A"), ToolResultPart("b", "B")))

    outcome = repair_conversation((assistant, both))

    assert outcome.repairs == ()
    assert outcome.messages[1] is both


def test_repair_conversation_is_idempotent_and_stateless_on_concrete_history() -> None:
    history = (
        Message.tool("orphan", "x"),
        _assistant(_call("a", "f"), _call("b", "g")),
        Message.user("u"),
        Message.tool("b", "B"),
        Message.tool("b", "B2"),
    )

    first = repair_conversation(history)
    repair_conversation((_assistant(_call("a", "other")),))  # an unrelated call in between
    again = repair_conversation(history)
    second = repair_conversation(first.messages)

    assert again == first
    assert second == RepairOutcome(first.messages, ())
    assert [r.action for r in first.repairs] == [
        "removed_orphan_result",
        "inserted_missing_result",
        "moved_misplaced_result",
        "removed_duplicate_result",
    ]


def test_repair_outcome_event_payload_is_json_ready() -> None:
    history = (Message.tool("x", "orphan", name="search"), _assistant(_call("y", "fetch")))

    payload = repair_conversation(history).event_payload()

    assert json.loads(json.dumps(payload)) == {
        "count": 2,
        "repairs": [["x", "search"], ["y", "fetch"]],
        "actions": ["removed_orphan_result", "inserted_missing_result"],
    }
    assert REPAIR_EVENT == "provider:tool_sequence_repaired"


def test_conversation_problems_describe_each_violation_with_its_position() -> None:
    history = (
        _assistant(_call("a", "get_weather")),
        Message.user("u"),
        Message.tool("nope", "x"),
    )

    problems = conversation_problems(history)

    assert len(problems) == 2
    assert problems[0].startswith("messages[0]:")
    assert "'a'" in problems[0]
    assert "get_weather" in problems[0]
    assert problems[1].startswith("messages[2]:")
    assert "'nope'" in problems[1]


def test_check_conversation_raises_conversation_error_listing_problems_and_fix() -> None:
    history = (Message.user("q"), _assistant(_call("call_9", "get_weather")))

    with pytest.raises(ConversationError) as caught:
        check_conversation(history)

    error = caught.value
    assert isinstance(error, GatewayError)
    assert isinstance(error, ValueError)
    assert "call_9" in error.message
    assert "get_weather" in error.message
    assert "repair" in error.message
    assert "tool result" in error.message


def test_check_conversation_accepts_repaired_history() -> None:
    history = (Message.user("q"), _assistant(_call("call_9", "f")), Message.tool("other", "x"))

    check_conversation(repair_conversation(history).messages)


# --- properties over arbitrary histories -------------------------------------------------------------------

_IDS = st.sampled_from(["c0", "c1", "c2", "c3"])
_NAMES = st.sampled_from(["search", "fetch", "store"])


@st.composite
def _history(draw: st.DrawFn) -> list[Message]:
    """Histories mixing well-formed tool turns with dangling calls, orphans, duplicates and misplaced results."""
    common = ["user", "user", "user", "system", "assistant", "assistant", "turn", "turn", "turn", "turn", "turn"]
    kinds = st.sampled_from([*common, *common, "tool", "empty_tool"])
    messages: list[Message] = []
    for kind in draw(st.lists(kinds, max_size=10)):
        if kind == "user":
            messages.append(Message.user(draw(st.sampled_from(["hi", "more", "stop"]))))
        elif kind == "system":
            messages.append(Message.system("sys"))
        elif kind == "assistant":
            messages.append(Message.assistant(draw(st.sampled_from(["", "ok"]))))
        elif kind == "empty_tool":
            messages.append(Message("tool", ()))
        elif kind == "tool":
            ids = draw(st.lists(_IDS, min_size=1, max_size=2))
            messages.append(Message("tool", tuple(ToolResultPart(i, "") for i in ids)))
        else:
            messages.extend(_tool_turn(draw))
    return _label_results(messages)


def _tool_turn(draw: st.DrawFn) -> list[Message]:
    """An assistant message with 1..3 calls, then results for some of them (in any order), maybe extra ones."""
    calls = draw(st.lists(st.builds(ToolCallPart, _IDS, _NAMES, st.just("{}")), min_size=1, max_size=3))
    distinct = list(dict.fromkeys(c.id for c in calls))
    answered = [i for i in draw(st.permutations(distinct)) if draw(st.integers(0, 4)) > 0]
    if draw(st.integers(0, 3)) == 0:
        answered.append(draw(_IDS))
    return [Message.assistant(draw(st.sampled_from(["", "ok"])), tuple(calls))] + [
        Message.tool(i, "") for i in answered
    ]


def _label_results(messages: list[Message]) -> list[Message]:
    """Give every real result a unique content, so that the test can follow it through repair."""
    counter = iter(range(10_000))
    out: list[Message] = []
    for m in messages:
        if m.role != "tool":
            out.append(m)
            continue
        parts = tuple(ToolResultPart(p.tool_call_id, f"real-{next(counter)}") for p in m.tool_results)
        out.append(Message("tool", parts))
    return out


def _expected_kept(messages: Sequence[Message]) -> dict[str, tuple[int, str]]:
    """Real results that must survive: content -> (index among non-tool messages of their call's turn, id).

    A result answers the nearest earlier assistant message that called its id; the first result for that
    (turn, id) is kept.
    """
    kept: dict[str, tuple[int, str]] = {}
    seen: set[tuple[int, str]] = set()
    for j, message in enumerate(messages):
        for result in message.tool_results if message.role == "tool" else ():
            owners = [
                i
                for i in range(j)
                if messages[i].role == "assistant" and result.tool_call_id in {c.id for c in messages[i].tool_calls}
            ]
            if not owners or (owners[-1], result.tool_call_id) in seen:
                continue
            seen.add((owners[-1], result.tool_call_id))
            turn_rank = sum(1 for m in messages[: owners[-1]] if m.role != "tool")
            kept[result.content] = (turn_rank, result.tool_call_id)
    return kept


_SETTINGS = settings(max_examples=300, derandomize=True, deadline=None)


@_SETTINGS
@given(_history())
def test_repair_conversation_output_satisfies_azure_rule(history: list[Message]) -> None:
    outcome = repair_conversation(history)

    assert azure_violations(outcome.messages) == []
    assert conversation_problems(outcome.messages) == ()


@_SETTINGS
@given(_history())
def test_conversation_problems_agree_with_azure_rule(history: list[Message]) -> None:
    problems = conversation_problems(history)
    outcome = repair_conversation(history)

    assert (problems == ()) == (azure_violations(history) == [])
    assert len(problems) == len(outcome.repairs)
    if not outcome.changed:
        assert all(a is b for a, b in zip(outcome.messages, history, strict=True))


@_SETTINGS
@given(_history())
def test_repair_conversation_is_idempotent(history: list[Message]) -> None:
    once = repair_conversation(history)
    twice = repair_conversation(once.messages)

    assert twice.messages == once.messages
    assert twice.repairs == ()
    assert repair_conversation(history) == once


@_SETTINGS
@given(_history())
def test_repair_conversation_keeps_answerable_results_and_every_other_message(history: list[Message]) -> None:
    outcome = repair_conversation(history)
    expected = _expected_kept(history)

    non_tool_in = [m for m in history if m.role != "tool"]
    non_tool_out = [m for m in outcome.messages if m.role != "tool"]
    assert len(non_tool_out) == len(non_tool_in)
    assert all(a is b for a, b in zip(non_tool_out, non_tool_in, strict=True))

    found: dict[str, tuple[int, str]] = {}
    synthetic: list[tuple[int, str]] = []
    rank = -1
    for message in outcome.messages:
        if message.role != "tool":
            rank += 1
            continue
        for result in message.tool_results:
            if result.content.startswith(MISSING_RESULT_PREFIX):
                assert result.is_error
                synthetic.append((rank, result.tool_call_id))
            else:
                assert result.content not in found
                found[result.content] = (rank, result.tool_call_id)
    assert found == expected
    calls = {(rank, call.id) for rank, m in enumerate(non_tool_in) if m.role == "assistant" for call in m.tool_calls}
    assert sorted(synthetic) == sorted(calls - set(expected.values()))
