"""End to end, offline: LCEL chains, a LangGraph agent, structured output, serialization, event loops."""

from __future__ import annotations

import asyncio
import json
import warnings
from typing import Any

import pytest
from langchain_core.load import dumpd, dumps, load
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from pydantic import BaseModel

from langchain_azure_gateway import AzureGatewayChatModel
from tests.langchain.conftest import make_model
from tests.support.azure_server import AzureTestServer, Reply

CANARY = "canary-key-7f3a9b1c-must-never-appear"


def test_chain_prompt_model_parser_sync_and_streaming(server: AzureTestServer) -> None:
    prompt = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "Tell me about {topic}")])
    chain = prompt | make_model(server) | StrOutputParser()
    assert chain.invoke({"topic": "otters"}) == "You said: Tell me about otters"
    pieces = list(chain.stream({"topic": "otters"}))
    assert len(pieces) > 1
    assert "".join(pieces) == "You said: Tell me about otters"
    sent = server.requests[-1].json["messages"]
    assert sent == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Tell me about otters"},
    ]


@tool
def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"It is sunny in {city}."


def test_langgraph_react_agent_calls_a_tool_and_answers(server: AzureTestServer) -> None:
    from langgraph.prebuilt import create_react_agent

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_react_agent is deprecated in favour of langchain.agents
        agent = create_react_agent(make_model(server), [get_weather])
    state = agent.invoke({"messages": [HumanMessage("What is the weather in 'Paris'?")]})
    messages = state["messages"]
    assert [m.type for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[1].tool_calls[0]["args"] == {"city": "Paris"}
    assert messages[2].content == "It is sunny in Paris."
    assert messages[3].content == "The tool returned: It is sunny in Paris."


def test_langgraph_agent_history_with_a_dangling_tool_call_is_repaired(server: AzureTestServer) -> None:
    # A hand-built graph (create_react_agent refuses such a history itself, before any model is called): the
    # checkpoint of an interrupted run holds a tool call whose result never came; Azure would answer 400.
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    model = make_model(server).bind_tools([get_weather])

    def agent(state: MessagesState) -> dict[str, list[Any]]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([get_weather]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    interrupted = [
        HumanMessage("What is the weather in 'Oslo'?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Oslo"}, "id": "call_interrupted"}]),
        HumanMessage("Forget it. Just say hello."),
    ]
    state = graph.compile().invoke({"messages": interrupted})
    answer = state["messages"][-1]
    assert answer.content == "You said: Forget it. Just say hello."
    assert answer.response_metadata["conversation_repairs"]["count"] == 1
    sent = server.requests[0].json["messages"]
    assert isinstance(sent, list)
    roles = [m["role"] for m in sent if isinstance(m, dict)]
    assert roles == ["user", "assistant", "tool", "user"]
    assert sent[2]["tool_call_id"] == "call_interrupted"  # type: ignore[index]


class Person(BaseModel):
    """A person."""

    name: str
    age: int


def test_structured_output_three_methods_and_include_raw(server: AzureTestServer) -> None:
    model = make_model(server)
    for method in ("json_schema", "function_calling"):
        person = model.with_structured_output(Person, method=method, strict=True).invoke("Who?")  # type: ignore[arg-type]
        assert isinstance(person, Person), method
    body = server.requests[-2].json
    assert body["response_format"]["type"] == "json_schema"  # type: ignore[index]
    assert body["response_format"]["json_schema"]["strict"] is True  # type: ignore[index]
    server.script(Reply(json.dumps({"name": "Ada", "age": 36})))
    assert model.with_structured_output(Person, method="json_mode").invoke("Who? Answer in JSON") == Person(
        name="Ada", age=36
    )
    server.script(Reply("not json"))
    raw = model.with_structured_output(Person, include_raw=True).invoke("Who?")
    assert isinstance(raw, dict)
    assert raw["parsed"] is None
    assert raw["parsing_error"] is not None
    assert isinstance(raw["raw"], AIMessage)


def test_serialization_never_contains_the_secret() -> None:
    model = AzureGatewayChatModel(
        azure_endpoint="https://res.openai.azure.com",
        azure_deployment="gpt-4o-mini",
        api_key=CANARY,
        azure_ad_token=CANARY + "-token",
    )
    text = dumps(model)
    assert CANARY not in text
    assert CANARY not in json.dumps(dumpd(model))
    assert CANARY not in repr(model) and CANARY not in str(model)
    revived: Any = load(
        dumpd(model),
        secrets_map={"AZURE_OPENAI_API_KEY": "other-key"},
        valid_namespaces=["langchain_azure_gateway"],
        allowed_objects=[AzureGatewayChatModel],
    )
    assert isinstance(revived, AzureGatewayChatModel)
    assert revived.api_key is not None and revived.api_key.get_secret_value() == "other-key"
    assert (revived.endpoint, revived.deployment) == (model.endpoint, model.deployment)


def test_async_calls_work_across_two_event_loops(server: AzureTestServer) -> None:
    model = make_model(server)

    async def ask() -> str:
        message = await model.ainvoke("Hello")
        streamed = [c async for c in model.astream("Hello")]
        return str(message.content) + "|" + "".join(str(c.content) for c in streamed)

    first = asyncio.run(ask())
    second = asyncio.run(ask())
    assert first == second == "You said: Hello|You said: Hello"


def test_async_only_token_provider_allows_invoke(server: AzureTestServer) -> None:
    server.bearer_tokens.add("entra-token")

    async def provider() -> str:
        return "entra-token"

    model = AzureGatewayChatModel(
        azure_endpoint=server.endpoint,
        azure_deployment="gpt-4o-mini",
        azure_ad_async_token_provider=provider,
        max_retries=0,
    )
    assert model.invoke("Hello").content == "You said: Hello"
    assert server.requests[-1].headers["authorization"] == "Bearer entra-token"


def test_network_is_blocked_except_loopback() -> None:
    import socket

    import pytest_socket

    with (
        pytest.raises(pytest_socket.SocketConnectBlockedError),
        socket.create_connection(("192.0.2.1", 443), timeout=0.1),
    ):
        pass
