"""The benchmark measures our framework packages and their floors, and judges them against the floor.

No timing is asserted: the figures are synthetic in the report test, and only their presence is checked in
the measuring one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.clients import ADAPTERS, Target
from benchmarks.report import render_markdown, summarize
from benchmarks.run import API_KEY, API_VERSION, QUICK, bench_server, gateway_bodies
from benchmarks.worker import WorkerPlan, measure

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

FRAMEWORK_CLIENTS = ("langchain-floor", "langchain-gateway", "llamaindex-floor", "llamaindex-gateway")


def _row(call: float, chunk: float) -> dict[str, float]:
    return {"call_cpu_us": call, "chunk_cpu_us": chunk, "inflight_calls_per_s": 500.0, "inflight_cpu_us": 800.0}


def test_benchmark_report_judges_framework_packages_against_their_floor() -> None:
    reps = {
        "httpx": [_row(400, 20)],
        "langchain": [_row(1600, 130)],
        "langchain-floor": [_row(500, 30)],
        "langchain-gateway": [_row(550, 36)],  # 1.10x and 1.20x the floor
        "llamaindex-floor": [_row(500, 30)],
        "llamaindex-gateway": [_row(600, 33)],  # 1.20x and 1.10x; no anchor measured
    }

    summary = summarize(reps, concurrency=200, hold_ms=250)
    langchain, llamaindex = summary["frameworks"]["LangChain"], summary["frameworks"]["LlamaIndex"]

    assert langchain["call_x_floor"] == pytest.approx(1.10) and langchain["call_x_anchor"] == pytest.approx(550 / 1600)
    assert langchain["targets"] == {"call": True, "chunk": False}
    assert llamaindex["targets"] == {"call": False, "chunk": True}
    assert llamaindex["call_x_anchor"] is None
    report = {
        "environment": {
            "date": "d",
            "machine": "m",
            "python": "3",
            "revision": "r",
            "load_average_start": [1.0],
            "packages": {},
        },
        "plan": {"chunks": 100, "hold_ms": 250, "reps": 1, "worker": {"inflight": {"concurrency": 200}}},
        "summary": summary,
    }
    text = render_markdown(report)
    assert "| AzureGatewayChatModel (ours) | 550 | 1.10x | 0.34x |" in text
    assert "| LangChain: CPU per chunk | 1.20x | **FAIL** |" in text


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    with bench_server(QUICK) as endpoint:
        body, stream_body = gateway_bodies(endpoint)
        yield Target(endpoint, API_KEY, API_VERSION, "bench", "held", body, stream_body)


@pytest.mark.parametrize("client", FRAMEWORK_CLIENTS)
def test_benchmark_framework_client_is_measured_without_errors(target: Target, client: str) -> None:
    plan = WorkerPlan(
        construct_max=3,
        construct_seconds=0.01,
        warmup_calls=1,
        calls=2,
        warmup_streams=1,
        streams=1,
        batches=1,
        scenarios=("construct", "call", "stream"),
    )

    result = measure(client, target, plan)

    assert "errors" not in result, result.get("errors")
    for metric in ("construct_us", "call_cpu_us", "chunk_cpu_us"):
        assert result[metric] > 0, metric
    assert ADAPTERS[client].asynchronous  # the in-flight scenario measures them too
