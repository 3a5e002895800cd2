"""Spans through LangChain's AzureGatewayChatModel and LlamaIndex's AzureGatewayLLM: every mode, a failover and
a content-filter error, each nested under the caller's span."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from llama_index.core.base.llms.types import ChatMessage

from langchain_azure_gateway import AzureGatewayChatModel
from llamaindex_azure_gateway import AzureGatewayLLM
from shared_core import ContentFilterError
from tests.otel.conftest import MODEL, Telemetry, port, region_endpoints
from tests.support.azure_server import AzureTestServer, HttpError, PromptFiltered, Reply, Usage

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

Mode = Literal["sync", "async", "stream", "astream"]
MODES: tuple[Mode, ...] = ("sync", "async", "stream", "astream")
USAGE = Usage(prompt_tokens=30, completion_tokens=8)


def langchain_model(regions: dict[str, AzureTestServer]) -> AzureGatewayChatModel:
    return AzureGatewayChatModel(endpoints=region_endpoints(regions), model=MODEL, max_retries=1)


def llamaindex_llm(regions: dict[str, AzureTestServer]) -> AzureGatewayLLM:
    return AzureGatewayLLM(endpoints=region_endpoints(regions), model=MODEL, max_retries=1)


def run_langchain(model: AzureGatewayChatModel, mode: Mode) -> str:
    messages = [SystemMessage("Be brief."), HumanMessage("hello")]
    match mode:
        case "sync":
            return str(model.invoke(messages).content)
        case "async":
            return str(asyncio.run(model.ainvoke(messages)).content)
        case "stream":
            return "".join(str(c.content) for c in model.stream(messages))

        case "astream":

            async def drain() -> str:
                return "".join([str(c.content) async for c in model.astream(messages)])

            return asyncio.run(drain())


def run_llamaindex(llm: AzureGatewayLLM, mode: Mode) -> str:
    messages = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="hello")]
    match mode:
        case "sync":
            return str(llm.chat(messages).message.content)
        case "async":
            return str(asyncio.run(llm.achat(messages)).message.content)
        case "stream":
            return "".join(r.delta or "" for r in llm.stream_chat(messages))
        case "astream":

            async def drain() -> str:
                return "".join([r.delta or "" async for r in await llm.astream_chat(messages)])

            return asyncio.run(drain())


def run(framework: str, regions: dict[str, AzureTestServer], mode: Mode) -> str:
    if framework == "langchain":
        return run_langchain(langchain_model(regions), mode)
    return run_llamaindex(llamaindex_llm(regions), mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("framework", ["langchain", "llamaindex"])
def test_framework_failover_call_is_one_client_span_under_the_callers_span(
    telemetry: Telemetry, regions: dict[str, AzureTestServer], framework: str, mode: Mode
) -> None:
    regions["east"].script(HttpError(429, retry_after=10))
    regions["west"].script(Reply("From the west.", usage=USAGE))
    tracer = telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span(f"{framework} run") as parent:
        text = run(framework, regions, mode)

    assert text == "From the west."
    span = telemetry.only_chat_span()
    a = dict(span.attributes or {})
    assert span.parent is not None and span.parent.span_id == parent.get_span_context().span_id
    assert a["azure.openai.failover"] is True and a["azure.openai.endpoint.name"] == "west"
    assert a["server.port"] == port(regions["west"])
    assert a["gen_ai.request.stream"] is (mode in ("stream", "astream"))
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (30, 8)
    assert [e.name for e in span.events] == ["azure.openai.attempt_failed", "azure.openai.failover"]
    assert dict(span.events[0].attributes or {})["http.response.status_code"] == 429
    if mode in ("stream", "astream"):
        assert a["azure.openai.stream.outcome"] == "completed" and "gen_ai.response.time_to_first_chunk" in a
    (duration,) = telemetry.points("gen_ai.client.operation.duration")
    assert duration.count == 1 and "error.type" not in duration.attributes


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("framework", ["langchain", "llamaindex"])
def test_framework_content_filter_error_is_an_error_span(
    telemetry: Telemetry, regions: dict[str, AzureTestServer], framework: str, mode: Mode
) -> None:
    regions["east"].script(PromptFiltered())
    with pytest.raises(Exception) as raised:
        run(framework, regions, mode)

    assert isinstance(raised.value, ContentFilterError) or isinstance(raised.value.__cause__, ContentFilterError)
    span = telemetry.only_chat_span()
    a = dict(span.attributes or {})
    assert a["error.type"] == "ContentFilterError" and a["azure.openai.content_filter.side"] == "prompt"
    assert a["azure.openai.failover"] is False, "a request no region can serve is not failed over"
    assert a["azure.openai.endpoint.name"] == "east" and a["server.port"] == port(regions["east"])


def test_framework_models_built_before_telemetry_is_configured_are_traced_too(
    regions: dict[str, AzureTestServer], request: pytest.FixtureRequest
) -> None:
    model = langchain_model(regions)
    llm = llamaindex_llm(regions)
    assert run_langchain(model, "sync") and run_llamaindex(llm, "sync")
    telemetry: Any = request.getfixturevalue("telemetry")
    run_langchain(model, "stream")
    run_llamaindex(llm, "async")
    assert len(telemetry.chat_spans()) == 2
