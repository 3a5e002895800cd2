"""Routing strategies: given a route's candidates and their health, the order in which to try them.

Strategies are pure apart from the state they own (round-robin counters, an injected ``random.Random``):
they never read a clock or a store, so the same snapshot and seed always give the same order. Unusable
candidates (broken, cooling down, circuit open, trial taken) are left out; the router asks the store to
:meth:`~shared_core.transport.health.HealthStore.admit` each one just before sending, which is where a
half-open trial is taken. When nothing is usable, :func:`earliest_available` says which candidate comes back
first and when: the router waits for it if that fits the deadline (LiteLLM fails at once instead) and
otherwise fails with the shortest wait.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from shared_core.errors import ConfigurationError
from shared_core.transport.health import BrokenReason, DeploymentHealth, deployment_key
from shared_core.transport.quota import estimate_tokens

__all__ = [
    "LeastLatency",
    "PreferBudget",
    "PriorityFailover",
    "RouteCandidate",
    "RoutingStrategy",
    "StrategyName",
    "WeightedRoundRobin",
    "broken_candidates",
    "earliest_available",
    "strategy_for",
    "usable_candidates",
]

StrategyName = Literal["priority", "least_latency", "weighted_round_robin"]


@dataclass(frozen=True, slots=True)
class RouteCandidate:
    """One deployment a route may send to.

    Attributes:
        key: Stable key for health and counters (:func:`~shared_core.transport.health.deployment_key`).
        endpoint: Name of the endpoint (region) in the configuration.
        deployment: Deployment name in the URL.
        model: Base model behind it (decides price and parameter rules), when known.
        priority: Lower is tried first by priority failover.
        weight: Share for weighted round robin; ``0`` keeps it as a standby only.
        ptu: Provisioned throughput (zero marginal cost).
    """

    key: str
    endpoint: str
    deployment: str
    model: str | None = None
    priority: int = 0
    weight: float = 1.0
    ptu: bool = False

    @classmethod
    def of(
        cls,
        endpoint: str,
        deployment: str,
        *,
        model: str | None = None,
        priority: int = 0,
        weight: float = 1.0,
        ptu: bool = False,
    ) -> RouteCandidate:
        """A candidate whose key is derived from its endpoint and deployment names."""
        return cls(deployment_key(endpoint, deployment), endpoint, deployment, model, priority, weight, ptu)


class RoutingStrategy(Protocol):
    """Orders a route's candidates for one call."""

    @property
    def name(self) -> StrategyName:
        """The strategy's configuration name."""
        ...

    def order(
        self, candidates: Sequence[RouteCandidate], health: Mapping[str, DeploymentHealth]
    ) -> list[RouteCandidate]:
        """The usable candidates, in the order to try them (empty when none is usable now)."""
        ...


def _is_usable(candidate: RouteCandidate, health: Mapping[str, DeploymentHealth]) -> bool:
    state = health.get(candidate.key)
    return state is None or state.usable


def usable_candidates(
    candidates: Sequence[RouteCandidate], health: Mapping[str, DeploymentHealth]
) -> list[RouteCandidate]:
    """The candidates that may be used now, in their given order (a key with no health entry is healthy)."""
    return [c for c in candidates if _is_usable(c, health)]


def broken_candidates(
    candidates: Sequence[RouteCandidate], health: Mapping[str, DeploymentHealth]
) -> list[tuple[RouteCandidate, BrokenReason]]:
    """The candidates left out as misconfigured, with why, for the final error and a loud warning."""
    out: list[tuple[RouteCandidate, BrokenReason]] = []
    for candidate in candidates:
        state = health.get(candidate.key)
        if state is not None and state.broken is not None:
            out.append((candidate, state.broken))
    return out


def earliest_available(
    candidates: Sequence[RouteCandidate], health: Mapping[str, DeploymentHealth]
) -> tuple[RouteCandidate, float] | None:
    """The candidate that becomes usable first, and the seconds until then (``0.0`` if one is usable now).

    Ties go to the lower priority number, then to the given order. ``None`` when every candidate is broken
    (waiting would not help).
    """
    best: tuple[float, int, int, RouteCandidate] | None = None
    for index, candidate in enumerate(candidates):
        state = health.get(candidate.key)
        wait = 0.0 if state is None else state.available_in
        if wait is None:
            continue
        rank = (wait, candidate.priority, index, candidate)
        if best is None or rank[:3] < best[:3]:
            best = rank
    return None if best is None else (best[3], best[0])


class PriorityFailover:
    """Lowest priority number first; equal priorities keep their configured order."""

    __slots__ = ()

    @property
    def name(self) -> StrategyName:
        """``priority``."""
        return "priority"

    def order(
        self, candidates: Sequence[RouteCandidate], health: Mapping[str, DeploymentHealth]
    ) -> list[RouteCandidate]:
        """The usable candidates by priority."""
        return sorted(usable_candidates(candidates, health), key=lambda c: c.priority)


