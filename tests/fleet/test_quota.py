"""Quota headers, projection and routing preference: pure, no server."""

from __future__ import annotations

import pytest

from shared_core.transport.error_map import RequestContext, error_from_response
from shared_core.transport.health import DeploymentHealth
from shared_core.transport.quota import QuotaState, estimate_tokens, parse_reset, quota_from_headers
from shared_core.transport.strategies import PreferBudget, PriorityFailover, RouteCandidate

RECORDED = {  # a real Azure success (tests/../azure-recordings: openllmetry test_chat), lower-cased
    "x-ratelimit-limit-requests": "120",
    "x-ratelimit-limit-tokens": "120000",
    "x-ratelimit-remaining-requests": "119",
    "x-ratelimit-remaining-tokens": "119986",
    "x-ratelimit-renewalperiod-tokens": "60",
    "x-ratelimit-reset-requests": "500",
    "x-ratelimit-reset-tokens": "7",
}


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("7", 0.007), ("500", 0.5), ("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1.5s", 1.5), ("soon", None)],
)
def test_quota_reset_headers_read_bare_milliseconds_and_durations(raw: str, seconds: float | None) -> None:
    assert parse_reset(raw) == pytest.approx(seconds) if seconds is not None else parse_reset(raw) is None


def test_quota_from_recorded_headers_projects_the_refill() -> None:
    quota = quota_from_headers(RECORDED, now=1000.0)
    assert quota is not None
    assert (quota.remaining_tokens, quota.limit_tokens, quota.remaining_requests) == (119986, 120000, 119)
    assert quota.tokens_full_at == pytest.approx(1000.007)
    assert quota.tokens_at(1000.0) == 119986 and quota.tokens_at(1000.01) == 120000
    assert quota_from_headers({"apim-request-id": "x"}, now=0.0) is None


def test_quota_wait_covers_the_request_and_a_tenth_of_the_budget_as_margin() -> None:
    quota = QuotaState(100.0, remaining_tokens=500, limit_tokens=10_000, tokens_full_at=110.0)  # 950 tokens/s back
    assert quota.wait_for(400, 100.0) == pytest.approx((400 + 1000 - 500) / 950)
    assert quota.wait_for(400, 101.0) == 0.0, "refilled enough a second later"
    assert quota.low and not QuotaState(0.0, remaining_tokens=9000, limit_tokens=10_000).low
    assert estimate_tokens(400, 100) == 200


def test_prefer_budget_moves_a_deployment_predicted_to_throttle_last_but_keeps_it() -> None:
    east, west = RouteCandidate.of("east", "d", priority=0), RouteCandidate.of("west", "d", priority=1)
    short = QuotaState(100.0, remaining_tokens=50, limit_tokens=10_000, tokens_full_at=160.0)
    health = {east.key: DeploymentHealth(east.key, quota=short, as_of=100.0)}
    assert PreferBudget(PriorityFailover(), 300).order([east, west], health) == [west, east]
    assert PriorityFailover().order([east, west], health) == [east, west], "blind routing sends it to east"
    later = {east.key: DeploymentHealth(east.key, quota=short, as_of=160.0)}
    assert PreferBudget(PriorityFailover(), 300).order([east, west], later) == [east, west], "back after its reset"
    assert PreferBudget(PriorityFailover(), b"x" * 400, 100).tokens == 200


def test_a_429_waits_for_the_token_reset_when_it_is_longer_than_retry_after() -> None:
    ctx = RequestContext(deployment="d", endpoint="https://e.openai.azure.com")
    body = b'{"error":{"code":"429","message":"Rate limit is exceeded."}}'
    headers = {"retry-after-ms": "620", "retry-after": "1", "x-ratelimit-reset-tokens": "2000"}
    assert error_from_response(429, headers, body, ctx).retry_after == pytest.approx(2.0)
    assert error_from_response(429, {**headers, "x-ratelimit-reset-tokens": "100"}, body, ctx).retry_after == 0.62
    spelled = {"retry-after": "1", "x-rate-limit-reset-tokens": "3s"}
    assert error_from_response(429, spelled, body, ctx).retry_after == pytest.approx(3.0)
