"""OpenTelemetry SDK in memory (spans and metrics), and two emulated Azure regions of one model."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from shared_core import DeploymentConfig, EndpointConfig, Gateway, ListSink, RetryPolicy, load_config
from shared_core.telemetry import CAPTURE_CONTENT_ENV, use_providers
from tests.support.azure_server import AzureTestServer
from tests.support.regions import fresh, running_regions

KEY = "otel-test-key"
MODEL = "gpt-4o-mini"
REGIONS = ("east", "west")


@dataclass
class Telemetry:
    """What the SDK received."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def spans(self) -> Sequence[ReadableSpan]:
        return self.exporter.get_finished_spans()

    def chat_spans(self) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name.startswith("chat ")]

    def only_chat_span(self) -> ReadableSpan:
        spans = self.chat_spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def points(self, metric: str) -> list[Any]:
        """Every data point of ``metric``, whatever the scope."""
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        if data is None:
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for m in scope.metrics:
                    if m.name == metric:
                        found.extend(m.data.data_points)
        return found


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Telemetry]:
    """Spans and metrics go to memory for this test; content capture off unless the test turns it on."""
    monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    use_providers(tracer_provider, meter_provider)
    try:
        yield Telemetry(tracer_provider, meter_provider, exporter, reader)
    finally:
        use_providers()


@pytest.fixture(scope="module")
def module_regions() -> Iterator[dict[str, AzureTestServer]]:
    with running_regions(REGIONS, api_key=KEY, deployment=MODEL) as servers:
        yield servers


@pytest.fixture
def regions(
    module_regions: dict[str, AzureTestServer], monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, AzureTestServer]]:
    for var in ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_GATEWAY_CONFIG", "AZURE_OPENAI_API_VERSION"):
        monkeypatch.delenv(var, raising=False)
    fresh(module_regions.values())
    yield module_regions
    fresh(module_regions.values())


def region_endpoints(regions: dict[str, AzureTestServer]) -> list[EndpointConfig]:
    """East first (priority 0), then west."""
    return [
        EndpointConfig(
            name,
            regions[name].endpoint,
            api_key=SecretStr(KEY),
            priority=n,
            deployments=(DeploymentConfig(MODEL, model=MODEL),),
        )
        for n, name in enumerate(REGIONS)
    ]


FAST = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.02, jitter=0.0, deadline=5.0)


def routed(regions: dict[str, AzureTestServer], **kwargs: Any) -> Gateway:
    """Priority failover east → west."""
    return Gateway(load_config(env={}, endpoints=region_endpoints(regions)), retry_policy=FAST, **kwargs)


def single(server: AzureTestServer, **kwargs: Any) -> Gateway:
    """One endpoint, one deployment."""
    config = load_config(env={}, endpoint=server.endpoint, api_key=KEY, default_deployment=MODEL)
    return Gateway(config, retry_policy=FAST, event_sink=kwargs.pop("event_sink", ListSink()), **kwargs)


def port(server: AzureTestServer) -> int:
    """The emulator's port, as ``server.port`` should say."""
    return int(server.endpoint.rsplit(":", 1)[1])
