"""Fault matrix, tool calls: malformed and truncated argument JSON, and histories with a dangling tool call and an
orphan tool output, on both API shapes, repaired the same way turn after turn.

A call whose arguments are not a JSON object must reach the caller as an invalid call with the raw text (never
as a call with ``{}`` or with arguments guessed from a prefix, which an agent would run). The histories are
checked by the emulator with Azure's own rule (:func:`azure_tool_sequence_rule`, Azure's messages): a history it
would refuse gets a 400, so "repaired" means Azure accepted it, not that our repair says so.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from pydantic import SecretStr

from langchain_azure_gateway import AzureGatewayChatModel
from llamaindex_azure_gateway import AzureGatewayLLM
from shared_core import ChatRequest, ConversationError, Gateway, ListSink, Message, ToolCallPart, load_config
from shared_core.messages import JsonValue
from shared_core.repair import REPAIR_EVENT
from tests.faults.channels import (
    CHANNELS,
    DEPLOYMENT,
    KEY,
    MODES,
    WEATHER,
    Api,
    Channel,
    Client,
    Mode,
    Prompt,
    Target,
    build,
    run,
)
from tests.support.azure_server import (
    AzureTestServer,
    HttpError,
    Outcome,
    RecordedRequest,
    Reply,
    ToolCall,
    deterministic_responder,
)

APIS: tuple[Api, ...] = ("chat", "responses")
ASK_WEATHER = Prompt("What is the weather in Oslo?", tools=(WEATHER,))

# -- malformed and truncated tool-call JSON ------------------------------------------------------------------------

ARGUMENTS = {
    "valid": '{"city": "Oslo"}',  # the control: the same path with good JSON gives a call
    "truncated": '{"city": "Os',
    "malformed": "{city: Oslo}",
    "not-an-object": '["Oslo"]',
}


def _argument_cases() -> list[Any]:
    cases: list[Any] = []
    for api in APIS:
        for channel in CHANNELS:
            for mode in MODES:
                for case in ARGUMENTS:
                    cases.append(pytest.param(api, channel, mode, case, id=f"{api}-{channel}-{mode}-{case}"))
    return cases


@pytest.mark.parametrize(("api", "channel", "mode", "case"), _argument_cases())
def test_fault_malformed_and_truncated_tool_call_json_is_reported_never_run(
    server: AzureTestServer, api: Api, channel: Channel, mode: Mode, case: str
) -> None:
    raw = ARGUMENTS[case]
    server.script(Reply(tool_calls=(ToolCall("get_weather", raw, call_id="call_bad0001"),), argument_pieces=3))
    seen = run(build(channel, Target(server.endpoint, api=api)), mode, ASK_WEATHER)

    assert seen.error is None
    if case == "valid":
        assert seen.tool_calls == [("call_bad0001", "get_weather", {"city": "Oslo"})]
        assert seen.invalid_tool_calls == []
    else:
        assert seen.tool_calls == [], "a call whose arguments do not parse must never be run"
        assert seen.invalid_tool_calls == [("call_bad0001", "get_weather", raw)], "reported with the raw text"
    assert server.request_count == 1


# -- dangling tool call and orphan tool output ------------------------------------------------------------------

CHAT_DANGLING = (
    "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. "
    "The following tool_call_ids did not have response messages: {ids}"
)
CHAT_ORPHAN = (
    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."
)
RESPONSES_DANGLING = "No tool output found for function call {ids}."
RESPONSES_ORPHAN = "No tool call found for function call output with call_id {ids}."


def _chat_violation(messages: list[JsonValue]) -> str | None:
    pending: list[str] = []
    for message in messages:
        m = message if isinstance(message, dict) else {}
        if m.get("role") == "tool":
            call_id = m.get("tool_call_id")
            if not isinstance(call_id, str) or call_id not in pending:
                return CHAT_ORPHAN
            pending.remove(call_id)
            continue
        if pending:
            return CHAT_DANGLING.format(ids=", ".join(pending))
        calls = m.get("tool_calls") if m.get("role") == "assistant" else None
        pending = [str(c.get("id")) for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []
    return CHAT_DANGLING.format(ids=", ".join(pending)) if pending else None


def _responses_violation(items: list[JsonValue]) -> str | None:
    called: set[str] = set()
    answered: set[str] = set()
    for item in items:
        i = item if isinstance(item, dict) else {}
        call_id = str(i.get("call_id"))
        if i.get("type") == "function_call":
            called.add(call_id)
        elif i.get("type") == "function_call_output":
            if call_id not in called:
                return RESPONSES_ORPHAN.format(ids=call_id)
            answered.add(call_id)
    missing = sorted(called - answered)
    return RESPONSES_DANGLING.format(ids=missing[0]) if missing else None


def azure_tool_sequence_rule(request: RecordedRequest) -> Outcome:
    """Azure's 400 for a history whose tool calls and outputs do not pair up, else the usual answer."""
    body = request.json
    if request.api == "chat":
        messages = body.get("messages")
        violation = _chat_violation(messages if isinstance(messages, list) else [])
    else:
        items = body.get("input")
        violation = _responses_violation(items if isinstance(items, list) else [])
    if violation is None:
        return deterministic_responder(request)
    error = {"error": {"message": violation, "type": "invalid_request_error", "param": "messages", "code": None}}
    return HttpError(400, body=json.dumps(error).encode())


