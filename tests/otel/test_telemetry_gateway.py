"""Spans and metrics of the core Gateway: sync, async and streaming, failover, retries and errors, on the emulator."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from shared_core import (
    ChatRequest,
    ContentFilterError,
    GenerationSettings,
    Message,
    RateLimitError,
    StreamInterruptedError,
    ToolCallPart,
)
from shared_core.telemetry import CAPTURE_CONTENT_ENV, use_providers
from tests.otel.conftest import MODEL, Telemetry, routed, single
from tests.support.azure_server import AzureTestServer, HttpError, PromptFiltered, Reply, Usage

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

USAGE = Usage(prompt_tokens=40, completion_tokens=12, cached_tokens=16, reasoning_tokens=4)


def ask(text: str = "hello", **settings: Any) -> ChatRequest:
    return ChatRequest(
        (Message.system("Be brief."), Message.user(text)), settings=GenerationSettings(**settings), model=MODEL
    )


async def adrain(gateway: Any, request: ChatRequest) -> list[Any]:
    return [event async for event in gateway.astream(request)]


def test_gateway_complete_span_has_the_request_response_usage_server_and_azure_facts(
    telemetry: Telemetry, regions: dict[str, AzureTestServer]
) -> None:
    east = regions["east"]
    east.script(Reply("Short answer.", usage=USAGE))
    gateway = single(east)
    result = gateway.complete(ask(temperature=0.5, top_p=0.9, max_tokens=64, seed=7, stop=("END",)))

    span = telemetry.only_chat_span()
    a = dict(span.attributes or {})
    assert span.name == f"chat {MODEL}" and span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "azure.ai.openai"
    assert a["gen_ai.request.model"] == MODEL and a["gen_ai.response.model"] == result.model
    assert (a["gen_ai.request.temperature"], a["gen_ai.request.top_p"], a["gen_ai.request.max_tokens"]) == (
        0.5,
        0.9,
        64,
    )
    assert a["gen_ai.request.seed"] == 7 and a["gen_ai.request.stop_sequences"] == ("END",)
    assert a["gen_ai.response.id"] == result.response_id and a["gen_ai.response.finish_reasons"] == ("stop",)
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (40, 12)
    assert (a["gen_ai.usage.cache_read.input_tokens"], a["gen_ai.usage.reasoning.output_tokens"]) == (16, 4)
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == int(east.endpoint.rsplit(":", 1)[1])
    assert a["azure.service.request.id"] == result.request_id and result.request_id
    assert a["azure.openai.deployment"] == MODEL and a["openai.api.type"] == "chat_completions"
    assert result.cost is not None and a["azure.openai.cost"] == pytest.approx(result.cost.amount)
    assert a["azure.openai.attempts"] == 1 and a["azure.openai.retries"] == 0 and a["azure.openai.failover"] is False
    assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a, "content is opt-in"


def test_gateway_failover_span_shows_each_attempt_the_failover_and_the_region_that_answered(
    telemetry: Telemetry, regions: dict[str, AzureTestServer]
) -> None:
    regions["east"].script(HttpError(503))
    regions["west"].script(Reply("From the west.", usage=USAGE))
    result = routed(regions).complete(ask())

    span = telemetry.only_chat_span()
    a = dict(span.attributes or {})
    assert result.message.text == "From the west."
    assert a["azure.openai.failover"] is True and a["azure.openai.attempts"] == 2
    assert a["azure.openai.endpoint.name"] == "west"
    assert a["server.port"] == int(regions["west"].endpoint.rsplit(":", 1)[1])
    names = [e.name for e in span.events]
    assert names == ["azure.openai.attempt_failed", "azure.openai.failover"]
    failed, failover = (dict(e.attributes or {}) for e in span.events)
    assert failed["http.response.status_code"] == 503 and failed["error.type"] == "ServerError"
    assert failed["azure.openai.decision"] == f"fail over to west/{MODEL}" and failed["azure.openai.delay"] == 0.0
    assert failover["azure.openai.from"] == f"east/{MODEL}" and failover["azure.openai.to"] == f"west/{MODEL}"
    assert "failing over once" in str(failover["azure.openai.reason"])
    assert span.start_time is not None and span.end_time is not None
    assert all(span.start_time <= e.timestamp <= span.end_time for e in span.events)


def test_gateway_retry_event_carries_its_wait_and_reason(
    telemetry: Telemetry, regions: dict[str, AzureTestServer]
) -> None:
    east = regions["east"]
    east.script(HttpError(429, retry_after=0.05), Reply("ok"))
    asyncio.run(single(east).acomplete(ask()))

    span = telemetry.only_chat_span()
    a = dict(span.attributes or {})
    assert a["azure.openai.attempts"] == 2 and a["azure.openai.retries"] == 1
    (failed,) = [dict(e.attributes or {}) for e in span.events]
    assert failed["azure.openai.delay"] >= 0.05 and failed["http.response.status_code"] == 429
    assert "retry" in str(failed["azure.openai.decision"]).lower()


def test_gateway_error_span_has_error_type_status_and_the_metric_has_it_too(
    telemetry: Telemetry, regions: dict[str, AzureTestServer]
) -> None:
    east = regions["east"]
    east.script(*[HttpError(429, retry_after=30)] * 3)
    with pytest.raises(RateLimitError):
        single(east).complete(ask())

    span = telemetry.only_chat_span()
    a = dict(span.attributes or {})
    assert span.status.status_code is StatusCode.ERROR and span.status.description == "RateLimitError (HTTP 429)"
    assert a["error.type"] == "RateLimitError" and a["http.response.status_code"] == 429
    (point,) = telemetry.points("gen_ai.client.operation.duration")
    assert point.attributes["error.type"] == "RateLimitError" and point.count == 1
    assert telemetry.points("gen_ai.client.token.usage") == []


@pytest.mark.parametrize("mode", ["complete", "stream"])
def test_gateway_prompt_content_filter_is_an_error_span_naming_the_side_and_category(
    telemetry: Telemetry, regions: dict[str, AzureTestServer], mode: str
) -> None:
    east = regions["east"]
    east.script(PromptFiltered())
    gateway = single(east)
    with pytest.raises(ContentFilterError):
        gateway.complete(ask()) if mode == "complete" else list(gateway.stream(ask()))

    a = dict(telemetry.only_chat_span().attributes or {})
    assert a["error.type"] == "ContentFilterError" and a["http.response.status_code"] == 400
    assert a["azure.openai.content_filter.side"] == "prompt"
    assert a["azure.openai.content_filter.categories"] == ("self_harm",)


def test_gateway_completion_filter_error_still_counts_its_tokens_and_cost(
    telemetry: Telemetry, regions: dict[str, AzureTestServer]
) -> None:
    east = regions["east"]
    east.script(Reply("one two three", filter_after=1, usage=USAGE))
    with pytest.raises(ContentFilterError) as raised:
        single(east).complete(ask())

    a = dict(telemetry.only_chat_span().attributes or {})
    assert a["azure.openai.content_filter.side"] == "completion" and a["error.type"] == "ContentFilterError"
    assert a["gen_ai.usage.output_tokens"] == 12 and a["gen_ai.response.finish_reasons"] == ("content_filter",)
    assert raised.value.partial is not None and raised.value.partial.cost is not None
    (cost,) = telemetry.points("azure.openai.client.cost")
    assert cost.value == pytest.approx(raised.value.partial.cost.amount) and cost.value > 0


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_gateway_stream_span_ends_with_the_stream_and_has_time_to_first_chunk(
    telemetry: Telemetry, regions: dict[str, AzureTestServer], mode: str
) -> None:
    east = regions["east"]
    east.script(Reply("a b c d", usage=USAGE, chunk_delay=0.02))
    gateway = single(east)
    events = list(gateway.stream(ask())) if mode == "stream" else asyncio.run(adrain(gateway, ask()))

    span = telemetry.only_chat_span()
    a = dict(span.attributes or {})
    assert a["gen_ai.request.stream"] is True and a["azure.openai.stream.outcome"] == "completed"
    assert a["gen_ai.usage.output_tokens"] == 12 and a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["azure.openai.cost"] == pytest.approx(events[-1].cost.amount)
    first = a["gen_ai.response.time_to_first_chunk"]
    assert isinstance(first, float) and first >= 0.02
    assert span.end_time is not None and span.start_time is not None
    assert (span.end_time - span.start_time) / 1e9 >= first + 0.04, "ends when the stream ends, not when it opens"
    (ttfc,) = telemetry.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1 and ttfc.sum == pytest.approx(first)


def test_gateway_stream_abandoned_by_the_caller_ends_its_span(
    telemetry: Telemetry, regions: dict[str, AzureTestServer]
) -> None:
    east = regions["east"]
    east.script(Reply("a b c d e f g h", usage=USAGE))
    stream = single(east).stream(ask())
    next(stream), next(stream)
    assert telemetry.chat_spans() == [], "open while the caller reads"
    stream.close()  # type: ignore[attr-defined]

    a = dict(telemetry.only_chat_span().attributes or {})
    assert a["azure.openai.stream.outcome"] == "abandoned" and "error.type" not in a


def test_gateway_async_stream_abandoned_by_the_caller_ends_its_span(
    telemetry: Telemetry, regions: dict[str, AzureTestServer]
) -> None:
    east = regions["east"]
    east.script(Reply("a b c d e f g h", usage=USAGE))

    async def two_then_close() -> None:
        stream = single(east).astream(ask())
        await anext(stream), await anext(stream)  # type: ignore[arg-type]
        await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(two_then_close())
    assert dict(telemetry.only_chat_span().attributes or {})["azure.openai.stream.outcome"] == "abandoned"


def test_gateway_stream_cut_is_an_error_span_with_what_was_received(
    telemetry: Telemetry, regions: dict[str, AzureTestServer]
) -> None:
    east = regions["east"]
    east.script(Reply("alpha beta gamma delta", cut_after=3))
    with pytest.raises(StreamInterruptedError):
        list(single(east).stream(ask()))

    span = telemetry.only_chat_span()
    a = dict(span.attributes or {})
    assert span.status.status_code is StatusCode.ERROR and a["error.type"] == "StreamInterruptedError"
    assert a["azure.openai.stream.outcome"] == "cut" and "gen_ai.response.time_to_first_chunk" in a


def test_gateway_metrics_duration_tokens_by_type_and_cost(
    telemetry: Telemetry, regions: dict[str, AzureTestServer]
) -> None:
    east = regions["east"]
    east.set_default(Reply("ok", usage=USAGE))
    gateway = single(east)
    results = [gateway.complete(ask()), gateway.complete(ask())]

    (duration,) = telemetry.points("gen_ai.client.operation.duration")
    assert duration.count == 2 and duration.sum > 0
    assert (
        duration.attributes["gen_ai.operation.name"] == "chat" and duration.attributes["server.address"] == "127.0.0.1"
    )
    assert list(duration.explicit_bounds)[:3] == [0.01, 0.02, 0.04], "the conventions' advised buckets"
    tokens = {p.attributes["gen_ai.token.type"]: p for p in telemetry.points("gen_ai.client.token.usage")}
    assert (tokens["input"].sum, tokens["output"].sum) == (80, 24) and tokens["input"].count == 2
    (cost,) = telemetry.points("azure.openai.client.cost")
    assert cost.value == pytest.approx(sum(r.cost.amount for r in results if r.cost and r.cost.amount))
    assert cost.attributes["azure.openai.cost.currency"] == "USD"


def test_gateway_span_nests_under_the_callers_span_and_is_current_for_spans_below(
    telemetry: Telemetry, regions: dict[str, AzureTestServer]
) -> None:
    tracer = telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("web request") as parent:
        single(regions["east"]).complete(ask())
        list(single(regions["east"]).stream(ask()))

    spans = {s.name: s for s in telemetry.spans()}
    parent_id = parent.get_span_context().span_id
    assert [s.parent.span_id if s.parent else None for s in telemetry.chat_spans()] == [parent_id, parent_id]
    assert spans["web request"].context.trace_id == telemetry.chat_spans()[0].context.trace_id
    assert trace.get_current_span() is trace.INVALID_SPAN, "nothing left attached"


def test_gateway_content_is_recorded_only_when_the_capture_setting_is_on(
    telemetry: Telemetry, regions: dict[str, AzureTestServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    east = regions["east"]
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "true")
    call = ToolCallPart("call_1", "get_weather", '{"city": "Oslo"}')
    history = (
        Message.system("Be brief."),
        Message.user("weather?"),
        Message.assistant(tool_calls=(call,)),
        Message.tool("call_1", "sunny"),
    )
    east.script(Reply("It is sunny."))
    single(east).complete(ChatRequest(history, model=MODEL))

    a = dict(telemetry.only_chat_span().attributes or {})
    assert json.loads(str(a["gen_ai.system_instructions"])) == [{"type": "text", "content": "Be brief."}]
    inputs = json.loads(str(a["gen_ai.input.messages"]))
    assert [m["role"] for m in inputs] == ["user", "assistant", "tool"]
    assert inputs[1]["parts"] == [
        {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Oslo"}}
    ]
    assert inputs[2]["parts"] == [{"type": "tool_call_response", "id": "call_1", "response": "sunny"}]
    outputs = json.loads(str(a["gen_ai.output.messages"]))
    assert outputs == [
        {"role": "assistant", "parts": [{"type": "text", "content": "It is sunny."}], "finish_reason": "stop"}
    ]


def test_gateway_repairs_are_counted_on_the_span(telemetry: Telemetry, regions: dict[str, AzureTestServer]) -> None:
    lost = ToolCallPart("call_9", "get_weather", "{}")
    history = (Message.user("weather?"), Message.assistant(tool_calls=(lost,)), Message.user("ok"))
    single(regions["east"]).complete(ChatRequest(history, model=MODEL))
    assert dict(telemetry.only_chat_span().attributes or {})["azure.openai.conversation_repairs"] == 1


class _BrokenTracer(trace.Tracer):
    def start_span(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("exporter down")

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("exporter down")


class _BrokenTracerProvider(trace.TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _BrokenTracer()


def test_gateway_calls_go_on_when_the_tracer_provider_is_broken(
    telemetry: Telemetry, regions: dict[str, AzureTestServer], caplog: pytest.LogCaptureFixture
) -> None:
    use_providers(_BrokenTracerProvider(), telemetry.meter_provider)
    east = regions["east"]
    east.set_default(Reply("still here", usage=USAGE))
    gateway = single(east)
    assert gateway.complete(ask()).message.text == "still here"
    assert "".join(e.text for e in gateway.stream(ask()) if e.kind == "text").strip() == "still here"
    assert "starting a span failed" in caplog.text
    (duration,) = telemetry.points("gen_ai.client.operation.duration")
    assert duration.count == 2, "metrics are still recorded"


def test_gateway_stream_content_is_the_whole_answer_when_captured_and_absent_otherwise(
    telemetry: Telemetry, regions: dict[str, AzureTestServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    east = regions["east"]
    east.set_default(Reply("one two three four five", usage=USAGE))
    gateway = single(east)
    list(gateway.stream(ask()))
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "span_only")
    list(gateway.stream(ask()))

    plain, captured = (dict(s.attributes or {}) for s in telemetry.chat_spans())
    assert "gen_ai.output.messages" not in plain and plain["gen_ai.usage.output_tokens"] == 12
    (message,) = json.loads(str(captured["gen_ai.output.messages"]))
    assert message["parts"] == [{"type": "text", "content": "one two three four five"}]
    assert captured["gen_ai.usage.output_tokens"] == 12 and captured["gen_ai.response.finish_reasons"] == ("stop",)


def test_gateway_four_calls_are_wrapped_once_however_the_class_is_imported() -> None:
    import shared_core
    from shared_core.gateway import Gateway as Direct

    assert Direct is shared_core.Gateway
    for name in ("complete", "acomplete", "stream", "astream"):
        wrapped = getattr(Direct, name).__wrapped__
        assert not hasattr(wrapped, "__wrapped__"), f"{name} wrapped twice"
        assert wrapped.__qualname__ == f"Gateway.{name}"
