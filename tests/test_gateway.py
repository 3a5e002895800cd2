"""The gateway's happy paths against the loopback Azure server: every route, sync and async, streamed and not.

Each test scripts what the server answers and checks two sides: what the caller gets back (text, tool calls,
structured output, usage, events) and what the server received (path, query, headers, body), so a request
that "works" only because the fake is lenient still fails here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Literal

import httpx
import pytest

from shared_core import (
    ChatRequest,
    ChatResult,
    ConversationError,
    Gateway,
    GenerationSettings,
    ListSink,
    Message,
    RetryPolicy,
    StreamEvent,
    TextDelta,
    ToolCallPart,
    ToolSpec,
    load_config,
)
from shared_core.messages import JsonValue
from shared_core.request import ResponseFormat
from shared_core.result import StreamAccumulator, ToolCallDelta
from shared_core.transport import http
from tests.support.azure_server import AzureTestServer, DeploymentInfo, RecordedRequest, Reply, ToolCall, Usage

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

KEY = "gateway-test-key"
DEPLOYMENT = "gpt-4o-mini"
Mode = Literal["complete", "stream", "acomplete", "astream"]
MODES: tuple[Mode, ...] = ("complete", "stream", "acomplete", "astream")


@dataclass(frozen=True)
class Route:
    """One Azure route: the API shape, the api-version that selects it, and the path it must hit."""

    api: Literal["chat", "responses"]
    api_version: str
    path: str

    def __str__(self) -> str:
        return f"{self.api}-{self.api_version}"


ROUTES = (
    Route("chat", "2024-10-21", f"/openai/deployments/{DEPLOYMENT}/chat/completions"),
    Route("chat", "v1", "/openai/v1/chat/completions"),
    Route("responses", "2025-04-01-preview", "/openai/responses"),
    Route("responses", "v1", "/openai/v1/responses"),
)
CHAT_CLASSIC, CHAT_V1, RESPONSES_PREVIEW, RESPONSES_V1 = ROUTES
WEATHER = ToolSpec(
    "get_weather",
    "Weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CLOCK = ToolSpec("get_time", "Time in a zone", {"type": "object", "properties": {"tz": {"type": "string"}}})


@pytest.fixture(scope="module")
def module_server() -> Iterator[AzureTestServer]:
    with AzureTestServer(api_key=KEY, deployments={DEPLOYMENT: DeploymentInfo()}) as server:
        yield server


@pytest.fixture
def server(module_server: AzureTestServer) -> Iterator[AzureTestServer]:
    module_server.reset()
    yield module_server
    assert module_server.pending == 0, "a scripted outcome was not consumed"


def make_gateway(
    server: AzureTestServer, route: Route = CHAT_CLASSIC, *, sink: ListSink | None = None, **kwargs: object
) -> Gateway:
    """A gateway on the loopback server, configured from kwargs only (the environment is not read)."""
    raw_debug = bool(kwargs.pop("raw_debug", False))
    config = load_config(
        env={},
        endpoint=server.endpoint,
        api_key=KEY,
        default_deployment=DEPLOYMENT,
        api_version=route.api_version,
        raw_debug=raw_debug,
    )
    policy = RetryPolicy(max_retries=0)
    return Gateway(config, api=route.api, event_sink=sink or ListSink(), retry_policy=policy, **kwargs)  # type: ignore[arg-type]


def user(text: str, **kwargs: object) -> ChatRequest:
    return ChatRequest((Message.user(text),), **kwargs)  # type: ignore[arg-type]


async def drain(events: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in events]


def fold(events: list[StreamEvent], deployment: str = DEPLOYMENT) -> ChatResult:
    accumulator = StreamAccumulator()
    for event in events:
        accumulator.add(event)
    return accumulator.result(deployment=deployment)


def call(gateway: Gateway, request: ChatRequest, mode: Mode) -> tuple[ChatResult, list[StreamEvent]]:
    """Run one call in ``mode``; async modes run on a fresh event loop, as a notebook cell does."""
    match mode:
        case "complete":
            return gateway.complete(request), []
        case "acomplete":
            return asyncio.run(gateway.acomplete(request)), []
        case "stream":
            events = list(gateway.stream(request))
        case "astream":
            events = asyncio.run(drain(gateway.astream(request)))
    return fold(events), events


def only_request(server: AzureTestServer) -> RecordedRequest:
    assert server.request_count == 1
    return server.requests[0]


# -- text, on every route and in every mode ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_gateway_text_reply_reaches_caller_on_every_route(server: AzureTestServer, route: Route, mode: Mode) -> None:
    server.script(Reply("Hello there, friend!", usage=Usage(prompt_tokens=12, completion_tokens=5)))
    result, events = call(make_gateway(server, route), user("Say hello"), mode)

    assert result.text == "Hello there, friend!"
    assert result.finish_reason == "stop"
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens) == (12, 5, 17)
    assert result.deployment == DEPLOYMENT
    sent = only_request(server)
    assert sent.path == route.path
    assert sent.headers["api-key"] == KEY
    assert "authorization" not in sent.headers
    assert sent.stream is mode.endswith("stream")
    if route.api_version == "v1":
        assert sent.json["model"] == DEPLOYMENT
    else:
        assert sent.query["api-version"] == route.api_version
    if mode.endswith("stream"):
        texts = [e.text for e in events if isinstance(e, TextDelta)]
        assert len(texts) > 1, "a streamed answer arrives in several deltas"
        assert "".join(texts) == "Hello there, friend!"
    else:
        assert result.request_id is not None


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_gateway_chat_stream_asks_for_usage(server: AzureTestServer, mode: Mode) -> None:
    server.script(Reply("ok"))
    result, _ = call(make_gateway(server), user("hi"), mode)
    assert only_request(server).json["stream_options"] == {"include_usage": True}
    assert result.usage is not None and result.usage.output_tokens > 0


# -- tool calls and structured output -----------------------------------------------------------------------------

PARALLEL = (
    ToolCall("get_weather", '{"city": "Paris"}', "call_weather1"),
    ToolCall("get_time", '{"tz": "CET"}', "call_time1"),
)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("route", [CHAT_CLASSIC, RESPONSES_V1], ids=str)
def test_gateway_parallel_tool_calls_are_assembled(server: AzureTestServer, route: Route, mode: Mode) -> None:
    server.script(Reply(tool_calls=PARALLEL, argument_pieces=3, pack_tool_calls=True))
    request = user("weather and time in Paris", tools=(WEATHER, CLOCK))
    result, events = call(make_gateway(server, route), request, mode)

    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
        ("call_weather1", "get_weather", {"city": "Paris"}),
        ("call_time1", "get_time", {"tz": "CET"}),
    ]
    assert result.invalid_tool_calls == ()
    assert result.finish_reason == "tool_calls"
    sent = only_request(server).json
    tools = sent["tools"]
    assert isinstance(tools, list)
    names = [t["function"]["name"] if route.api == "chat" else t["name"] for t in tools if isinstance(t, dict)]  # type: ignore[index]
    assert names == ["get_weather", "get_time"]
    if mode.endswith("stream"):
        fragments = [e for e in events if isinstance(e, ToolCallDelta)]
        assert {e.index for e in fragments} == {0, 1}
        assert len(fragments) > 2, "arguments stream in fragments"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("route", [CHAT_V1, RESPONSES_PREVIEW], ids=str)
def test_gateway_structured_output_follows_schema(server: AzureTestServer, route: Route, mode: Mode) -> None:
    schema: dict[str, JsonValue] = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer", "minimum": 1}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    fmt = ResponseFormat("json_schema", name="city_facts", schema=schema, strict=True)
    request = user("Facts about Paris", settings=GenerationSettings(response_format=fmt))
    result, _ = call(make_gateway(server, route), request, mode)

    assert json.loads(result.text) == {"city": "example", "population": 1}
    sent = only_request(server).json
    if route.api == "chat":
        assert sent["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "city_facts", "schema": schema, "strict": True},
        }
    else:
        text = sent["text"]
        assert isinstance(text, dict)
        assert text["format"] == {"type": "json_schema", "name": "city_facts", "schema": schema, "strict": True}


# -- stream and non-stream fold to the same result ----------------------------------------------------------------


@pytest.mark.parametrize("route", [CHAT_CLASSIC, RESPONSES_V1], ids=str)
def test_gateway_stream_and_complete_parity(server: AzureTestServer, route: Route) -> None:
    reply = Reply(
        "Checking both.",
        tool_calls=(ToolCall("get_weather", '{"city": "Oslo"}', "call_parity1"),),
        usage=Usage(prompt_tokens=30, completion_tokens=9),
    )
    server.script(reply, reply)
    gateway = make_gateway(server, route)
    request = user("weather in Oslo", tools=(WEATHER,))
    whole = gateway.complete(request)
    streamed = fold(list(gateway.stream(request)))

    def essentials(r: ChatResult) -> tuple[object, ...]:
        return (r.message, r.tool_calls, r.invalid_tool_calls, r.finish_reason, r.usage, r.model, r.deployment)

    assert essentials(streamed) == essentials(whole)
    assert whole.text == "Checking both."
    assert [c.name for c in whole.tool_calls] == ["get_weather"]


# -- events -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_gateway_emits_request_and_response_summaries(server: AzureTestServer, mode: Mode) -> None:
    server.script(Reply("Fine.", usage=Usage(prompt_tokens=20, completion_tokens=2)))
    sink = ListSink()
    request = ChatRequest((Message.system("Be brief."), Message.user("How are you?")), tools=(WEATHER,))
    call(make_gateway(server, sink=sink), request, mode)

    names = [e.name for e in sink.events]
    assert names == ["llm:request:debug", "provider:outcome", "llm:response:debug"]
    sent = sink.named("llm:request:debug")[0].data
    assert (sent["deployment"], sent["message_count"], sent["tool_count"]) == (DEPLOYMENT, 2, 1)
    assert sent["stream"] is mode.endswith("stream")
    received = sink.named("llm:response:debug")[0].data
    assert (received["input_tokens"], received["output_tokens"], received["finish_reason"]) == (20, 2, "stop")
    assert isinstance(received["latency"], float) and received["latency"] >= 0
    outcome = sink.named("provider:outcome")[0].data
    assert (outcome["outcome"], outcome["attempts"]) == ("ok", 1)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("route", [CHAT_CLASSIC, RESPONSES_V1], ids=str)
def test_gateway_raw_debug_emits_bodies(server: AzureTestServer, route: Route, mode: Mode) -> None:
    server.script(Reply("Raw answer."))
    sink = ListSink()
    call(make_gateway(server, route, sink=sink, raw_debug=True), user("raw please"), mode)

    (request_raw,) = sink.named("llm:request:raw")
    assert request_raw.data["body"] == only_request(server).body
    (response_raw,) = sink.named("llm:response:raw")
    if mode.endswith("stream"):
        events = response_raw.data["events"]
        assert isinstance(events, list) and len(events) > 3
        assert "Raw" in json.dumps(events)
    else:
        body = response_raw.data["body"]
        assert isinstance(body, dict) and "Raw answer." in json.dumps(body)


@pytest.mark.parametrize("mode", MODES)
def test_gateway_without_raw_debug_emits_no_bodies(server: AzureTestServer, mode: Mode) -> None:
    server.script(Reply("quiet"))
    sink = ListSink()
    call(make_gateway(server, sink=sink), user("hi"), mode)
    assert sink.named("llm:request:raw") == [] and sink.named("llm:response:raw") == []


# -- repair of a broken history -----------------------------------------------------------------------------------

DANGLING = ChatRequest(
    (
        Message.user("weather in Rome?"),
        Message.assistant(tool_calls=(ToolCallPart("call_dangling1", "get_weather", '{"city": "Rome"}'),)),
        Message.user("never mind, just say hi"),
    ),
    tools=(WEATHER,),
)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("route", [CHAT_CLASSIC, RESPONSES_V1], ids=str)
def test_gateway_repairs_dangling_tool_call_before_sending(server: AzureTestServer, route: Route, mode: Mode) -> None:
    server.script(Reply("hi"))
    sink = ListSink()
    result, _ = call(make_gateway(server, route, sink=sink), DANGLING, mode)

    assert result.text == "hi"
    sent = only_request(server).json
    if route.api == "chat":
        items = sent["messages"]
        assert isinstance(items, list)
        roles = [m["role"] for m in items if isinstance(m, dict)]
        assert roles == ["user", "assistant", "tool", "user"]
        answer = items[2]
        assert isinstance(answer, dict) and answer["tool_call_id"] == "call_dangling1"
    else:
        items = sent["input"]
        assert isinstance(items, list)
        outputs = [i for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"]
        assert [o["call_id"] for o in outputs] == ["call_dangling1"]
    assert len(sink.named("provider:tool_sequence_repaired")) == 1


@pytest.mark.parametrize("mode", MODES)
def test_gateway_repair_off_raises_conversation_error(server: AzureTestServer, mode: Mode) -> None:
    gateway = make_gateway(server, repair=False)
    with pytest.raises(ConversationError, match="call_dangling1"):
        call(gateway, DANGLING, mode)
    assert server.request_count == 0


# -- clients and event loops --------------------------------------------------------------------------------------


def test_gateway_honours_user_sync_client(server: AzureTestServer) -> None:
    with httpx.Client(headers={"x-test-client": "mine-sync"}) as client:
        gateway = make_gateway(server, http_client=client)
        server.script(Reply("one"), Reply("two"))
        assert gateway.complete(user("hi")).text == "one"
        assert fold(list(gateway.stream(user("hi")))).text == "two"
    assert [r.headers.get("x-test-client") for r in server.requests] == ["mine-sync", "mine-sync"]


async def test_gateway_honours_user_async_client(server: AzureTestServer) -> None:
    async with httpx.AsyncClient(headers={"x-test-client": "mine-async"}) as client:
        gateway = make_gateway(server, async_http_client=client)
        server.script(Reply("one"), Reply("two"))
        assert (await gateway.acomplete(user("hi"))).text == "one"
        assert fold(await drain(gateway.astream(user("hi")))).text == "two"
    assert [r.headers.get("x-test-client") for r in server.requests] == ["mine-async", "mine-async"]


def test_gateway_asyncio_run_twice_with_one_gateway(server: AzureTestServer) -> None:
    gateway = make_gateway(server)
    key = http.ClientKey(gateway.endpoint, None, True, gateway.timeouts)
    clients: list[httpx.AsyncClient] = []

    async def chat(text: str) -> str:
        clients.append(http.SHARED_CLIENTS.async_client(key))
        result = await gateway.acomplete(user(text))
        streamed = fold(await drain(gateway.astream(user(text))))
        return result.text + " | " + streamed.text

    first = asyncio.run(chat("first"))
    second = asyncio.run(chat("second"))

    assert first == "You said: first | You said: first"
    assert second == "You said: second | You said: second"
    assert clients[0] is not clients[1], "each loop gets its own client"
    assert all(c.is_closed for c in clients), "a loop's client is closed when asyncio.run ends the loop"
    assert server.request_count == 4


async def test_gateway_concurrent_calls_share_one_client(server: AzureTestServer) -> None:
    gateway = make_gateway(server)
    results = await asyncio.gather(*(gateway.acomplete(user(f"n{i}")) for i in range(20)))
    assert [r.text for r in results] == [f"You said: n{i}" for i in range(20)]
    assert server.request_count == 20
