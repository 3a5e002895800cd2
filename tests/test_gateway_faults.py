"""Each retry and error rule of the gateway, sync and async, against the loopback Azure server.

The server counts every HTTP attempt and stamps its arrival time, so "retried exactly N times" and "waited at
least what Azure asked" are read from the server's side, not from the client's own account of itself. Waits are
kept to a fraction of a second (``retry-after-ms``); the whole-seconds ``retry-after`` header costs one second
per case, so only one sync and one async case use it.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal, TypeVar

import httpx
import pytest

from azure_openai_emulator import shapes
from azure_openai_emulator.script import RetryAfterHeader
from shared_core import (
    AuthenticationError,
    BadRequestError,
    ChatRequest,
    ChatResult,
    ConfigurationError,
    ConnectionFailedError,
    ContentFilterError,
    DeploymentNotFoundError,
    Gateway,
    GatewayError,
    InvalidResponseError,
    ListSink,
    Message,
    RateLimitError,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    StreamEvent,
    StreamInterruptedError,
    TextDelta,
    Timeouts,
    load_config,
)
from shared_core.result import StreamAccumulator
from tests.support.azure_server import (
    AzureTestServer,
    BadGateway,
    ConnectionReset,
    DeploymentInfo,
    HttpError,
    Outcome,
    PromptFiltered,
    Reply,
    Unparsable,
)
from tests.support.identity_server import IdentityServer

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

KEY = "faults-test-key"
DEPLOYMENT = "gpt-4o-mini"
Mode = Literal["complete", "stream", "acomplete", "astream"]
MODES: tuple[Mode, ...] = ("complete", "stream", "acomplete", "astream")
STREAMS: tuple[Mode, ...] = ("stream", "astream")
Api = Literal["chat", "responses"]
APIS: tuple[Api, ...] = ("chat", "responses")
E = TypeVar("E", bound=GatewayError)
NOT_REACHED = Reply("this answer must never be requested")
FAST_RETRIES = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.02, jitter=0.0)


@pytest.fixture(scope="module")
def module_server() -> Iterator[AzureTestServer]:
    with AzureTestServer(api_key=KEY, deployments={DEPLOYMENT: DeploymentInfo()}) as server:
        yield server


@pytest.fixture
def server(module_server: AzureTestServer) -> Iterator[AzureTestServer]:
    module_server.reset()
    yield module_server
    module_server.reset()


def make_gateway(
    server: AzureTestServer,
    api: Api = "chat",
    *,
    policy: RetryPolicy = FAST_RETRIES,
    sink: ListSink | None = None,
    timeouts: Timeouts | None = None,
    **config: object,
) -> Gateway:
    """A gateway on the loopback server; ``config`` overrides the key (e.g. for managed identity)."""
    settings: dict[str, Any] = {"api_key": KEY} | config
    resolved = load_config(
        env={},
        endpoint=server.endpoint,
        default_deployment=DEPLOYMENT,
        api_version="2024-10-21" if api == "chat" else "v1",
        **settings,
    )
    return Gateway(resolved, api=api, retry_policy=policy, event_sink=sink or ListSink(), timeouts=timeouts)


def user(text: str = "hello") -> ChatRequest:
    return ChatRequest((Message.user(text),))


async def _drain(events: AsyncIterator[StreamEvent], into: list[StreamEvent]) -> None:
    async for event in events:
        into.append(event)


def call(gateway: Gateway, mode: Mode, seen: list[StreamEvent] | None = None) -> ChatResult:
    """One call in ``mode``; stream events land in ``seen`` as they arrive (kept when the stream breaks)."""
    events: list[StreamEvent] = [] if seen is None else seen
    match mode:
        case "complete":
            return gateway.complete(user())
        case "acomplete":
            return asyncio.run(gateway.acomplete(user()))
        case "stream":
            for event in gateway.stream(user()):
                events.append(event)
        case "astream":
            asyncio.run(_drain(gateway.astream(user()), events))
    accumulator = StreamAccumulator()
    for event in events:
        accumulator.add(event)
    return accumulator.result()


def fails(kind: type[E], gateway: Gateway, mode: Mode, seen: list[StreamEvent] | None = None) -> E:
    with pytest.raises(kind) as caught:
        call(gateway, mode, seen)
    return caught.value


def gaps(server: AzureTestServer) -> list[float]:
    """Seconds between consecutive requests' arrivals at the server."""
    times = [r.received_at for r in server.requests]
    return [b - a for a, b in itertools.pairwise(times)]


