"""Pricing is exact and per table, with lookups cached and rates precomputed per price.

The expected figures are computed here independently, with ``Fraction`` arithmetic on the published rates.
"""

from __future__ import annotations

from fractions import Fraction

from shared_core import CallCost, CostTracker
from shared_core.costs import ModelPrice, PriceTable, cost_of
from shared_core.result import Usage

_ODD = ModelPrice(0.1, 0.3, 0.07)  # rates no binary float holds exactly


def _expected(usage: Usage, price: ModelPrice) -> Fraction:
    cached = min(usage.cached_input_tokens, usage.input_tokens)
    cached_rate = price.input_per_million if price.cached_input_per_million is None else price.cached_input_per_million
    per_million = (
        Fraction(price.input_per_million) * (usage.input_tokens - cached)
        + Fraction(cached_rate) * cached
        + Fraction(price.output_per_million) * usage.output_tokens
    )
    return per_million / 1_000_000


def test_costs_cost_of_amount_is_the_exact_rate_arithmetic() -> None:
    table = PriceTable.default().with_overrides({"odd-model": _ODD})
    for usage in (Usage(19, 10, 29), Usage(1000, 7, 1007, cached_input_tokens=333), Usage(0, 0, 0)):
        cost = cost_of(usage, deployment="d", model="odd-model", ptu=False, prices=table)

        assert cost.exact_amount == _expected(usage, _ODD)
        assert cost.amount == float(_expected(usage, _ODD))


def test_costs_lookup_answers_the_same_when_repeated_and_per_table() -> None:
    default = PriceTable.default()
    first = default.lookup("GPT-4o-2024-08-06")
    again = default.lookup("GPT-4o-2024-08-06")
    changed = default.with_overrides({"gpt-4o": ModelPrice(1.0, 2.0)})

    assert first == again == ("gpt-4o", default.prices["gpt-4o"])
    assert changed.lookup("GPT-4o-2024-08-06") == ("gpt-4o", ModelPrice(1.0, 2.0))
    assert default.lookup("GPT-4o-2024-08-06") == first
    assert default.lookup("gpt-4o-mini-realtime") is None
    assert default.lookup("gpt-4o-mini-realtime") is None


def test_costs_tracker_totals_are_exact_sums_over_mixed_costs() -> None:
    table = PriceTable.default().with_overrides({"odd-model": _ODD})
    usages = [Usage(n * 7 + 1, n * 3, n * 10 + 1, cached_input_tokens=n) for n in range(60)]
    tracker = CostTracker()
    expected = Fraction(0)
    expected_d1 = Fraction(0)
    for i, usage in enumerate(usages):
        model = "odd-model" if i % 2 else "gpt-4o-mini"
        price = _ODD if i % 2 else table.prices["gpt-4o-mini"]
        tracker.record(cost_of(usage, deployment=f"d{i % 3}", model=model, ptu=False, prices=table))
        expected += _expected(usage, price)
        expected_d1 += _expected(usage, price) if i % 3 == 1 else 0
    # A cost made by hand (a framework package's own) carries only its float amount; one with none is unknown.
    tracker.record(CallCost("d0", "hand-made", 0.1))
    tracker.record(CallCost("d0", "hand-made", None))
    expected += Fraction(0.1)

    total = tracker.grand_total()
    by_deployment = tracker.totals_by_deployment()

    assert total.amount == float(expected)
    assert total.calls == 62 and total.unknown_cost_calls == 1
    assert by_deployment["d1"].amount == float(expected_d1)
    assert by_deployment["d1"].calls == 20
