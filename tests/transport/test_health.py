"""Deployment health: cooldowns, the circuit breaker, broken marks and latency, on an injected clock."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Iterator

import pytest

from shared_core.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConnectionFailedError,
    ContentFilterError,
    DeploymentNotFoundError,
    GatewayError,
    InvalidResponseError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    StreamInterruptedError,
)
from shared_core.transport.health import (
    DeploymentHealth,
    FailureKind,
    HealthPolicy,
    HealthStore,
    InMemoryHealthStore,
    deployment_key,
    failure_kind_of,
)

KEY = "eastus/gpt-4o"
POLICY = HealthPolicy(
    failure_threshold=3,
    failure_window=10.0,
    open_for=5.0,
    backoff_factor=2.0,
    max_open_for=30.0,
    trial_timeout=20.0,
    default_cooldown=1.5,
    latency_alpha=0.25,
)


class FakeClock:
    def __init__(self, start: float = 1_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Switch threads every microsecond so that a missing lock shows up as a lost update, not by luck."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def make_store(policy: HealthPolicy = POLICY) -> tuple[InMemoryHealthStore, FakeClock]:
    clock = FakeClock()
    return InMemoryHealthStore(policy, now=clock), clock


def fail(store: InMemoryHealthStore, kind: FailureKind, times: int, *, message: str | None = None) -> DeploymentHealth:
    """Record ``times`` failures of one kind; the health the last one left."""
    state = store.state(KEY)
    for _ in range(times):
        state = store.record_failure(KEY, kind, None, message=message)
    return state


def open_circuit(store: InMemoryHealthStore) -> None:
    fail(store, "server", POLICY.failure_threshold, message="HTTP 503")


def test_deployment_key_joins_endpoint_and_deployment() -> None:
    assert deployment_key("eastus", "gpt-4o") == "eastus/gpt-4o"
    assert deployment_key("eastus", "gpt-4o") != deployment_key("westeurope", "gpt-4o")


def test_health_unknown_deployment_is_healthy_and_admitted() -> None:
    store, _ = make_store()
    state = store.state(KEY)
    assert (state.status, state.usable, state.available_in, state.latency) == ("healthy", True, 0.0, None)
    assert store.admit(KEY)
    assert not store.try_acquire_trial(KEY)


def test_health_cooldown_lasts_exactly_retry_after() -> None:
    store, clock = make_store()
    left = store.record_failure(KEY, "rate_limit", 10.0, message="429")
    assert (left.status, left.usable, left.available_in) == ("cooling_down", False, 10.0)
    clock.advance(9.999)
    assert not store.admit(KEY)
    assert store.state(KEY).available_in == pytest.approx(0.001)
    clock.advance(0.001)
    assert store.admit(KEY)
    assert store.state(KEY).status == "healthy"


def test_health_cooldown_is_not_shortened_by_a_later_shorter_retry_after() -> None:
    store, clock = make_store()
    store.record_failure(KEY, "rate_limit", 10.0)
    clock.advance(1.0)
    store.record_failure(KEY, "rate_limit", 2.0)
    clock.advance(5.0)
    assert not store.admit(KEY)
    clock.advance(4.0)
    assert store.admit(KEY)


def test_health_cooldown_is_extended_by_a_later_longer_retry_after() -> None:
    store, clock = make_store()
    store.record_failure(KEY, "rate_limit", 2.0)
    store.record_failure(KEY, "rate_limit", 7.0)
    clock.advance(6.9)
    assert not store.admit(KEY)
    clock.advance(0.1)
    assert store.admit(KEY)


def test_health_cooldown_without_retry_after_uses_the_default() -> None:
    store, clock = make_store()
    assert store.record_failure(KEY, "rate_limit", None).available_in == POLICY.default_cooldown
    clock.advance(POLICY.default_cooldown)
    assert store.admit(KEY)


def test_health_server_error_with_retry_after_cools_down_and_without_does_not() -> None:
    store, _ = make_store()
    assert store.record_failure(KEY, "server", None).usable
    assert store.record_failure("other/dep", "server", 4.0).available_in == 4.0


def test_health_circuit_stays_closed_below_the_threshold() -> None:
    store, _ = make_store()
    state = fail(store, "connection", POLICY.failure_threshold - 1)
    assert (state.status, state.consecutive_failures) == ("healthy", POLICY.failure_threshold - 1)
    assert store.admit(KEY)


@pytest.mark.parametrize("kind", ["server", "timeout", "connection"])
def test_health_circuit_opens_after_threshold_consecutive_failures(kind: FailureKind) -> None:
    store, clock = make_store()
    state = fail(store, kind, POLICY.failure_threshold)
    assert (state.status, state.usable, state.available_in, state.circuit_trips) == (
        "circuit_open",
        False,
        POLICY.open_for,
        1,
    )
    assert not store.admit(KEY)
    clock.advance(POLICY.open_for - 0.01)
    assert not store.admit(KEY)
    assert not store.try_acquire_trial(KEY)


def test_health_success_breaks_the_failure_streak() -> None:
    store, _ = make_store()
    fail(store, "server", POLICY.failure_threshold - 1)
    store.record_success(KEY, 0.2)
    state = fail(store, "server", POLICY.failure_threshold - 1)
    assert state.status == "healthy"


def test_health_failure_streak_restarts_after_the_window() -> None:
    store, clock = make_store()
    fail(store, "server", POLICY.failure_threshold - 1)
    clock.advance(POLICY.failure_window + 0.1)
    state = store.record_failure(KEY, "server", None)
    assert (state.status, state.consecutive_failures) == ("healthy", 1)


def test_health_failures_within_the_window_open_the_circuit() -> None:
    store, clock = make_store()
    state = store.state(KEY)
    for _ in range(POLICY.failure_threshold):
        clock.advance(POLICY.failure_window / POLICY.failure_threshold - 0.01)
        state = store.record_failure(KEY, "server", None)
    assert state.status == "circuit_open"


def test_health_half_open_admits_exactly_one_trial() -> None:
    store, clock = make_store()
    open_circuit(store)
    clock.advance(POLICY.open_for)
    assert store.state(KEY).status == "half_open"
    assert store.state(KEY).usable
    assert store.admit(KEY)
    assert not store.admit(KEY)
    assert not store.try_acquire_trial(KEY)
    state = store.state(KEY)
    assert (state.status, state.trial_in_flight, state.usable) == ("half_open", True, False)
    assert state.available_in == POLICY.trial_timeout


@pytest.mark.parametrize("method", ["admit", "try_acquire_trial"])
@pytest.mark.usefixtures("frequent_thread_switches")
def test_health_half_open_trial_goes_to_one_of_50_racing_threads(method: str) -> None:
    store, clock = make_store()
    open_circuit(store)
    clock.advance(POLICY.open_for)
    barrier = threading.Barrier(50)
    winners: list[bool] = []
    winners_lock = threading.Lock()

    def race() -> None:
        barrier.wait()
        won = getattr(store, method)(KEY)
        with winners_lock:
            winners.append(won)

    threads = [threading.Thread(target=race) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 50
    assert winners.count(True) == 1


async def test_health_half_open_trial_goes_to_one_of_many_tasks() -> None:
    store, clock = make_store()
    open_circuit(store)
    clock.advance(POLICY.open_for)

    async def attempt() -> bool:
        await asyncio.sleep(0)
        return store.admit(KEY)

    results = await asyncio.gather(*(attempt() for _ in range(50)))
    assert results.count(True) == 1


def test_health_trial_success_closes_the_circuit() -> None:
    store, clock = make_store()
    open_circuit(store)
    clock.advance(POLICY.open_for)
    assert store.try_acquire_trial(KEY)
    store.record_success(KEY, 0.3)
    state = store.state(KEY)
    assert (state.status, state.circuit_trips, state.trial_in_flight, state.consecutive_failures) == (
        "healthy",
        0,
        False,
        0,
    )
    assert all(store.admit(KEY) for _ in range(5))


def test_health_trial_failure_reopens_for_longer_up_to_the_cap() -> None:
    store, clock = make_store()
    open_circuit(store)
    periods: list[float | None] = []
    for _ in range(4):
        clock.advance(30.0)
        assert store.try_acquire_trial(KEY)
        periods.append(store.record_failure(KEY, "server", None).available_in)
    assert periods == [10.0, 20.0, 30.0, 30.0]
    assert store.state(KEY).circuit_trips == 5


def test_health_closed_circuit_opens_again_at_the_base_period() -> None:
    store, clock = make_store()
    open_circuit(store)
    clock.advance(POLICY.open_for)
    assert store.admit(KEY)
    store.record_success(KEY, None)
    open_circuit(store)
    assert store.state(KEY).available_in == POLICY.open_for


def test_health_unreported_trial_is_handed_on_after_the_trial_timeout() -> None:
    store, clock = make_store()
    open_circuit(store)
    clock.advance(POLICY.open_for)
    assert store.try_acquire_trial(KEY)
    clock.advance(POLICY.trial_timeout - 0.1)
    assert not store.try_acquire_trial(KEY)
    clock.advance(0.1)
    assert store.try_acquire_trial(KEY)


def test_health_released_trial_goes_to_the_next_caller() -> None:
    store, clock = make_store()
    open_circuit(store)
    clock.advance(POLICY.open_for)
    assert store.try_acquire_trial(KEY)
    store.release_trial(KEY)
    assert store.try_acquire_trial(KEY)


def test_health_throttled_trial_releases_the_trial_after_the_cooldown() -> None:
    store, clock = make_store()
    open_circuit(store)
    clock.advance(POLICY.open_for)
    assert store.try_acquire_trial(KEY)
    state = store.record_failure(KEY, "rate_limit", 2.0)
    assert (state.status, state.circuit_trips) == ("cooling_down", 1)
    assert not store.try_acquire_trial(KEY)
    clock.advance(2.0)
    assert store.try_acquire_trial(KEY)


def test_health_late_failure_while_open_does_not_extend_the_open_period() -> None:
    store, clock = make_store()
    open_circuit(store)
    clock.advance(1.0)
    state = store.record_failure(KEY, "connection", None)
    assert (state.available_in, state.circuit_trips) == (POLICY.open_for - 1.0, 1)


@pytest.mark.parametrize(("kind", "message"), [("auth", "HTTP 401 invalid key"), ("not_found", "DeploymentNotFound")])
def test_health_configuration_errors_mark_the_deployment_broken(
    kind: FailureKind, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    store, clock = make_store()
    with caplog.at_level(logging.ERROR, logger="shared_core.transport.health"):
        state = store.record_failure(KEY, kind, None, message=message)
    assert (state.status, state.usable, state.available_in) == ("broken", False, None)
    assert state.broken is not None
    assert (state.broken.kind, state.broken.message, state.last_error) == (kind, message, message)
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert KEY in caplog.text and message in caplog.text
    clock.advance(3_600.0)
    assert not store.admit(KEY)
    assert not store.try_acquire_trial(KEY)


def test_health_broken_survives_success_and_circuit_changes_until_reset() -> None:
    store, _ = make_store()
    store.record_failure(KEY, "auth", None, message="HTTP 403")
    store.record_success(KEY, 0.1)
    assert store.state(KEY).status == "broken"
    store.reset(KEY)
    assert store.state(KEY).status == "healthy"
    assert store.admit(KEY)


def test_health_reset_without_key_forgets_every_deployment() -> None:
    store, _ = make_store()
    store.record_failure("a/x", "auth", None)
    store.record_failure("b/y", "rate_limit", 30.0)
    store.reset()
    assert store.snapshot() == {}
    assert store.admit("a/x") and store.admit("b/y")


def test_health_other_failures_leave_health_unchanged_but_keep_the_message() -> None:
    store, _ = make_store()
    state = fail(store, "other", POLICY.failure_threshold + 2, message="HTTP 400 bad request")
    assert (state.status, state.consecutive_failures, state.usable) == ("healthy", 0, True)
    assert (state.last_failure, state.last_error) == ("other", "HTTP 400 bad request")


def test_health_latency_average_decays_toward_new_samples() -> None:
    store, _ = make_store()
    store.record_success(KEY, 1.0)
    assert store.state(KEY).latency == 1.0
    store.record_success(KEY, 0.0)
    assert store.state(KEY).latency == pytest.approx(0.75)
    store.record_success(KEY, 0.0)
    assert store.state(KEY).latency == pytest.approx(0.5625)
    store.record_success(KEY, None)
    store.record_success(KEY, float("nan"))
    state = store.state(KEY)
    assert (state.latency, state.latency_samples) == (pytest.approx(0.5625), 3)


def test_health_snapshot_reads_known_and_requested_keys() -> None:
    store, _ = make_store()
    store.record_failure("a/x", "rate_limit", 5.0)
    store.record_success("b/y", 0.4)
    assert set(store.snapshot()) == {"a/x", "b/y"}
    picked = store.snapshot(["a/x", "c/z"])
    assert set(picked) == {"a/x", "c/z"}
    assert (picked["a/x"].status, picked["c/z"].status) == ("cooling_down", "healthy")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (RateLimitError("429", status=429, retry_after=3.0), "rate_limit"),
        (ServerError("503", status=503), "server"),
        (InvalidResponseError("HTML page from a proxy"), "server"),
        (RequestTimeoutError("read timeout"), "timeout"),
        (ConnectionFailedError("refused"), "connection"),
        (StreamInterruptedError("cut"), "connection"),
        (AuthenticationError("bad key", status=401), "auth"),
        (AuthenticationError("forbidden", status=403), "auth"),
        (AuthenticationError("no token from the credential"), "other"),
        (DeploymentNotFoundError("no such deployment", status=404), "not_found"),
        (BadRequestError("400", status=400), "other"),
        (ContentFilterError("filtered", side="prompt", status=400), "other"),
    ],
)
def test_failure_kind_of_classifies_each_error(error: GatewayError, kind: FailureKind) -> None:
    assert failure_kind_of(error) == kind


@pytest.mark.parametrize(
    "overrides",
    [
        {"failure_threshold": 0},
        {"failure_window": 0.0},
        {"open_for": -1.0},
        {"backoff_factor": 0.5},
        {"open_for": 10.0, "max_open_for": 5.0},
        {"latency_alpha": 0.0},
        {"latency_alpha": 1.5},
        {"trial_timeout": float("inf")},
    ],
)
def test_health_policy_rejects_values_out_of_range(overrides: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError, match="health policy"):
        HealthPolicy(**overrides)  # type: ignore[arg-type]


def test_health_policy_open_period_grows_and_is_capped() -> None:
    policy = HealthPolicy(open_for=2.0, backoff_factor=3.0, max_open_for=50.0)
    assert [policy.open_period(n) for n in (1, 2, 3, 4, 500)] == [2.0, 6.0, 18.0, 50.0, 50.0]


def test_health_in_memory_store_serves_the_router_through_the_protocol() -> None:
    def route_once(health: HealthStore, key: str) -> str:
        if not health.admit(key):
            return "skipped"
        health.record_failure(key, "rate_limit", 2.0, message="429 Too Many Requests")
        return health.state(key).status

    store, clock = make_store()
    assert route_once(store, KEY) == "cooling_down"
    assert route_once(store, KEY) == "skipped"
    clock.advance(2.0)
    assert route_once(store, KEY) == "cooling_down"


def test_health_cooldown_is_capped_at_an_hour_by_default() -> None:
    # One 429 with Retry-After: 1000000 took a region out for 11.6 days (issue 12 item 5).
    store, clock = make_store()
    left = store.record_failure(KEY, "rate_limit", 1_000_000.0, message="429")
    assert left.available_in == 3600.0
    clock.advance(3600.0)
    assert store.admit(KEY)


def test_health_cooldown_cap_is_configurable_and_reaches_the_gateway_store() -> None:
    from shared_core import Gateway, load_config

    store, _ = make_store(HealthPolicy(max_cooldown=60.0))
    assert store.record_failure(KEY, "rate_limit", 1_000_000.0).available_in == 60.0
    assert store.record_failure(KEY + "2", "rate_limit", 5.0).available_in == 5.0, "shorter waits are exact"
    config = load_config(env={"AZURE_OPENAI_MAX_COOLDOWN": "90"}, endpoint="https://x.openai.azure.com", api_key="k")
    gateway = Gateway(config)
    assert isinstance(gateway.health, InMemoryHealthStore) and gateway.health.policy.max_cooldown == 90.0
    with pytest.raises(ConfigurationError):
        HealthPolicy(max_cooldown=-1.0)
