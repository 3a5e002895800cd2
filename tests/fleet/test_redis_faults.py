"""Redis failing never fails a call: killed mid-run and restarted, frozen (every operation times out), or
flushed; the gateways keep answering from their own view, say so once, and rejoin the fleet view."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from shared_core import (
    ChatRequest,
    DeploymentConfig,
    EndpointConfig,
    Gateway,
    GatewayError,
    ListSink,
    Message,
    RetryPolicy,
    load_config,
)
from shared_core.transport.redis_health import RedisHealthStore
from tests.fleet.redis_server import RedisServer
from tests.fleet.workers import KEY
from tests.support.azure_server import AzureTestServer, DeploymentInfo

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

DEPLOYMENT = "gpt-4o-mini"
EAST = f"east/{DEPLOYMENT}"


@pytest.fixture(scope="module")
def regions() -> Iterator[tuple[AzureTestServer, AzureTestServer]]:
    servers = tuple(AzureTestServer(api_key=KEY, deployments={DEPLOYMENT: DeploymentInfo()}) for _ in range(2))
    for server in servers:
        server.start()
    try:
        yield servers  # type: ignore[misc]
    finally:
        for server in servers:
            server.stop()


def gateway(regions: tuple[AzureTestServer, AzureTestServer], store: RedisHealthStore) -> Gateway:
    deployment = (DeploymentConfig(DEPLOYMENT, model=DEPLOYMENT),)
    endpoints = [
        EndpointConfig(name, server.endpoint, api_key=SecretStr(KEY), priority=n, deployments=deployment)
        for n, (name, server) in enumerate(zip(("east", "west"), regions, strict=True))
    ]
    config = load_config(env={}, endpoints=endpoints, default_deployment=DEPLOYMENT, max_tokens=50)
    return Gateway(config, health=store, retry_policy=RetryPolicy(max_retries=2, base_delay=0.01, deadline=10.0))


class Caller:
    """Calls a gateway in a loop on a thread until stopped; counts answers, failures and the slowest call."""

    def __init__(self, gw: Gateway) -> None:
        self.gw, self.answered, self.failed, self.slowest = gw, 0, list[str](), 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                result = self.gw.complete(ChatRequest((Message.user(f"call {n}"),)))
                self.answered += result.text == f"You said: call {n}"
            except GatewayError as error:
                self.failed.append(f"{type(error).__name__}: {error.message[:200]}")
            self.slowest = max(self.slowest, time.perf_counter() - started)
            n += 1
            time.sleep(0.005)

    def __enter__(self) -> Caller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def wait_until(check: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_redis_killed_mid_run_and_restarted_fails_no_call_and_restores_the_fleet_view(
    regions: tuple[AzureTestServer, AzureTestServer], redis_server: RedisServer, redis_url: str
) -> None:
    sinks = [ListSink(), ListSink()]
    stores = [RedisHealthStore(url=redis_server.url, refresh_interval=0.1, rejoin_interval=0.2, sink=s) for s in sinks]
    try:
        with Caller(gateway(regions, stores[0])) as one, Caller(gateway(regions, stores[1])) as two:
            time.sleep(0.4)
            redis_server.kill()
            time.sleep(0.3)
            # Learned while Redis is away: only the store that saw it knows, until the fleet is back.
            stores[0].record_failure(EAST, "rate_limit", 30.0, message="RateLimitError (HTTP 429)")
            time.sleep(0.5)
            redis_server.start()
            assert wait_until(lambda: all(s.named("health:fleet_rejoined") for s in sinks))
            time.sleep(0.3)
        assert one.failed == [] and two.failed == [], (one.failed + two.failed)[:3]
        assert one.answered > 20 and two.answered > 20
        assert [len(s.named("health:fleet_fallback")) for s in sinks] == [1, 1], "one fallback event per store"
        assert not stores[1].state(EAST).usable, "the cooldown learned while apart reached the other store"
        # And the restored fleet view is live: a failure one store learns now reaches the other by pub/sub.
        stores[1].record_failure("west/gpt-4o-mini", "rate_limit", 5.0)
        assert wait_until(lambda: not stores[0].state("west/gpt-4o-mini").usable, timeout=2.0)
        print(f"\ncalls answered while Redis was killed and restarted: {one.answered + two.answered}, failed: 0")
    finally:
        for store in stores:
            store.close()


def test_redis_frozen_times_out_fast_and_fails_no_call(
    regions: tuple[AzureTestServer, AzureTestServer], redis_server: RedisServer, redis_url: str
) -> None:
    sink = ListSink()
    store = RedisHealthStore(url=redis_server.url, refresh_interval=0.1, rejoin_interval=0.2, sink=sink)
    assert redis_server.process is not None
    pid = redis_server.process.pid
    try:
        with Caller(gateway(regions, store)) as caller:
            time.sleep(0.3)
            os.kill(pid, signal.SIGSTOP)  # Redis accepts nothing and answers nothing: every operation times out
            try:
                time.sleep(0.2)
                store.record_failure(EAST, "server", None)  # a write-through that must give up in op_timeout
                time.sleep(0.4)
            finally:
                os.kill(pid, signal.SIGCONT)
            assert wait_until(lambda: sink.named("health:fleet_rejoined"))
        assert caller.failed == []
        assert len(sink.named("health:fleet_fallback")) == 1
        assert caller.slowest < 1.0, f"no call waited on the frozen Redis for long ({caller.slowest:.3f} s)"
    finally:
        store.close()


def test_redis_flushed_is_rejoined_with_what_this_process_knows(redis_server: RedisServer, redis_url: str) -> None:
    sink = ListSink()
    store = RedisHealthStore(url=redis_server.url, refresh_interval=0.05, sink=sink)
    try:
        store.record_failure(EAST, "rate_limit", 30.0)
        time.sleep(0.2)  # the store has joined the fleet (read its epoch) before Redis loses everything
        redis_server.client().flushall()  # type: ignore[attr-defined]
        assert wait_until(lambda: sink.named("health:fleet_rejoined"))
        other = RedisHealthStore(url=redis_server.url)
        assert not other.state(EAST).usable, "the cooldown was written back after the flush"
        other.close()
        assert sink.named("health:fleet_fallback") == []
    finally:
        store.close()
