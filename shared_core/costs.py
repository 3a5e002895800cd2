"""What each call cost, per deployment and per model.

:func:`cost_of` prices one call's :class:`~shared_core.result.Usage` with a
:class:`~shared_core.prices.PriceTable` (the table, its rows and how a model finds its row live in
:mod:`shared_core.prices`); a :class:`CostTracker` keeps thread-safe totals. Three rules:

* **The base model decides the price**, matched by longest prefix (see :mod:`shared_core.prices`).
* **Unknown is unknown.** A model the table does not know costs ``None`` with a reason, never a guessed
  default: a silent wrong figure is worse than a visible gap.
* **PTU costs nothing per call.** Provisioned throughput is paid by the hour, whatever the calls use.
"""

from __future__ import annotations

import functools
import math
import os
import threading
import weakref
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from shared_core import display
from shared_core.prices import DEFAULT_PRICES, ModelPrice, PriceTable, parse_prices
from shared_core.result import Usage

__all__ = [
    "DEFAULT_PRICES",
    "CallCost",
    "CostTotals",
    "CostTracker",
    "ModelPrice",
    "PriceTable",
    "cost_of",
    "parse_prices",
]

_PER_TOKEN = Fraction(1, 1_000_000)
PTU_REASON = "provisioned throughput (PTU): no marginal cost"


@dataclass(frozen=True, slots=True)
class CallCost:
    """The cost of one call.

    Attributes:
        deployment: The deployment it went to.
        model: The base model it was priced as (as given), when known.
        amount: USD, or ``None`` when unknown (see ``reason``).
        currency: Always ``USD``.
        input_tokens: Prompt tokens, cached ones included.
        cached_input_tokens: Prompt tokens served from the prompt cache.
        output_tokens: Completion tokens, reasoning included.
        reason: Why the amount is unknown or zero; ``None`` for an ordinary priced call.
        endpoint: The endpoint (region) name, when the route has several.
        priced_as: The price-table row used.
        exact_amount: ``amount`` as an exact fraction, when :func:`cost_of` priced it (totals add these).
    """

    deployment: str
    model: str | None
    amount: float | None
    currency: Literal["USD"] = "USD"
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reason: str | None = None
    endpoint: str | None = None
    priced_as: str | None = None
    exact_amount: Fraction | None = field(default=None, repr=False, compare=False)

    @property
    def known(self) -> bool:
        """Whether ``amount`` is a figure."""
        return self.amount is not None

    @property
    def deployment_label(self) -> str:
        """``endpoint/deployment`` when the endpoint is known (the same name often exists in several regions)."""
        return f"{self.endpoint}/{self.deployment}" if self.endpoint else self.deployment

    def summary(self) -> dict[str, object]:
        """What the framework packages show of a cost (LangChain's ``response_metadata["cost"]``, LlamaIndex's
        ``raw["cost"]``): ``amount`` (``None`` when unknown), ``currency``, ``reason`` (why it is unknown or
        zero), ``deployment``, ``endpoint`` (``None`` for the single top-level endpoint) and ``model``."""
        return {
            "amount": self.amount,
            "currency": self.currency,
            "reason": self.reason,
            "deployment": self.deployment,
            "endpoint": self.endpoint,
            "model": self.model,
        }


