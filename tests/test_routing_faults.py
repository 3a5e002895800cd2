"""Failover under faults, against three loopback Azure servers (regions east, west and north).

Every property is read from the servers' side: which region received how many HTTP attempts and when. Waits
use ``retry-after-ms`` of a few hundred milliseconds; the 10 s Retry-After of the first test is never waited
for, which is the point.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import statistics
import time
from collections.abc import Iterator
from typing import Any, Literal

import pytest
from pydantic import SecretStr

from shared_core import (
    AuthenticationError,
    BadRequestError,
    ChatRequest,
    ChatResult,
    DeploymentConfig,
    DeploymentNotFoundError,
    EndpointConfig,
    Gateway,
    HealthPolicy,
    InMemoryHealthStore,
    ListSink,
    Message,
    RateLimitError,
    RetryPolicy,
    ServerError,
    StreamInterruptedError,
    Timeouts,
    load_config,
)
from shared_core.result import StreamAccumulator
from tests.support.azure_server import AzureTestServer, HttpError, Reply, deterministic_responder
from tests.support.regions import fresh, running_regions

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

KEY = "failover-key"
MODEL = "gpt-4o-mini"
REGIONS = ("east", "west", "north")
EAST, WEST, NORTH = (f"{r}/{MODEL}" for r in REGIONS)
Mode = Literal["complete", "acomplete", "stream", "astream"]


@pytest.fixture(scope="module")
def module_servers() -> Iterator[dict[str, AzureTestServer]]:
    with running_regions(REGIONS, api_key=KEY, deployment=MODEL) as servers:
        yield servers


@pytest.fixture
def servers(module_servers: dict[str, AzureTestServer]) -> Iterator[dict[str, AzureTestServer]]:
    fresh(module_servers.values())
    yield module_servers
    fresh(module_servers.values())


def region(name: str, url: str, priority: int) -> EndpointConfig:
    deployment = DeploymentConfig(MODEL, model=MODEL)
    return EndpointConfig(name, url, api_key=SecretStr(KEY), priority=priority, deployments=(deployment,))


def routed(
    servers: dict[str, AzureTestServer],
    names: tuple[str, ...] = ("east", "west"),
    *,
    policy: RetryPolicy | None = None,
    sink: ListSink | None = None,
    **kwargs: Any,
) -> Gateway:
    """Priority routing over ``names`` in that order (``dead`` is a port nobody listens on)."""
    urls = {name: server.endpoint for name, server in servers.items()} | {"dead": _closed_port_url()}
    endpoints = [region(name, urls[name], priority) for priority, name in enumerate(names)]
    policy = policy or RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.02, jitter=0.0, deadline=5.0)
    return Gateway(
        load_config(env={}, endpoints=endpoints), retry_policy=policy, event_sink=sink or ListSink(), **kwargs
    )


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def ask() -> ChatRequest:
    return ChatRequest((Message.user("hello"),), model=MODEL)


def call(gateway: Gateway, mode: Mode) -> ChatResult:
    match mode:
        case "complete":
            return gateway.complete(ask())
        case "acomplete":
            return asyncio.run(gateway.acomplete(ask()))
        case "stream":
            events = list(gateway.stream(ask()))
        case "astream":

            async def drain() -> list[Any]:
                return [e async for e in gateway.astream(ask())]

            events = asyncio.run(drain())
    accumulator = StreamAccumulator()
    for event in events:
        accumulator.add(event)
    return accumulator.result()


def counts(servers: dict[str, AzureTestServer]) -> dict[str, int]:
    return {name: server.request_count for name, server in servers.items()}


# -- 429 ---------------------------------------------------------------------------------------------------------


def _latencies(gateway: Gateway, n: int) -> list[float]:
    out: list[float] = []
    for _ in range(n):
        started = time.perf_counter()
        assert gateway.complete(ask()).text == "You said: hello"
        out.append(time.perf_counter() - started)
    return out


def _p50_p99(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98]


def test_failover_primary_throttled_for_10s_goes_to_secondary_without_waiting(
    servers: dict[str, AzureTestServer],
) -> None:
    calls = 60
    healthy = _latencies(routed(servers), calls)
    for server in servers.values():
        server.reset()
    servers["east"].set_default(HttpError(429, retry_after=10))  # "retry-after: 10" on every answer
    sink = ListSink()
    started = time.perf_counter()
    faulted = _latencies(routed(servers, sink=sink), calls)
    total = time.perf_counter() - started

    (p50_ok, p99_ok), (p50_fault, p99_fault) = _p50_p99(healthy), _p50_p99(faulted)
    print(
        f"\nlatency over {calls} calls: healthy p50 {p50_ok * 1e3:.2f} ms p99 {p99_ok * 1e3:.2f} ms; "
        f"primary 429 (Retry-After 10 s) p50 {p50_fault * 1e3:.2f} ms p99 {p99_fault * 1e3:.2f} ms; "
        f"ratio p50 {p50_fault / p50_ok:.2f} p99 {p99_fault / p99_ok:.2f}"
    )
    assert total < 2.0 and max(faulted) < 1.0, "no call waited for the 10 s Retry-After"
    assert counts(servers) == {"east": 1, "west": calls, "north": 0}, "the cooled primary is skipped, not retried"
    (failover,) = sink.named("provider:failover")
    assert (failover.data["from"], failover.data["to"], failover.data["free"]) == (EAST, WEST, True)
    cooling = routed(servers).health  # a new gateway has its own store: nothing is shared by accident
    assert cooling.state(EAST).status == "healthy"


@pytest.mark.parametrize("mode", ["complete", "astream"])
def test_failover_all_throttled_waits_for_the_shortest_retry_after(
    servers: dict[str, AzureTestServer], mode: Mode
) -> None:
    servers["east"].script(HttpError(429, retry_after=0.6, retry_after_headers="retry-after-ms"))
    servers["west"].script(HttpError(429, retry_after=0.3, retry_after_headers="retry-after-ms"))
    sink = ListSink()
    result = call(routed(servers, sink=sink), mode)

    assert result.text == "You said: hello"
    assert counts(servers) == {"east": 1, "west": 2, "north": 0}
    first, second = (r.received_at for r in servers["west"].requests)
    assert second - first >= 0.3, "never less than Azure asked"
    # What the loop decided, not how long a loaded machine took: the wait is west's 0.3 s, not east's 0.6 s.
    waits = [e.data["delay"] for e in sink.named("provider:attempt_failed") if e.data["delay"]]
    assert len(waits) == 1 and 0.3 <= float(str(waits[0])) < 0.6, "it waited for the shortest Retry-After"


def test_failover_all_throttled_beyond_deadline_fails_with_the_shortest_retry_after(
    servers: dict[str, AzureTestServer],
) -> None:
    servers["east"].script(HttpError(429, retry_after=0.6, retry_after_headers="retry-after-ms"))
    servers["west"].script(HttpError(429, retry_after=0.3, retry_after_headers="retry-after-ms"))
    health = InMemoryHealthStore()
    impatient = routed(servers, policy=RetryPolicy(deadline=0.2), health=health)
    started = time.monotonic()
    with pytest.raises(RateLimitError) as caught:
        impatient.complete(ask())
    assert time.monotonic() - started < 5.0, "failed at once: waiting could not fit the deadline"
    assert counts(servers) == {"east": 1, "west": 1, "north": 0}, "and sent nothing more"
    error = caught.value
    assert error.retry_after is not None and 0.2 < error.retry_after <= 0.3
    assert f"{EAST}: RateLimitError (HTTP 429)" in error.message and f"{WEST}: RateLimitError" in error.message

    # Both still cool: the next impatient call sends nothing; a patient one waits for west, sending nothing first.
    with pytest.raises(RateLimitError):
        impatient.complete(ask())
    assert counts(servers) == {"east": 1, "west": 1, "north": 0}
    patient = routed(servers, health=health)
    assert patient.complete(ask()).text == "You said: hello"
    assert counts(servers) == {"east": 1, "west": 2, "north": 0}
    first, second = (r.received_at for r in servers["west"].requests)
    assert second - first >= 0.3


# -- 5xx, timeouts and the circuit --------------------------------------------------------------------------------


def test_failover_503_storm_opens_the_circuit_and_a_later_trial_closes_it(
    servers: dict[str, AzureTestServer],
) -> None:
    servers["east"].set_default(HttpError(503))
    sink = ListSink()
    health = InMemoryHealthStore(HealthPolicy(failure_threshold=3, open_for=0.3))
    gateway = routed(servers, sink=sink, health=health)
    for _ in range(6):
        assert gateway.complete(ask()).text == "You said: hello"

    assert counts(servers) == {"east": 3, "west": 6, "north": 0}, "after 3 failures east is left out"
    assert health.state(EAST).status == "circuit_open"
    paid = sink.named("provider:failover")
    assert len(paid) == 3 and all(e.data["free"] is False for e in paid)
    assert "may still bill" in str(paid[0].data["reason"])

    servers["east"].set_default(deterministic_responder)
    time.sleep(0.35)
    assert health.state(EAST).status == "half_open"
    gateway.complete(ask())
    assert servers["east"].request_count == 4, "one trial went to east"
    assert health.state(EAST).status == "healthy", "its success closed the circuit"
    gateway.complete(ask())
    assert counts(servers) == {"east": 5, "west": 6, "north": 0}


def test_failover_after_a_timeout_happens_once(servers: dict[str, AzureTestServer]) -> None:
    servers["east"].script(Reply("too late", first_byte_delay=0.5))
    servers["west"].script(HttpError(502))
    sink = ListSink()
    gateway = routed(servers, ("east", "west", "north"), sink=sink, timeouts=Timeouts(read=0.2, chunk=0.2))
    assert gateway.complete(ask()).text == "You said: hello"

    # east timed out (Azure may be working on it): one failover, to west; west's 502 is retried on west.
    assert counts(servers) == {"east": 1, "west": 2, "north": 0}
    (failover,) = sink.named("provider:failover")
    assert (failover.data["from"], failover.data["to"], failover.data["free"]) == (EAST, WEST, False)
    assert failover.data["error"] == "RequestTimeoutError"
    deadline = time.monotonic() + 2.0
    while servers["east"].in_flight and time.monotonic() < deadline:
        time.sleep(0.01)  # let east finish the answer nobody waits for, so its server stops cleanly


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_failover_never_after_the_stream_has_started(servers: dict[str, AzureTestServer], mode: Mode) -> None:
    servers["east"].script(Reply("alpha beta gamma delta", cut_after=3))
    gateway = routed(servers)
    with pytest.raises(StreamInterruptedError) as caught:
        call(gateway, mode)

    assert caught.value.partial is not None and caught.value.partial.text == "alpha"
    assert counts(servers) == {"east": 1, "west": 0, "north": 0}
    assert gateway.health.state(EAST).consecutive_failures == 1, "the break counts against east's health"


# -- configuration errors: broken, loudly ---------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "kind"), [(401, "auth"), (404, "not_found")])
def test_failover_auth_and_not_found_mark_broken_and_fail_over(
    servers: dict[str, AzureTestServer], status: int, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    servers["east"].set_default(HttpError(status))
    sink = ListSink()
    gateway = routed(servers, sink=sink)
    with caplog.at_level(logging.ERROR, logger="shared_core.transport.health"):
        for mode in ("complete", "astream", "acomplete"):
            assert call(gateway, mode).text == "You said: hello"

    assert counts(servers) == {"east": 1, "west": 3, "north": 0}, "a broken deployment is not tried again"
    state = gateway.health.state(EAST)
    assert state.broken is not None and state.broken.kind == kind
    assert [r.levelno for r in caplog.records] == [logging.ERROR] and EAST in caplog.text
    (failed,) = sink.named("provider:attempt_failed")
    assert "misconfigured" in str(failed.data["decision"])
    (failover,) = sink.named("provider:failover")
    assert failover.data["free"] is True


def test_failover_401_with_a_token_credential_refreshes_once_before_anything_else(
    servers: dict[str, AzureTestServer],
) -> None:
    east = servers["east"]
    east.api_key, east.bearer_tokens = None, {"tok-2"}  # the first token is refused; the renewed one is good
    issued = iter(["tok-1", "tok-2", "tok-3"])
    endpoints = [
        EndpointConfig("east", east.endpoint, deployments=(DeploymentConfig(MODEL, model=MODEL),)),
        region("west", servers["west"].endpoint, 1),
    ]
    sink = ListSink()
    gateway = Gateway(load_config(env={}, endpoints=endpoints), token_provider=lambda: next(issued), event_sink=sink)
    try:
        assert gateway.complete(ask()).text == "You said: hello"
        bearers = [r.headers.get("authorization") for r in east.requests]
    finally:
        east.api_key, east.bearer_tokens = KEY, set()
    assert bearers == ["Bearer tok-1", "Bearer tok-2"]
    assert servers["west"].request_count == 0, "a refreshable 401 is not a broken deployment"
    (failed,) = sink.named("provider:attempt_failed")
    assert "refresh" in str(failed.data["decision"]) and not sink.named("provider:failover")
    assert gateway.health.state(EAST).broken is None


def test_failover_final_error_lists_every_deployment(servers: dict[str, AzureTestServer]) -> None:
    servers["east"].set_default(HttpError(401))
    servers["west"].set_default(HttpError(503))
    servers["north"].set_default(HttpError(500))
    sink = ListSink()
    policy = RetryPolicy(max_retries=1, base_delay=0.01, max_delay=0.02, jitter=0.0)
    gateway = routed(servers, ("east", "west", "north"), policy=policy, sink=sink)
    with pytest.raises(ServerError) as caught:
        gateway.complete(ask())

    message = caught.value.message
    assert f"{EAST}: AuthenticationError (HTTP 401)" in message
    assert f"{WEST}: ServerError (HTTP 503)" in message
    assert f"{NORTH}: ServerError (HTTP 500)" in message
    # 401 (free) → west 503 (the one paid failover) → north 500 → one retry on north: N + max_retries = 4.
    assert counts(servers) == {"east": 1, "west": 1, "north": 2}
    (outcome,) = sink.named("provider:outcome")
    assert outcome.data["outcome"] == "failed" and outcome.data["attempts"] == 4
    errors = outcome.data["errors"]
    assert isinstance(errors, dict) and sorted(errors) == sorted([EAST, WEST, NORTH])


def test_failover_when_every_deployment_is_broken_sends_nothing(servers: dict[str, AzureTestServer]) -> None:
    servers["east"].set_default(HttpError(401))
    servers["west"].set_default(HttpError(404))
    gateway = routed(servers)
    with pytest.raises(DeploymentNotFoundError) as first:
        gateway.complete(ask())
    assert counts(servers) == {"east": 1, "west": 1, "north": 0}
    assert "broken" in str(first.value)
    with pytest.raises(AuthenticationError) as again:
        gateway.complete(ask())
    assert counts(servers) == {"east": 1, "west": 1, "north": 0}, "no HTTP attempt for a route that is all broken"
    assert f"{EAST}: broken (auth)" in again.value.message and f"{WEST}: broken (not_found)" in again.value.message


@pytest.mark.parametrize("mode", ["complete", "acomplete"])
def test_failover_refused_connection_is_free(servers: dict[str, AzureTestServer], mode: Mode) -> None:
    sink = ListSink()
    assert call(routed(servers, ("dead", "west"), sink=sink), mode).text == "You said: hello"
    assert servers["west"].request_count == 1
    (failover,) = sink.named("provider:failover")
    assert (failover.data["error"], failover.data["free"]) == ("ConnectionFailedError", True)


def test_failover_request_errors_are_not_failed_over(servers: dict[str, AzureTestServer]) -> None:
    servers["east"].script(HttpError(400, body=b'{"error": {"code": "invalid_value", "message": "bad input"}}'))
    with pytest.raises(BadRequestError):
        routed(servers).complete(ask())
    assert counts(servers) == {"east": 1, "west": 0, "north": 0}, "a sibling would refuse it the same way"
