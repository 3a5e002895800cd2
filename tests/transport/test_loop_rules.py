"""The retry and failover rules of the module docstrings, one table row each, on a fake clock.

Nothing sleeps: the loops get the clock's ``sleep``/``clock`` hooks (and the health store its ``now``), an
attempt that "takes" time moves the clock, and each row checks which deployment was tried at which instant and
how the call ended. Rules: :mod:`shared_core.transport.failover`, the one loop, over routes of several
deployments and, as the gateway runs it, over a route of one (with a store of its own for the call).
"""

from __future__ import annotations

import asyncio
import pickle
from dataclasses import dataclass, field, replace

import pytest

from shared_core.errors import (
    AuthenticationError,
    BadRequestError,
    ConnectionFailedError,
    DeploymentNotFoundError,
    GatewayError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
)
from shared_core.events import ListSink
from shared_core.transport.failover import FailoverHooks, arun_route, run_route
from shared_core.transport.health import InMemoryHealthStore
from shared_core.transport.retry import RetryPolicy
from shared_core.transport.strategies import RouteCandidate, strategy_for

NAMES = ("east", "west", "north")


@dataclass
class Clock:
    """Fake monotonic time; sleeping moves it."""

    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def _error(spec: str, clock: Clock) -> GatewayError | None:
    """``ok``, ``429:2`` (Retry-After 2 s), ``503``, ``503:1`` (with Retry-After), ``500``, ``401``, ``403``,
    ``404``, ``400``, ``refused``, ``timeout:1.5`` (the attempt takes 1.5 s, then times out)."""
    kind, _, arg = spec.partition(":")
    if kind == "ok":
        return None
    if kind == "timeout":
        clock.now += float(arg)
        return RequestTimeoutError("read timeout")
    if kind == "refused":
        return ConnectionFailedError("refused", connected=False)  # as transport/http.py marks a refused connect
    wait = float(arg) if arg else None
    table: dict[str, GatewayError] = {
        "429": RateLimitError("throttled", status=429, retry_after=wait),
        "503": ServerError("unavailable", status=503, retry_after=wait),
        "500": ServerError("boom", status=500),
        "401": AuthenticationError("unauthorized", status=401),
        "403": AuthenticationError("forbidden", status=403),
        "404": DeploymentNotFoundError("no such deployment", status=404),
        "400": BadRequestError("bad request", status=400),
    }
    return table[kind]


@dataclass
class Script:
    """What each deployment answers, in order, and the log of attempts as (region, instant)."""

    answers: dict[str, list[str]]
    clock: Clock
    tried: list[tuple[str, float]] = field(default_factory=list)

    def attempt(self, name: str) -> str:
        self.tried.append((name, round(self.clock.now, 3)))
        queue = self.answers[name]
        error = _error(queue.pop(0) if len(queue) > 1 else queue[0], self.clock)
        if error is not None:
            raise error
        return f"answer from {name}"


@dataclass(frozen=True)
class Row:
    """One rule: the route's answers, the policy, and what must happen."""

    rule: str
    answers: dict[str, list[str]]
    tried: list[tuple[str, float]]
    outcome: str  # "answer from <region>" or the error class name
    max_retries: int = 2
    deadline: float | None = 10.0
    credential: str = "api_key"
    retry_after: float | None = None
    deadline_error: bool = False


def _policy(row: Row) -> RetryPolicy:
    return RetryPolicy(max_retries=row.max_retries, base_delay=0.5, max_delay=8.0, jitter=0.0, deadline=row.deadline)


