"""Fault matrix, regional outages: a refused connection, a name that does not resolve and a 503 on the
primary region, each failing over by priority; and the timeout that fails over exactly once.

Three emulated regions (east, west, north) serve one model; ``dead`` (a port nobody listens on) and ``dns``
(``https://nonexistent.invalid``, failed by the ``unresolvable_names`` resolver without a query leaving the
host) stand in for a region that is down. Which region received what is read from the emulators.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from langchain_core.exceptions import ModelConnectionError

from shared_core import ConnectionFailedError, Gateway, ListSink, ServerError, Timeouts
from tests.faults.channels import CHANNELS, MODES, Channel, Mode, Target, build, run
from tests.faults.regions import REGIONS, UNRESOLVABLE, closed_port_url, counts, key_of
from tests.support.azure_server import AzureTestServer, HttpError, Reply

pytestmark = pytest.mark.usefixtures("unresolvable_names")

# The primary region's stand-in per outage; a 503 comes from the real east region.
PRIMARY = {"refused": "dead", "dns": "dns", "503": "east"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("outage", sorted(PRIMARY))
def test_fault_regional_outage_fails_over_by_priority(
    regions: dict[str, AzureTestServer], routed: Callable[..., Gateway], outage: str, mode: Mode
) -> None:
    primary = PRIMARY[outage]
    if outage == "503":
        regions["east"].set_default(HttpError(503))
    sink = ListSink()
    seen = run(routed((primary, "west", "north"), sink=sink), mode)

    assert seen.error is None and seen.text == "You said: hello"
    assert counts(regions) == {"east": 1 if outage == "503" else 0, "west": 1, "north": 0}, "next by priority"
    (failover,) = sink.named("provider:failover")
    assert (failover.data["from"], failover.data["to"]) == (key_of(primary), key_of("west"))
    # Azure never saw a refused or unresolved request, so moving on is free; a 503 may have been billed.
    expected = ("ServerError", False) if outage == "503" else ("ConnectionFailedError", True)
    assert (failover.data["error"], failover.data["free"]) == expected


@pytest.mark.parametrize("outage", sorted(PRIMARY))
def test_fault_regional_outage_lasting_many_calls_keeps_answering(
    regions: dict[str, AzureTestServer], routed: Callable[..., Gateway], outage: str
) -> None:
    primary = PRIMARY[outage]
    if outage == "503":
        regions["east"].set_default(HttpError(503))
    gateway = routed((primary, "west", "north"))
    results = [run(gateway, mode) for mode in MODES * 3]

    assert [s.error for s in results] == [None] * len(results)
    assert regions["west"].request_count == len(results) and regions["north"].request_count == 0
    assert gateway.health.state(key_of(primary)).status != "healthy", "the outage is remembered"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_fault_dns_failure_is_a_typed_connection_failure(channel: Channel, mode: Mode) -> None:
    started = time.monotonic()
    seen = run(build(channel, Target(UNRESOLVABLE, max_retries=1)), mode)

    assert isinstance(seen.error, ConnectionFailedError)
    assert "Name or service not known" in seen.error.message
    assert seen.error.endpoint == UNRESOLVABLE
    if channel == "langchain":
        assert isinstance(seen.error, ModelConnectionError)
    assert time.monotonic() - started < 5.0, "no hang on a name that does not resolve"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_fault_connection_refused_is_a_typed_connection_failure(channel: Channel, mode: Mode) -> None:
    dead = closed_port_url()
    seen = run(build(channel, Target(dead, max_retries=1)), mode)

    assert isinstance(seen.error, ConnectionFailedError)
    assert seen.error.endpoint == dead
    if channel == "langchain":
        assert isinstance(seen.error, ModelConnectionError)


def _drain(regions: dict[str, AzureTestServer]) -> None:
    # The regions still answer the requests nobody waits for; let them finish so they stop cleanly.
    deadline = time.monotonic() + 2.0
    while any(s.in_flight for s in regions.values()) and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.parametrize("mode", MODES)
def test_fault_failover_after_a_timeout_happens_once_and_is_reported(
    regions: dict[str, AzureTestServer], routed: Callable[..., Gateway], mode: Mode
) -> None:
    regions["east"].script(Reply("too late", first_byte_delay=0.6))
    regions["west"].script(Reply("too late", first_byte_delay=0.6))
    sink = ListSink()
    gateway = routed(REGIONS, sink=sink, timeouts=Timeouts(read=0.25, chunk=0.25))
    try:
        seen = run(gateway, mode)
    finally:
        _drain(regions)

    assert seen.error is None and seen.text == "You said: hello"
    # east timed out (Azure may be doing, and billing, the work): one failover to west; west's own timeout is
    # retried on west, never a second failover to north.
    assert counts(regions) == {"east": 1, "west": 2, "north": 0}
    (failover,) = sink.named("provider:failover")
    assert (failover.data["from"], failover.data["to"]) == (key_of("east"), key_of("west"))
    assert (failover.data["error"], failover.data["free"]) == ("RequestTimeoutError", False)
    assert "bill" in str(failover.data["reason"])


def test_fault_regional_outage_everywhere_fails_typed_listing_each_region(
    regions: dict[str, AzureTestServer], routed: Callable[..., Gateway]
) -> None:
    regions["east"].set_default(HttpError(503))
    seen = run(routed(("dead", "dns", "east")), "complete")

    assert isinstance(seen.error, ServerError | ConnectionFailedError)
    assert all(key_of(name) in seen.error.message for name in ("dead", "dns", "east"))
