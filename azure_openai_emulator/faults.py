"""Fault injection for the emulator: rules that turn a normal answer into one of Azure's failures.

A :class:`FaultRule` names a kind of fault, optionally a deployment, and how often it fires: with a
``probability`` (0..1, drawn from a seeded random generator) or on ``every`` N-th request it applies to
(the N-th, 2N-th, …); with neither, on every request. Kinds:

==================  ====================================================================================
``rate_limit``      429 with Azure's body and ``retry_after`` seconds (default 1) in ``retry_after_header``
                    (``retry-after``, ``retry-after-ms`` or ``x-ms-retry-after-ms``)
``server_error``    ``status`` (default 500; 503 is ServiceUnavailable) with Azure's body
``bad_gateway``     an HTML 502 from an Application Gateway in front of Azure
``reset``           the connection is dropped with no answer (TCP reset)
``cut_stream``      a streamed answer stops after ``after`` events (default 3) without its end; streams only
``latency``         ``seconds`` (default 0.5) before the status line, and ``chunk_seconds`` between events;
                    adds to whatever else answers, so it combines with the other kinds
``content_filter``  the completion is filtered after ``after`` text chunks (``category``, ``severity``)
``prompt_filter``   a 400 ``content_filter`` on the prompt (``category``, ``severity``)
==================  ====================================================================================

From the command line, one rule per ``--fault`` flag as ``key=value`` pairs (``--fault
kind=rate_limit,deployment=east,every=2,retry_after=3``); from a file, a TOML array of tables or JSON::

    [[fault]]
    kind = "rate_limit"
    deployment = "gpt-4o-mini"
    probability = 0.3
    retry_after = 2

Rules are tried in order for each request the script has nothing queued for; the first non-latency rule
that fires decides the answer, and every latency rule that fires adds its delay. Each rule counts (and draws
for) every request it applies to, whatever the other rules did.
"""

from __future__ import annotations

import json
import random
import threading
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Literal, assert_never, cast, get_args

from azure_openai_emulator.completion import FilterVerdict
from azure_openai_emulator.script import (
    BadGateway,
    ConnectionReset,
    HttpError,
    Outcome,
    PromptFiltered,
    RecordedRequest,
    Reply,
    RetryAfterHeader,
)

__all__ = ["FaultKind", "FaultPlan", "FaultRule", "FaultSpecError", "load_faults", "parse_fault"]

FaultKind = Literal[
    "rate_limit", "server_error", "bad_gateway", "reset", "cut_stream", "latency", "content_filter", "prompt_filter"
]


