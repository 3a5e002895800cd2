"""Everything the gateway sent to OpenTelemetry, as texts for the secret canary search."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared_core.telemetry import CAPTURE_CONTENT_ENV, use_providers

__all__ = ["Recorded", "record_telemetry"]


@dataclass
class Recorded:
    """The in-memory span exporter and metric reader of one test."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    @property
    def span_count(self) -> int:
        return len(self.exporter.get_finished_spans())

    def texts(self) -> list[tuple[str, str]]:
        """Each span (name, attributes, status, events) and each metric data point's attributes, as JSON."""
        out: list[tuple[str, str]] = []
        for span in self.exporter.get_finished_spans():
            out.append(("span", span.to_json()))  # name, attributes, status, events with theirs, links, resource
        data = self.reader.get_metrics_data()
        if data is not None:
            out.append(("metrics", data.to_json()))
        return out


def record_telemetry(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Recorded:
    """Spans and metrics to memory until the test ends, prompt and completion content included (the most text)."""
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "true")
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    use_providers(tracer_provider, MeterProvider(metric_readers=[reader]))
    request.addfinalizer(use_providers)
    return Recorded(exporter, reader)
