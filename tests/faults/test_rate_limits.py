"""Fault matrix, throttling and retries: 429 storms, waits beyond the deadline, every deployment cooling down,
and retry amplification.

Every count is the emulator's (HTTP attempts it received, with their arrival times), never the client's
account of itself. The whole-seconds ``retry-after`` header costs one second per 429, so its storm is two long.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import pytest
from langchain_core.exceptions import ModelRateLimitError

from azure_openai_emulator.script import RetryAfterHeader
from shared_core import Gateway, ListSink, RateLimitError, RetryPolicy, ServerError
from tests.faults.channels import CHANNELS, MODES, Channel, Mode, Target, build, fast_retries, run
from tests.faults.regions import REGIONS, counts, key_of
from tests.support.azure_server import AzureTestServer, HttpError, Outcome, Reply

NOT_REACHED = Reply("this answer must never be requested")
MS_HEADERS: tuple[RetryAfterHeader, ...] = ("retry-after-ms", "x-ms-retry-after-ms")


def gaps(server: AzureTestServer) -> list[float]:
    """Seconds between consecutive arrivals."""
    return [b - a for a, b in itertools.pairwise(r.received_at for r in server.requests)]


# -- 429 storm with each Retry-After header ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("header", MS_HEADERS)
def test_fault_429_storm_honours_each_retry_after_header(
    server: AzureTestServer, header: RetryAfterHeader, mode: Mode
) -> None:
    storm = [HttpError(429, retry_after=0.08, retry_after_headers=header)] * 3
    server.script(*storm, Reply("after the storm"))
    sink = ListSink()
    seen = run(build("gateway", Target(server.endpoint, max_retries=3, sink=sink)), mode)

    assert seen.error is None and seen.text == "after the storm"
    assert server.request_count == 4
    assert all(gap >= 0.08 for gap in gaps(server)), "never sooner than Azure asked"
    waits = [e.data["retry_after"] for e in sink.named("provider:attempt_failed")]
    assert waits == [0.08, 0.08, 0.08], "each 429's Retry-After was read from this header"


def test_fault_429_storm_honours_whole_seconds_retry_after(server: AzureTestServer) -> None:
    # "retry-after" carries whole seconds: 0.3 is announced as 1.
    server.script(*[HttpError(429, retry_after=0.3, retry_after_headers="retry-after")] * 2, Reply("after a while"))
    seen = run(build("gateway", Target(server.endpoint, max_retries=2)), "complete")

    assert seen.error is None and seen.text == "after a while"
    assert server.request_count == 3
    assert all(gap >= 1.0 for gap in gaps(server))


# -- Retry-After longer than the deadline -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_fault_retry_after_beyond_deadline_fails_at_once_with_the_wait(
    server: AzureTestServer, channel: Channel, mode: Mode
) -> None:
    server.script(HttpError(429, retry_after=120, retry_after_headers="retry-after"), NOT_REACHED)
    client = build(channel, Target(server.endpoint, max_retries=5, deadline=10.0))
    started = time.monotonic()
    seen = run(client, mode)

    assert time.monotonic() - started < 5.0, "waiting 120 s cannot fit a 10 s deadline: fail now"
    assert isinstance(seen.error, RateLimitError)
    assert seen.error.retry_after == 120.0 and seen.error.status == 429
    if channel == "langchain":
        assert isinstance(seen.error, ModelRateLimitError), "LangChain code catches its own type"
    assert server.request_count == 1


# -- every deployment cooling down ------------------------------------------------------------------------------------

WAITS = {"east": 0.9, "west": 0.3, "north": 0.7}


def _throttle_all(regions: dict[str, AzureTestServer], scale: float = 1.0) -> None:
    for name, server in regions.items():
        server.script(HttpError(429, retry_after=WAITS[name] * scale, retry_after_headers="retry-after-ms"))


@pytest.mark.parametrize("mode", MODES)
def test_fault_every_deployment_cooling_down_waits_for_the_first_back(
    regions: dict[str, AzureTestServer], routed: Callable[..., Gateway], mode: Mode
) -> None:
    _throttle_all(regions)
    started = time.monotonic()
    seen = run(routed(REGIONS), mode)
    elapsed = time.monotonic() - started

    assert seen.error is None and seen.text == "You said: hello"
    assert counts(regions) == {"east": 1, "west": 2, "north": 1}, "each tried once, then the first back: west"
    first, second = (r.received_at for r in regions["west"].requests)
    assert second - first >= WAITS["west"], "never sooner than Azure asked"
    assert elapsed < WAITS["north"], "it waited for the shortest Retry-After, not a longer one"


def test_fault_every_deployment_cooling_down_beyond_deadline_fails_at_once_with_the_shortest_wait(
    regions: dict[str, AzureTestServer], routed: Callable[..., Gateway]
) -> None:
    _throttle_all(regions, scale=10)  # the shortest wait, west's, is 3 s: twice the deadline
    gateway = routed(REGIONS, policy=RetryPolicy(deadline=1.5))
    started = time.monotonic()
    first = run(gateway, "complete")
    again = run(gateway, "acomplete")

    assert time.monotonic() - started < 1.5, "neither call waited"
    assert isinstance(first.error, RateLimitError) and isinstance(again.error, RateLimitError)
    assert first.error.retry_after is not None and 2.0 < first.error.retry_after <= 3.0, "west's wait, what is left"
    assert all(key_of(name) in first.error.message for name in REGIONS), "the error lists every deployment"
    assert counts(regions) == {"east": 1, "west": 1, "north": 1}, "all cooling: the second call sent nothing"


# -- retry amplification ------------------------------------------------------------------------------------------

PERSISTENT: dict[str, Outcome] = {
    "429": HttpError(429, retry_after=0.01, retry_after_headers="retry-after-ms"),
    "503": HttpError(503, retry_after=0.01, retry_after_headers="retry-after-ms"),
}


@pytest.mark.parametrize("status", sorted(PERSISTENT))
@pytest.mark.parametrize("max_retries", [0, 3])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_fault_retry_amplification_makes_exactly_max_retries_plus_one_attempts(
    server: AzureTestServer, channel: Channel, mode: Mode, max_retries: int, status: str
) -> None:
    # The anchors stack the SDK's retries under their own: LlamaIndex's max_retries=2 made 6 attempts.
    server.set_default(PERSISTENT[status])
    seen = run(build(channel, Target(server.endpoint, max_retries=max_retries)), mode)

    assert isinstance(seen.error, RateLimitError if status == "429" else ServerError)
    assert server.request_count == max_retries + 1


@pytest.mark.parametrize("max_retries", [0, 2])
def test_fault_retry_amplification_over_a_route_is_bounded_by_deployments_plus_retries(
    regions: dict[str, AzureTestServer], routed: Callable[..., Gateway], max_retries: int
) -> None:
    for server in regions.values():
        server.set_default(PERSISTENT["429"])
    sink = ListSink()
    seen = run(routed(REGIONS, policy=fast_retries(max_retries), sink=sink), "complete")

    assert isinstance(seen.error, RateLimitError)
    # A 429 is a free failover: each deployment once, then max_retries more, and not one attempt beyond.
    assert sum(counts(regions).values()) == len(REGIONS) + max_retries
    (outcome,) = sink.named("provider:outcome")
    assert outcome.data["attempts"] == len(REGIONS) + max_retries
