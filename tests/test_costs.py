"""Prices by base model, the cost of a call, and thread-safe totals."""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Iterator
from fractions import Fraction

import pytest

from shared_core.costs import (
    DEFAULT_PRICES,
    CallCost,
    CostTracker,
    ModelPrice,
    PriceTable,
    cost_of,
    parse_prices,
)
from shared_core.errors import ConfigurationError
from shared_core.result import Usage

TABLE = PriceTable.default()

# The seed's figures, per 1M tokens (input, output), written out independently of the module.
SEED = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-35-turbo": (0.50, 1.50),
}


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Switch threads every microsecond so that a missing lock shows up as a lost update, not by luck."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def usage(inp: int, out: int, cached: int = 0, reasoning: int = 0) -> Usage:
    return Usage(
        input_tokens=inp,
        output_tokens=out,
        total_tokens=inp + out,
        cached_input_tokens=cached,
        reasoning_tokens=reasoning,
    )


def expected(inp: int, out: int, cached: int, rates: tuple[float, float, float]) -> Fraction:
    """usage x price, in exact arithmetic (rates: input, output, cached input per 1M tokens)."""
    r_in, r_out, r_cached = (Fraction(r) for r in rates)
    return ((inp - cached) * r_in + cached * r_cached + out * r_out) / 1_000_000


@pytest.mark.parametrize(("model", "rates"), SEED.items())
def test_price_table_starts_from_the_seed_figures(model: str, rates: tuple[float, float]) -> None:
    price = TABLE.price_for(model)
    assert price is not None
    assert (price.input_per_million, price.output_per_million) == rates


@pytest.mark.parametrize(
    "model",
    [
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4.1-nano",
        "o1",
        "o3",
        "o3-mini",
        "o4-mini",
        "gpt-5",
        "gpt-5-mini",
        "gpt-5-nano",
    ],
)
def test_price_table_knows_current_models_with_a_cached_discount(model: str) -> None:
    found = TABLE.lookup(model)
    assert found is not None and found[0] == model
    price = found[1]
    assert price.cached_input_per_million is not None
    assert 0 < price.cached_input_per_million < price.input_per_million < price.output_per_million


@pytest.mark.parametrize(
    ("name", "row"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-2024-11-20", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-5.2-2025-12-11", "gpt-5.2"),
        ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("gpt-35-turbo-0125", "gpt-35-turbo"),
        ("gpt-4-turbo-2024-04-09", "gpt-4-turbo"),
        ("gpt-4-0125-preview", "gpt-4-0125-preview"),
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),
        ("GPT-4o", "gpt-4o"),
        ("azure/gpt-4o-mini", "gpt-4o-mini"),
    ],
)
def test_price_table_prices_versioned_names_by_their_base_model(name: str, row: str) -> None:
    found = TABLE.lookup(name)
    assert found is not None
    assert found[0] == row


def test_price_table_gpt_4o_never_prices_gpt_4o_mini() -> None:
    only_4o = PriceTable({"gpt-4o": ModelPrice(2.5, 10.0)})
    assert only_4o.lookup("gpt-4o-mini") is None
    assert only_4o.lookup("gpt-4o-mini-2024-07-18") is None
    assert only_4o.lookup("gpt-4o-2024-08-06") is not None
    assert TABLE.price_for("gpt-4o-mini-2024-07-18") == ModelPrice(0.15, 0.60, 0.075)


@pytest.mark.parametrize(
    "name",
    [
        "gpt-4ox",
        "gpt-4.5-preview",
        "o3-deep-research",
        "gpt-4o-realtime-preview",
        "gpt-5.1-codex-mini",
        "gpt-4o-audio-preview",
        "o1-pro",
        "llama-3-70b",
        "prod-chat",
        "",
        None,
    ],
)
def test_price_table_does_not_guess_a_price_for_other_models(name: str | None) -> None:
    assert TABLE.lookup(name) is None


def test_price_table_with_overrides_replaces_rows_and_leaves_the_original() -> None:
    cheaper = TABLE.with_overrides({"GPT-4o": ModelPrice(2.0, 8.0, 1.0), "my-finetune": ModelPrice(3.0, 12.0)})
    assert cheaper.price_for("gpt-4o-2024-08-06") == ModelPrice(2.0, 8.0, 1.0)
    assert cheaper.price_for("my-finetune-v2") == ModelPrice(3.0, 12.0)
    assert cheaper.price_for("gpt-4o-2024-05-13") == ModelPrice(5.0, 15.0)  # the more specific row stays
    assert TABLE.price_for("gpt-4o") == ModelPrice(2.5, 10.0, 1.25)
    assert TABLE.lookup("my-finetune") is None


