"""Telemetry off costs nothing: OpenTelemetry is not imported, the gateway is left as built, and a missing extra
is a clear error; configured globally (no ``use_providers``), it is picked up. Each case in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

REPO = Path(__file__).resolve().parents[2]
SCRIPT = r"""
import asyncio, json, sys
case = sys.argv[1]
if case == "no-extra":
    sys.modules["opentelemetry"] = None  # as if the [otel] extra were not installed
if case == "imported":
    import opentelemetry.trace, opentelemetry.metrics  # the app imports the API but configures nothing
if case == "global":
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
from shared_core import ChatRequest, Gateway, ListSink, Message, MissingExtraError, load_config
from azure_openai_emulator import AzureEmulator
with AzureEmulator(api_key="k") as server:
    sink = ListSink()
    config = load_config(env={}, endpoint=server.endpoint, api_key="k", default_deployment="gpt-4o-mini")
    gateway = Gateway(config, event_sink=sink)
    request = ChatRequest((Message.user("hi"),))
    gateway.complete(request)
    list(gateway.stream(request))
    asyncio.run(gateway.acomplete(request))
out = {
    "otel_modules": sorted(m for m in sys.modules if m.startswith("opentelemetry") and sys.modules[m] is not None),
    "sink_untouched": gateway.sink is sink,
    "record_module": "shared_core.telemetry_record" in sys.modules,
    "events": len(sink.events),
}
if case == "no-extra":
    from shared_core.telemetry import use_providers
    try:
        use_providers()
    except MissingExtraError as error:
        out["error"] = str(error)
if case == "global":
    out["spans"] = [s.name for s in exporter.get_finished_spans()]
    scopes = [s for r in reader.get_metrics_data().resource_metrics for s in r.scope_metrics]
    out["metrics"] = sorted({m.name for s in scopes for m in s.metrics})
print(json.dumps(out))
"""


def run_case(case: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, case], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_telemetry_off_imports_no_opentelemetry_and_leaves_the_gateway_alone() -> None:
    out = run_case("off")
    assert out["otel_modules"] == [] and out["sink_untouched"] is True and out["events"] == 9
    assert out["record_module"] is False, "the span-building code is not even imported"


def test_telemetry_with_the_api_imported_but_no_provider_leaves_the_gateway_alone() -> None:
    out = run_case("imported")
    assert "opentelemetry.trace" in out["otel_modules"] and out["sink_untouched"] is True
    assert out["record_module"] is True, "imported once, to read the global providers"


def test_telemetry_without_the_extra_calls_work_and_use_providers_names_the_extra() -> None:
    out = run_case("no-extra")
    assert out["otel_modules"] == [] and out["events"] == 9
    assert "otel" in str(out["error"]) and "opentelemetry-api" in str(out["error"])


def test_telemetry_global_providers_are_picked_up_without_configuring_the_gateway() -> None:
    out = run_case("global")
    assert out["spans"] == ["chat gpt-4o-mini"] * 3 and out["sink_untouched"] is False
    assert {"gen_ai.client.operation.duration", "gen_ai.client.token.usage", "azure.openai.client.cost"} <= set(
        out["metrics"]  # type: ignore[arg-type]
    )
