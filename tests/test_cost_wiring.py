"""Costs through the gateway: every result priced by its deployment's base model, totals per deployment.

The loopback servers answer with scripted token usage, so every expected figure below is usage times the price
written in this file (not read back from the price table), summed exactly with fractions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from fractions import Fraction
from typing import Any, Literal

import pytest
from pydantic import SecretStr

from shared_core import (
    CallCost,
    ChatRequest,
    ChatResult,
    CostTracker,
    DeploymentConfig,
    EndpointConfig,
    Gateway,
    ListSink,
    Message,
    StreamEvent,
    load_config,
)
from shared_core.result import StreamAccumulator
from tests.support.azure_server import AzureTestServer, DeploymentInfo, Reply, Usage

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

KEY = "cost-key"
Mode = Literal["complete", "acomplete", "stream", "astream"]
# The override under test: gpt-4o at 2.00 in, 0.50 cached in, 8.00 out (USD per 1M tokens).
GPT_4O = (Fraction(2), Fraction(1, 2), Fraction(8))


@pytest.fixture(scope="module")
def east() -> Iterator[AzureTestServer]:
    deployments = {
        "chat-east": DeploymentInfo(model="gpt-4o-2024-08-06"),
        "mystery": DeploymentInfo(model="gpt-4o-mini-2024-07-18"),
        "renamed": DeploymentInfo(model="gpt-4o-mini-2024-07-18"),
    }
    with AzureTestServer(api_key=KEY, deployments=deployments) as server:
        yield server


@pytest.fixture(scope="module")
def west() -> Iterator[AzureTestServer]:
    with AzureTestServer(api_key=KEY, deployments={"mini-ptu": DeploymentInfo()}) as server:
        yield server


@pytest.fixture
def servers(east: AzureTestServer, west: AzureTestServer) -> Iterator[tuple[AzureTestServer, AzureTestServer]]:
    east.reset()
    west.reset()
    yield east, west
    east.reset()
    west.reset()


def priced_gateway(east: AzureTestServer, west: AzureTestServer, sink: ListSink) -> Gateway:
    endpoints = [
        EndpointConfig(
            "east",
            east.endpoint,
            api_key=SecretStr(KEY),
            deployments=(
                DeploymentConfig("chat-east", model="gpt-4o"),
                DeploymentConfig("mystery", model="my-custom-model"),
            ),
        ),
        EndpointConfig(
            "west",
            west.endpoint,
            api_key=SecretStr(KEY),
            deployments=(DeploymentConfig("mini-ptu", model="gpt-4o-mini", ptu=True),),
        ),
    ]
    prices = {"gpt-4o": {"input": 2.0, "cached_input": 0.5, "output": 8.0}}
    return Gateway(load_config(env={}, endpoints=endpoints, prices=prices), event_sink=sink)


def run(gateway: Gateway, model: str, mode: Mode) -> ChatResult:
    request = ChatRequest((Message.user("price me"),), model=model)
    match mode:
        case "complete":
            return gateway.complete(request)
        case "acomplete":
            return asyncio.run(gateway.acomplete(request))
        case "stream":
            events = list(gateway.stream(request))
        case "astream":

            async def drain() -> list[StreamEvent]:
                return [e async for e in gateway.astream(request)]

            events = asyncio.run(drain())
    accumulator = StreamAccumulator()
    for event in events:
        accumulator.add(event)
    return accumulator.result()


def gpt_4o_cost(prompt: int, cached: int, completion: int) -> Fraction:
    inp, cached_rate, out = GPT_4O
    return ((prompt - cached) * inp + cached * cached_rate + completion * out) / 1_000_000


# (model requested, deployment that serves it, prompt, cached, completion, mode)
MIX: list[tuple[str, str, int, int, int, Mode]] = [
    ("gpt-4o", "chat-east", 1000, 400, 200, "complete"),
    ("gpt-4o", "chat-east", 3000, 0, 500, "stream"),
    ("gpt-4o", "chat-east", 500, 0, 50, "acomplete"),
    ("gpt-4o", "chat-east", 1200, 1000, 10, "astream"),
    ("gpt-4o-mini", "mini-ptu", 800, 0, 100, "complete"),
    ("gpt-4o-mini", "mini-ptu", 200, 0, 20, "astream"),
    ("my-custom-model", "mystery", 100, 0, 10, "complete"),
]


def test_cost_totals_per_deployment_match_usage_times_price(servers: tuple[AzureTestServer, AzureTestServer]) -> None:
    east, west = servers
    sink = ListSink()
    gateway = priced_gateway(east, west, sink)
    results: list[ChatResult] = []
    for model, deployment, prompt, cached, completion, mode in MIX:
        server = west if deployment == "mini-ptu" else east
        usage = Usage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached)
        server.script(Reply("priced", usage=usage), deployment=deployment)
        results.append(run(gateway, model, mode))

    expected_4o = sum((gpt_4o_cost(p, k, c) for m, _, p, k, c, _ in MIX if m == "gpt-4o"), Fraction(0))
    totals = gateway.costs.totals_by_deployment()
    assert sorted(totals) == ["east/chat-east", "east/mystery", "west/mini-ptu"]
    chat = totals["east/chat-east"]
    assert (chat.calls, chat.input_tokens, chat.cached_input_tokens, chat.output_tokens) == (4, 5700, 1400, 760)
    assert chat.amount == pytest.approx(float(expected_4o), rel=1e-12) and chat.complete
    ptu = totals["west/mini-ptu"]
    assert (ptu.calls, ptu.amount, ptu.input_tokens, ptu.unknown_cost_calls) == (2, 0.0, 1000, 0)
    mystery = totals["east/mystery"]
    assert (mystery.calls, mystery.amount, mystery.unknown_cost_calls) == (1, 0.0, 1)
    grand = gateway.costs.grand_total()
    assert grand.amount == pytest.approx(float(expected_4o), rel=1e-12) and not grand.complete
    assert sorted(gateway.costs.totals_by_model()) == ["gpt-4o", "gpt-4o-mini", "my-custom-model"]
    assert "east/chat-east" in gateway.costs.as_table()

    # Each non-streamed result carries its own cost.
    first = results[0].cost
    assert isinstance(first, CallCost)
    assert first.amount == pytest.approx(float(gpt_4o_cost(1000, 400, 200)), rel=1e-12)
    assert (first.deployment_label, first.priced_as, first.model) == ("east/chat-east", "gpt-4o", "gpt-4o")
    ptu_cost = results[4].cost
    assert ptu_cost is not None and ptu_cost.amount == 0.0 and "PTU" in (ptu_cost.reason or "")
    unknown = results[6].cost
    assert unknown is not None and unknown.amount is None and "my-custom-model" in (unknown.reason or "")

    # Streams are priced too: their summary events carry the cost.
    summaries = sink.named("llm:response:debug")
    assert len(summaries) == len(MIX)
    streamed = summaries[1].data["cost"]
    assert isinstance(streamed, dict) and streamed["amount"] == pytest.approx(float(gpt_4o_cost(3000, 0, 500)))
    assert summaries[6].data["cost"] == {
        "amount": None,
        "currency": "USD",
        "model": "my-custom-model",
        "priced_as": None,
        "reason": unknown.reason,
    }


def test_cost_single_endpoint_prices_the_configured_base_model_else_what_azure_reports(
    servers: tuple[AzureTestServer, AzureTestServer],
) -> None:
    east, _ = servers
    tracker = CostTracker()
    config = load_config(env={}, endpoint=east.endpoint, api_key=KEY, deployment_models={"mystery": "gpt-4o"})
    gateway = Gateway(config, costs=tracker)
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000)
    east.script(Reply("a", usage=usage), Reply("b", usage=usage))

    configured = gateway.complete(ChatRequest((Message.user("x"),), model="mystery")).cost
    # "renamed" was never given a base model: Azure's versioned name (gpt-4o-mini-2024-07-18) prices it.
    reported = Gateway(config, costs=tracker).complete(ChatRequest((Message.user("x"),), model="renamed")).cost
    assert configured is not None and (configured.priced_as, configured.amount) == ("gpt-4o", 12.5)
    assert reported is not None and (reported.priced_as, reported.amount) == ("gpt-4o-mini", 0.75)
    assert (configured.endpoint, configured.deployment_label) == (None, "mystery")
    assert tracker.grand_total().amount == pytest.approx(13.25), "two gateways, one tracker"


def test_cost_summary_events_only_with_debug_or_a_sink(
    servers: tuple[AzureTestServer, AzureTestServer], caplog: pytest.LogCaptureFixture
) -> None:
    east, _ = servers
    caplog.set_level(logging.DEBUG, logger="shared_core.events")

    def logged(**config: Any) -> list[str]:
        caplog.clear()
        resolved = load_config(env={}, endpoint=east.endpoint, api_key=KEY, default_deployment="chat-east", **config)
        Gateway(resolved).complete(ChatRequest((Message.user("x"),)))
        return [r.getMessage().split(" ", 1)[0] for r in caplog.records if r.name == "shared_core.events"]

    assert logged() == ["provider:outcome"], "attempt and outcome events always; summaries only on request"
    assert logged(debug=True) == ["llm:request:debug", "provider:outcome", "llm:response:debug"]
    assert "llm:response:raw" in logged(raw_debug=True)
    with_debug = [r.getMessage() for r in caplog.records if "llm:response:debug" in r.getMessage()]
    assert '"cost": {"amount":' in with_debug[0]