FAILOVER_ROWS = [
    Row("order: the first deployment by priority answers", {"east": ["ok"]}, [("east", 0)], "answer from east"),
    Row(
        "free failover: a 429 moves to an untried sibling at once",
        {"east": ["429:5"], "west": ["ok"]},
        [("east", 0), ("west", 0)],
        "answer from west",
    ),
    Row(
        "free failover: a 401 with a key marks the deployment broken and moves at once",
        {"east": ["401"], "west": ["ok"]},
        [("east", 0), ("west", 0)],
        "answer from west",
    ),
    Row(
        "free failover: a 404 deployment not found moves at once",
        {"east": ["404"], "west": ["ok"]},
        [("east", 0), ("west", 0)],
        "answer from west",
    ),
    Row(
        "free failover: a refused connection moves at once",
        {"east": ["refused"], "west": ["ok"]},
        [("east", 0), ("west", 0)],
        "answer from west",
    ),
    Row(
        "paid failover once: after two 5xx the call retries where it is, not in a third region",
        {"east": ["503"], "west": ["503", "ok"], "north": ["ok"]},
        [("east", 0), ("west", 0), ("west", 0.5)],
        "answer from west",
    ),
    Row(
        "retries: with nobody untried, the same deployment after exponential backoff",
        {"east": ["500", "500", "ok"]},
        [("east", 0), ("east", 0.5), ("east", 1.5)],
        "answer from east",
    ),
    Row(
        "retries: a 5xx's Retry-After is honoured on the same deployment",
        {"east": ["503:1.5", "ok"]},
        [("east", 0), ("east", 1.5)],
        "answer from east",
    ),
    Row(
        "cooldown: every deployment throttled, the call waits for the first back (exactly its Retry-After)",
        {"east": ["429:2", "ok"], "west": ["429:3"]},
        [("east", 0), ("west", 0), ("east", 2.0)],
        "answer from east",
    ),
    Row(
        "cooldown beyond the deadline: fail at once with the shortest wait",
        {"east": ["429:20"], "west": ["429:30"]},
        [("east", 0), ("west", 0)],
        "RateLimitError",
        retry_after=20.0,
    ),
    Row(
        "a request no deployment can serve is raised at once",
        {"east": ["400"], "west": ["ok"]},
        [("east", 0)],
        "BadRequestError",
    ),
    Row(
        "a 401 with a token credential refreshes once and retries the same deployment",
        {"east": ["401", "ok"], "west": ["ok"]},
        [("east", 0), ("east", 0)],
        "answer from east",
        credential="managed_identity",
    ),
    Row(
        "attempts: at most N + max_retries for N deployments",
        {"east": ["500"], "west": ["500"]},
        [("east", 0), ("west", 0), ("west", 0.5), ("west", 1.5)],
        "ServerError",
    ),
    Row(
        "final error: a throttle is more telling than a server error",
        {"east": ["429:100"], "west": ["503"]},
        [("east", 0), ("west", 0), ("west", 0.5)],
        "RateLimitError",
        max_retries=1,
        deadline=200.0,
    ),
    Row(
        "deadline: no failover starts once the deadline has passed",
        {"east": ["timeout:1.2"], "west": ["ok"]},
        [("east", 0)],
        "RequestTimeoutError",
        deadline=1.0,
        deadline_error=True,
    ),
    Row(
        "deadline: no retry starts once the deadline has passed",
        {"east": ["503"], "west": ["timeout:1.5"]},
        [("east", 0), ("west", 0)],
        "RequestTimeoutError",
        deadline=1.0,
        deadline_error=True,
    ),
]


def _candidates(row: Row) -> list[RouteCandidate]:
    return [RouteCandidate.of(name, "gpt-4o", priority=n) for n, name in enumerate(NAMES) if name in row.answers]


def _failover_hooks(row: Row, clock: Clock) -> FailoverHooks:
    async def arefresh(candidate: RouteCandidate) -> None:
        return None

    return FailoverHooks(
        policy=_policy(row),
        sink=ListSink(),
        store=InMemoryHealthStore(now=clock),
        strategy=strategy_for("priority"),
        credential_kind=lambda candidate: row.credential,
        refresh=lambda candidate: None,
        arefresh=arefresh,
        sleep=clock.sleep,
        asleep=clock.asleep,
        clock=clock,
    )


def _check(row: Row, script: Script, outcome: str | GatewayError) -> None:
    assert script.tried == row.tried, row.rule
    if isinstance(outcome, GatewayError):
        assert type(outcome).__name__ == row.outcome, f"{row.rule}: {outcome!r}"
        if row.retry_after is not None:
            assert outcome.retry_after == row.retry_after
        if row.deadline_error:
            assert outcome.code == "deadline" and f"{row.deadline:g} s deadline" in outcome.message, row.rule
            assert outcome.message.count("RequestTimeoutError") + outcome.message.count("ServerError") >= len(
                row.tried
            ), "the error lists every attempt"
            assert len(outcome.attempts) == len(row.tried), row.rule
    else:
        assert outcome == row.outcome, row.rule


@pytest.mark.parametrize("row", FAILOVER_ROWS, ids=[r.rule for r in FAILOVER_ROWS])
def test_failover_rule(row: Row) -> None:
    clock = Clock()
    script = Script({k: list(v) for k, v in row.answers.items()}, clock)
    try:
        _, outcome = run_route(
            _candidates(row), lambda c: script.attempt(c.endpoint), _failover_hooks(row, clock), latency=lambda r: 0.1
        )
    except GatewayError as error:
        outcome = error
    _check(row, script, outcome)


@pytest.mark.parametrize("row", FAILOVER_ROWS, ids=[r.rule for r in FAILOVER_ROWS])
def test_failover_rule_async(row: Row) -> None:
    clock = Clock()
    script = Script({k: list(v) for k, v in row.answers.items()}, clock)

    async def attempt(candidate: RouteCandidate) -> str:
        return script.attempt(candidate.endpoint)

    async def go() -> str | GatewayError:
        try:
            _, answer = await arun_route(_candidates(row), attempt, _failover_hooks(row, clock), latency=lambda r: 0.1)
        except GatewayError as error:
            return error
        return answer

    _check(row, script, asyncio.run(go()))