def test_price_table_from_config_reads_rates_and_keeps_the_rest() -> None:
    table = PriceTable.from_config(
        {"gpt-4o": {"input": 2.75, "output": 11, "cached_input": 1.375}, "phi-4": {"input": "0.07", "output": "0.14"}}
    )
    assert table.price_for("gpt-4o") == ModelPrice(2.75, 11.0, 1.375)
    assert table.price_for("phi-4") == ModelPrice(0.07, 0.14)
    assert table.price_for("o3") == DEFAULT_PRICES["o3"]
    assert parse_prices({"x": {"input": 1, "output": 2, "cached": 0.5}}) == {"x": ModelPrice(1.0, 2.0, 0.5)}


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"gpt-4o": {"input": -1, "output": 10}}, "'gpt-4o' key 'input'"),
        ({"gpt-4o": {"input": "cheap", "output": 10}}, "'cheap' is not a price"),
        ({"gpt-4o": {"input": True, "output": 10}}, "True is not a price"),
        ({"gpt-4o": {"input": float("nan"), "output": 10}}, "nan is not a price"),
        ({"gpt-4o": {"input": 2.5}}, "no 'output' rate"),
        ({"gpt-4o": {"input": 2.5, "ouput": 10}}, "unknown price key 'ouput'"),
        ({"gpt-4o": 2.5}, "must be a table of rates"),
        ({" ": {"input": 1, "output": 1}}, "is not a model name"),
        ({"gpt 4o": {"input": 1, "output": 1}}, "is not a model name"),
    ],
)
def test_price_table_from_config_rejects_bad_values_clearly(config: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PriceTable.from_config(config, source="file gateway.toml key 'prices'")
    assert fragment in str(caught.value)
    assert "gateway.toml" in str(caught.value)


@pytest.mark.parametrize("rates", [(-0.1, 1.0, None), (1.0, float("inf"), None), (1.0, 1.0, -2.0)])
def test_model_price_rejects_negative_or_infinite_rates(rates: tuple[float, float, float | None]) -> None:
    with pytest.raises(ConfigurationError):
        ModelPrice(*rates)


def test_cost_of_bills_cached_input_at_the_cached_rate_and_reasoning_once() -> None:
    cost = cost_of(
        usage(10_000, 2_000, cached=4_000, reasoning=1_500), deployment="chat", model="gpt-4o", ptu=False, prices=TABLE
    )
    # 6,000 x 2.50 + 4,000 x 1.25 + 2,000 x 10.00, per million
    assert cost.amount == pytest.approx(0.015 + 0.005 + 0.020)
    assert (cost.input_tokens, cost.cached_input_tokens, cost.output_tokens) == (10_000, 4_000, 2_000)
    assert (cost.currency, cost.reason, cost.priced_as, cost.known) == ("USD", None, "gpt-4o", True)


def test_cost_of_bills_cached_tokens_at_the_input_rate_when_there_is_no_discount() -> None:
    cost = cost_of(usage(1_000_000, 0, cached=500_000), deployment="d", model="gpt-4-turbo", ptu=False, prices=TABLE)
    assert cost.amount == pytest.approx(10.0)


def test_cost_of_ptu_deployment_is_zero_with_the_reason() -> None:
    for model, used in (("gpt-4o", usage(5_000, 900)), ("unknown-model", None)):
        cost = cost_of(used, deployment="ptu-4o", model=model, ptu=True, prices=TABLE)
        assert cost.amount == 0.0
        assert cost.reason == "provisioned throughput (PTU): no marginal cost"


def test_cost_of_unknown_model_is_unknown_with_a_reason() -> None:
    cost = cost_of(usage(1_000, 100), deployment="llama", model="llama-3-70b", ptu=False, prices=TABLE)
    assert (cost.amount, cost.known, cost.priced_as) == (None, False, None)
    assert cost.reason == "no price for model 'llama-3-70b'; add it with price overrides"
    no_model = cost_of(usage(1_000, 100), deployment="prod-chat", model=None, ptu=False, prices=TABLE)
    assert no_model.amount is None
    assert no_model.reason is not None and "base model is unknown" in no_model.reason


def test_cost_of_missing_usage_is_unknown_with_a_reason() -> None:
    cost = cost_of(None, deployment="chat", model="gpt-4o", ptu=False, prices=TABLE)
    assert cost.amount is None
    assert cost.reason == "Azure reported no token usage for this call"


# (endpoint, deployment, model, ptu, input, cached, output); rates below are the published list figures.
SCRIPT = [
    ("eastus", "chat", "gpt-4o-2024-08-06", False, 1_200, 0, 300),
    ("eastus", "chat", "gpt-4o-2024-08-06", False, 5_000, 4_096, 50),
    ("westeurope", "chat", "gpt-4o", False, 800, 0, 1_000),
    ("eastus", "mini", "gpt-4o-mini-2024-07-18", False, 20_000, 10_000, 2_000),
    ("eastus", "reasoner", "o4-mini", False, 3_000, 0, 9_000),
    ("eastus", "ptu", "gpt-4o", True, 100_000, 0, 10_000),
    ("eastus", "custom", "my-finetune", False, 10, 0, 10),
] * 3
RATES = {"gpt-4o": (2.50, 10.00, 1.25), "gpt-4o-mini": (0.15, 0.60, 0.075), "o4-mini": (1.10, 4.40, 0.275)}


def run_script(tracker: CostTracker) -> None:
    for endpoint, deployment, model, ptu, inp, cached, out in SCRIPT:
        tracker.record(
            cost_of(
                usage(inp, out, cached), deployment=deployment, model=model, ptu=ptu, prices=TABLE, endpoint=endpoint
            )
        )


def test_cost_tracker_totals_per_deployment_match_usage_times_price() -> None:
    tracker = CostTracker()
    run_script(tracker)
    want: dict[str, Fraction] = {}
    for endpoint, deployment, model, ptu, inp, cached, out in SCRIPT:
        base = next((b for b in ("gpt-4o-mini", "gpt-4o", "o4-mini") if model.startswith(b)), None)
        amount = Fraction(0) if ptu or base is None else expected(inp, out, cached, RATES[base])
        label = f"{endpoint}/{deployment}"
        want[label] = want.get(label, Fraction(0)) + amount
    totals = tracker.totals_by_deployment()
    assert set(totals) == set(want)
    for label, amount in want.items():
        assert totals[label].amount == pytest.approx(float(amount), rel=1e-12)
    assert totals["eastus/chat"].calls == 6
    assert totals["eastus/chat"].cached_input_tokens == 3 * 4_096
    assert totals["eastus/ptu"].amount == 0.0
    assert (totals["eastus/custom"].unknown_cost_calls, totals["eastus/custom"].complete) == (3, False)
    grand = tracker.grand_total()
    assert grand.calls == len(SCRIPT)
    assert grand.unknown_cost_calls == 3
    assert grand.amount == pytest.approx(float(sum(want.values())), rel=1e-12)


def test_cost_tracker_keeps_the_same_deployment_name_in_two_regions_apart() -> None:
    tracker = CostTracker()
    run_script(tracker)
    totals = tracker.totals_by_deployment()
    assert totals["eastus/chat"].amount != totals["westeurope/chat"].amount
    assert totals["westeurope/chat"].calls == 3


def test_cost_tracker_totals_by_model() -> None:
    tracker = CostTracker()
    run_script(tracker)
    tracker.record(CallCost("unlabelled", None, None, reason="the deployment's base model is unknown"))
    by_model = tracker.totals_by_model()
    assert set(by_model) == {
        "gpt-4o-2024-08-06",
        "gpt-4o",
        "gpt-4o-mini-2024-07-18",
        "o4-mini",
        "my-finetune",
        "(unknown model)",
    }
    assert by_model["gpt-4o"].calls == 6  # westeurope pay-as-you-go and the eastus PTU deployment
    assert by_model["o4-mini"].amount == pytest.approx(3 * float(expected(3_000, 9_000, 0, RATES["o4-mini"])))
    assert by_model["(unknown model)"].unknown_cost_calls == 1


@pytest.mark.usefixtures("frequent_thread_switches")
def test_cost_tracker_totals_are_exact_with_many_threads_recording() -> None:
    tracker = CostTracker()
    costs = [
        cost_of(usage(100 + i, 7 * i, cached=i // 2), deployment=f"d{i % 4}", model=model, ptu=False, prices=TABLE)
        for i, model in enumerate(["gpt-4o", "gpt-4.1-nano", "o3", "gpt-5-mini", "mystery"] * 40)
    ]
    barrier = threading.Barrier(32)

    def work() -> None:
        barrier.wait()
        for cost in costs:
            tracker.record(cost)

    threads = [threading.Thread(target=work) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    grand = tracker.grand_total()
    assert grand.calls == 32 * len(costs)
    assert grand.input_tokens == 32 * sum(c.input_tokens for c in costs)
    assert grand.output_tokens == 32 * sum(c.output_tokens for c in costs)
    assert grand.unknown_cost_calls == 32 * 40
    assert grand.amount == math.fsum(c.amount for c in costs if c.amount is not None for _ in range(32))
    assert sum(t.calls for t in tracker.totals_by_deployment().values()) == grand.calls


def test_cost_tracker_as_table_lists_each_deployment_in_fixed_width() -> None:
    tracker = CostTracker()
    run_script(tracker)
    table = tracker.as_table()
    lines = table.splitlines()
    for label in ("eastus/chat", "westeurope/chat", "eastus/mini", "eastus/reasoner", "eastus/ptu", "eastus/custom"):
        assert sum(line.startswith(label + " ") for line in lines) == 1
    assert lines[0].split()[:2] == ["deployment", "model"]
    assert lines[-1].startswith("TOTAL")
    assert f"{tracker.grand_total().amount:.6f}" in lines[-1]
    assert len({len(line) for line in lines}) == 1
    by_model = tracker.as_table(by="model")
    assert "o4-mini" in by_model and by_model.splitlines()[0].startswith("model")


def test_cost_tracker_reset_forgets_everything() -> None:
    tracker = CostTracker()
    run_script(tracker)
    tracker.reset()
    assert tracker.totals_by_deployment() == {}
    assert tracker.grand_total().calls == 0
    assert tracker.as_table().splitlines()[-1].split()[:2] == ["TOTAL", "0"]