# -- 429 and Retry-After ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("header", ["retry-after-ms", "x-ms-retry-after-ms"])
def test_gateway_rate_limit_waits_at_least_ms_header(
    server: AzureTestServer, header: RetryAfterHeader, mode: Mode
) -> None:
    server.script(HttpError(429, retry_after=0.25, retry_after_headers=header), Reply("after the wait"))
    sink = ListSink()
    result = call(make_gateway(server, sink=sink), mode)

    assert result.text == "after the wait"
    assert server.request_count == 2
    assert gaps(server)[0] >= 0.25
    (failed,) = sink.named("provider:attempt_failed")
    assert failed.data["retry_after"] == 0.25
    delay = failed.data["delay"]
    assert isinstance(delay, float) and delay >= 0.25


@pytest.mark.parametrize("mode", ["complete", "astream"])
def test_gateway_rate_limit_waits_at_least_retry_after_seconds(server: AzureTestServer, mode: Mode) -> None:
    # The header carries whole seconds: 0.2 is announced as "retry-after: 1".
    server.script(HttpError(429, retry_after=0.2, retry_after_headers="retry-after"), Reply("after a second"))
    result = call(make_gateway(server), mode)
    assert result.text == "after a second"
    assert server.request_count == 2
    assert gaps(server)[0] >= 1.0


@pytest.mark.parametrize("mode", MODES)
def test_gateway_rate_limit_beyond_deadline_fails_at_once(server: AzureTestServer, mode: Mode) -> None:
    server.script(HttpError(429, retry_after=30, retry_after_headers="retry-after-ms"), NOT_REACHED)
    gateway = make_gateway(server, policy=RetryPolicy(max_retries=5, deadline=2.0))
    started = time.monotonic()
    error = fails(RateLimitError, gateway, mode)

    assert time.monotonic() - started < 1.0
    assert error.retry_after == 30.0
    assert (error.status, error.deployment) == (429, DEPLOYMENT)
    assert error.request_id is not None
    assert server.request_count == 1


@pytest.mark.parametrize("mode", ["complete", "acomplete"])
def test_gateway_rate_limit_retries_exhausted_carries_retry_after(server: AzureTestServer, mode: Mode) -> None:
    server.script(*[HttpError(429, retry_after=0.02, retry_after_headers="retry-after-ms")] * 3, NOT_REACHED)
    error = fails(RateLimitError, make_gateway(server), mode)
    assert error.retry_after == 0.02
    assert server.request_count == 3


# -- retried statuses and connection failures -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_gateway_server_unavailable_makes_max_retries_plus_one_attempts(server: AzureTestServer, mode: Mode) -> None:
    server.script(*[HttpError(503)] * 4, NOT_REACHED)
    sink = ListSink()
    policy = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.02)
    error = fails(ServerError, make_gateway(server, policy=policy, sink=sink), mode)

    assert error.status == 503
    assert server.request_count == 4
    assert server.pending == 1
    assert len(sink.named("provider:attempt_failed")) == 4
    (outcome,) = sink.named("provider:outcome")
    assert (outcome.data["outcome"], outcome.data["attempts"], outcome.data["error"]) == ("failed", 4, "ServerError")


@pytest.mark.parametrize("status", [500, 502, 504, 408])
def test_gateway_transient_status_is_retried_then_succeeds(server: AzureTestServer, status: int) -> None:
    server.script(HttpError(status), Reply("recovered"))
    assert call(make_gateway(server), "complete").text == "recovered"
    assert server.request_count == 2


@pytest.mark.parametrize("mode", MODES)
def test_gateway_html_bad_gateway_is_server_error_naming_proxy(server: AzureTestServer, mode: Mode) -> None:
    server.script(BadGateway(), BadGateway(), BadGateway(), NOT_REACHED)
    error = fails(ServerError, make_gateway(server), mode)

    assert error.status == 502
    assert "HTML" in error.message and "proxy" in error.message
    assert "502 Bad Gateway" in error.message
    assert server.request_count == 3, "a 502 page is transient: retried"


@pytest.mark.parametrize("mode", MODES)
def test_gateway_connection_reset_fails_after_retries(server: AzureTestServer, mode: Mode) -> None:
    server.script(ConnectionReset(), ConnectionReset(), ConnectionReset(), NOT_REACHED)
    error = fails(ConnectionFailedError, make_gateway(server), mode)

    assert "reset" in error.message.lower()
    assert (error.deployment, error.endpoint) == (DEPLOYMENT, server.endpoint)
    assert server.request_count == 3


@pytest.mark.parametrize("mode", MODES)
def test_gateway_connection_reset_then_success(server: AzureTestServer, mode: Mode) -> None:
    server.script(ConnectionReset(rst=False), Reply("second try"))
    assert call(make_gateway(server), mode).text == "second try"
    assert server.request_count == 2


# -- not retried --------------------------------------------------------------------------------------------------

