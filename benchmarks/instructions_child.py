"""The process ``benchmarks.instructions`` runs under callgrind: one client, a warm-up, then N calls or streams."""

from __future__ import annotations

import functools
import gc
import json
import sys
from typing import Any

__all__ = ["WARMUP", "run"]

WARMUP = 5


def _telemetry(mode: str) -> None:
    """As the application would: nothing, OpenTelemetry's API imported, or the SDK configured globally."""
    if mode == "otel-imported":
        import opentelemetry.metrics
        import opentelemetry.trace  # noqa: F401
    elif mode == "otel-sdk":
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider

        trace.set_tracer_provider(TracerProvider())  # spans built and ended; no exporter's work counted
        metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    elif mode:
        raise ValueError(f"unknown telemetry mode {mode!r}")


def run(plan_json: str) -> None:
    """Run the plan (JSON: client, otel, endpoint, scenario, calls, workload, body, stream_body)."""
    plan: dict[str, Any] = json.loads(plan_json)
    _telemetry(plan["otel"])
    from benchmarks.clients import ADAPTERS
    from benchmarks.workloads import target_for, use_workload

    use_workload(plan["workload"])
    adapter = ADAPTERS[plan["client"]]()
    adapter.setup(target_for(plan["endpoint"], plan["workload"]))
    operation = adapter.call if plan["scenario"] == "call" else adapter.stream
    for _ in range(WARMUP):
        operation()
    # Everything alive now (imports, pools, caches) moves out of the collector's reach: a full collection
    # would otherwise scan it at a point that shifts with every allocation, adding a whole-heap scan to some
    # variants and not others (about 1% of a LangChain call).
    gc.collect()
    gc.freeze()
    # The parent turns callgrind's instrumentation on now; it counts only inside functools.reduce.
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    functools.reduce(lambda _, __: operation(), range(plan["calls"]), None)
