"""Routing strategies: priority failover, least latency with exploration, smooth weighted round robin."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping

import pytest

from shared_core.errors import ConfigurationError
from shared_core.transport.health import DeploymentHealth, HealthPolicy, InMemoryHealthStore
from shared_core.transport.strategies import (
    LeastLatency,
    PriorityFailover,
    RouteCandidate,
    WeightedRoundRobin,
    broken_candidates,
    earliest_available,
    strategy_for,
    usable_candidates,
)

EAST = RouteCandidate.of("eastus", "gpt-4o", model="gpt-4o", priority=1, weight=5.0)
WEST = RouteCandidate.of("westeurope", "gpt-4o", model="gpt-4o", priority=2, weight=1.0)
SWEDEN = RouteCandidate.of("swedencentral", "gpt-4o", model="gpt-4o", priority=2, weight=1.0)
PTU = RouteCandidate.of("eastus", "gpt-4o-ptu", model="gpt-4o", priority=0, weight=0.0, ptu=True)
HEALTHY: Mapping[str, DeploymentHealth] = {}


class FakeClock:
    def __init__(self) -> None:
        self.t = 50.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def make_store() -> tuple[InMemoryHealthStore, FakeClock]:
    clock = FakeClock()
    return InMemoryHealthStore(HealthPolicy(failure_threshold=2, open_for=4.0, trial_timeout=9.0), now=clock), clock


def keys(candidates: list[RouteCandidate]) -> list[str]:
    return [c.key for c in candidates]


def test_route_candidate_of_derives_the_key_from_endpoint_and_deployment() -> None:
    assert (EAST.key, EAST.endpoint, EAST.deployment, EAST.model) == ("eastus/gpt-4o", "eastus", "gpt-4o", "gpt-4o")
    assert EAST.key != WEST.key


def test_usable_candidates_without_health_entries_are_all_usable() -> None:
    assert usable_candidates([EAST, WEST], HEALTHY) == [EAST, WEST]


def test_priority_failover_orders_by_priority_keeping_config_order_on_ties() -> None:
    assert PriorityFailover().order([SWEDEN, WEST, EAST, PTU], HEALTHY) == [PTU, EAST, SWEDEN, WEST]


def test_priority_failover_leaves_out_cooling_open_and_broken_deployments() -> None:
    store, clock = make_store()
    store.record_failure(PTU.key, "rate_limit", 10.0)
    store.record_failure(EAST.key, "server", None)
    store.record_failure(EAST.key, "server", None)
    store.record_failure(WEST.key, "not_found", None)
    health = store.snapshot()
    assert PriorityFailover().order([PTU, EAST, WEST, SWEDEN], health) == [SWEDEN]
    clock.advance(10.0)
    assert PriorityFailover().order([PTU, EAST, WEST, SWEDEN], store.snapshot()) == [PTU, EAST, SWEDEN]


def test_priority_failover_offers_a_half_open_deployment_until_its_trial_is_taken() -> None:
    store, clock = make_store()
    store.record_failure(EAST.key, "server", None)
    store.record_failure(EAST.key, "server", None)
    clock.advance(4.0)
    assert PriorityFailover().order([EAST, WEST], store.snapshot()) == [EAST, WEST]
    assert store.admit(EAST.key)
    assert PriorityFailover().order([EAST, WEST], store.snapshot()) == [WEST]


def test_broken_candidates_reports_each_with_its_reason() -> None:
    store, _ = make_store()
    store.record_failure(WEST.key, "auth", None, message="HTTP 401: invalid subscription key")
    store.record_failure(EAST.key, "rate_limit", 3.0)
    report = broken_candidates([EAST, WEST, SWEDEN], store.snapshot())
    assert [(c.key, r.kind, r.message) for c, r in report] == [(WEST.key, "auth", "HTTP 401: invalid subscription key")]


def test_earliest_available_is_a_usable_candidate_with_no_wait() -> None:
    store, _ = make_store()
    store.record_failure(EAST.key, "rate_limit", 5.0)
    assert earliest_available([EAST, WEST], store.snapshot()) == (WEST, 0.0)


def test_earliest_available_picks_the_shortest_cooldown_when_all_are_cooling() -> None:
    store, clock = make_store()
    store.record_failure(EAST.key, "rate_limit", 10.0)
    store.record_failure(WEST.key, "rate_limit", 3.0)
    store.record_failure(SWEDEN.key, "rate_limit", 7.0)
    clock.advance(1.0)
    assert earliest_available([EAST, WEST, SWEDEN], store.snapshot()) == (WEST, 2.0)


def test_earliest_available_counts_an_open_circuit_and_skips_broken() -> None:
    store, clock = make_store()
    store.record_failure(EAST.key, "connection", None)
    store.record_failure(EAST.key, "connection", None)
    store.record_failure(WEST.key, "rate_limit", 6.0)
    store.record_failure(SWEDEN.key, "auth", None)
    clock.advance(0.5)
    assert earliest_available([SWEDEN, WEST, EAST], store.snapshot()) == (EAST, 3.5)


def test_earliest_available_breaks_ties_by_priority_then_order() -> None:
    store, _ = make_store()
    for c in (SWEDEN, WEST, EAST):
        store.record_failure(c.key, "rate_limit", 4.0)
    health = store.snapshot()
    assert earliest_available([SWEDEN, WEST, EAST], health) == (EAST, 4.0)
    assert earliest_available([SWEDEN, WEST], health) == (SWEDEN, 4.0)


def test_earliest_available_is_none_when_every_candidate_is_broken() -> None:
    store, _ = make_store()
    store.record_failure(EAST.key, "auth", None)
    store.record_failure(WEST.key, "not_found", None)
    assert earliest_available([EAST, WEST], store.snapshot()) is None
    assert earliest_available([], HEALTHY) is None


def test_earliest_available_waits_for_a_taken_trial_to_time_out() -> None:
    store, clock = make_store()
    store.record_failure(EAST.key, "server", None)
    store.record_failure(EAST.key, "server", None)
    clock.advance(4.0)
    assert store.admit(EAST.key)
    clock.advance(2.0)
    assert earliest_available([EAST], store.snapshot()) == (EAST, 7.0)


def test_least_latency_measures_unmeasured_deployments_first_then_fastest() -> None:
    store, _ = make_store()
    store.record_success(EAST.key, 0.30)
    store.record_success(WEST.key, 0.10)
    strategy = LeastLatency(random.Random(1), explore=0.0)
    assert strategy.order([EAST, WEST, SWEDEN], store.snapshot()) == [SWEDEN, WEST, EAST]
    store.record_success(SWEDEN.key, 0.20)
    assert strategy.order([EAST, WEST, SWEDEN], store.snapshot()) == [WEST, SWEDEN, EAST]


def test_least_latency_moves_traffic_to_the_faster_deployment_within_a_few_picks() -> None:
    store, _ = make_store()
    store.record_success(EAST.key, 0.05)
    store.record_success(WEST.key, 0.20)
    strategy = LeastLatency(random.Random(7), explore=0.05)
    latency = {EAST.key: 0.80, WEST.key: 0.20}  # EAST has become slow
    firsts: list[str] = []
    for _ in range(400):
        first = strategy.order([EAST, WEST], store.snapshot())[0]
        store.record_success(first.key, latency[first.key])
        firsts.append(first.key)
    switched_at = firsts.index(WEST.key)
    assert switched_at <= 3
    after = Counter(firsts[switched_at:])
    assert after[WEST.key] >= 0.9 * (len(firsts) - switched_at)


def test_least_latency_still_explores_a_small_share_of_calls() -> None:
    store, _ = make_store()
    store.record_success(EAST.key, 0.9)
    store.record_success(WEST.key, 0.1)
    strategy = LeastLatency(random.Random(3), explore=0.05)
    firsts = Counter(strategy.order([EAST, WEST], store.snapshot())[0].key for _ in range(10_000))
    assert 0.04 <= firsts[EAST.key] / 10_000 <= 0.06


def test_least_latency_without_exploration_never_leaves_the_fastest() -> None:
    store, _ = make_store()
    store.record_success(EAST.key, 0.9)
    store.record_success(WEST.key, 0.1)
    strategy = LeastLatency(random.Random(3), explore=0.0)
    assert {strategy.order([EAST, WEST], store.snapshot())[0].key for _ in range(2_000)} == {WEST.key}


def test_least_latency_explores_only_usable_deployments() -> None:
    store, _ = make_store()
    store.record_success(EAST.key, 0.9)
    store.record_success(WEST.key, 0.1)
    store.record_failure(SWEDEN.key, "rate_limit", 60.0)
    strategy = LeastLatency(random.Random(5), explore=1.0)
    orders = {tuple(keys(strategy.order([EAST, WEST, SWEDEN], store.snapshot()))) for _ in range(200)}
    assert orders == {(EAST.key, WEST.key)}


def test_least_latency_same_seed_gives_the_same_orders() -> None:
    health = {EAST.key: DeploymentHealth(EAST.key, latency=0.2), WEST.key: DeploymentHealth(WEST.key, latency=0.1)}

    def run(seed: int) -> list[list[str]]:
        strategy = LeastLatency(random.Random(seed), explore=0.3)
        return [keys(strategy.order([EAST, WEST, SWEDEN], health)) for _ in range(100)]

    assert run(11) == run(11)
    assert run(11) != run(12)


def test_least_latency_rejects_an_exploration_share_outside_0_to_1() -> None:
    with pytest.raises(ConfigurationError, match="exploration"):
        LeastLatency(explore=1.5)


def test_weighted_round_robin_interleaves_like_nginx() -> None:
    a = RouteCandidate.of("e", "a", weight=5)
    b = RouteCandidate.of("e", "b", weight=1)
    c = RouteCandidate.of("e", "c", weight=1)
    strategy = WeightedRoundRobin()
    picks = [strategy.order([a, b, c], HEALTHY)[0].deployment for _ in range(14)]
    assert picks == list("aabacaa") * 2


def test_weighted_round_robin_honours_weights_over_10000_picks() -> None:
    cands = [RouteCandidate.of("e", f"d{i}", weight=w) for i, w in enumerate((3.0, 1.5, 0.5, 5.0))]
    strategy = WeightedRoundRobin()
    counts = Counter(strategy.order(cands, HEALTHY)[0].key for _ in range(10_000))
    total = sum(c.weight for c in cands)
    for c in cands:
        assert counts[c.key] == pytest.approx(10_000 * c.weight / total, abs=10_000 * 0.001)


def test_weighted_round_robin_gives_an_unusable_deployments_share_to_the_others() -> None:
    store, _ = make_store()
    store.record_failure(EAST.key, "rate_limit", 60.0)
    strategy = WeightedRoundRobin()
    counts = Counter(strategy.order([EAST, WEST, SWEDEN], store.snapshot())[0].key for _ in range(1_000))
    assert counts == {WEST.key: 500, SWEDEN.key: 500}


def test_weighted_round_robin_keeps_weight_zero_as_a_standby() -> None:
    store, _ = make_store()
    strategy = WeightedRoundRobin()
    orders = [strategy.order([PTU, EAST, WEST], HEALTHY) for _ in range(60)]
    assert all(order[0] != PTU and order[-1] == PTU for order in orders)
    store.record_failure(EAST.key, "rate_limit", 60.0)
    store.record_failure(WEST.key, "rate_limit", 60.0)
    assert strategy.order([PTU, EAST, WEST], store.snapshot()) == [PTU]


def test_weighted_round_robin_lists_the_rest_as_fallbacks_by_weight() -> None:
    strategy = WeightedRoundRobin()
    heavy = RouteCandidate.of("e", "heavy", weight=10)
    mid = RouteCandidate.of("e", "mid", weight=2)
    light = RouteCandidate.of("e", "light", weight=1)
    assert strategy.order([light, mid, heavy], HEALTHY) == [heavy, mid, light]


@pytest.mark.parametrize(
    ("name", "kind"),
    [("priority", PriorityFailover), ("least_latency", LeastLatency), ("weighted_round_robin", WeightedRoundRobin)],
)
def test_strategy_for_builds_each_named_strategy(name: str, kind: type) -> None:
    strategy = strategy_for(name, rng=random.Random(0))
    assert isinstance(strategy, kind)
    assert strategy.name == name


def test_strategy_for_rejects_an_unknown_name() -> None:
    with pytest.raises(ConfigurationError, match="round_robin"):
        strategy_for("fastest")
