"""The faulted load run, small: 800 calls over three emulated regions with 20% injected faults and outages.

The same run as ``python -m tests.load.run_load`` (see ``tests/load/README.md`` for the full one and its
figures), asserting what must hold at any size: every call accounted for, nothing raised outside the error tree,
no tool call emitted twice, no stream piece repeated or dropped, no wrong answer, the success rate while a region
is up, and memory that does not grow with the number of calls. The CI run allows more retries than the full
run (6, not 3): with a region down and 20% faults on the others, 3 retries leave about one failed call in a
thousand by chance alone, which would make an 800-call run flaky at a 99.9% bar; the full run reports the rate
at 3.
"""

from __future__ import annotations

import pytest

from tests.load.run_load import LoadOptions, run_load

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

CALLS = 800
RSS_GROWTH_BOUND_MB = 25.0


def test_load_small_run_keeps_answering_and_accounts_for_every_call() -> None:
    report = run_load(LoadOptions(calls=CALLS, faults=0.2, max_seconds=15.0, grace=15.0, max_retries=6))
    print("\n" + report.table())
    tally, server = report.tally, report.server

    assert tally.launched >= CALLS // 2, "the run launched enough calls to mean something"
    assert report.unaccounted == 0, "every call returned or raised"
    assert report.untyped == 0, f"only errors of the tree: {tally.untyped[:3]}"
    assert tally.tool_calls_twice == 0
    assert tally.duplicated_pieces == 0, "streamed pieces are exactly the text (or the partial) once"
    assert tally.wrong_answers == 0
    assert report.success_rate >= 0.999, f"failures while a region was up: {tally.failures[:3]}"
    assert 0.12 <= server.faulted / server.requests <= 0.3, "about a fifth of the requests got a fault"
    assert {"rate_limit", "server_error", "reset", "cut_stream"} <= set(server.by_fault)
    assert any(event.startswith("kill east") for event in report.outages), "a regional outage happened"
    growth = report.rss_end[0] - report.rss_warm[0]
    assert growth < RSS_GROWTH_BOUND_MB, f"RSS grew {growth:.1f} MB after warm-up"
