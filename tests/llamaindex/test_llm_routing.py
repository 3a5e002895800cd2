"""AzureGatewayLLM over several deployments: failover between two loopback regions, the call's cost in ``raw``
and ``additional_kwargs``, the cost tracker, gateway mode, and the routing secrets kept out of every dump.

Prices are derived here from the published gpt-4o-mini list price (USD 0.15 input / 0.60 output per 1M tokens),
not read from the core's table.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.llms import ChatMessage, ChatResponse
from pydantic import SecretStr

from llamaindex_azure_gateway import AzureGatewayLLM
from shared_core import DeploymentConfig, EndpointConfig
from shared_core.costs import ModelPrice
from tests.support.azure_server import AzureTestServer, DeploymentInfo, HttpError, Reply, Usage

KEY = "region-key"
CANARY = "gw-CANARY-0e4b91"
ENDPOINT_CANARY = "ep-CANARY-3a9d52"
MODEL = "gpt-4o-mini"
USAGE = Usage(prompt_tokens=1000, completion_tokens=500)
PRICE = 1000 * 0.15 / 1e6 + 500 * 0.60 / 1e6
UUID = re.compile(r"[0-9a-f-]{36}")
_DEPLOYMENTS = (MODEL, "chat-east", "chat-west")


@pytest.fixture(scope="module")
def module_regions() -> Iterator[dict[str, AzureTestServer]]:
    regions = {
        name: AzureTestServer(api_key=KEY, deployments={d: DeploymentInfo(region=name) for d in _DEPLOYMENTS})
        for name in ("east", "west")
    }
    for server in regions.values():
        server.start()
    try:
        yield regions
    finally:
        for server in regions.values():
            server.stop()


@pytest.fixture
def regions(module_regions: dict[str, AzureTestServer], monkeypatch: pytest.MonkeyPatch) -> dict[str, AzureTestServer]:
    for var in ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_GATEWAY_CONFIG", "AZURE_OPENAI_API_VERSION"):
        monkeypatch.delenv(var, raising=False)
    for server in module_regions.values():
        server.reset()
    return module_regions


def region_tables(
    regions: dict[str, AzureTestServer], east: str = MODEL, west: str = MODEL, *, west_ptu: bool = False
) -> list[Any]:
    """East (priority 0) as a config-file table, west (priority 1) as an EndpointConfig."""
    return [
        {
            "name": "east",
            "endpoint": regions["east"].endpoint,
            "api_key": KEY,
            "deployments": [{"name": east, "model": MODEL}],
        },
        EndpointConfig(
            "west",
            regions["west"].endpoint,
            api_key=SecretStr(KEY),
            priority=1,
            deployments=(DeploymentConfig(west, model=MODEL, ptu=west_ptu),),
        ),
    ]


def routed(regions: dict[str, AzureTestServer], **overrides: Any) -> AzureGatewayLLM:
    params: dict[str, Any] = {"endpoints": region_tables(regions), "model": MODEL, "max_retries": 1}
    return AzureGatewayLLM(**{**params, **overrides})


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


def test_llm_chat_fails_over_to_the_secondary_region_at_once_on_a_throttled_primary(
    regions: dict[str, AzureTestServer],
) -> None:
    regions["east"].script(HttpError(429, retry_after=10))
    regions["west"].script(Reply("From the west.", usage=USAGE))
    llm = routed(regions)
    started = time.perf_counter()
    response = llm.chat(user("Hello"))
    assert time.perf_counter() - started < 2.0  # the primary's Retry-After is 10 s
    assert response.message.content == "From the west."
    assert (regions["east"].request_count, regions["west"].request_count) == (1, 1)
    cost = response.raw["cost"]
    assert cost == {
        "amount": pytest.approx(PRICE),
        "currency": "USD",
        "reason": None,
        "deployment": MODEL,
        "endpoint": "west",
        "model": MODEL,
    }
    assert response.additional_kwargs["cost"] == cost
    totals = llm.cost_tracker.totals_by_deployment()
    assert list(totals) == [f"west/{MODEL}"]
    assert (totals[f"west/{MODEL}"].calls, totals[f"west/{MODEL}"].amount) == (1, pytest.approx(PRICE))


def test_llm_stream_fails_over_with_request_id_deployment_and_cost_from_the_stream(
    regions: dict[str, AzureTestServer],
) -> None:
    regions["east"].script(HttpError(429, retry_after=10))
    regions["west"].script(Reply("Streamed from the west.", chunks=3, usage=USAGE))
    llm = routed(regions, endpoints=region_tables(regions, "chat-east", "chat-west"))
    started = time.perf_counter()
    chunks = list(llm.stream_chat(user("Hello")))
    assert time.perf_counter() - started < 2.0
    last = chunks[-1]
    assert last.message.content == "Streamed from the west."
    assert regions["west"].requests[-1].deployment == "chat-west"
    assert last.raw["deployment"] == "chat-west"
    assert UUID.fullmatch(last.raw["request_id"]) and last.additional_kwargs["request_id"] == last.raw["request_id"]
    cost = last.raw["cost"]
    assert cost["amount"] == pytest.approx(PRICE)
    assert (cost["deployment"], cost["endpoint"], cost["reason"]) == ("chat-west", "west", None)
    assert last.additional_kwargs["cost"] == cost
    # The gateway priced the same stream on its own; both figures agree.
    assert llm.cost_tracker.totals_by_deployment()["west/chat-west"].amount == pytest.approx(cost["amount"])


def test_llm_ptu_secondary_costs_zero_in_achat_and_astream_chat(regions: dict[str, AzureTestServer]) -> None:
    llm = routed(regions, endpoints=region_tables(regions, "chat-east", "chat-west", west_ptu=True))
    regions["east"].script(HttpError(429, retry_after=10))
    regions["west"].script(Reply("ptu", usage=USAGE), Reply("ptu", chunks=2, usage=USAGE))

    async def both() -> list[ChatResponse]:
        answered = await llm.achat(user("Hello"))
        streamed = [chunk async for chunk in await llm.astream_chat(user("Hello"))]
        return [answered, streamed[-1]]

    # East throttles the first call and cools down for 10 s; west (PTU) answers both calls.
    for response in asyncio.run(both()):
        cost = response.raw["cost"]
        assert (cost["amount"], cost["deployment"]) == (0.0, "chat-west")
        assert "PTU" in cost["reason"]


def test_llm_unknown_base_model_costs_unknown_with_a_reason(regions: dict[str, AzureTestServer]) -> None:
    llm = AzureGatewayLLM(
        engine=MODEL,
        azure_endpoint=regions["east"].endpoint,
        api_key=KEY,
        deployment_models={MODEL: "house-model-7"},
        max_retries=0,
    )
    for response in (llm.chat(user("Hello")), list(llm.stream_chat(user("Hello")))[-1]):
        cost = response.raw["cost"]
        assert cost["amount"] is None and "house-model-7" in cost["reason"]
    assert llm.cost_tracker.grand_total().unknown_cost_calls == 2


def test_llm_routing_strategy_and_prices_reach_the_gateway(regions: dict[str, AzureTestServer]) -> None:
    llm = routed(regions, routing="weighted-round-robin", prices={MODEL: {"input": 1, "output": 2}})
    assert llm.gateway.strategy.name == "weighted_round_robin"
    regions["east"].script(Reply("a", usage=USAGE))
    assert llm.chat(user("Hello")).raw["cost"]["amount"] == pytest.approx(1000 * 1.0 / 1e6 + 500 * 2.0 / 1e6)
    # Built at construction, so pydantic wraps the ConfigurationError (a ValueError) in its ValidationError.
    with pytest.raises(ValueError, match="unknown routing strategy 'fastest'"):
        routed(regions, routing="fastest")


def test_llm_gateway_mode_sends_the_gateway_key_and_azure_model(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_GATEWAY_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    with AzureTestServer(api_key=None, deployments={f"azure/{MODEL}": DeploymentInfo()}) as gateway_server:
        llm = AzureGatewayLLM(gateway_url=gateway_server.endpoint + "/openai/v1", gateway_key=CANARY, engine=MODEL)
        answered = llm.chat(user("Hello"))
        streamed = list(llm.stream_chat(user("Hello")))[-1]
        sent = gateway_server.requests
    assert answered.message.content == streamed.message.content == "You said: Hello"
    assert [(r.path, r.json["model"], r.headers["x-api-key"]) for r in sent] == [
        ("/openai/v1/chat/completions", f"azure/{MODEL}", CANARY)
    ] * 2
    assert answered.raw["cost"]["endpoint"] == "gateway"
    assert streamed.raw["cost"]["amount"] == pytest.approx(answered.raw["cost"]["amount"])


def test_llm_routing_secrets_never_serialised(regions: dict[str, AzureTestServer]) -> None:
    endpoints = region_tables(regions)
    endpoints[0]["api_key"] = ENDPOINT_CANARY
    llm = routed(
        regions,
        endpoints=endpoints,
        api_key=KEY,
        gateway_key=CANARY,
        prices={MODEL: ModelPrice(0.15, 0.60)},
    )
    texts = (llm.to_json(), str(llm.to_dict()), repr(llm), str(llm), llm.model_dump_json(), str(llm.to_payload()))
    for text in texts:
        assert CANARY not in text and ENDPOINT_CANARY not in text
    data = llm.to_dict()
    assert "gateway_key" not in data
    assert all("api_key" not in e for e in data["endpoints"])
    assert data["prices"] == {MODEL: {"input": 0.15, "output": 0.60}}
    restored = AzureGatewayLLM.from_json(llm.to_json(), api_key=KEY)
    regions["east"].script(Reply("restored", usage=USAGE))
    response = restored.chat(user("Hello"))
    assert response.message.content == "restored" and response.raw["cost"]["amount"] == pytest.approx(PRICE)
    assert regions["east"].requests[-1].headers["api-key"] == KEY


def test_llm_construction_errors_are_typed_and_never_quote_the_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared_core import ConfigurationError

    monkeypatch.delenv("AZURE_GATEWAY_CONFIG", raising=False)
    secret = "sk-canary-" + "k" * 24
    bad = {"name": "a", "endpoint": "https://x.openai.azure.com", "api-key": secret, "deployments": [{"name": "d"}]}
    cases = [
        {"api_key": secret, "endpoint": "http://attacker.example", "engine": "d"},
        {"api_key": secret, "endpoints": [bad], "engine": "d"},
        {"api_key": secret, "endpoint": "https://x.openai.azure.com", "engine": "d", "temperature": "hot"},
    ]
    for kwargs in cases:
        with pytest.raises(ConfigurationError) as caught:
            AzureGatewayLLM(**kwargs)
        text = f"{caught.value} {caught.value!r} {caught.value.args}"
        assert secret[:8] not in text and "kkkk" not in text, text
