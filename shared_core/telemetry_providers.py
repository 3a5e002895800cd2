"""OpenTelemetry's API, read cheaply on every call, and the instruments of one pair of providers.

Imported only once telemetry is on (through :mod:`shared_core.telemetry_record`); :mod:`shared_core.telemetry`
asks :func:`api` for the application's global providers and builds one :class:`Instruments` per provider pair.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from shared_core.telemetry_names import (
    GEN_AI_CLIENT_OPERATION_DURATION,
    GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
    GEN_AI_CLIENT_TOKEN_USAGE,
    GW_COST_METRIC,
)

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram, MeterProvider
    from opentelemetry.trace import Tracer, TracerProvider

__all__ = ["SCOPE", "Instruments", "api"]

# The conventions' advised bucket boundaries for the two histograms.
_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
_TOKEN_BUCKETS = tuple(float(4**n) for n in range(14))
SCOPE = "shared_core"  # the instrumentation scope of the tracer and meter


class _Api:
    """OpenTelemetry's API modules, imported once; their global provider slots are read cheaply on every call.

    ``get_tracer_provider()`` checks the environment on every call; the module globals behind it say the same
    for a few attribute reads. A provider named in the environment (``OTEL_PYTHON_*_PROVIDER``) goes through
    the public functions, which load it.
    """

    def __init__(self) -> None:
        # Imported only here, and only once the application has imported OpenTelemetry (or configured it).
        from opentelemetry import context, trace  # noqa: PLC0415
        from opentelemetry.metrics import _internal as metrics  # noqa: PLC0415

        self.trace, self.metrics, self.context = trace, metrics, context
        self.from_env = any(v in os.environ for v in ("OTEL_PYTHON_TRACER_PROVIDER", "OTEL_PYTHON_METER_PROVIDER"))
        self.slots = hasattr(trace, "_TRACER_PROVIDER") and hasattr(metrics, "_METER_PROVIDER")
        self.no_op_seen: dict[int, tuple[object, bool]] = {}

    def providers(self) -> tuple[TracerProvider | None, MeterProvider | None]:
        """The application's global providers, ``None`` for each one left unconfigured (a proxy or no-op)."""
        if self.slots and not self.from_env:
            tracer_provider: TracerProvider | None = self.trace._TRACER_PROVIDER  # pyright: ignore[reportPrivateUsage]
            meter_provider: MeterProvider | None = self.metrics._METER_PROVIDER  # pyright: ignore[reportPrivateUsage]
        else:
            tracer_provider, meter_provider = self.trace.get_tracer_provider(), self.metrics.get_meter_provider()
        # The providers are ABCs, and an isinstance check through an ABC costs more than the rest of this
        # method: done only on a provider that is there, and a no-op one is remembered as such.
        if tracer_provider is not None and self._no_op(tracer_provider):
            tracer_provider = None
        if meter_provider is not None and self._no_op(meter_provider):
            meter_provider = None
        return tracer_provider, meter_provider

    def _no_op(self, provider: object) -> bool:
        known = self.no_op_seen.get(id(provider))
        if known is not None and known[0] is provider:
            return known[1]
        no_op_types = (
            self.trace.ProxyTracerProvider,
            self.trace.NoOpTracerProvider,
            self.metrics.NoOpMeterProvider,
            self.metrics._ProxyMeterProvider,  # pyright: ignore[reportPrivateUsage]
        )
        verdict = isinstance(provider, no_op_types)
        self.no_op_seen[id(provider)] = (provider, verdict)
        return verdict


_API: list[_Api] = []


def api() -> _Api:
    """OpenTelemetry's API, imported the first time it is asked for."""
    if not _API:
        _API.append(_Api())
    return _API[0]


class Instruments:
    """The tracer and metric instruments of one (tracer provider, meter provider) pair."""

    __slots__ = ("cost", "duration", "first_chunk", "tokens", "tracer")

    def __init__(self, tracer_provider: TracerProvider | None, meter_provider: MeterProvider | None) -> None:
        self.tracer: Tracer | None = tracer_provider.get_tracer(SCOPE) if tracer_provider is not None else None
        self.duration: Histogram | None = None
        self.tokens: Histogram | None = None
        self.first_chunk: Histogram | None = None
        self.cost: Counter | None = None
        if meter_provider is not None:
            meter = meter_provider.get_meter(SCOPE)
            self.duration = meter.create_histogram(
                GEN_AI_CLIENT_OPERATION_DURATION,
                unit="s",
                description="GenAI operation duration.",
                explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
            )
            self.tokens = meter.create_histogram(
                GEN_AI_CLIENT_TOKEN_USAGE,
                unit="{token}",
                description="Number of input and output tokens used.",
                explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
            )
            self.first_chunk = meter.create_histogram(
                GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
                unit="s",
                description="Time to receive the first chunk of a stream.",
                explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
            )
            self.cost = meter.create_counter(GW_COST_METRIC, unit="{USD}", description="Cost of the calls, in USD.")
