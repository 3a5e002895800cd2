"""Prices per million tokens by base model: the shipped table, overrides from configuration, the lookup.

A :class:`PriceTable` maps base models to :class:`ModelPrice` rows; :mod:`shared_core.costs` uses it to price
each call. Two rules:

* **The base model decides the price.** Azure answers with versioned names (``gpt-4o-2024-08-06``) and
  deployments are named freely (``prod-chat``), so the router passes the deployment's configured base model and
  the table matches it by longest prefix, the way :func:`shared_core.deployments.profile_for` does.
* **Unknown is unknown.** A model the table does not know has no price, never a guessed default: a silent wrong
  figure is worse than a visible gap. Names that only look like a known model (``o3-pro``, ``gpt-4o-mini`` with
  only ``gpt-4o`` in the table, ``gpt-4o-realtime-preview``) do not inherit its price, since those variants
  are priced differently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import cast

from shared_core.errors import ConfigurationError

__all__ = ["DEFAULT_PRICES", "ModelPrice", "PriceTable", "parse_prices"]

# A name that extends a table row with one of these words is a differently priced variant of it (pro,
# mini, realtime/audio, deep research), so it must not borrow that row's price.
_VARIANT_WORDS = frozenset({"mini", "nano", "pro", "realtime", "audio", "transcribe", "tts", "search", "research"})
_LOOKUP_CACHE_SIZE = 256
_PRICE_KEYS = {"input": "input", "output": "output", "cached_input": "cached_input", "cached": "cached_input"}


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
