"""Fault matrix, managed identity: tokens expiring during a long session, and a slow identity endpoint.

Azure rejects an expired (or revoked) token with 401; the package must refresh and carry on, never fail the
call. The emulator's own identity endpoint issues tokens that really expire (it refuses them afterwards); the
loopback identity server of ``tests/support`` issues long-lived ones, and the emulator is told when to stop
accepting each, as Azure does when a token is revoked or the clocks disagree. A slow identity endpoint must
never block the event loop: a ticker task measures the loop's longest stall while calls fetch their token.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator

import pytest

from azure_openai_emulator import ManagedIdentity
from shared_core import ListSink
from tests.faults.channels import CHANNELS, MODES, Channel, Client, Mode, Seen, Target, arun, build, run
from tests.support.azure_server import AzureTestServer
from tests.support.identity_server import MANAGED_IDENTITY_ENV_VARS, IdentityServer

TOKEN_LIFETIME = 1.5
STALL_BOUND = 0.1


@pytest.fixture(scope="module")
def identity_emulator() -> Iterator[AzureTestServer]:
    """An emulator serving its own managed identity, whose tokens expire after about a second."""
    with AzureTestServer(api_key=None, managed_identity=ManagedIdentity(token_lifetime=TOKEN_LIFETIME)) as server:
        yield server


@pytest.fixture
def short_lived_tokens(identity_emulator: AzureTestServer, monkeypatch: pytest.MonkeyPatch) -> AzureTestServer:
    for name in MANAGED_IDENTITY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in identity_emulator.env().items():
        if name.startswith("IDENTITY_"):
            monkeypatch.setenv(name, value)
    identity_emulator.reset()
    return identity_emulator


def _bearers(server: AzureTestServer) -> list[str]:
    return [r.headers.get("authorization", "") for r in server.requests]


def test_fault_token_expiring_during_long_session_is_refreshed_not_failed(
    short_lived_tokens: AzureTestServer,
) -> None:
    sink = ListSink()
    gateway = build("gateway", Target(short_lived_tokens.endpoint, managed_identity=True, sink=sink))
    session_end = time.monotonic() + 3 * TOKEN_LIFETIME
    results = []
    while time.monotonic() < session_end:
        results += [run(gateway, mode) for mode in MODES]
        time.sleep(0.05)

    assert [s.error for s in results] == [None] * len(results), "no call failed across the tokens' expiry"
    assert not [e for e in sink.named("provider:attempt_failed") if e.data.get("status") == 401], "never sent stale"
    assert short_lived_tokens.identity is not None
    assert len(set(_bearers(short_lived_tokens))) >= 3, "the session outlived several tokens"


@pytest.fixture
def identity(monkeypatch: pytest.MonkeyPatch) -> Iterator[IdentityServer]:
    with IdentityServer(token_lifetime=3600) as srv:
        srv.install(monkeypatch)
        yield srv


@pytest.mark.parametrize("channel", CHANNELS)
def test_fault_token_revoked_during_long_session_is_refreshed_once_per_expiry(
    server: AzureTestServer, identity: IdentityServer, channel: Channel
) -> None:
    server.api_key = None
    sink = ListSink()
    client = build(channel, Target(server.endpoint, managed_identity=True, sink=sink))
    expiries = 3
    outcomes = []
    for generation in range(1, expiries + 2):
        server.bearer_tokens = {f"mi-token-{generation}"}  # Azure stops accepting the previous token
        outcomes += [run(client, mode) for mode in MODES]

    assert [s.error for s in outcomes] == [None] * len(outcomes), "each expiry cost a refresh, never a call"
    rejected = [e for e in sink.named("provider:attempt_failed") if e.data.get("status") == 401]
    assert len(rejected) == expiries, "one 401 per expiry, then the refreshed token"
    assert identity.request_count == 1 + expiries, "one token fetch per token"
    assert server.request_count == len(outcomes) + expiries


async def _longest_stall(work: asyncio.Future[list[Seen]], tick: float = 0.005) -> float:
    """Run a ticker beside ``work``; the longest it was kept from running beyond its own sleep."""
    longest = 0.0
    last = time.perf_counter()
    while not work.done():
        await asyncio.sleep(tick)
        now = time.perf_counter()
        longest = max(longest, now - last - tick)
        last = now
    await work
    return longest


async def _acalls(client: Client) -> list[Seen]:
    modes: tuple[Mode, ...] = ("acomplete", "astream") * 5
    return list(await asyncio.gather(*(arun(client, mode) for mode in modes)))


@pytest.mark.parametrize("channel", CHANNELS)
def test_fault_slow_identity_endpoint_keeps_the_event_loop_responsive(
    server: AzureTestServer, monkeypatch: pytest.MonkeyPatch, channel: Channel
) -> None:
    server.api_key = None
    server.bearer_tokens = {"mi-token-1"}
    with IdentityServer(token_lifetime=3600, delay=0.4) as slow:
        slow.install(monkeypatch)
        client = build(channel, Target(server.endpoint, managed_identity=True))

        async def measure() -> tuple[float, list[Seen]]:
            work = asyncio.ensure_future(_acalls(client))
            stall = await _longest_stall(work)
            return stall, work.result()

        # A full collection of what earlier tests left behind would stall any loop; it is not what is measured.
        gc.collect()
        gc.freeze()
        try:
            started = time.perf_counter()
            stall, seen = asyncio.run(measure())
        finally:
            gc.unfreeze()
        elapsed = time.perf_counter() - started
        fetches = slow.request_count
    print(
        f"\n{channel}: longest event-loop stall {stall * 1000:.1f} ms while a 400 ms token fetch ran ({elapsed:.2f} s)"
    )

    assert [s.error for s in seen] == [None] * len(seen)
    assert fetches == 1, "ten concurrent calls, one token fetch"
    assert elapsed >= 0.4, "the calls did wait for the slow endpoint"
    assert stall < STALL_BOUND, f"the event loop stalled {stall * 1000:.0f} ms"
