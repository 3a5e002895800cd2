"""A stream's cost travels in the stream: the gateway's last event carries it, the fold keeps it, and both
framework packages report it without pricing anything again.

The loopback server answers with scripted token usage and the price of the deployment's base model is
overridden here, so every expected amount is usage times a price written in this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import pytest
from langchain_core.messages import AIMessageChunk
from llama_index.core.base.llms.types import ChatMessage
from pydantic import SecretStr

from langchain_azure_gateway import AzureGatewayChatModel
from llamaindex_azure_gateway import AzureGatewayLLM
from shared_core import (
    CallCost,
    ChatRequest,
    ContentFilterError,
    DeploymentConfig,
    EndpointConfig,
    Gateway,
    Message,
    StreamEvent,
    TextDelta,
)
from shared_core.costs import ModelPrice
from shared_core.result import ResponseMetadata, StreamAccumulator
from tests.support.azure_server import AzureTestServer, DeploymentInfo, Reply, Usage

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

KEY = "stream-cost-key"
DEPLOYMENT = "chat"
BASE_MODEL = "gpt-4o-mini"
# The override under test: 3.00 USD per 1M input tokens, 7.00 per 1M output tokens.
PRICE = ModelPrice(3.0, 7.0)
USAGE = Usage(prompt_tokens=2000, completion_tokens=300)
EXPECTED = 2000 * 3.0 / 1e6 + 300 * 7.0 / 1e6
REQUEST = ChatRequest(messages=(Message.user("Hello"),))


@pytest.fixture(scope="module")
def server() -> Iterator[AzureTestServer]:
    with AzureTestServer(api_key=KEY, deployments={DEPLOYMENT: DeploymentInfo()}) as app:
        yield app


@pytest.fixture
def azure(server: AzureTestServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[AzureTestServer]:
    for var in ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_GATEWAY_CONFIG", "OPENAI_API_VERSION"):
        monkeypatch.delenv(var, raising=False)
    server.reset()
    yield server
    server.reset()


def top_level_gateway(server: AzureTestServer, api: Literal["chat", "responses"] = "chat") -> Gateway:
    return Gateway(
        endpoint=server.endpoint,
        api_key=KEY,
        default_deployment=DEPLOYMENT,
        deployment_models={DEPLOYMENT: BASE_MODEL},
        prices={BASE_MODEL: PRICE},
        max_retries=0,
        env={},
        api=api,
        api_version="v1" if api == "responses" else "2024-10-21",
    )


def named_gateway(server: AzureTestServer) -> Gateway:
    region = EndpointConfig(
        "east",
        server.endpoint,
        api_key=SecretStr(KEY),
        deployments=(DeploymentConfig(DEPLOYMENT, model=BASE_MODEL),),
    )
    return Gateway(
        endpoints=(region,),
        default_deployment=DEPLOYMENT,
        prices={BASE_MODEL: PRICE},
        max_retries=0,
        env={},
    )


async def run_stream(gateway: Gateway, mode: str) -> list[StreamEvent]:
    if mode == "stream":
        return list(gateway.stream(REQUEST))
    return [event async for event in gateway.astream(REQUEST)]


@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_gateway_stream_last_event_is_metadata_carrying_the_cost(
    azure: AzureTestServer, mode: str, api: Literal["chat", "responses"]
) -> None:
    azure.script(Reply("one two three", usage=USAGE))
    gateway = top_level_gateway(azure, api)
    events = await run_stream(gateway, mode)
    last = events[-1]
    assert isinstance(last, ResponseMetadata)
    assert last.cost is not None
    assert last.cost.amount == pytest.approx(EXPECTED)
    assert (last.cost.deployment, last.cost.input_tokens, last.cost.output_tokens) == (DEPLOYMENT, 2000, 300)
    # Exactly one event carries a cost, and it is the figure the gateway recorded.
    assert [e for e in events if isinstance(e, ResponseMetadata) and e.cost is not None] == [last]
    assert gateway.costs.grand_total().amount == pytest.approx(EXPECTED)


@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_gateway_stream_accumulator_result_carries_the_stream_cost(azure: AzureTestServer, mode: str) -> None:
    azure.script(Reply("one two three", usage=USAGE))
    accumulator = StreamAccumulator()
    for event in await run_stream(top_level_gateway(azure), mode):
        accumulator.add(event)
    result = accumulator.result()
    assert result.text == "one two three"
    assert result.cost is not None
    assert result.cost.amount == pytest.approx(EXPECTED)


@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_gateway_stream_last_event_carries_every_event_folded(
    azure: AzureTestServer, mode: str, api: Literal["chat", "responses"]
) -> None:
    # The framework packages take this result instead of folding the stream a second time.
    azure.script(Reply("one two three", usage=USAGE))
    events = await run_stream(top_level_gateway(azure, api), mode)
    accumulator = StreamAccumulator()
    for event in events:
        accumulator.add(event)
    last = events[-1]
    assert isinstance(last, ResponseMetadata) and last.result is not None
    assert last.result == accumulator.result()
    assert (last.result.text, last.result.cost, last.result.deployment) == ("one two three", last.cost, DEPLOYMENT)
    assert last.result.request_id is not None and last.result.response_headers
    # Left out of the event's equality and repr: the events before it already say all of it.
    assert last == ResponseMetadata(cost=last.cost)
    assert "one two three" not in repr(last)


def test_gateway_stream_completion_filter_last_event_carries_the_partial_answer(azure: AzureTestServer) -> None:
    azure.script(Reply("one two three four", usage=USAGE, filter_after=2))
    events: list[StreamEvent] = []
    with pytest.raises(ContentFilterError) as caught:
        events.extend(top_level_gateway(azure).stream(REQUEST))
    last = events[-1]
    assert isinstance(last, ResponseMetadata) and last.result is not None
    assert last.result == caught.value.partial
    assert last.result.finish_reason == "content_filter"


def test_stream_accumulator_cost_is_none_until_a_metadata_event_carries_one() -> None:
    cost = CallCost(DEPLOYMENT, BASE_MODEL, 0.25, endpoint="east")
    accumulator = StreamAccumulator()
    accumulator.add(ResponseMetadata(deployment=DEPLOYMENT, request_id="r-1", endpoint="east"))
    accumulator.add(TextDelta("hi"))
    accumulator.add(ResponseMetadata(response_id="chatcmpl-1"))
    assert accumulator.result().cost is None
    accumulator.add(ResponseMetadata(cost=cost))
    # A later metadata chunk without a cost does not erase it, and the identity fields survive the cost event.
    accumulator.add(ResponseMetadata(model="m"))
    result = accumulator.result()
    assert result.cost == cost
    assert (result.deployment, result.request_id, result.response_id) == (DEPLOYMENT, "r-1", "chatcmpl-1")
    assert accumulator.endpoint == "east"


@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_gateway_stream_first_event_names_the_named_endpoint(azure: AzureTestServer, mode: str) -> None:
    azure.script(Reply("hi", usage=USAGE))
    events = await run_stream(named_gateway(azure), mode)
    first, last = events[0], events[-1]
    assert isinstance(first, ResponseMetadata) and isinstance(last, ResponseMetadata)
    assert (first.endpoint, first.deployment) == ("east", DEPLOYMENT)
    assert last.cost is not None
    assert (last.cost.endpoint, last.cost.amount) == ("east", pytest.approx(EXPECTED))


def test_gateway_stream_first_event_names_the_top_level_endpoint_by_url(azure: AzureTestServer) -> None:
    azure.script(Reply("hi", usage=USAGE))
    first = next(iter(top_level_gateway(azure).stream(REQUEST)))
    assert isinstance(first, ResponseMetadata)
    assert first.endpoint == azure.endpoint


@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_gateway_stream_completion_filter_yields_the_cost_before_the_error(
    azure: AzureTestServer, mode: str
) -> None:
    azure.script(Reply("one two three four", usage=USAGE, filter_after=2))
    gateway = top_level_gateway(azure)
    events: list[StreamEvent] = []
    with pytest.raises(ContentFilterError) as caught:
        if mode == "stream":
            events.extend(gateway.stream(REQUEST))
        else:
            async for event in gateway.astream(REQUEST):
                events.append(event)
    last = events[-1]
    assert isinstance(last, ResponseMetadata)
    assert last.cost is not None
    assert last.cost.amount == pytest.approx(EXPECTED)
    partial = caught.value.partial
    assert partial is not None
    assert partial.cost == last.cost


def test_chat_model_stream_cost_equals_invoke_cost(azure: AzureTestServer) -> None:
    model = AzureGatewayChatModel(
        azure_endpoint=azure.endpoint,
        api_key=KEY,
        azure_deployment=DEPLOYMENT,
        deployment_models={DEPLOYMENT: BASE_MODEL},
        prices={BASE_MODEL: PRICE},
        max_retries=0,
    )
    azure.script(Reply("same answer", usage=USAGE), Reply("same answer", usage=USAGE))
    invoked = model.invoke("Hello").response_metadata["cost"]
    chunks = list(model.stream("Hello"))
    streamed = chunks[0]
    for chunk in chunks[1:]:
        streamed = streamed + chunk
    assert isinstance(streamed, AIMessageChunk)
    assert invoked["amount"] == pytest.approx(EXPECTED)
    assert streamed.response_metadata["cost"] == invoked


async def test_llm_stream_chat_cost_equals_chat_cost(azure: AzureTestServer) -> None:
    llm = AzureGatewayLLM(
        engine=DEPLOYMENT,
        azure_endpoint=azure.endpoint,
        api_key=KEY,
        deployment_models={DEPLOYMENT: BASE_MODEL},
        prices={BASE_MODEL: {"input": 3.0, "output": 7.0}},
        max_retries=0,
    )
    azure.script(*[Reply("same answer", usage=USAGE)] * 3)
    messages = [ChatMessage(role="user", content="Hello")]
    chatted = llm.chat(messages).raw["cost"]
    streamed = list(llm.stream_chat(messages))[-1].raw["cost"]
    astreamed = [r async for r in await llm.astream_chat(messages)][-1].raw["cost"]
    assert chatted["amount"] == pytest.approx(EXPECTED)
    assert streamed == chatted
    assert astreamed == chatted