ROUTER_ROWS = [
    Row(
        "transient errors are retried after exponential backoff",
        {"east": ["503", "503", "ok"]},
        [("east", 0), ("east", 0.5), ("east", 1.5)],
        "answer from east",
    ),
    Row("an error about the request is raised at once", {"east": ["400"]}, [("east", 0)], "BadRequestError"),
    Row(
        "a Retry-After is honoured to the millisecond (no jitter here)",
        {"east": ["429:2", "ok"]},
        [("east", 0), ("east", 2.0)],
        "answer from east",
    ),
    Row(
        "a Retry-After longer than the time left fails at once",
        {"east": ["429:5"]},
        [("east", 0)],
        "RateLimitError",
        deadline=1.0,
        retry_after=5.0,
    ),
    Row(
        "at most max_retries + 1 attempts",
        {"east": ["503"]},
        [("east", 0), ("east", 0.5), ("east", 1.5)],
        "ServerError",
    ),
    Row(
        "a 401 with a token credential refreshes once, never twice",
        {"east": ["401"]},
        [("east", 0), ("east", 0)],
        "AuthenticationError",
        credential="default_credential",
    ),
    Row("a 401 with a key is not retried", {"east": ["401"]}, [("east", 0)], "AuthenticationError"),
    Row(
        "once the deadline has passed, the error names it and lists every attempt",
        {"east": ["503", "timeout:1.0"]},
        [("east", 0), ("east", 0.5)],
        "RequestTimeoutError",
        deadline=1.0,
        deadline_error=True,
    ),
]


def _one_deployment(row: Row, clock: Clock) -> FailoverHooks:
    # What the gateway gives a route of one: store=None, a store of the call's own made when an attempt first
    # fails (on the hooks' clock), with no circuit and no default cooldown.
    return replace(_failover_hooks(row, clock), store=None)


@pytest.mark.parametrize("row", ROUTER_ROWS, ids=[r.rule for r in ROUTER_ROWS])
def test_one_deployment_rule(row: Row) -> None:
    clock = Clock()
    script = Script({k: list(v) for k, v in row.answers.items()}, clock)
    try:
        _, outcome = run_route(
            _candidates(row), lambda c: script.attempt(c.endpoint), _one_deployment(row, clock), latency=lambda r: 0.1
        )
    except GatewayError as error:
        outcome = error
    _check(row, script, outcome)
    if isinstance(outcome, GatewayError) and not row.deadline_error:
        assert "every deployment of the route" not in outcome.message, "a route of one raises its error as it came"


@pytest.mark.parametrize("row", ROUTER_ROWS, ids=[r.rule for r in ROUTER_ROWS])
def test_one_deployment_rule_async(row: Row) -> None:
    clock = Clock()
    script = Script({k: list(v) for k, v in row.answers.items()}, clock)

    async def attempt(candidate: RouteCandidate) -> str:
        return script.attempt(candidate.endpoint)

    async def go() -> str | GatewayError:
        try:
            _, answer = await arun_route(_candidates(row), attempt, _one_deployment(row, clock), latency=lambda r: 0.1)
        except GatewayError as error:
            return error
        return answer

    _check(row, script, asyncio.run(go()))


@pytest.mark.parametrize("names", [("east", "west"), ("east",)], ids=["route of two", "route of one"])
def test_total_failure_raises_a_fresh_error_carrying_every_attempt(names: tuple[str, ...]) -> None:
    row = Row("every attempt fails", {name: ["503"] for name in names}, [], "ServerError", max_retries=1)
    clock, caught_errors = Clock(), list[GatewayError]()

    def attempt(candidate: RouteCandidate) -> str:
        caught_errors.append(ServerError(f"unavailable in {candidate.endpoint}", status=503))
        raise caught_errors[-1]

    hooks = _failover_hooks(row, clock) if len(names) > 1 else _one_deployment(row, clock)
    with pytest.raises(ServerError) as raised:
        run_route(_candidates(row), attempt, hooks, latency=lambda r: 0.1)
    final = raised.value
    assert all(final is not e for e in caught_errors) and final.__cause__ is caught_errors[-1]
    # The caught errors are left as they were raised (the loop used to rewrite the chosen one's message).
    assert all(e.args == (e.message,) and e.message.startswith("unavailable in ") for e in caught_errors)
    assert len(final.attempts) == len(caught_errors) == len(names) + 1
    assert all(f"unavailable in {name}" in " ".join(final.attempts) for name in names)
    assert (final.status, pickle.loads(pickle.dumps(final)).attempts) == (503, final.attempts)
    if len(names) > 1:
        assert final.message.startswith("every deployment of the route failed")
    else:  # a route of one keeps its last error's message
        assert final.message == caught_errors[-1].message
