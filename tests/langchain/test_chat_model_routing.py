"""AzureGatewayChatModel over several deployments: failover between two loopback regions, the call's cost in
``response_metadata``, the cost tracker, gateway mode, and the routing secrets kept out of every dump.

Prices are derived here from the published gpt-4o-mini list price (USD 0.15 input / 0.60 output per 1M tokens),
not read from the core's table.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from langchain_core.load import dumpd, dumps, load
from langchain_core.messages import AIMessageChunk
from pydantic import SecretStr

from langchain_azure_gateway import AzureGatewayChatModel
from shared_core import ConfigurationError, DeploymentConfig, EndpointConfig
from shared_core.costs import ModelPrice
from tests.support.azure_server import AzureTestServer, DeploymentInfo, HttpError, Reply, Usage

KEY = "region-key"
CANARY = "gw-CANARY-5d1f0a"
ENDPOINT_CANARY = "ep-CANARY-77b2c4"
MODEL = "gpt-4o-mini"
USAGE = Usage(prompt_tokens=1000, completion_tokens=500)
PRICE = 1000 * 0.15 / 1e6 + 500 * 0.60 / 1e6
UUID = re.compile(r"[0-9a-f-]{36}")
_DEPLOYMENTS = (MODEL, "chat-east", "chat-west", "custom")


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


def routed(regions: dict[str, AzureTestServer], **overrides: Any) -> AzureGatewayChatModel:
    params: dict[str, Any] = {"endpoints": region_tables(regions), "model": MODEL, "max_retries": 1}
    return AzureGatewayChatModel(**{**params, **overrides})


def collect(chunks: Iterator[AIMessageChunk] | list[AIMessageChunk]) -> AIMessageChunk:
    full: AIMessageChunk | None = None
    for chunk in chunks:
        full = chunk if full is None else full + chunk
    assert full is not None
    return full


def test_chat_model_fails_over_to_the_secondary_region_at_once_on_a_throttled_primary(
    regions: dict[str, AzureTestServer],
) -> None:
    regions["east"].script(HttpError(429, retry_after=10))
    regions["west"].script(Reply("From the west.", usage=USAGE))
    model = routed(regions)
    started = time.perf_counter()
    message = model.invoke("Hello")
    assert time.perf_counter() - started < 2.0  # the primary's Retry-After is 10 s
    assert message.content == "From the west."
    assert (regions["east"].request_count, regions["west"].request_count) == (1, 1)
    cost = message.response_metadata["cost"]
    assert cost == {
        "amount": pytest.approx(PRICE),
        "currency": "USD",
        "reason": None,
        "deployment": MODEL,
        "endpoint": "west",
        "model": MODEL,
    }
    totals = model.cost_tracker.totals_by_deployment()
    assert list(totals) == [f"west/{MODEL}"]
    assert (totals[f"west/{MODEL}"].calls, totals[f"west/{MODEL}"].amount) == (1, pytest.approx(PRICE))


def test_chat_model_stream_fails_over_with_request_id_deployment_and_cost_from_the_stream(
    regions: dict[str, AzureTestServer],
) -> None:
    regions["east"].script(HttpError(429, retry_after=10))
    regions["west"].script(Reply("Streamed from the west.", chunks=3, usage=USAGE))
    model = routed(regions, endpoints=region_tables(regions, "chat-east", "chat-west"))
    started = time.perf_counter()
    streamed = collect(model.stream("Hello"))
    assert time.perf_counter() - started < 2.0
    assert streamed.content == "Streamed from the west."
    assert regions["west"].requests[-1].deployment == "chat-west"
    meta = streamed.response_metadata
    assert meta["deployment"] == "chat-west"
    assert UUID.fullmatch(meta["request_id"])
    assert meta["cost"]["amount"] == pytest.approx(PRICE)
    assert (meta["cost"]["deployment"], meta["cost"]["endpoint"], meta["cost"]["reason"]) == (
        "chat-west",
        "west",
        None,
    )
    # The gateway priced the same stream on its own; both figures agree.
    assert model.cost_tracker.totals_by_deployment()["west/chat-west"].amount == pytest.approx(meta["cost"]["amount"])


async def test_chat_model_ptu_secondary_costs_zero_in_invoke_and_astream(regions: dict[str, AzureTestServer]) -> None:
    model = routed(regions, endpoints=region_tables(regions, "chat-east", "chat-west", west_ptu=True))
    regions["east"].script(HttpError(429, retry_after=10))
    regions["west"].script(Reply("ptu", usage=USAGE), Reply("ptu", chunks=2, usage=USAGE))
    # East throttles the first call and cools down for 10 s; west (PTU) answers both calls.
    invoked = await model.ainvoke("Hello")
    streamed = collect([c async for c in model.astream("Hello")])
    for message in (invoked, streamed):
        cost = message.response_metadata["cost"]
        assert (cost["amount"], cost["deployment"]) == (0.0, "chat-west")
        assert "PTU" in cost["reason"]


def test_chat_model_stream_cost_is_the_answering_regions_when_one_name_serves_regions_priced_differently(
    regions: dict[str, AzureTestServer],
) -> None:
    # One deployment name, two regions, two prices: only the gateway knows which region answered the stream,
    # and its last event carries the cost it priced with that region's (PTU) terms.
    model = routed(regions, endpoints=region_tables(regions, west_ptu=True))
    regions["east"].script(HttpError(429, retry_after=10))
    regions["west"].script(Reply("ptu", usage=USAGE), Reply("ptu", chunks=2, usage=USAGE))
    assert model.invoke("Hello").response_metadata["cost"]["amount"] == 0.0
    cost = collect(model.stream("Hello")).response_metadata["cost"]
    assert (cost["amount"], cost["deployment"], cost["endpoint"]) == (0.0, MODEL, "west")
    assert "PTU" in cost["reason"]


def test_chat_model_unknown_base_model_costs_unknown_with_a_reason(regions: dict[str, AzureTestServer]) -> None:
    model = AzureGatewayChatModel(
        azure_endpoint=regions["east"].endpoint,
        api_key=KEY,
        azure_deployment="custom",
        deployment_models={"custom": "house-model-7"},
        max_retries=0,
    )
    for message in (model.invoke("Hello"), collect(model.stream("Hello"))):
        cost = message.response_metadata["cost"]
        assert cost["amount"] is None
        assert "house-model-7" in cost["reason"]
        assert (cost["deployment"], cost["endpoint"]) == ("custom", None)
    assert model.cost_tracker.grand_total().unknown_cost_calls == 2


def test_chat_model_price_overrides_apply_to_invoke_and_stream(regions: dict[str, AzureTestServer]) -> None:
    model = routed(regions, prices={MODEL: ModelPrice(1.0, 2.0)})
    regions["east"].script(Reply("a", usage=USAGE), Reply("a", usage=USAGE))
    expected = 1000 * 1.0 / 1e6 + 500 * 2.0 / 1e6
    assert model.invoke("Hello").response_metadata["cost"]["amount"] == pytest.approx(expected)
    assert collect(model.stream("Hello")).response_metadata["cost"]["amount"] == pytest.approx(expected)


def test_chat_model_routing_strategy_is_checked_and_passed_to_the_gateway(
    regions: dict[str, AzureTestServer],
) -> None:
    assert routed(regions, routing="least-latency").gateway.strategy.name == "least_latency"
    with pytest.raises(ConfigurationError, match="routing strategy"):
        routed(regions, routing="fastest").invoke("Hello")


def test_chat_model_gateway_mode_sends_the_gateway_key_and_azure_model(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_GATEWAY_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    with AzureTestServer(api_key=None, deployments={f"azure/{MODEL}": DeploymentInfo()}) as gateway_server:
        model = AzureGatewayChatModel(
            gateway_url=gateway_server.endpoint + "/openai/v1", gateway_key=CANARY, azure_deployment=MODEL
        )
        message = model.invoke("Hello")
        streamed = collect(model.stream("Hello"))
        sent = gateway_server.requests
    assert message.content == streamed.content == "You said: Hello"
    assert [(r.path, r.json["model"], r.headers["x-api-key"]) for r in sent] == [
        ("/openai/v1/chat/completions", f"azure/{MODEL}", CANARY)
    ] * 2
    assert message.response_metadata["cost"]["endpoint"] == "gateway"
    assert streamed.response_metadata["cost"]["amount"] == pytest.approx(message.response_metadata["cost"]["amount"])


def test_chat_model_routing_secrets_never_serialized_and_endpoints_revive_with_the_top_level_key(
    regions: dict[str, AzureTestServer],
) -> None:
    endpoints = region_tables(regions)
    endpoints[0]["api_key"] = ENDPOINT_CANARY
    endpoints[1] = replace(endpoints[1], api_key=SecretStr(ENDPOINT_CANARY))
    model = routed(
        regions,
        endpoints=endpoints,
        api_key=KEY,
        gateway_key=CANARY,
        prices={MODEL: ModelPrice(0.15, 0.60), "house-model": {"input": 1, "output": 2}},
    )
    texts = (dumps(model), json.dumps(dumpd(model)), repr(model), str(model), model.model_dump_json())
    for text in texts:
        assert CANARY not in text and ENDPOINT_CANARY not in text
    kwargs = dumpd(model)["kwargs"]
    assert kwargs["gateway_key"] == {"lc": 1, "type": "secret", "id": ["AZURE_GATEWAY_KEY"]}
    east, west = kwargs["endpoints"]
    assert sorted(east) == ["deployments", "endpoint", "name"]
    assert sorted(west) == ["deployments", "endpoint", "name", "priority"]
    assert west["deployments"] == [{"name": MODEL, "model": MODEL, "priority": 0, "weight": 1.0, "ptu": False}]
    assert kwargs["prices"] == {MODEL: {"input": 0.15, "output": 0.60}, "house-model": {"input": 1, "output": 2}}
    revived: Any = load(
        dumpd(model),
        secrets_map={"AZURE_GATEWAY_KEY": "gw-2", "AZURE_OPENAI_API_KEY": KEY},
        valid_namespaces=["langchain_azure_gateway"],
        allowed_objects=[AzureGatewayChatModel],
    )
    assert isinstance(revived, AzureGatewayChatModel)
    assert revived.gateway_key is not None and revived.gateway_key.get_secret_value() == "gw-2"
    regions["east"].script(Reply("revived", usage=USAGE))
    message = revived.invoke("Hello")
    assert message.content == "revived"
    assert message.response_metadata["cost"]["amount"] == pytest.approx(PRICE)
    assert regions["east"].requests[-1].headers["api-key"] == KEY