NOT_RETRIED: list[tuple[Outcome, type[GatewayError]]] = [
    (HttpError(400, body=b'{"error": {"code": "invalid_value", "message": "bad input"}}'), BadRequestError),
    (HttpError(404), DeploymentNotFoundError),
    (HttpError(401), AuthenticationError),
    (PromptFiltered(), ContentFilterError),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("outcome", "kind"), NOT_RETRIED, ids=["400", "404", "401-api-key", "prompt-filter"])
def test_gateway_client_errors_are_not_retried(
    server: AzureTestServer, outcome: Outcome, kind: type[GatewayError], mode: Mode
) -> None:
    server.script(outcome, NOT_REACHED)
    sink = ListSink()
    error = fails(kind, make_gateway(server, sink=sink), mode)

    assert server.request_count == 1
    assert error.deployment == DEPLOYMENT
    assert error.request_id is not None
    (failed,) = sink.named("provider:attempt_failed")
    assert "not transient" in str(failed.data["decision"])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", APIS)
def test_gateway_prompt_filter_is_typed_prompt_side(server: AzureTestServer, api: Api, mode: Mode) -> None:
    server.script(PromptFiltered(filter=shapes.FilterVerdict("hate", "high")), NOT_REACHED)
    error = fails(ContentFilterError, make_gateway(server, api), mode)

    assert error.side == "prompt"
    assert (error.status, error.code) == (400, "content_filter")
    assert error.partial is None
    if api == "chat":  # the Responses API names no category (recorded)
        assert error.filtered_categories == ("hate",)
    assert server.request_count == 1


@pytest.mark.parametrize("mode", ["complete", "acomplete"])
def test_gateway_unparsable_success_body_is_invalid_response(server: AzureTestServer, mode: Mode) -> None:
    server.script(Unparsable(), NOT_REACHED)
    error = fails(InvalidResponseError, make_gateway(server), mode)
    assert error.status == 200
    assert "not JSON" in error.message
    assert server.request_count == 1


# -- streams: nothing retried once started ------------------------------------------------------------------------

# The frame after which the first text delta has been sent: chat opens with the prompt-filter and role chunks,
# the Responses API with created / in_progress / output_item.added / content_part.added.
FIRST_TEXT_FRAME = {"chat": 3, "responses": 5}


@pytest.mark.parametrize("mode", STREAMS)
@pytest.mark.parametrize("api", APIS)
def test_gateway_stream_cut_after_first_chunk_keeps_partial(server: AzureTestServer, api: Api, mode: Mode) -> None:
    server.script(Reply("alpha beta gamma delta", cut_after=FIRST_TEXT_FRAME[api]), NOT_REACHED)
    seen: list[StreamEvent] = []
    error = fails(StreamInterruptedError, make_gateway(server, api), mode, seen)

    assert [e.text for e in seen if isinstance(e, TextDelta)] == ["alpha"], "the caller saw the first chunk"
    assert error.partial is not None and error.partial.text == "alpha"
    assert isinstance(error.__cause__, ConnectionFailedError)
    assert error.deployment == DEPLOYMENT and error.request_id is not None
    assert server.request_count == 1, "a started stream is never retried"


def _stream_without_end(api: Api) -> bytes:
    completion = shapes.Completion(
        response_id="chatcmpl-unfinished" if api == "chat" else "resp_unfinished",
        created=1_700_000_000,
        model=DEPLOYMENT,
        text_pieces=("Half", " an", " answer"),
    )
    if api == "chat":
        frames = shapes.chat_stream(completion, include_usage=False)
    else:
        frames = shapes.responses_stream(completion, {})
    return b"".join(frames[:-1])  # drop [DONE] / response.completed


@pytest.mark.parametrize("mode", STREAMS)
@pytest.mark.parametrize("api", APIS)
def test_gateway_stream_without_terminal_event_is_interrupted(server: AzureTestServer, api: Api, mode: Mode) -> None:
    server.script(Unparsable(body=_stream_without_end(api)), NOT_REACHED)
    error = fails(StreamInterruptedError, make_gateway(server, api), mode)

    assert "terminal event" in error.message
    assert error.partial is not None and error.partial.text == "Half an answer"
    assert server.request_count == 1


@pytest.mark.parametrize("mode", STREAMS)
def test_gateway_unparsable_stream_chunk_interrupts(server: AzureTestServer, mode: Mode) -> None:
    server.script(Unparsable(), NOT_REACHED)
    error = fails(StreamInterruptedError, make_gateway(server), mode)
    assert isinstance(error.__cause__, InvalidResponseError)
    assert server.request_count == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", APIS)
def test_gateway_completion_filter_keeps_partial_text(server: AzureTestServer, api: Api, mode: Mode) -> None:
    server.script(
        Reply("one two three four", filter_after=2, filter=shapes.FilterVerdict("violence", "high")), NOT_REACHED
    )
    error = fails(ContentFilterError, make_gateway(server, api), mode)

    assert error.side == "completion"
    assert error.partial_text == "one two"
    if api == "chat":
        assert error.filtered_categories == ("violence",)
    assert server.request_count == 1


