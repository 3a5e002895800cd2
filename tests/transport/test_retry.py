"""Tests for the retry policy: which errors, how many times, how long, and the deadline."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_core.errors import (
    AuthenticationError,
    BadRequestError,
    ConnectionFailedError,
    ContentFilterError,
    ContextLengthExceededError,
    DeploymentNotFoundError,
    GatewayError,
    InvalidResponseError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    StreamInterruptedError,
    UnsupportedParameterError,
)
from shared_core.transport.retry import RetryDecision, RetryPolicy

POLICY = RetryPolicy()


def decide(
    error: GatewayError,
    attempt: int = 0,
    elapsed: float = 0.0,
    policy: RetryPolicy = POLICY,
    *,
    stream_started: bool = False,
    seed: int = 0,
) -> RetryDecision:
    return policy.decide(error, attempt, elapsed, stream_started=stream_started, rng=random.Random(seed))


RETRYABLE: list[GatewayError] = [
    RateLimitError("throttled", status=429),
    ServerError("boom", status=500),
    ServerError("bad gateway", status=502),
    ServerError("unavailable", status=503),
    ServerError("gateway timeout", status=504),
    RequestTimeoutError("timed out", status=408),
    RequestTimeoutError("read timeout"),
    ConnectionFailedError("connection reset"),
]
NOT_RETRYABLE: list[GatewayError] = [
    AuthenticationError("401", status=401),
    AuthenticationError("403", status=403),
    BadRequestError("bad", status=400),
    BadRequestError("resource not found", status=404),
    DeploymentNotFoundError("missing", status=404),
    ContextLengthExceededError("too long", status=400),
    UnsupportedParameterError("temperature", status=400),
    ContentFilterError("filtered", side="prompt", status=400),
    ContentFilterError("filtered", side="completion"),
    ServerError("not implemented", status=501),
    ServerError("http version", status=505),
    InvalidResponseError("html", status=200),
    StreamInterruptedError("broke"),
]


@pytest.mark.parametrize("error", RETRYABLE, ids=lambda e: f"{type(e).__name__}-{e.status}")
def test_retry_policy_transient_error_retried(error: GatewayError) -> None:
    decision = decide(error)
    assert decision.retry
    assert decision.delay > 0
    assert type(error).__name__ in decision.reason


@pytest.mark.parametrize("error", NOT_RETRYABLE, ids=lambda e: f"{type(e).__name__}-{e.status}")
def test_retry_policy_permanent_error_not_retried(error: GatewayError) -> None:
    decision = decide(error)
    assert not decision.retry
    assert decision.delay == 0.0
    assert "not transient" in decision.reason


@pytest.mark.parametrize("error", RETRYABLE, ids=lambda e: f"{type(e).__name__}-{e.status}")
def test_retry_policy_never_after_stream_started(error: GatewayError) -> None:
    decision = decide(error, stream_started=True)
    assert not decision.retry
    assert "stream had started" in decision.reason


def test_retry_policy_stops_at_max_retries() -> None:
    error = ServerError("boom", status=503)
    assert decide(error, attempt=1).retry
    stop = decide(error, attempt=2)
    assert not stop.retry
    assert "all 2 retries used" in stop.reason


def test_retry_policy_zero_max_retries_never_retries() -> None:
    assert not decide(RateLimitError("x", status=429, retry_after=1.0), policy=RetryPolicy(max_retries=0)).retry


def test_retry_policy_honours_retry_after_with_non_negative_jitter() -> None:
    error = RateLimitError("x", status=429, retry_after=6.0)
    delays = [decide(error, seed=seed).delay for seed in range(50)]
    assert min(delays) >= 6.0
    assert max(delays) <= 6.0 + 0.25 * 6.0
    assert len(set(delays)) > 1, "jitter should spread clients that failed together"


def test_retry_policy_retry_after_above_max_delay_still_honoured() -> None:
    decision = decide(RateLimitError("x", status=429, retry_after=30.0))
    assert decision.retry
    assert decision.delay >= 30.0
    assert "the server asked for 30.00 s" in decision.reason


def test_retry_policy_retry_after_on_server_error_honoured() -> None:
    assert decide(ServerError("x", status=503, retry_after=4.0)).delay >= 4.0


def test_retry_policy_backoff_grows_exponentially_without_jitter() -> None:
    policy = RetryPolicy(max_retries=10, base_delay=0.5, max_delay=8.0, jitter=0.0, deadline=None)
    error = ServerError("x", status=500)
    delays = [decide(error, attempt=a, policy=policy).delay for a in range(7)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_retry_policy_backoff_jitter_within_band() -> None:
    error = ConnectionFailedError("reset")
    delays = [decide(error, attempt=1, seed=seed).delay for seed in range(100)]
    assert all(0.75 <= d <= 1.25 for d in delays)
    assert min(delays) < 1.0 < max(delays), "jitter is both ways when the server did not ask"


def test_retry_policy_deadline_refuses_wait_the_server_asked_beyond_it() -> None:
    error = RateLimitError("x", status=429, retry_after=30.0)
    decision = decide(error, elapsed=45.0)
    assert not decision.retry
    assert "asked to wait 30.00 s but only 15.00 s remain" in decision.reason


def test_retry_policy_deadline_allows_wait_that_fits() -> None:
    decision = decide(RateLimitError("x", status=429, retry_after=10.0), elapsed=45.0)
    assert decision.retry
    assert 10.0 <= decision.delay <= 15.0


def test_retry_policy_deadline_trims_jitter_not_server_wait() -> None:
    policy = RetryPolicy(jitter=1.0, max_delay=100.0)
    for seed in range(30):
        decision = decide(RateLimitError("x", retry_after=10.0), elapsed=49.5, policy=policy, seed=seed)
        assert decision.retry
        assert 10.0 <= decision.delay <= 10.5


def test_retry_policy_deadline_refuses_backoff_beyond_it() -> None:
    policy = RetryPolicy(jitter=0.0)
    decision = decide(ServerError("x", status=500), attempt=1, elapsed=59.5, policy=policy)
    assert not decision.retry
    assert "only 0.50 s remain" in decision.reason


def test_retry_policy_deadline_passed_never_retries() -> None:
    decision = decide(RateLimitError("x", retry_after=0.0), elapsed=61.0)
    assert not decision.retry
    assert "deadline has passed" in decision.reason


def test_retry_policy_no_deadline_waits_as_long_as_asked() -> None:
    decision = decide(RateLimitError("x", retry_after=600.0), elapsed=10_000.0, policy=RetryPolicy(deadline=None))
    assert decision.retry
    assert decision.delay >= 600.0


@settings(max_examples=300, deadline=None)
@given(
    retry_after=st.floats(min_value=0.0, max_value=3600.0),
    attempt=st.integers(min_value=0, max_value=50),
    jitter=st.floats(min_value=0.0, max_value=1.0),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_retry_policy_delay_never_below_retry_after(retry_after: float, attempt: int, jitter: float, seed: int) -> None:
    policy = RetryPolicy(max_retries=100, jitter=jitter, deadline=None)
    decision = decide(RateLimitError("x", status=429, retry_after=retry_after), attempt, policy=policy, seed=seed)
    assert decision.retry
    assert decision.delay >= retry_after


@settings(max_examples=300, deadline=None)
@given(
    attempt=st.integers(min_value=0, max_value=2000),
    base=st.floats(min_value=0.0, max_value=10.0),
    cap=st.floats(min_value=0.0, max_value=60.0),
    jitter=st.floats(min_value=0.0, max_value=1.0),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_retry_policy_backoff_between_zero_and_max_delay(
    attempt: int, base: float, cap: float, jitter: float, seed: int
) -> None:
    policy = RetryPolicy(max_retries=5000, base_delay=base, max_delay=cap, jitter=jitter, deadline=None)
    decision = decide(ServerError("x", status=502), attempt, policy=policy, seed=seed)
    assert decision.retry
    assert 0.0 <= decision.delay <= cap


@settings(max_examples=200, deadline=None)
@given(
    max_retries=st.integers(min_value=0, max_value=10),
    retry_after=st.one_of(st.none(), st.floats(min_value=0.0, max_value=5.0)),
    deadline=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1000.0)),
)
def test_retry_policy_retries_never_exceed_max_retries(
    max_retries: int, retry_after: float | None, deadline: float | None
) -> None:
    policy = RetryPolicy(max_retries=max_retries, deadline=deadline)
    error = RateLimitError("x", status=429, retry_after=retry_after)
    rng = random.Random(0)
    retries, elapsed = 0, 0.0
    while True:
        decision = policy.decide(error, retries, elapsed, rng=rng)
        if not decision.retry:
            break
        retries += 1
        elapsed += decision.delay
        assert retries <= max_retries
    assert retries <= max_retries
    if deadline is None:
        assert retries == max_retries


def test_retry_policy_decision_reason_readable() -> None:
    decision = decide(RateLimitError("x", status=429, retry_after=2.0))
    assert decision.reason.startswith("RateLimitError (HTTP 429): retry 1 of 2 in ")
