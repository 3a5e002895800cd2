"""Issue 16 item 7: the Responses API with no api-version set goes to the GA ``/openai/v1/responses`` route.

A user who set an api-version keeps today's clear error for one that predates the Responses API, raised before
anything is sent. Both frameworks, sync, async and stream, and ``previous_response_id`` chaining, on the
emulator.
"""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage
from llama_index.core.base.llms.types import ChatMessage

from langchain_azure_gateway import AzureGatewayChatModel
from llamaindex_azure_gateway import AzureGatewayLLM
from shared_core import ChatRequest, Gateway, Message, UnsupportedParameterError
from tests.support.azure_server import AzureTestServer

KEY = "test-key"


def _lc(azure: AzureTestServer, **extra: object) -> AzureGatewayChatModel:
    return AzureGatewayChatModel(
        azure_endpoint=azure.endpoint, api_key=KEY, azure_deployment="gpt-4o-mini", max_retries=0, **extra
    )


def _li(azure: AzureTestServer, **extra: object) -> AzureGatewayLLM:
    return AzureGatewayLLM(engine="gpt-4o-mini", azure_endpoint=azure.endpoint, api_key=KEY, max_retries=0, **extra)


def _paths(azure: AzureTestServer) -> list[tuple[str, dict[str, str]]]:
    return [(r.path, r.query) for r in azure.requests]


def test_core_responses_without_api_version_uses_v1_route(azure: AzureTestServer) -> None:
    gateway = Gateway(api="responses", endpoint=azure.endpoint, api_key=KEY, default_deployment="gpt-4o-mini")
    result = gateway.complete(ChatRequest((Message.user("hello"),)))
    assert result.text == "You said: hello"
    assert _paths(azure) == [("/openai/v1/responses", {})]
    assert gateway.prepare(ChatRequest((Message.user("x"),)), stream=False).ctx.api_version == "v1"


def test_core_chat_without_api_version_keeps_the_default_route(azure: AzureTestServer) -> None:
    gateway = Gateway(api="chat", endpoint=azure.endpoint, api_key=KEY, default_deployment="gpt-4o-mini")
    gateway.complete(ChatRequest((Message.user("hello"),)))
    assert _paths(azure) == [("/openai/deployments/gpt-4o-mini/chat/completions", {"api-version": "2024-10-21"})]


def test_core_responses_with_a_dated_api_version_set_keeps_the_preview_route(azure: AzureTestServer) -> None:
    gateway = Gateway(
        api="responses",
        endpoint=azure.endpoint,
        api_key=KEY,
        default_deployment="gpt-4o-mini",
        api_version="2025-04-01-preview",
    )
    gateway.complete(ChatRequest((Message.user("hello"),)))
    assert _paths(azure) == [("/openai/responses", {"api-version": "2025-04-01-preview"})]


@pytest.mark.parametrize("source", ["kwarg", "env"])
def test_core_responses_with_an_old_api_version_set_raises_before_sending(
    azure: AzureTestServer, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    extra: dict[str, object] = {"api_version": "2024-10-21"} if source == "kwarg" else {}
    if source == "env":
        monkeypatch.setenv("OPENAI_API_VERSION", "2024-10-21")
    gateway = Gateway(api="responses", endpoint=azure.endpoint, api_key=KEY, default_deployment="d", **extra)
    with pytest.raises(UnsupportedParameterError, match="2025-03-01-preview or later"):
        gateway.complete(ChatRequest((Message.user("hello"),)))
    assert azure.requests == []


def test_langchain_responses_api_without_api_version_invoke_stream_and_async(azure: AzureTestServer) -> None:
    model = _lc(azure, use_responses_api=True)
    assert model.invoke("hi").content == "You said: hi"
    assert "".join(str(c.content) for c in model.stream("hi")) == "You said: hi"
    import asyncio

    async def both() -> tuple[str, str]:
        one = await model.ainvoke("hi")
        parts = [str(c.content) async for c in model.astream("hi")]
        return str(one.content), "".join(parts)

    assert asyncio.run(both()) == ("You said: hi", "You said: hi")
    assert {p for p, _ in _paths(azure)} == {"/openai/v1/responses"}
    assert all(q == {} for _, q in _paths(azure))


def test_langchain_previous_response_id_chains_on_the_v1_route(azure: AzureTestServer) -> None:
    model = _lc(azure, use_responses_api=True)
    first = model.invoke("one")
    model.invoke([HumanMessage("two")], previous_response_id=first.id)
    assert azure.requests[1].path == "/openai/v1/responses"
    assert azure.requests[1].json["previous_response_id"] == first.id


def test_langchain_responses_api_with_an_old_api_version_raises_before_sending(azure: AzureTestServer) -> None:
    model = _lc(azure, use_responses_api=True, openai_api_version="2024-10-21")
    with pytest.raises(Exception, match="2025-03-01-preview or later") as caught:
        model.invoke("hi")
    assert "UnsupportedParameter" in type(caught.value).__name__
    assert azure.requests == []


def test_llamaindex_responses_api_without_api_version_chat_stream_and_async(azure: AzureTestServer) -> None:
    import asyncio

    llm = _li(azure, use_responses_api=True)
    messages = [ChatMessage(role="user", content="hi")]
    assert llm.chat(messages).message.content == "You said: hi"
    assert [r.delta for r in llm.stream_chat(messages)][-1] is not None

    async def both() -> str:
        answer = await llm.achat(messages)
        last = ""
        async for chunk in await llm.astream_chat(messages):
            last = chunk.message.content or ""
        return f"{answer.message.content}|{last}"

    assert asyncio.run(both()) == "You said: hi|You said: hi"
    assert {p for p, _ in _paths(azure)} == {"/openai/v1/responses"}


def test_llamaindex_previous_response_id_chains_on_the_v1_route(azure: AzureTestServer) -> None:
    llm = _li(azure, use_responses_api=True)
    first = llm.chat([ChatMessage(role="user", content="one")])
    llm.chat([ChatMessage(role="user", content="two")], previous_response_id=first.raw["id"])
    assert azure.requests[1].path == "/openai/v1/responses"
    assert azure.requests[1].json["previous_response_id"] == first.raw["id"]


def test_llamaindex_responses_api_with_an_old_api_version_raises_before_sending(azure: AzureTestServer) -> None:
    llm = _li(azure, use_responses_api=True, api_version="2024-10-21")
    with pytest.raises(Exception, match="2025-03-01-preview or later"):
        llm.chat([ChatMessage(role="user", content="hi")])
    assert azure.requests == []


def test_langchain_use_previous_response_id_chains_on_the_v1_route(azure: AzureTestServer) -> None:
    model = _lc(azure, use_responses_api=True, use_previous_response_id=True)
    first = model.invoke("one")
    model.invoke([HumanMessage("one"), first, HumanMessage("two")])
    assert [r.path for r in azure.requests] == ["/openai/v1/responses"] * 2
    assert azure.requests[1].json["previous_response_id"] == first.id


def test_llamaindex_track_previous_responses_chains_on_the_v1_route(azure: AzureTestServer) -> None:
    llm = _li(azure, use_responses_api=True, track_previous_responses=True)
    first = llm.chat([ChatMessage(role="user", content="one")])
    llm.chat([ChatMessage(role="user", content="two")])
    assert [r.path for r in azure.requests] == ["/openai/v1/responses"] * 2
    assert azure.requests[1].json["previous_response_id"] == first.raw["id"]
