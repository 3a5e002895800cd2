"""``load_record`` is ``json.loads``: the same value, or the same error with the same message, for any text."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_core.wire.json_read import load_record
from tests.fuzz.json_values import any_text, json_text


def _outcome(load: object, text: str) -> tuple[str, object]:
    try:
        value = load(text)  # type: ignore[operator]
    except (ValueError, RecursionError) as error:
        return type(error).__name__, str(error)
    return "value", json.dumps(value, sort_keys=True)


_padding = st.sampled_from(["", " ", "\n", "\t", "\ufeff", "x", "}", " 1"])


@given(st.tuples(_padding, any_text | json_text, _padding))
def test_load_record_matches_json_loads(parts: tuple[str, str, str]) -> None:
    text = "".join(parts)
    assert _outcome(load_record, text) == _outcome(json.loads, text)


@pytest.mark.parametrize(
    "text",
    ['{"a": 1}', ' {"a": 1}', '{"a": 1} ', '{"a": 1}{}', "", "   ", "[" * 100_000, "9" * 5000, "NaN", '"\\ud800"'],
)
def test_load_record_matches_json_loads_at_the_edges(text: str) -> None:
    assert _outcome(load_record, text) == _outcome(json.loads, text)