class LeastLatency:
    """Lowest average time to first byte first, with a small share of calls exploring the others.

    A deployment with no sample yet goes first, so each one is measured. Without exploration a deployment
    that was slow once would never be measured again after it recovered; with it, ``explore`` of the calls
    start on a random other candidate.

    Args:
        rng: Source of the exploration draws (seed it in tests).
        explore: Share of calls that start on a random non-best candidate.
    """

    __slots__ = ("_lock", "_rng", "explore")

    def __init__(self, rng: random.Random | None = None, *, explore: float = 0.05) -> None:
        if not 0.0 <= explore <= 1.0:
            raise ConfigurationError(
                f"least-latency exploration share {explore!r} is not between 0 and 1",
                source="LeastLatency(explore=...)",
                fix="use a small share such as 0.05",
            )
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self.explore = explore

    @property
    def name(self) -> StrategyName:
        """``least_latency``."""
        return "least_latency"

    def order(
        self, candidates: Sequence[RouteCandidate], health: Mapping[str, DeploymentHealth]
    ) -> list[RouteCandidate]:
        """The usable candidates, fastest first (an exploring call moves a random other one to the front)."""
        pool = usable_candidates(candidates, health)

        def rank(c: RouteCandidate) -> tuple[int, float, int]:
            state = health.get(c.key)
            latency = None if state is None else state.latency
            return (0, 0.0, c.priority) if latency is None else (1, latency, c.priority)

        ranked = sorted(pool, key=rank)
        if len(ranked) > 1:
            with self._lock:
                explore = self._rng.random() < self.explore
                pick = self._rng.randrange(1, len(ranked)) if explore else 0
            if pick:
                ranked.insert(0, ranked.pop(pick))
        return ranked


class WeightedRoundRobin:
    """Smooth weighted round robin (nginx's): shares follow the weights and picks interleave.

    Each call, every usable candidate's counter grows by its weight; the largest counter goes first and is
    lowered by the total. Weights 5, 1, 1 give ``a a b a c a a``, never ``a a a a a b c``. The rest follow by
    weight as fallbacks. Weight-0 candidates are standbys: last, and first only when no weight is positive.
    Counters are per process, per strategy instance.
    """

    __slots__ = ("_current", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[str, float] = {}

    @property
    def name(self) -> StrategyName:
        """``weighted_round_robin``."""
        return "weighted_round_robin"

    def order(
        self, candidates: Sequence[RouteCandidate], health: Mapping[str, DeploymentHealth]
    ) -> list[RouteCandidate]:
        """The usable candidates, this call's round-robin pick first."""
        pool = usable_candidates(candidates, health)
        weighted = [c for c in pool if c.weight > 0]
        if not weighted:
            return sorted(pool, key=lambda c: c.priority)
        total = sum(c.weight for c in weighted)
        with self._lock:
            best: RouteCandidate | None = None
            for c in weighted:
                self._current[c.key] = self._current.get(c.key, 0.0) + c.weight
                if best is None or self._current[c.key] > self._current[best.key]:
                    best = c
            assert best is not None
            self._current[best.key] -= total
        rest = sorted((c for c in pool if c is not best), key=lambda c: (-c.weight, c.priority))
        return [best, *rest]


def strategy_for(name: str, *, rng: random.Random | None = None, explore: float = 0.05) -> RoutingStrategy:
    """The strategy a route's configuration names.

    Raises:
        ConfigurationError: The name is not one of ``priority``, ``least_latency``, ``weighted_round_robin``.
    """
    if name == "priority":
        return PriorityFailover()
    if name == "least_latency":
        return LeastLatency(rng, explore=explore)
    if name == "weighted_round_robin":
        return WeightedRoundRobin()
    raise ConfigurationError(
        f"unknown routing strategy {name!r}",
        source="route strategy",
        fix="use 'priority', 'least_latency' or 'weighted_round_robin'",
    )


class PreferBudget:
    """One call's view of a strategy: deployments the request fits go first, those predicted to throttle last.

    Azure reports each deployment's remaining budget on every answer (see :mod:`shared_core.transport.quota`).
    A deployment whose projected budget is short of this request's estimated tokens (or of one request) would
    answer 429; it is moved behind every deployment the request fits, until its budget is projected to refill.
    It is not dropped: when nothing else is usable it is still tried, and its 429 then says how long to wait.

    Args:
        inner: The route's strategy, which orders each group.
        body: The encoded request body, or its estimated tokens when already counted.
        max_tokens: The output the request allows (counted by Azure up front).
    """

    __slots__ = ("inner", "tokens")

    def __init__(self, inner: RoutingStrategy, body: bytes | int, max_tokens: int | None = None) -> None:
        self.inner = inner
        self.tokens = body if isinstance(body, int) else estimate_tokens(len(body), max_tokens)

    @property
    def name(self) -> StrategyName:
        """The inner strategy's name."""
        return self.inner.name

    def order(
        self, candidates: Sequence[RouteCandidate], health: Mapping[str, DeploymentHealth]
    ) -> list[RouteCandidate]:
        """The inner order, with the candidates predicted to throttle moved last."""
        ordered = self.inner.order(candidates, health)
        fits: list[RouteCandidate] = []
        short: list[RouteCandidate] = []
        for c in ordered:
            state = health.get(c.key)
            (short if state is not None and state.quota_wait(self.tokens) > 0.0 else fits).append(c)
        return [*fits, *short] if short else ordered
