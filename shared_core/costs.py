"""What each call cost, per deployment and per model.

A :class:`PriceTable` maps base models to prices per million tokens; :func:`cost_of` prices one call's
:class:`~shared_core.result.Usage`; a :class:`CostTracker` keeps thread-safe totals. Three rules:

* **The base model decides the price.** Azure answers with versioned names (``gpt-4o-2024-08-06``) and
  deployments are named freely (``prod-chat``), so the router passes the deployment's configured base model and
  the table matches it by longest prefix, the way :func:`shared_core.deployments.profile_for` does.
* **Unknown is unknown.** A model the table does not know costs ``None`` with a reason, never a guessed
  default: a silent wrong figure is worse than a visible gap. Names that only look like a known model
  (``o3-pro``, ``gpt-4o-mini`` with only ``gpt-4o`` in the table, ``gpt-4o-realtime-preview``) do not inherit its
  price, since those variants are priced differently.
* **PTU costs nothing per call.** Provisioned throughput is paid by the hour, whatever the calls use.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Literal, cast

from shared_core import display
from shared_core.errors import ConfigurationError
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
# A name that extends a table row with one of these words is a differently priced variant of it (pro,
# mini, realtime/audio, deep research), so it must not borrow that row's price.
_VARIANT_WORDS = frozenset({"mini", "nano", "pro", "realtime", "audio", "transcribe", "tts", "search", "research"})
_LOOKUP_CACHE_SIZE = 256
_PRICE_KEYS = {"input": "input", "output": "output", "cached_input": "cached_input", "cached": "cached_input"}
PTU_REASON = "provisioned throughput (PTU): no marginal cost"


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per one million tokens.

    Attributes:
        input_per_million: Prompt tokens not served from the prompt cache.
        output_per_million: Completion tokens, reasoning tokens included.
        cached_input_per_million: Prompt tokens served from the cache; ``None`` means the model has no
            cached-input discount, so cached tokens cost the input rate.
    """

    input_per_million: float
    output_per_million: float
    cached_input_per_million: float | None = None

    def __post_init__(self) -> None:
        rates = (self.input_per_million, self.output_per_million, self.cached_input_per_million)
        for rate in rates:
            if rate is not None and (isinstance(rate, bool) or not math.isfinite(rate) or rate < 0):
                raise ConfigurationError(
                    f"price {rate!r} is not a finite, non-negative number of USD per 1M tokens",
                    source="ModelPrice",
                    fix="give prices in USD per one million tokens, e.g. input=2.5, output=10",
                )

    @property
    def cached_rate(self) -> float:
        """The rate cached prompt tokens are billed at."""
        return self.input_per_million if self.cached_input_per_million is None else self.cached_input_per_million


def _p(inp: float, out: float, cached: float | None = None) -> ModelPrice:
    return ModelPrice(inp, out, cached)


# Approximate list prices in USD per 1M tokens (input, output, cached input): Azure OpenAI "Global Standard"
# deployments, which match OpenAI's published list prices; figures as published up to 2025-12 (each as of
# the model's launch or its last price change: o3 from 2025-06-10). Data Zone and Regional deployments
# are billed about 10% higher, and prices change: override from config (PriceTable.with_config).
# Cached input: 50% off for gpt-4o and o1/o3-mini, 75% off for gpt-4.1, o3 and o4-mini, 90% off for gpt-5.
DEFAULT_PRICES: Mapping[str, ModelPrice] = MappingProxyType(
    {
        # The seed's figures.
        "gpt-4o": _p(2.50, 10.00, 1.25),
        "gpt-4o-mini": _p(0.15, 0.60, 0.075),
        "gpt-4-turbo": _p(10.00, 30.00),
        "gpt-35-turbo": _p(0.50, 1.50),  # version 0125; earlier versions were billed higher
        "gpt-3.5-turbo": _p(0.50, 1.50),
        # Versions priced unlike their family's row (longest prefix wins).
        "gpt-4o-2024-05-13": _p(5.00, 15.00),
        "gpt-4": _p(30.00, 60.00),
        "gpt-4-32k": _p(60.00, 120.00),
        "gpt-4-1106-preview": _p(10.00, 30.00),
        "gpt-4-0125-preview": _p(10.00, 30.00),
        "gpt-4-vision-preview": _p(10.00, 30.00),
        # Current models.
        "gpt-4.1": _p(2.00, 8.00, 0.50),
        "gpt-4.1-mini": _p(0.40, 1.60, 0.10),
        "gpt-4.1-nano": _p(0.10, 0.40, 0.025),
        "o1": _p(15.00, 60.00, 7.50),
        "o1-mini": _p(1.10, 4.40, 0.55),
        "o3": _p(2.00, 8.00, 0.50),
        "o3-mini": _p(1.10, 4.40, 0.55),
        "o3-pro": _p(20.00, 80.00),
        "o4-mini": _p(1.10, 4.40, 0.275),
        "gpt-5": _p(1.25, 10.00, 0.125),
        "gpt-5-mini": _p(0.25, 2.00, 0.025),
        "gpt-5-nano": _p(0.05, 0.40, 0.005),
        "gpt-5-pro": _p(15.00, 120.00),
        "gpt-5.1": _p(1.25, 10.00, 0.125),
        "gpt-5.2": _p(1.75, 14.00, 0.175),
    }
)


def _normalise(model: str) -> str:
    return model.strip().lower().removeprefix("azure/")


