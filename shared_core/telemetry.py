"""OpenTelemetry spans and metrics for every call, on the semantic conventions for generative AI.

One CLIENT span per call (``chat {model}``) nested under the caller's current context, with the request, the
response, token usage (cached and reasoning tokens too), the server, ``error.type`` on failure and the Azure
facts (deployment, endpoint name, request id, cost, repairs, attempts, retries, failover). Each failed attempt,
retry wait and failover is a span event carrying its wait and reason; they come from the pipeline's own debug
events (:mod:`shared_core.events`), routed to the call running in the current context. A stream's span ends
when the stream ends, breaks or is abandoned (the generator closed), and records the time to first chunk.
Metrics: ``gen_ai.client.operation.duration``, ``gen_ai.client.token.usage``,
``gen_ai.client.operation.time_to_first_chunk`` and a cost counter.

Free when unused: nothing of OpenTelemetry is imported until the application has imported it itself, and a
call pays one dictionary lookup (two provider checks once OpenTelemetry is imported) until a tracer or meter
provider is configured, globally or with :func:`use_providers`.

Prompt and completion content is recorded only when ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is
``true`` (or ``span_only`` / ``span_and_event``). No credential is ever recorded: attributes come from the
request's settings, the result, the errors' typed fields and the debug events, none of which holds one.

The four calls of :class:`~shared_core.gateway.Gateway` are decorated with :func:`traced_call`,
:func:`traced_acall`, :func:`traced_stream` and :func:`traced_astream` in ``gateway.py``. The attribute and metric
names are the conventions' (:mod:`shared_core.telemetry_names`, checked against
``opentelemetry-semantic-conventions`` by a test); one call's span and metrics are built by
:mod:`shared_core.telemetry_record`, which also decides when a call or stream ends and as what, so the sync and
async hooks here are the same few lines.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

from shared_core.extras import require_extra
from shared_core.result import ChatResult, StreamEvent
from shared_core.telemetry_names import CAPTURE_CONTENT_ENV

if TYPE_CHECKING:
    from types import ModuleType

    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from shared_core.gateway import Gateway
    from shared_core.request import ChatRequest
    from shared_core.telemetry_record import Instruments

__all__ = [
    "CAPTURE_CONTENT_ENV",
    "traced_acall",
    "traced_astream",
    "traced_call",
    "traced_stream",
    "use_providers",
]

_OTEL_MODULES = ("opentelemetry.trace", "opentelemetry.metrics")
_RECORD: list[ModuleType] = []


def _record() -> ModuleType:
    """:mod:`shared_core.telemetry_record`, imported the first time telemetry is on (not at all otherwise)."""
    if not _RECORD:
        from shared_core import telemetry_record  # noqa: PLC0415

        _RECORD.append(telemetry_record)
    return _RECORD[0]


# -- providers --------------------------------------------------------------------------------------------------


class _Providers:
    """Which providers are in use, and their instruments (built once per provider pair)."""

    def __init__(self) -> None:
        self.explicit: tuple[TracerProvider | None, MeterProvider | None] | None = None
        self.cache: tuple[object, object, Instruments | None] | None = None
        self.lock = threading.Lock()

    def instruments(self) -> Instruments | None:
        explicit = self.explicit
        if explicit is None:
            if _OTEL_MODULES[0] not in sys.modules and _OTEL_MODULES[1] not in sys.modules:
                return None
            tracer_provider, meter_provider = _global_providers()
        else:
            tracer_provider, meter_provider = explicit
        cache = self.cache
        if cache is not None and cache[0] is tracer_provider and cache[1] is meter_provider:
            return cache[2]
        built = None
        if tracer_provider is not None or meter_provider is not None:
            built = _record().Instruments(tracer_provider, meter_provider)
        self.cache = (tracer_provider, meter_provider, built)
        return built


_PROVIDERS = _Providers()


def _global_providers() -> tuple[TracerProvider | None, MeterProvider | None]:
    return _record().api().providers()


def use_providers(tracer_provider: TracerProvider | None = None, meter_provider: MeterProvider | None = None) -> None:
    """Send the gateway's spans and metrics to these providers instead of the global ones.

    For applications that keep their providers out of the globals (and for tests). With no argument, the
    global providers are used again. Needs the ``otel`` extra.

    Raises:
        MissingExtraError: ``opentelemetry-api`` is not installed.
    """
    require_extra(
        "opentelemetry.trace", feature="OpenTelemetry spans and metrics", extra="otel", package="opentelemetry-api"
    )
    with _PROVIDERS.lock:
        none = tracer_provider is None and meter_provider is None
        _PROVIDERS.explicit = None if none else (tracer_provider, meter_provider)
        _PROVIDERS.cache = None


# -- the hooks on the gateway's four calls ------------------------------------------------------------------------


def traced_call(method: Callable[[Gateway, ChatRequest], ChatResult]) -> Callable[[Gateway, ChatRequest], ChatResult]:
    """Wrap :meth:`Gateway.complete`: a span and metrics per call when a provider is configured."""

    @functools.wraps(method)
    def complete(gateway: Gateway, request: ChatRequest) -> ChatResult:
        instruments = _PROVIDERS.instruments()
        if instruments is None:
            return method(gateway, request)
        record = _record().CallRecord(instruments, gateway, request, stream=False)
        with record.running():
            result = method(gateway, request)
        record.succeeded(result)
        return result

    return complete


def traced_acall(
    method: Callable[[Gateway, ChatRequest], Awaitable[ChatResult]],
) -> Callable[[Gateway, ChatRequest], Awaitable[ChatResult]]:
    """Wrap :meth:`Gateway.acomplete`, as :func:`traced_call` does the sync one."""

    @functools.wraps(method)
    async def acomplete(gateway: Gateway, request: ChatRequest) -> ChatResult:
        instruments = _PROVIDERS.instruments()
        if instruments is None:
            return await method(gateway, request)
        record = _record().CallRecord(instruments, gateway, request, stream=False)
        with record.running():
            result = await method(gateway, request)
        record.succeeded(result)
        return result

    return acomplete


def traced_stream(
    method: Callable[[Gateway, ChatRequest], Iterator[StreamEvent]],
) -> Callable[[Gateway, ChatRequest], Iterator[StreamEvent]]:
    """Wrap :meth:`Gateway.stream`: untouched when telemetry is off, else one span for the whole stream."""

    @functools.wraps(method)
    def stream(gateway: Gateway, request: ChatRequest) -> Iterator[StreamEvent]:
        instruments = _PROVIDERS.instruments()
        if instruments is None:
            return method(gateway, request)
        return _traced_events(instruments, method(gateway, request), gateway, request)

    return stream


def _traced_events(
    instruments: Instruments, inner: Iterator[StreamEvent], gateway: Gateway, request: ChatRequest
) -> Iterator[StreamEvent]:
    record = _record().CallRecord(instruments, gateway, request, stream=True)
    try:
        with record.streaming():
            # Routing (and so every attempt event) happens before the first event; never current across a yield.
            with record.routing():
                first = next(inner)
            yield record.observe(first)
            for event in inner:
                yield record.observe(event)
    finally:
        close = getattr(inner, "close", None)
        if close is not None:
            close()


def traced_astream(
    method: Callable[[Gateway, ChatRequest], AsyncIterator[StreamEvent]],
) -> Callable[[Gateway, ChatRequest], AsyncIterator[StreamEvent]]:
    """Wrap :meth:`Gateway.astream`, as :func:`traced_stream` does the sync one."""

    @functools.wraps(method)
    def astream(gateway: Gateway, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        instruments = _PROVIDERS.instruments()
        if instruments is None:
            return method(gateway, request)
        return _atraced_events(instruments, method(gateway, request), gateway, request)

    return astream


async def _atraced_events(
    instruments: Instruments, inner: AsyncIterator[StreamEvent], gateway: Gateway, request: ChatRequest
) -> AsyncIterator[StreamEvent]:
    record = _record().CallRecord(instruments, gateway, request, stream=True)
    try:
        with record.streaming():
            with record.routing():
                first = await anext(inner)
            yield record.observe(first)
            async for event in inner:
                yield record.observe(event)
    finally:
        aclose: Callable[[], Awaitable[None]] | None = getattr(inner, "aclose", None)
        if aclose is not None:
            await aclose()
