"""Routes from configuration and the routing strategies, against three loopback Azure servers (regions).

Which deployment answered is read from the servers' own request counts, never from the client's account of
itself. Faults and failover are in ``test_routing_faults.py``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from shared_core import (
    ChatRequest,
    ConfigurationError,
    DeploymentConfig,
    EndpointConfig,
    Gateway,
    ListSink,
    Message,
    RetryPolicy,
    StreamEvent,
    load_config,
)
from shared_core.deployments import DeploymentMap
from shared_core.result import ResponseMetadata, StreamAccumulator
from shared_core.routes import RouteTable
from shared_core.transport.strategies import LeastLatency
from tests.support.azure_server import AzureTestServer, DeploymentInfo, HttpError, Reply, deterministic_responder
from tests.support.regions import fresh, running_regions

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

KEY = "routing-key"
MODEL = "gpt-4o-mini"
REGIONS = ("east", "west", "north")
FAST = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.02, jitter=0.0, deadline=5.0)


@pytest.fixture(scope="module")
def module_servers() -> Iterator[dict[str, AzureTestServer]]:
    with running_regions(REGIONS, api_key=KEY, deployment=MODEL) as servers:
        yield servers


@pytest.fixture
def servers(module_servers: dict[str, AzureTestServer]) -> Iterator[dict[str, AzureTestServer]]:
    fresh(module_servers.values())
    yield module_servers
    fresh(module_servers.values())


def endpoint(
    name: str, server: AzureTestServer, *, priority: int = 0, weight: float = 1.0, key: str = KEY
) -> EndpointConfig:
    deployment = DeploymentConfig(MODEL, model=MODEL, weight=weight)
    return EndpointConfig(name, server.endpoint, api_key=SecretStr(key), priority=priority, deployments=(deployment,))


def routed(endpoints: list[EndpointConfig], *, sink: ListSink | None = None, **kwargs: Any) -> Gateway:
    config = load_config(env={}, endpoints=endpoints, **kwargs.pop("config", {}))
    return Gateway(config, retry_policy=FAST, event_sink=sink or ListSink(), **kwargs)


def ask(text: str = "hello") -> ChatRequest:
    return ChatRequest((Message.user(text),), model=MODEL)


def counts(servers: dict[str, AzureTestServer]) -> dict[str, int]:
    return {name: server.request_count for name, server in servers.items()}


# -- routes from configuration ---------------------------------------------------------------------------------


def test_routes_match_base_model_or_deployment_name_in_every_endpoint() -> None:
    config = load_config(
        env={},
        api_key="top-key",
        endpoints=[
            EndpointConfig(
                "east",
                "https://east.openai.azure.com",
                priority=1,
                deployments=(
                    DeploymentConfig("chat-east", model="gpt-4o", priority=2),
                    DeploymentConfig("mini-east", model="gpt-4o-mini"),
                ),
            ),
            EndpointConfig(
                "west",
                "https://west.openai.azure.com",
                api_key=SecretStr("west-key"),
                api_version="2025-04-01-preview",
                deployments=(DeploymentConfig("chat-west", model="gpt-4o", weight=3, ptu=True),),
            ),
        ],
    )
    table = RouteTable(config)
    by_model = table.targets(DeploymentMap().resolve("gpt-4o"))
    assert [t.candidate.key for t in by_model] == ["east/chat-east", "west/chat-west"]
    east, west = by_model
    assert (east.candidate.priority, east.candidate.model, east.api_version) == (3, "gpt-4o", "2024-10-21")
    assert (west.candidate.weight, west.candidate.ptu, west.api_version) == (3, True, "2025-04-01-preview")
    assert east.auth is table.top_auth, "an endpoint without credentials shares the top-level provider"
    assert west.auth is not table.top_auth and west.auth.headers() == {"api-key": "west-key"}
    by_name = table.targets(config.deployment_map().resolve("mini-east"))
    assert [t.candidate.key for t in by_name] == ["east/mini-east"]
    assert table.targets(DeploymentMap().resolve("gpt-4o")) is by_model, "routes are built once"


def test_routes_fall_back_to_top_level_endpoint_else_name_the_configured_ones() -> None:
    east = EndpointConfig(
        "east", "https://east.openai.azure.com", deployments=(DeploymentConfig("chat", model="gpt-4o"),)
    )
    with_top = load_config(env={}, endpoint="https://top.openai.azure.com", api_key="k", endpoints=[east])
    (only,) = RouteTable(with_top).targets(DeploymentMap().resolve("o3"))
    assert (only.endpoint_url, only.candidate.deployment, only.named_endpoint) == (
        "https://top.openai.azure.com",
        "o3",
        None,
    )
    without_top = load_config(env={}, api_key="k", endpoints=[east])
    with pytest.raises(ConfigurationError, match=r"no configured deployment serves 'o3'.*east/chat \(gpt-4o\)"):
        RouteTable(without_top).targets(DeploymentMap().resolve("o3"))


def test_routes_without_endpoints_are_the_single_configured_deployment() -> None:
    config = load_config(env={}, endpoint="https://one.openai.azure.com", api_key="k", default_deployment="prod")
    (only,) = RouteTable(config).targets(config.deployment_map().resolve(None))
    assert (only.endpoint_url, only.candidate.key, only.candidate.deployment) == (
        "https://one.openai.azure.com",
        "prod",
        "prod",
    )


def test_routing_config_file_reads_strategy_and_prices(tmp_path: Any) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('strategy = "least-latency"\n[prices.gpt-4o]\ninput = 1.5\noutput = 6\n', encoding="utf-8")
    config = load_config(config_file=str(path), env={})
    assert config.routing == "least_latency"
    assert config.price_table().price_for("gpt-4o-2024-08-06") is not None
    assert config.prices["gpt-4o"].input_per_million == 1.5
    with pytest.raises(ConfigurationError, match="unknown routing strategy"):
        load_config(env={}, routing="fastest")


def test_routing_endpoint_credentials_go_only_to_their_endpoint(servers: dict[str, AzureTestServer]) -> None:
    servers["west"].api_key = "west-only"
    try:
        gateway = routed(
            [endpoint("east", servers["east"]), endpoint("west", servers["west"], priority=1, key="west-only")]
        )
        servers["east"].set_default(HttpError(429, retry_after=10))
        for _ in range(2):
            gateway.complete(ask())
    finally:
        servers["west"].api_key = KEY
    assert [r.headers.get("api-key") for r in servers["east"].requests] == [KEY]
    assert [r.headers.get("api-key") for r in servers["west"].requests] == ["west-only", "west-only"]


# -- strategies ------------------------------------------------------------------------------------------------


def test_routing_priority_sends_everything_to_the_lowest_priority_number(servers: dict[str, AzureTestServer]) -> None:
    gateway = routed([endpoint("east", servers["east"], priority=2), endpoint("west", servers["west"], priority=1)])
    for _ in range(5):
        assert gateway.complete(ask()).deployment == MODEL
    assert counts(servers) == {"east": 0, "west": 5, "north": 0}


def test_routing_least_latency_moves_traffic_to_the_faster_server(servers: dict[str, AzureTestServer]) -> None:
    east, west = servers["east"], servers["west"]
    west.set_default(Reply("slow west", first_byte_delay=0.05))
    # No exploration: the move must come from east's own measurements (exploration is unit-tested).
    strategy = LeastLatency(random.Random(7), explore=0.0)
    gateway = routed([endpoint("east", east), endpoint("west", west)], strategy=strategy)
    answered = [gateway.complete(ask()).text for _ in range(12)]
    # Each is measured once (unmeasured first), then the faster one takes every call.
    assert answered[:2] == ["You said: hello", "slow west"]
    assert answered[2:] == ["You said: hello"] * 10

    # East slows down beyond what west was measured at: within N calls its average passes west's and the
    # traffic moves; west, measured again, is fast now and keeps it.
    east.set_default(Reply("slow east", first_byte_delay=0.12))
    west.set_default(deterministic_responder)
    n = 5
    moved = [gateway.complete(ask()).text for _ in range(n + 10)]
    first_west = moved.index("You said: hello")
    assert first_west < n, f"traffic did not move within {n} calls: {moved}"
    assert moved[first_west:] == ["You said: hello"] * (len(moved) - first_west)
    health = gateway.health.snapshot(["east/gpt-4o-mini", "west/gpt-4o-mini"])
    east_latency, west_latency = health["east/gpt-4o-mini"].latency, health["west/gpt-4o-mini"].latency
    assert east_latency is not None and west_latency is not None and west_latency < east_latency


def test_routing_weighted_round_robin_honours_weights(servers: dict[str, AzureTestServer]) -> None:
    weights = {"east": 5.0, "west": 3.0, "north": 2.0}
    gateway = routed(
        [endpoint(name, servers[name], weight=w) for name, w in weights.items()],
        config={"routing": "weighted_round_robin"},
    )
    calls = 400

    async def run_all() -> None:
        for _ in range(calls // 50):
            await asyncio.gather(*(gateway.acomplete(ask()) for _ in range(50)))

    asyncio.run(run_all())
    total = sum(weights.values())
    for name, weight in weights.items():
        expected = calls * weight / total
        assert abs(servers[name].request_count - expected) <= 0.03 * calls, (name, counts(servers))


# -- the stream's first event ----------------------------------------------------------------------------------


def _first_and_folded(events: list[StreamEvent]) -> tuple[StreamEvent, StreamAccumulator]:
    accumulator = StreamAccumulator()
    for event in events:
        accumulator.add(event)
    return events[0], accumulator


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_routing_stream_first_event_names_request_id_and_answering_deployment(
    servers: dict[str, AzureTestServer], mode: str
) -> None:
    servers["east"].set_default(HttpError(429, retry_after=10))
    servers["west"].deployments["mini-west"] = DeploymentInfo()
    west = EndpointConfig(
        "west",
        servers["west"].endpoint,
        api_key=SecretStr(KEY),
        deployments=(DeploymentConfig("mini-west", model=MODEL),),
    )
    gateway = routed([endpoint("east", servers["east"]), west])
    try:
        if mode == "stream":
            events = list(gateway.stream(ask()))
        else:

            async def drain() -> list[StreamEvent]:
                return [e async for e in gateway.astream(ask())]

            events = asyncio.run(drain())
    finally:
        del servers["west"].deployments["mini-west"]

    first, folded = _first_and_folded(events)
    assert isinstance(first, ResponseMetadata)
    assert first.deployment == "mini-west", "the deployment that answered, after the failover"
    assert first.request_id is not None and len(first.request_id) >= 32
    result = folded.result()
    assert (result.deployment, result.request_id) == ("mini-west", first.request_id), "the fold keeps both"
    assert result.text == "You said: hello"
    assert counts(servers) == {"east": 1, "west": 1, "north": 0}