def test_azure_tool_sequence_rule_refuses_what_azure_refuses() -> None:
    # The rule itself must be able to fail, or the repair tests below could pass against a lenient server.
    dangling: list[JsonValue] = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "tool_calls": [{"id": "call_a"}]},
        {"role": "user", "content": "next"},
    ]
    orphan: list[JsonValue] = [{"role": "tool", "tool_call_id": "call_b", "content": "x"}]
    assert _chat_violation(dangling) == CHAT_DANGLING.format(ids="call_a")
    assert _chat_violation(orphan) == CHAT_ORPHAN
    assert _responses_violation([{"type": "function_call", "call_id": "c1"}]) == RESPONSES_DANGLING.format(ids="c1")
    assert _responses_violation([{"type": "function_call_output", "call_id": "c2"}]) == RESPONSES_ORPHAN.format(
        ids="c2"
    )


# The broken history every channel starts from, in each one's own types: memory truncation kept a tool output
# whose call is gone (orphan), and an interrupted agent left a call without its output (dangling).
ORPHAN_ID, DANGLING_ID = "call_orphan01", "call_dangling1"


def _core_history() -> list[Message]:
    return [
        Message.tool(ORPHAN_ID, "18 degrees", name="get_weather"),
        Message.user("What is the weather in Oslo?"),
        Message.assistant(tool_calls=(ToolCallPart(DANGLING_ID, "get_weather", '{"city": "Oslo"}'),)),
        Message.user("Never mind. Say something."),
    ]


def _langchain_history() -> list[BaseMessage]:
    return [
        ToolMessage("18 degrees", tool_call_id=ORPHAN_ID),
        HumanMessage("What is the weather in Oslo?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Oslo"}, "id": DANGLING_ID}]),
        HumanMessage("Never mind. Say something."),
    ]


def _llamaindex_history() -> list[ChatMessage]:
    return [
        ChatMessage(role=MessageRole.TOOL, content="18 degrees", additional_kwargs={"tool_call_id": ORPHAN_ID}),
        ChatMessage(role=MessageRole.USER, content="What is the weather in Oslo?"),
        ChatMessage(
            role=MessageRole.ASSISTANT,
            blocks=[ToolCallBlock(tool_call_id=DANGLING_ID, tool_name="get_weather", tool_kwargs={"city": "Oslo"})],
        ),
        ChatMessage(role=MessageRole.USER, content="Never mind. Say something."),
    ]


async def _drain_gateway(gateway: Gateway, request: ChatRequest) -> str:
    return "".join([getattr(e, "text", "") async for e in gateway.astream(request) if e.kind == "text"])


