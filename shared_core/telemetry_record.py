"""One call's span and metrics: what it asked, what came back, what happened on the way (``shared_core.telemetry``).

Built only when a tracer or meter provider is configured; :mod:`shared_core.telemetry` decides that and hooks
the gateway, and :mod:`shared_core.telemetry_providers` holds the tracer and meters. The pipeline's debug events
reach the call running in the current context through :class:`TelemetrySink`; every failed attempt, failover
and wait becomes a span event. When a call or a stream ends, and what it ends as, is decided here
(:meth:`CallRecord.running`, :meth:`~CallRecord.routing`, :meth:`~CallRecord.streaming`): the sync and async
hooks only drive them.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlsplit

from shared_core.errors import GatewayError
from shared_core.events import DebugEvent, EventSink
from shared_core.result import ChatResult, StreamAccumulator, StreamEvent
from shared_core.telemetry_content import input_attributes, output_attributes
from shared_core.telemetry_names import (
    API_TYPES,
    AZURE_RESOURCE_PROVIDER_NAMESPACE,
    AZURE_SERVICE_REQUEST_ID,
    CAPTURE_CONTENT_ENV,
    ERROR_TYPE,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_FREQUENCY_PENALTY,
    GEN_AI_REQUEST_MAX_TOKENS,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_REQUEST_PRESENCE_PENALTY,
    GEN_AI_REQUEST_SEED,
    GEN_AI_REQUEST_STOP_SEQUENCES,
    GEN_AI_REQUEST_STREAM,
    GEN_AI_REQUEST_TEMPERATURE,
    GEN_AI_REQUEST_TOP_P,
    GEN_AI_RESPONSE_FINISH_REASONS,
    GEN_AI_RESPONSE_ID,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    GEN_AI_TOKEN_TYPE,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    GW_ATTEMPTS,
    GW_COST,
    GW_COST_CURRENCY,
    GW_COST_REASON,
    GW_DEPLOYMENT,
    GW_ENDPOINT_NAME,
    GW_ERROR_CODE,
    GW_FAILOVER,
    GW_FILTERED_CATEGORIES,
    GW_FILTERED_SIDE,
    GW_REPAIRS,
    GW_RETRIES,
    GW_STREAM_OUTCOME,
    HTTP_RESPONSE_STATUS_CODE,
    OPENAI_API_TYPE,
    OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
    OPERATION_CHAT,
    PROVIDER_AZURE_OPENAI,
    SERVER_ADDRESS,
    SERVER_PORT,
    TOKEN_INPUT,
    TOKEN_OUTPUT,
)
from shared_core.telemetry_providers import Instruments, api

if TYPE_CHECKING:
    from types import TracebackType

    from opentelemetry.trace import Span

    from shared_core.gateway import Gateway
    from shared_core.request import ChatRequest

__all__ = ["CURRENT", "FACT_KINDS", "CallRecord", "Instruments", "TelemetrySink", "api", "observe_sink"]

_log = logging.getLogger("shared_core.telemetry")
_UNSET = object()
P = ParamSpec("P")
S = TypeVar("S")


def _never_raises(method: Callable[Concatenate[S, P], None]) -> Callable[Concatenate[S, P], None]:
    """Telemetry must never fail a call: a broken provider or exporter is logged, and the call goes on."""

    @functools.wraps(method)
    def guarded(self: S, *args: P.args, **kwargs: P.kwargs) -> None:
        try:
            method(self, *args, **kwargs)
        except Exception:
            _log.warning("recording telemetry failed; the call itself is unaffected", exc_info=True)

    return guarded


_CAPTURE_ON = frozenset({"true", "1", "span_only", "span_and_event"})
_FIRST_CHUNK_KINDS = frozenset({"text", "refusal", "reasoning", "reasoning_item", "tool_call_delta"})
# The stream events a span needs once its first chunk has passed (the text only when content is captured).
FACT_KINDS = frozenset({"metadata", "usage", "finish", "prompt_filter", "content_filter"})

# Event fields that have a conventional name; the others go under ``azure.openai.``.
_EVENT_KEYS = {"error": ERROR_TYPE, "status": HTTP_RESPONSE_STATUS_CODE, "request_id": AZURE_SERVICE_REQUEST_ID}


def _primitive(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


def _capture_content() -> bool:
    return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() in _CAPTURE_ON


# -- routing the pipeline's events to the call running in this context -----------------------------------------

CURRENT: ContextVar[CallRecord | None] = ContextVar("azure_gateway_telemetry_call", default=None)


class TelemetrySink:
    """Forwards every event to the gateway's sink, then to the span of the call running in this context.

    Put in front of a gateway's sink the first time a call is traced; attribute reads reach the wrapped sink
    (``gateway.sink.events`` keeps working on a :class:`~shared_core.events.ListSink`).
    """

    __slots__ = ("inner",)

    def __init__(self, inner: EventSink) -> None:
        self.inner = inner

    def emit(self, event: DebugEvent) -> None:
        """Forward the event, then add it to the current call's span."""
        self.inner.emit(event)
        record = CURRENT.get()
        if record is not None:
            record.event(event)

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not yet set (unpickling): never recurse
            raise AttributeError(name)
        return getattr(self.inner, name)