@functools.lru_cache(maxsize=256)
def _per_token_rates(price: ModelPrice) -> tuple[int, int, int, int]:
    """(input, cached input, output) USD per token as numerators over one common denominator, and that denominator.

    Precomputed per price: three ``Fraction(float)`` conversions and Fraction products per call took 8.3 µs
    (benchmarks/README.md hot spot 3); over one denominator a call is priced with integer arithmetic (1.1 µs).
    """
    rates = [
        Fraction(rate) * _PER_TOKEN for rate in (price.input_per_million, price.cached_rate, price.output_per_million)
    ]
    denominator = math.lcm(*(rate.denominator for rate in rates))
    inp, cached, out = (rate.numerator * (denominator // rate.denominator) for rate in rates)
    return inp, cached, out, denominator


def _amount(usage: Usage, price: ModelPrice) -> Fraction:
    cached = min(max(usage.cached_input_tokens, 0), usage.input_tokens)
    # Exact arithmetic: totals then add up the same in any order, from any number of threads.
    inp_rate, cached_rate, out_rate, denominator = _per_token_rates(price)
    numerator = (usage.input_tokens - cached) * inp_rate + cached * cached_rate + usage.output_tokens * out_rate
    return Fraction(numerator, denominator)


def cost_of(
    usage: Usage | None,
    *,
    deployment: str,
    model: str | None,
    ptu: bool,
    prices: PriceTable,
    endpoint: str | None = None,
) -> CallCost:
    """Price one call.

    Cached prompt tokens are billed at the cached rate and the rest of the prompt at the input rate;
    reasoning tokens are part of ``output_tokens`` and billed once, at the output rate.

    Args:
        usage: Token counts Azure reported, or ``None`` when it reported none.
        deployment: The deployment the call went to.
        model: The deployment's base model (from configuration), else the model Azure reported.
        ptu: The deployment is provisioned throughput.
        prices: The price table.
        endpoint: The endpoint (region) name, for per-deployment totals across regions.
    """
    counts = (0, 0, 0) if usage is None else (usage.input_tokens, usage.cached_input_tokens, usage.output_tokens)
    inp, cached, out = counts
    if ptu:
        return CallCost(deployment, model, 0.0, "USD", inp, cached, out, PTU_REASON, endpoint)
    found = prices.lookup(model)
    if found is None:
        why = (
            f"no price for model {model!r}; add it with price overrides"
            if model
            else "the deployment's base model is unknown; set its model in the configuration"
        )
        return CallCost(deployment, model, None, "USD", inp, cached, out, why, endpoint)
    row, price = found
    if usage is None:
        why = "Azure reported no token usage for this call"
        return CallCost(deployment, model, None, "USD", inp, cached, out, why, endpoint, row)
    exact = _amount(usage, price)
    return CallCost(deployment, model, float(exact), "USD", inp, cached, out, None, endpoint, row, exact)


@dataclass(frozen=True, slots=True)
class CostTotals:
    """Totals over a group of calls.

    Attributes:
        calls: Calls recorded.
        input_tokens: Prompt tokens, cached ones included.
        cached_input_tokens: Prompt tokens served from the cache.
        output_tokens: Completion tokens, reasoning included.
        amount: USD over the calls whose cost is known.
        unknown_cost_calls: Calls whose cost is unknown (not in ``amount``).
        currency: Always ``USD``.
    """

    calls: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    amount: float = 0.0
    unknown_cost_calls: int = 0
    currency: Literal["USD"] = "USD"

    @property
    def complete(self) -> bool:
        """Every call in the group has a known cost."""
        return self.unknown_cost_calls == 0


class _Bucket:
    __slots__ = ("amounts", "cached", "calls", "inp", "labels", "out", "unknown")

    def __init__(self) -> None:
        self.calls = self.inp = self.cached = self.out = self.unknown = 0
        # Exact sums kept as integer numerators by denominator: a Fraction addition costs about 4 µs (its gcds),
        # three buckets a call. The denominators are few: products of powers of 2 (the float prices) and of 10.
        self.amounts: dict[int, int] = {}
        self.labels: set[str] = set()

    def add(self, cost: CallCost, exact: Fraction | None, label: str) -> None:
        self.calls += 1
        self.inp += cost.input_tokens
        self.cached += cost.cached_input_tokens
        self.out += cost.output_tokens
        if exact is None:
            self.unknown += 1
        else:
            self.amounts[exact.denominator] = self.amounts.get(exact.denominator, 0) + exact.numerator
        self.labels.add(label)

    def totals(self) -> CostTotals:
        amount = sum((Fraction(n, d) for d, n in self.amounts.items()), Fraction(0))
        return CostTotals(self.calls, self.inp, self.cached, self.out, float(amount), self.unknown)


_NO_MODEL = "(unknown model)"


class CostTracker:
    """Running totals per deployment and per model; safe to share between threads and tasks.

    Amounts are summed exactly (as fractions), so totals do not depend on the order calls finished in.

    **Forked processes** (gunicorn or Celery workers forked after the parent made calls): a child's tracker
    starts from a copy of the parent's totals at the instant of the fork and counts from there on its own; the
    parent never sees the child's calls nor the child the parent's later ones (add the processes' totals up to
    get the fleet's). The child gets a new lock, so a call another thread of the parent was recording at that
    instant cannot leave the child waiting forever; that one call may be missing from, or only partly in, the
    child's copy (the parent counts it in full).
    """

    __slots__ = ("__weakref__", "_by_deployment", "_by_model", "_lock", "_total")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_deployment: dict[str, _Bucket] = {}
        self._by_model: dict[str, _Bucket] = {}
        self._total = _Bucket()
        _TRACKERS.add(self)

    def record(self, cost: CallCost) -> None:
        """Add one call."""
        deployment, model = cost.deployment_label, cost.model or _NO_MODEL
        # The exact amount cost_of carries: converting the float back costs a Fraction(float) per bucket.
        exact = cost.exact_amount
        if exact is None and cost.amount is not None:
            exact = Fraction(cost.amount)
        with self._lock:
            by_deployment = self._by_deployment.get(deployment)
            if by_deployment is None:
                by_deployment = self._by_deployment[deployment] = _Bucket()
            by_model = self._by_model.get(model)
            if by_model is None:
                by_model = self._by_model[model] = _Bucket()
            by_deployment.add(cost, exact, model)
            by_model.add(cost, exact, deployment)
            self._total.add(cost, exact, deployment)

    def totals_by_deployment(self) -> dict[str, CostTotals]:
        """Totals per deployment (``endpoint/deployment`` when the endpoint was given), sorted by name."""
        with self._lock:
            return {k: self._by_deployment[k].totals() for k in sorted(self._by_deployment)}

    def totals_by_model(self) -> dict[str, CostTotals]:
        """Totals per base model, sorted by name (calls with no model under ``(unknown model)``)."""
        with self._lock:
            return {k: self._by_model[k].totals() for k in sorted(self._by_model)}

    def grand_total(self) -> CostTotals:
        """Totals over every call."""
        with self._lock:
            return self._total.totals()

    def reset(self) -> None:
        """Forget every call."""
        with self._lock:
            self._by_deployment.clear()
            self._by_model.clear()
            self._total = _Bucket()

    def _rows(self, by: Literal["deployment", "model"]) -> tuple[list[tuple[str, str, CostTotals]], CostTotals]:
        with self._lock:
            groups = self._by_deployment if by == "deployment" else self._by_model
            rows = [(name, ", ".join(sorted(groups[name].labels)), groups[name].totals()) for name in sorted(groups)]
            return rows, self._total.totals()

    def _repr_html_(self) -> str:
        """Notebook display: :meth:`as_table` as an HTML table (names escaped)."""
        return display.cost_table_html("deployment", *self._rows("deployment"))

    def _repr_markdown_(self) -> str:
        """:meth:`as_table` as a Markdown table, for renderers that prefer Markdown."""
        return display.cost_table_markdown("deployment", *self._rows("deployment"))

    def as_table(self, by: Literal["deployment", "model"] = "deployment") -> str:
        """A fixed-width text table, one row per deployment (or model) and a total row."""
        rows, total = self._rows(by)
        other = "model" if by == "deployment" else "deployment"
        header = (by, other, "calls", "input", "cached", "output", "unknown", "cost (USD)")
        lines = [header, *(_table_row(n, o, t) for n, o, t in rows), _table_row("TOTAL", "", total)]
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        rendered = [
            "  ".join(
                cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
            for line in lines
        ]
        rule = "-" * len(rendered[0])
        return "\n".join([rendered[0], rule, *rendered[1:-1], rule, rendered[-1]])


_TRACKERS: weakref.WeakSet[CostTracker] = weakref.WeakSet()


def _new_locks_after_fork() -> None:
    # A lock another thread held at the instant of the fork stays held forever in the child, which has no such
    # thread to release it. Nothing runs on record()'s path for this: the locks are replaced once, at the fork.
    for tracker in list(_TRACKERS):
        tracker._lock = threading.Lock()  # pyright: ignore[reportPrivateUsage]


os.register_at_fork(after_in_child=_new_locks_after_fork)


def _table_row(name: str, other: str, t: CostTotals) -> tuple[str, ...]:
    return (
        name,
        other,
        str(t.calls),
        str(t.input_tokens),
        str(t.cached_input_tokens),
        str(t.output_tokens),
        str(t.unknown_cost_calls),
        f"{t.amount:.6f}",
    )