@pytest.mark.parametrize("mode", STREAMS)
def test_gateway_slow_chunk_beyond_chunk_timeout_interrupts(server: AzureTestServer, mode: Mode) -> None:
    server.script(Reply("slow words here", chunk_delay=0.6), NOT_REACHED)
    gateway = make_gateway(server, timeouts=Timeouts(read=5.0, chunk=0.2))
    started = time.monotonic()
    error = fails(StreamInterruptedError, gateway, mode)

    assert time.monotonic() - started < 0.6
    assert isinstance(error.__cause__, RequestTimeoutError)
    assert server.request_count == 1


@pytest.mark.parametrize("mode", ["complete", "acomplete"])
def test_gateway_read_timeout_is_typed_and_retried(server: AzureTestServer, mode: Mode) -> None:
    server.script(Reply("late", first_byte_delay=0.5), Reply("in time"))
    sink = ListSink()
    result = call(make_gateway(server, sink=sink, timeouts=Timeouts(read=0.2, chunk=0.2)), mode)

    assert result.text == "in time"
    assert server.request_count == 2
    (failed,) = sink.named("provider:attempt_failed")
    assert failed.data["error"] == "RequestTimeoutError"


# -- 401 with a managed identity: one refresh, one retry ----------------------------------------------------------


@pytest.fixture
def identity(monkeypatch: pytest.MonkeyPatch) -> Iterator[IdentityServer]:
    with IdentityServer(token_lifetime=3600) as srv:
        srv.install(monkeypatch)
        yield srv


@pytest.fixture
def entra_server(server: AzureTestServer) -> Iterator[AzureTestServer]:
    """The server accepting bearer tokens only (set per test), and no key."""
    server.api_key = None
    try:
        yield server
    finally:
        server.api_key = KEY
        server.bearer_tokens = set()


def _bearers(server: AzureTestServer) -> list[str]:
    return [r.headers.get("authorization", "") for r in server.requests]


@pytest.mark.parametrize("mode", MODES)
def test_gateway_unauthorized_token_is_refreshed_once(
    entra_server: AzureTestServer, identity: IdentityServer, mode: Mode
) -> None:
    entra_server.bearer_tokens = {"mi-token-2"}  # the first token is "revoked"; the refreshed one is valid
    sink = ListSink()
    gateway = make_gateway(entra_server, sink=sink, api_key=None, use_managed_identity=True)
    result = call(gateway, mode)

    assert result.text == "You said: hello"
    assert _bearers(entra_server) == ["Bearer mi-token-1", "Bearer mi-token-2"]
    assert identity.request_count == 2
    (failed,) = sink.named("provider:attempt_failed")
    assert failed.data["status"] == 401 and "refresh" in str(failed.data["decision"])


@pytest.mark.parametrize("mode", ["complete", "astream"])
def test_gateway_unauthorized_after_refresh_fails_without_second_refresh(
    entra_server: AzureTestServer, identity: IdentityServer, mode: Mode
) -> None:
    entra_server.bearer_tokens = {"a-token-never-issued"}
    gateway = make_gateway(entra_server, api_key=None, use_managed_identity=True)
    error = fails(AuthenticationError, gateway, mode)

    assert error.status == 401
    assert isinstance(error, AuthenticationError) and error.credential is not None
    assert "managed_identity" in error.credential
    assert _bearers(entra_server) == ["Bearer mi-token-1", "Bearer mi-token-2"]
    assert identity.request_count == 2


# -- a user client the user closed ----------------------------------------------------------------------------


def test_gateway_closed_user_sync_client_is_a_clear_error(server: AzureTestServer) -> None:
    client = httpx.Client()
    client.close()
    config = load_config(env={}, endpoint=server.endpoint, api_key=KEY, default_deployment=DEPLOYMENT)
    gateway = Gateway(config, http_client=client, retry_policy=FAST_RETRIES)
    for mode in ("complete", "stream"):
        error = fails(ConfigurationError, gateway, mode)
        assert "http_client" in error.message and "closed" in error.message
    assert server.request_count == 0


async def test_gateway_closed_user_async_client_is_a_clear_error(server: AzureTestServer) -> None:
    client = httpx.AsyncClient()
    await client.aclose()
    config = load_config(env={}, endpoint=server.endpoint, api_key=KEY, default_deployment=DEPLOYMENT)
    gateway = Gateway(config, async_http_client=client, retry_policy=FAST_RETRIES)
    with pytest.raises(ConfigurationError, match="http_client"):
        await gateway.acomplete(user())
    with pytest.raises(ConfigurationError, match="http_client"):
        async for _ in gateway.astream(user()):
            pass
    assert server.request_count == 0