_WRAP_LOCK = threading.Lock()


def observe_sink(gateway: Gateway) -> None:
    if not isinstance(gateway.sink, TelemetrySink):
        with _WRAP_LOCK:
            if not isinstance(gateway.sink, TelemetrySink):
                gateway.sink = TelemetrySink(gateway.sink)


# -- one call ---------------------------------------------------------------------------------------------------


def _server(url: str | None) -> dict[str, Any]:
    if not url or "://" not in url:
        return {}
    parts = urlsplit(url)
    if parts.hostname is None:
        return {}
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {SERVER_ADDRESS: parts.hostname, SERVER_PORT: port}


def _request_attributes(gateway: Gateway, request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
    s = request.settings
    max_tokens = s.max_tokens if s.max_tokens is not None else gateway.config.max_tokens
    pairs: dict[str, Any] = {
        GEN_AI_OPERATION_NAME: OPERATION_CHAT,
        GEN_AI_PROVIDER_NAME: PROVIDER_AZURE_OPENAI,
        AZURE_RESOURCE_PROVIDER_NAMESPACE: "Microsoft.CognitiveServices",
        GEN_AI_REQUEST_MODEL: model,
        GEN_AI_REQUEST_STREAM: stream,
        OPENAI_API_TYPE: API_TYPES[gateway.api],
        GEN_AI_REQUEST_TEMPERATURE: s.temperature,
        GEN_AI_REQUEST_TOP_P: s.top_p,
        GEN_AI_REQUEST_MAX_TOKENS: max_tokens,
        GEN_AI_REQUEST_SEED: s.seed,
        GEN_AI_REQUEST_PRESENCE_PENALTY: s.presence_penalty,
        GEN_AI_REQUEST_FREQUENCY_PENALTY: s.frequency_penalty,
        GEN_AI_REQUEST_STOP_SEQUENCES: list(s.stop) if s.stop else None,
    }
    return {k: v for k, v in pairs.items() if v is not None}


class CallRecord:
    """One call's span (when tracing) and metrics: built before the call, fed its events, ended once."""

    def __init__(self, instruments: Instruments, gateway: Gateway, request: ChatRequest, *, stream: bool) -> None:
        self.instruments, self.gateway, self.stream = instruments, gateway, stream
        self.started = time.perf_counter()
        self.deployment: str | None = None
        try:
            resolved = gateway.deployments.resolve(request.model)
            model, self.deployment = resolved.model or resolved.deployment, resolved.deployment
        except GatewayError:
            model = request.model or "unknown"
        self.model = model
        self.attributes = _request_attributes(gateway, request, model, stream=stream)
        self.attributes.update(_server(gateway.endpoint))
        if self.deployment is not None:
            self.attributes[GW_DEPLOYMENT] = self.deployment
        self.capture = _capture_content()
        if self.capture:
            self.attributes.update(input_attributes(request))
        self.attempts = self.retries = self.refreshes = 0
        self.first_chunk: float | None = None
        self.accumulator: StreamAccumulator | None = StreamAccumulator() if stream else None
        self.watching = stream
        self.span: Span | None = None
        self.at_start: dict[str, Any] = {}
        if instruments.tracer is not None:
            try:
                self.span = instruments.tracer.start_span(
                    f"{OPERATION_CHAT} {model}", kind=api().trace.SpanKind.CLIENT, attributes=self.attributes
                )
                # What the span started with is not set again at its end (each attribute is validated per set).
                self.at_start = dict(self.attributes)
            except Exception:
                _log.warning("starting a span failed; the call goes on untraced", exc_info=True)
        observe_sink(gateway)

    # -- while running ------------------------------------------------------------------------------------------

    @_never_raises
    def event(self, event: DebugEvent) -> None:
        """Fold one pipeline event in: attempts, waits and failovers become span events."""
        data, name = event.data, event.name
        if name == "provider:outcome":
            self._outcome(data)
            return
        if name == "provider:tool_sequence_repaired":
            count = data.get("count")
            self.attributes[GW_REPAIRS] = count if isinstance(count, int) else 1
        elif name == "provider:failover":
            self.attributes[GW_FAILOVER] = True
        elif name == "provider:attempt_failed":
            decision = data.get("decision")
            if isinstance(decision, str) and decision.startswith("refresh the token"):
                self.refreshes += 1
        elif name not in ("provider:retry", "provider:parameter_adjusted"):
            return
        if self.span is not None:
            attrs = {_EVENT_KEYS.get(k) or f"azure.openai.{k}": v for k, v in data.items() if _primitive(v)}
            self.span.add_event(name.replace("provider:", "azure.openai."), attrs, int(event.timestamp * 1e9))

    def _outcome(self, data: Any) -> None:
        attempts = data.get("attempts")
        if isinstance(attempts, int):
            self.attempts = attempts
            retries = data.get("retries")
            self.retries = retries if isinstance(retries, int) else max(0, attempts - 1 - self.refreshes)

    def observe(self, event: StreamEvent) -> StreamEvent:
        """Fold a stream event in when the span needs it (see :meth:`saw`); returns it, to be passed on."""
        if self.watching or event.kind in FACT_KINDS:
            self.saw(event)
        return event

    def saw(self, event: StreamEvent) -> None:
        """Fold one stream event in (the first content event marks the time to first chunk).

        Fed every event until the first chunk, then (unless content is captured) only :data:`FACT_KINDS`:
        the span needs the answer's facts, not its text.
        """
        if self.first_chunk is None and event.kind in _FIRST_CHUNK_KINDS:
            self.first_chunk = time.perf_counter() - self.started
            self.watching = self.capture
        assert self.accumulator is not None
        self.accumulator.add(event)

    # -- ending ---------------------------------------------------------------------------------------------

    @_never_raises
    def succeeded(self, result: ChatResult) -> None:
        """End with the call's result."""
        self._result(result)
        self._end(None)

    @_never_raises
    def streamed(self, outcome: str) -> None:
        """End a stream that completed or was abandoned, with what it received."""
        assert self.accumulator is not None
        self._result(self.accumulator.result())
        self.attributes[GW_STREAM_OUTCOME] = outcome
        self._end(None)

    @_never_raises
    def failed(self, error: BaseException) -> None:
        """End with the error (and whatever answer it carries: a filtered or broken answer's usage and cost)."""
        partial = getattr(error, "partial", None)
        if isinstance(partial, ChatResult):
            self._result(partial)
        elif self.accumulator is not None and self.accumulator.events_seen:
            self._result(self.accumulator.result())
        if self.stream:
            self.attributes[GW_STREAM_OUTCOME] = (
                "cut" if self.accumulator and self.accumulator.events_seen else "failed"
            )
        if isinstance(error, GatewayError):
            self._error_facts(error)
        self._end(error)

    def _error_facts(self, error: GatewayError) -> None:
        a = self.attributes
        if error.deployment:
            a[GW_DEPLOYMENT] = error.deployment
        if error.endpoint:
            self._locate(error.endpoint)
        for key, value in (
            (HTTP_RESPONSE_STATUS_CODE, error.status),
            (GW_ERROR_CODE, error.code),
            (AZURE_SERVICE_REQUEST_ID, error.request_id),
        ):
            if value is not None:
                a[key] = value
        side = getattr(error, "side", None)
        if isinstance(side, str):
            a[GW_FILTERED_SIDE] = side
            a[GW_FILTERED_CATEGORIES] = list(getattr(error, "filtered_categories", ()))

    def _result(self, result: ChatResult) -> None:
        a = self.attributes
        pairs: tuple[tuple[str, Any], ...] = (
            (GEN_AI_RESPONSE_MODEL, result.model),
            (GEN_AI_RESPONSE_ID, result.response_id),
            (GEN_AI_RESPONSE_FINISH_REASONS, [result.finish_reason] if result.finish_reason else None),
            (OPENAI_RESPONSE_SYSTEM_FINGERPRINT, result.system_fingerprint),
            (AZURE_SERVICE_REQUEST_ID, result.request_id),
            (GW_DEPLOYMENT, result.deployment),
        )
        a.update((k, v) for k, v in pairs if v is not None)
        if result.usage is not None:
            u = result.usage
            a[GEN_AI_USAGE_INPUT_TOKENS], a[GEN_AI_USAGE_OUTPUT_TOKENS] = u.input_tokens, u.output_tokens
            a[GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = u.cached_input_tokens
            a[GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = u.reasoning_tokens
        if result.repairs:  # also counted from the repair event, before the call is sent
            a[GW_REPAIRS] = len(result.repairs)
        self._where(result)
        cost = result.cost
        if cost is not None:
            if cost.amount is not None:
                a[GW_COST], a[GW_COST_CURRENCY] = cost.amount, cost.currency
            if cost.reason:
                a[GW_COST_REASON] = cost.reason
        if self.capture:
            a.update(output_attributes(result))

    def _where(self, result: ChatResult) -> None:
        """The endpoint that answered: its configured name (from the cost, or a stream's first event) and URL."""
        name = result.cost.endpoint if result.cost is not None else None
        if self.accumulator is not None and self.accumulator.endpoint:
            name = self.accumulator.endpoint
        if name:
            self._locate(name)

    def _locate(self, name_or_url: str) -> None:
        for endpoint in self.gateway.config.endpoints:
            if name_or_url in (endpoint.name, endpoint.endpoint):
                self.attributes[GW_ENDPOINT_NAME] = endpoint.name
                self.attributes.update(_server(endpoint.endpoint))
                return
        self.attributes.update(_server(name_or_url))

    def _end(self, error: BaseException | None) -> None:
        a = self.attributes
        duration = time.perf_counter() - self.started
        if self.attempts:
            a[GW_ATTEMPTS], a[GW_RETRIES] = self.attempts, self.retries
        a.setdefault(GW_FAILOVER, False)
        if self.first_chunk is not None:
            a[GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = self.first_chunk
        if error is not None:
            a[ERROR_TYPE] = type(error).__name__
        self._metrics(duration)
        span = self.span
        if span is None:
            return
        start = self.at_start
        span.set_attributes({k: v for k, v in a.items() if start.get(k, _UNSET) != v})
        if error is not None:
            trace = api().trace
            status = getattr(error, "status", None)
            detail = f" (HTTP {status})" if isinstance(status, int) else ""
            span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(error).__name__}{detail}"))
        span.end()

    def _metrics(self, duration: float) -> None:
        inst, a = self.instruments, self.attributes
        keys = (GEN_AI_OPERATION_NAME, GEN_AI_PROVIDER_NAME, GEN_AI_REQUEST_MODEL, GEN_AI_RESPONSE_MODEL)
        keys += (SERVER_ADDRESS, SERVER_PORT, ERROR_TYPE, GW_DEPLOYMENT, GW_ENDPOINT_NAME)
        common = {k: a[k] for k in keys if k in a}
        if inst.duration is not None:
            inst.duration.record(duration, common)
        if inst.first_chunk is not None and self.first_chunk is not None:
            inst.first_chunk.record(self.first_chunk, common)
        if inst.tokens is not None and GEN_AI_USAGE_INPUT_TOKENS in a:
            inst.tokens.record(a[GEN_AI_USAGE_INPUT_TOKENS], {**common, GEN_AI_TOKEN_TYPE: TOKEN_INPUT})
            inst.tokens.record(a[GEN_AI_USAGE_OUTPUT_TOKENS], {**common, GEN_AI_TOKEN_TYPE: TOKEN_OUTPUT})
        if inst.cost is not None and GW_COST in a:
            inst.cost.add(a[GW_COST], {**common, GW_COST_CURRENCY: a[GW_COST_CURRENCY]})

    # -- context ------------------------------------------------------------------------------------------

    def running(self) -> _Current:
        """A call's whole run: current for the body of a ``with``, ended by the error that leaves it, if any."""
        return _Current(self, ends_on_error=True)

    def routing(self) -> _Current:
        """A stream's routing (up to its first event): current for the body of a ``with``, never across a yield."""
        return _Current(self, ends_on_error=False)

    def streaming(self) -> _Streaming:
        """A stream's whole life: ended when the ``with`` is left, as completed, abandoned or failed."""
        return _Streaming(self)

    def enter(self) -> tuple[Any, Any]:
        """Make this call current (for the pipeline's events and for spans started below it)."""
        token = CURRENT.set(self)
        otel_token = None
        if self.span is not None:
            otel = api()
            otel_token = otel.context.attach(otel.trace.set_span_in_context(self.span))
        return token, otel_token

    def exit(self, tokens: tuple[Any, Any]) -> None:
        """Undo :meth:`enter` (in the same context, never across a yield)."""
        token, otel_token = tokens
        if otel_token is not None:
            api().context.detach(otel_token)
        CURRENT.reset(token)


class _Current:
    """Makes a call current for the body of a ``with``; optionally ends it with the error that leaves the body."""

    __slots__ = ("ends_on_error", "record", "tokens")

    def __init__(self, record: CallRecord, *, ends_on_error: bool) -> None:
        self.record, self.ends_on_error = record, ends_on_error
        self.tokens: tuple[Any, Any] = (None, None)

    def __enter__(self) -> None:
        self.tokens = self.record.enter()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if error is not None and self.ends_on_error:
                self.record.failed(error)
        finally:
            self.record.exit(self.tokens)


class _Streaming:
    """Ends a stream's record when the stream's body is left: completed, abandoned (closed early) or failed."""

    __slots__ = ("record",)

    def __init__(self, record: CallRecord) -> None:
        self.record = record

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if error is None:
            self.record.streamed("completed")
        elif isinstance(error, GeneratorExit):  # the consumer stopped early (break, or the generator closed)
            self.record.streamed("abandoned")
        else:
            self.record.failed(error)