def _extends(name: str, prefix: str) -> bool:
    if not name.startswith(prefix):
        return False
    rest = name[len(prefix) :]
    # "gpt-4o" must not match "gpt-4ox" nor "gpt-4.1"; it does match "gpt-4o-2024-08-06".
    return rest == "" or rest[0] in "-_:@"


def _variant_of(name: str, prefix: str) -> bool:
    words = name[len(prefix) :].replace("_", "-").replace(":", "-").replace("@", "-").split("-")
    return any(word in _VARIANT_WORDS for word in words)


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Prices by base model, matched by longest prefix (versioned names included).

    Build the shipped table with :meth:`default`; change rows with :meth:`with_overrides` or
    :meth:`with_config`. An override of ``gpt-4o`` leaves the more specific ``gpt-4o-2024-05-13`` row alone.

    Attributes:
        prices: Normalised (lower-case) model name -> price.
    """

    prices: Mapping[str, ModelPrice] = field(default_factory=lambda: DEFAULT_PRICES)
    # Every call is priced: scanning every row by prefix took 2.3 µs a call, a kept answer 0.05 µs
    # (benchmarks/README.md hot spot 3). The table is frozen, so each model name's answer is kept.
    _found: dict[str, tuple[str, ModelPrice] | None] = field(
        default_factory=lambda: {}, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        frozen = MappingProxyType({_normalise(k): v for k, v in self.prices.items()})
        object.__setattr__(self, "prices", frozen)

    @classmethod
    def default(cls) -> PriceTable:
        """The shipped table (approximate list prices; see :data:`DEFAULT_PRICES`)."""
        return cls(DEFAULT_PRICES)

    @classmethod
    def from_config(cls, config: Mapping[str, object], *, source: str = "prices") -> PriceTable:
        """The shipped table with the rows of a configuration mapping put over it (see :func:`parse_prices`)."""
        return cls.default().with_config(config, source=source)

    def with_overrides(self, overrides: Mapping[str, ModelPrice]) -> PriceTable:
        """A copy with these rows added or replaced."""
        return PriceTable({**self.prices, **{_normalise(k): v for k, v in overrides.items()}})

    def with_config(self, config: Mapping[str, object], *, source: str = "prices") -> PriceTable:
        """A copy with the rows of a configuration mapping added or replaced (see :func:`parse_prices`)."""
        return self.with_overrides(parse_prices(config, source=source))

    def lookup(self, model: str | None) -> tuple[str, ModelPrice] | None:
        """The row that prices ``model``, as ``(row name, price)``; ``None`` when no row may price it."""
        if not model:
            return None
        try:
            return self._found[model]
        except KeyError:
            pass
        name = _normalise(model)
        best = ""
        for prefix in self.prices:
            if len(prefix) > len(best) and _extends(name, prefix):
                best = prefix
        found = None if not best or _variant_of(name, best) else (best, self.prices[best])
        if len(self._found) >= _LOOKUP_CACHE_SIZE:
            self._found.clear()  # names come from configuration and Azure's answers; this only bounds a leak
        self._found[model] = found
        return found

    def price_for(self, model: str | None) -> ModelPrice | None:
        """The price of ``model``, or ``None`` when the table does not know it."""
        found = self.lookup(model)
        return None if found is None else found[1]


def parse_prices(config: Mapping[str, object], *, source: str = "prices") -> dict[str, ModelPrice]:
    """Read ``{"gpt-4o": {"input": 2.5, "output": 10, "cached_input": 1.25}}`` into prices.

    ``input`` and ``output`` are required; ``cached_input`` (alias ``cached``) is optional. Numbers may be
    given as strings (environment variables).

    Raises:
        ConfigurationError: Naming the model and key of the first bad value.
    """
    out: dict[str, ModelPrice] = {}
    for model, row in config.items():
        where = f"{source} entry {model!r}"
        if not model.strip() or any(ch.isspace() for ch in model.strip()):
            raise ConfigurationError(f"{model!r} is not a model name", source=where, fix="use names like 'gpt-4o'")
        if isinstance(row, ModelPrice):
            out[model] = row
            continue
        if not isinstance(row, Mapping):
            raise ConfigurationError(
                f"the price of {model!r} must be a table of rates, not {type(row).__name__}",
                source=where,
                fix="write it as {input = 2.5, output = 10, cached_input = 1.25} (USD per 1M tokens)",
            )
        out[model] = _price_from_row(cast(Mapping[object, object], row), where)
    return out


def _price_from_row(row: Mapping[object, object], where: str) -> ModelPrice:
    rates: dict[str, float] = {}
    for key, value in row.items():
        canonical = _PRICE_KEYS.get(str(key))
        if canonical is None:
            raise ConfigurationError(
                f"unknown price key {key!r}", source=where, fix="use 'input', 'output' and 'cached_input'"
            )
        rates[canonical] = _rate(value, f"{where} key {key!r}")
    missing = [k for k in ("input", "output") if k not in rates]
    if missing:
        raise ConfigurationError(
            f"the price has no {' or '.join(repr(m) for m in missing)} rate",
            source=where,
            fix="give both 'input' and 'output' in USD per 1M tokens",
        )
    return ModelPrice(rates["input"], rates["output"], rates.get("cached_input"))


def _rate(value: object, where: str) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or number < 0:
        raise ConfigurationError(
            f"{value!r} is not a price", source=where, fix="give a non-negative number of USD per 1M tokens"
        )
    return number


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
    """

    __slots__ = ("_by_deployment", "_by_model", "_lock", "_total")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_deployment: dict[str, _Bucket] = {}
        self._by_model: dict[str, _Bucket] = {}
        self._total = _Bucket()

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