class FaultSpecError(ValueError):
    """A fault rule that cannot be understood; the message names where it came from."""


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One kind of fault, where it applies and how often; see the module docstring for the kinds.

    Attributes:
        kind: What goes wrong.
        deployment: Only requests for this deployment; ``None`` for all.
        probability: Fire with this chance (0..1).
        every: Fire on every N-th request the rule applies to.
        status: ``server_error``'s HTTP status.
        retry_after: Seconds announced by ``rate_limit`` (default 1) or ``server_error`` (none by default).
        retry_after_header: Which header carries ``retry_after``.
        seconds: ``latency`` before the status line.
        chunk_seconds: ``latency`` between stream events.
        after: Events (``cut_stream``) or text chunks (``content_filter``) before the fault.
        category: The content-filter category that fires.
        severity: Its severity.
    """

    kind: FaultKind
    deployment: str | None = None
    probability: float | None = None
    every: int | None = None
    status: int = 500
    retry_after: float | None = None
    retry_after_header: RetryAfterHeader = "retry-after"
    seconds: float = 0.5
    chunk_seconds: float = 0.0
    after: int = 3
    category: str = "violence"
    severity: str = "high"

    def __post_init__(self) -> None:
        if self.kind not in get_args(FaultKind):
            raise FaultSpecError(f"unknown fault kind {self.kind!r}; use one of {', '.join(get_args(FaultKind))}")
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise FaultSpecError(f"probability {self.probability} is not between 0 and 1")
        if self.every is not None and self.every < 1:
            raise FaultSpecError(f"every={self.every} must be 1 or more")
        if self.probability is not None and self.every is not None:
            raise FaultSpecError("give probability or every, not both")
        if self.retry_after_header not in get_args(RetryAfterHeader):
            raise FaultSpecError(
                f"retry_after_header {self.retry_after_header!r} is not one of {get_args(RetryAfterHeader)}"
            )
        if self.kind == "server_error" and not 500 <= self.status <= 599:
            raise FaultSpecError(f"server_error status {self.status} is not a 5xx")

    def applies_to(self, request: RecordedRequest) -> bool:
        """Whether the request is one this rule may fire on (deployment, and streams for ``cut_stream``)."""
        if self.deployment is not None and request.deployment != self.deployment:
            return False
        return request.stream or self.kind != "cut_stream"

    def apply(self, outcome: Outcome) -> Outcome:
        """The outcome with this fault applied (``outcome`` unchanged when the fault cannot apply to it)."""
        delay = outcome.first_byte_delay
        verdict = FilterVerdict(category=self.category, severity=self.severity)
        match self.kind:
            case "rate_limit":
                retry = self.retry_after if self.retry_after is not None else 1.0
                return HttpError(429, retry, self.retry_after_header, first_byte_delay=delay)
            case "server_error":
                return HttpError(self.status, self.retry_after, self.retry_after_header, first_byte_delay=delay)
            case "bad_gateway":
                return BadGateway(first_byte_delay=delay)
            case "reset":
                return ConnectionReset(first_byte_delay=delay)
            case "prompt_filter":
                return PromptFiltered(verdict, first_byte_delay=delay)
            case "latency":
                if isinstance(outcome, Reply):
                    outcome = replace(outcome, chunk_delay=outcome.chunk_delay + self.chunk_seconds)
                return replace(outcome, first_byte_delay=delay + self.seconds)
            case "cut_stream":
                return replace(outcome, cut_after=self.after) if isinstance(outcome, Reply) else outcome
            case "content_filter":
                if isinstance(outcome, Reply) and outcome.text:
                    return replace(outcome, filter_after=self.after, filter=verdict)
                return outcome
            case _:
                assert_never(self.kind)


class FaultPlan:
    """The rules in force and their counters; thread-safe.

    Args:
        rules: The rules, tried in order.
        seed: Seeds the generator behind ``probability`` (``None``: a fresh seed).
    """

    def __init__(self, rules: Iterable[FaultRule] = (), *, seed: int | None = None) -> None:
        self.rules: tuple[FaultRule, ...] = tuple(rules)
        self._random = random.Random(seed)
        self._seen = [0] * len(self.rules)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FaultPlan({len(self.rules)} rules)"

    def apply(self, request: RecordedRequest, outcome: Outcome) -> tuple[Outcome, tuple[FaultKind, ...]]:
        """Apply the rules that fire for ``request`` to ``outcome``; returns it and the kinds that fired."""
        fired: list[FaultKind] = []
        decided = False
        for index, rule in enumerate(self.rules):
            # Every rule counts every request it applies to, so "every=3" means the 3rd, 6th... whatever
            # the other rules did.
            if not rule.applies_to(request) or not self._fires(index, rule):
                continue
            if decided and rule.kind != "latency":
                continue
            changed = rule.apply(outcome)
            if changed != outcome:
                fired.append(rule.kind)
                decided = decided or rule.kind != "latency"
            outcome = changed
        return outcome, tuple(fired)

    def reset(self) -> None:
        """Restart the ``every`` counters."""
        with self._lock:
            self._seen = [0] * len(self.rules)

    def _fires(self, index: int, rule: FaultRule) -> bool:
        with self._lock:
            self._seen[index] += 1
            if rule.every is not None:
                return self._seen[index] % rule.every == 0
            if rule.probability is not None:
                return self._random.random() < rule.probability
            return True


_FIELDS = frozenset(f.name for f in fields(FaultRule))
_INTS = frozenset({"every", "status", "after"})
_FLOATS = frozenset({"probability", "retry_after", "seconds", "chunk_seconds"})


def _coerce(name: str, raw: object, where: str) -> object:
    if raw is None or (raw == "" and name in _INTS | _FLOATS):
        return None
    if isinstance(raw, bool):
        raise FaultSpecError(f"{where}: {name}={raw!r} is not a {'number' if name in _INTS | _FLOATS else 'name'}")
    try:
        if name in _INTS:
            return int(str(raw))
        if name in _FLOATS:
            return float(str(raw))
    except ValueError:
        raise FaultSpecError(f"{where}: {name}={raw!r} is not a number") from None
    return str(raw)


def rule_from_table(table: Mapping[str, object], where: str) -> FaultRule:
    """Build a rule from a table of its fields (a file's ``[[fault]]`` or a parsed ``--fault`` flag).

    Raises:
        FaultSpecError: An unknown key, a value of the wrong type, or a rule that does not hold together.
    """
    unknown = sorted(set(table) - set(_FIELDS))
    if unknown:
        raise FaultSpecError(f"{where}: unknown key(s) {unknown}; known: {sorted(_FIELDS)}")
    if "kind" not in table:
        raise FaultSpecError(f"{where}: a fault needs a 'kind' ({', '.join(get_args(FaultKind))})")
    values = {name: _coerce(name, raw, where) for name, raw in table.items()}
    try:
        return FaultRule(**values)  # pyright: ignore[reportArgumentType]
    except FaultSpecError as exc:
        raise FaultSpecError(f"{where}: {exc}") from None


def parse_fault(spec: str) -> FaultRule:
    """Parse a ``--fault`` flag: ``kind=rate_limit,deployment=east,every=2`` (a bare kind works too)."""
    table: dict[str, object] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep:
            key, value = "kind", key
        table[key.strip()] = value.strip()
    return rule_from_table(table, f"--fault {spec!r}")


def load_faults(path: str | Path) -> tuple[FaultRule, ...]:
    """Read fault rules from a TOML file (``[[fault]]`` tables) or a JSON file (a list, or ``{"fault": [...]}``).

    Raises:
        FaultSpecError: The file does not parse, or a rule in it is invalid (the message names which).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        data: object = json.loads(text) if file.suffix.lower() == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise FaultSpecError(f"{file}: {exc}") from None
    if isinstance(data, dict):
        data = cast(dict[str, object], data).get("fault", cast(dict[str, object], data).get("faults", []))
    if not isinstance(data, list):
        raise FaultSpecError(f"{file}: expected a list of fault tables")
    rules: list[FaultRule] = []
    for index, item in enumerate(cast(list[object], data)):
        if not isinstance(item, dict):
            raise FaultSpecError(f"{file} fault[{index}]: expected a table")
        rules.append(rule_from_table(cast(dict[str, object], item), f"{file} fault[{index}]"))
    return tuple(rules)