def _gateway_turns(gateway: Gateway, turns: int) -> None:
    history = _core_history()
    for turn in range(turns):
        request = ChatRequest(tuple(history), tools=(WEATHER,))
        answer = gateway.complete(request).text if turn % 2 == 0 else asyncio.run(_drain_gateway(gateway, request))
        history += [Message.assistant(answer), Message.user(f"Turn {turn + 2}: go on.")]


def _langchain_turns(model: AzureGatewayChatModel, turns: int) -> None:
    history = _langchain_history()
    for turn in range(turns):
        answer = model.invoke(history).text if turn % 2 == 0 else "".join(chunk.text for chunk in model.stream(history))
        history += [AIMessage(answer), HumanMessage(f"Turn {turn + 2}: go on.")]


def _llamaindex_turns(llm: AzureGatewayLLM, turns: int) -> None:
    history = _llamaindex_history()
    for turn in range(turns):
        if turn % 2 == 0:
            answer = llm.chat(history).message.content or ""
        else:
            answer = "".join(chunk.delta or "" for chunk in llm.stream_chat(history))
        history += [
            ChatMessage(role=MessageRole.ASSISTANT, content=answer),
            ChatMessage(role=MessageRole.USER, content=f"Turn {turn + 2}: go on."),
        ]


TURNS: dict[Channel, Callable[[Any, int], None]] = {
    "gateway": _gateway_turns,
    "langchain": _langchain_turns,
    "llamaindex": _llamaindex_turns,
}


def _conversation(request: RecordedRequest) -> list[JsonValue]:
    items = request.json.get("messages" if request.api == "chat" else "input")
    return items if isinstance(items, list) else []


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("api", APIS)
def test_fault_dangling_tool_call_and_orphan_output_are_repaired_the_same_every_turn(
    server: AzureTestServer, api: Api, channel: Channel
) -> None:
    server.set_default(azure_tool_sequence_rule)
    sink = ListSink()
    client: Client = build(channel, Target(server.endpoint, api=api, max_retries=0, sink=sink))
    turns = 4
    TURNS[channel](client, turns)

    assert server.request_count == turns, "Azure accepted every turn's history (a refusal would have raised)"
    sent = [_conversation(r) for r in server.requests]
    for earlier, later in itertools.pairwise(sent):
        assert later[: len(earlier)] == earlier, "each turn repairs the old history exactly as before"
    events = sink.named(REPAIR_EVENT)
    assert len(events) == turns
    assert all(e.data == events[0].data for e in events), "the same repairs each turn, nothing accumulated"
    repairs = events[0].data["repairs"]
    assert isinstance(repairs, list) and sorted(str(pair[0]) for pair in repairs if isinstance(pair, list)) == sorted(
        [DANGLING_ID, ORPHAN_ID]
    )
    assert events[0].data["actions"] == ["removed_orphan_result", "inserted_missing_result"]


@pytest.mark.parametrize("channel", ["gateway", "langchain"])
def test_fault_dangling_tool_call_with_repair_off_is_a_conversation_error_before_any_request(
    server: AzureTestServer, channel: Channel
) -> None:
    # LlamaIndex's LLM always repairs (it has no switch); the gateway and LangChain's model can be told not to.
    if channel == "gateway":
        config = load_config(env={}, endpoint=server.endpoint, api_key=KEY, default_deployment=DEPLOYMENT)
        with pytest.raises(ConversationError) as caught:
            Gateway(config, repair=False).complete(ChatRequest(tuple(_core_history())))
    else:
        model = AzureGatewayChatModel(
            endpoint=server.endpoint, api_key=SecretStr(KEY), deployment=DEPLOYMENT, repair=False
        )
        with pytest.raises(ConversationError) as caught:
            model.invoke(_langchain_history())
    assert DANGLING_ID in caught.value.message and isinstance(caught.value, ValueError)
    assert server.request_count == 0, "refused before sending"
