"""End to end through the Gateway against recorded Azure traffic (cassettes), and the cassette scheme itself.

Each ``@pytest.mark.vcr`` test replays ``cassettes/test_gateway_cassettes/<test>.yaml`` (recorded from the
loopback Azure test server, or from a real resource; see ``cassettes/README.md``). What a test expects is read
from the recorded response with plain ``json`` (never through the gateway's decoders), so the same assertions
hold for a re-recording against real Azure. Sync tests use an ``httpx.Client``, async tests an
``httpx.AsyncClient`` (httpx's own transport): the gateway's shared async client runs on aiohttp's pool, and
vcrpy's aiohttp stub replays its bodies but drops its response headers (the last test here pins that bug).
"""

from __future__ import annotations

import json
import socket
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from pytest_socket import SocketConnectBlockedError
from vcr import VCR
from vcr.cassette import Cassette
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.record_mode import RecordMode

from shared_core import (
    ChatRequest,
    ChatResult,
    DeploymentNotFoundError,
    Gateway,
    GatewayConfig,
    Message,
    StreamEvent,
    TextDelta,
    ToolSpec,
    load_config,
)
from shared_core.request import NamedToolChoice
from shared_core.result import StreamAccumulator
from tests.support.azure_server import AzureTestServer
from tests.support.cassettes import (
    CASSETTE_HOST,
    CASSETTE_ROOT,
    PLACEHOLDER_ENDPOINT,
    CassetteEndpoint,
    ReadableYamlSerializer,
    cassette_endpoint,
    network_marker,
    register_scheme,
    sends_requests,
    vcr_config,
)

DEPLOYMENT = "gpt-4o-mini"
CHAT_API_VERSION = "2024-10-21"
WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
Api = Literal["chat", "responses"]
GatewayFactory = Callable[..., Gateway]


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture
def cassette(vcr: Cassette | None) -> Cassette:
    """pytest-recording's cassette for this test (these tests read what it recorded)."""
    if vcr is None:
        pytest.skip("needs a cassette; recording is disabled")
    return vcr


def _config(
    endpoint: CassetteEndpoint, api_version: str = CHAT_API_VERSION, deployment: str = DEPLOYMENT
) -> GatewayConfig:
    return load_config(
        env={},  # the developer's AZURE_* settings must not change what is sent (and so what matches)
        endpoint=endpoint.url,
        api_key=endpoint.api_key,
        api_version=api_version,
        default_deployment=deployment,
        max_tokens=200,
        temperature=0.0,
        max_retries=0,
    )


@pytest.fixture
def gateway(azure_endpoint: CassetteEndpoint) -> Iterator[GatewayFactory]:
    """Builds sync gateways for ``azure_endpoint``, each on its own ``httpx.Client``."""
    clients: list[httpx.Client] = []

    def build(*, api: Api = "chat", api_version: str = CHAT_API_VERSION, deployment: str = DEPLOYMENT) -> Gateway:
        clients.append(httpx.Client())
        return Gateway(_config(azure_endpoint, api_version, deployment), api=api, http_client=clients[-1])

    yield build
    for client in clients:
        client.close()


@pytest.fixture
async def agateway(azure_endpoint: CassetteEndpoint) -> AsyncIterator[GatewayFactory]:
    """Builds async gateways on httpx's own ``AsyncClient``.

    Not the shared aiohttp-backed client: vcrpy replays bodies through its aiohttp stub but not headers
    (kevin1024/vcrpy#970), so ``apim-request-id``, ``retry-after`` and content types would vanish on replay.
    """
    clients: list[httpx.AsyncClient] = []

    def build(*, api: Api = "chat", api_version: str = CHAT_API_VERSION, deployment: str = DEPLOYMENT) -> Gateway:
        clients.append(httpx.AsyncClient())
        return Gateway(_config(azure_endpoint, api_version, deployment), api=api, async_http_client=clients[-1])

    yield build
    for client in clients:
        await client.aclose()


def _ask(text: str, **kwargs: Any) -> ChatRequest:
    return ChatRequest(messages=(Message.system("You are terse."), Message.user(text)), **kwargs)


# ------------------------------------------------------------------------------------------ recorded answers


def _recorded(cassette: Cassette, index: int = 0) -> tuple[int, dict[str, str], bytes]:
    response: dict[str, Any] = cassette.responses[index]
    headers = {name.lower(): values[0] for name, values in response["headers"].items()}
    body = response["body"]["string"]
    return response["status"]["code"], headers, body.encode() if isinstance(body, str) else body


def _sse_data(body: bytes) -> list[dict[str, Any]]:
    lines = body.decode("utf-8").splitlines()
    payloads = [line.removeprefix("data:").strip() for line in lines if line.startswith("data:")]
    return [json.loads(p) for p in payloads if p != "[DONE]"]


def _chat_stream_text(body: bytes) -> tuple[str, str | None, dict[str, Any] | None]:
    text, finish, usage = "", None, None
    for chunk in _sse_data(body):
        usage = chunk.get("usage") or usage
        for choice in chunk["choices"]:
            text += (choice.get("delta") or {}).get("content") or ""
            finish = choice.get("finish_reason") or finish
    return text, finish, usage


def _responses_text(response: dict[str, Any]) -> str:
    messages = [item for item in response["output"] if item["type"] == "message"]
    return "".join(part["text"] for item in messages for part in item["content"] if part["type"] == "output_text")


def _assert_served(cassette: Cassette, endpoint: CassetteEndpoint, requests: int = 1) -> None:
    """Every request was answered from the cassette file, or (recording) sent out and stored."""
    assert len(cassette) == requests
    if not endpoint.recording or cassette.rewound:  # replay; or --record-mode=once with the file present
        assert cassette.play_count == requests
        assert cassette.all_played
    else:
        assert cassette.play_count == 0
        if endpoint.server is not None:
            assert endpoint.server.request_count == requests


def _fold(events: list[StreamEvent]) -> ChatResult:
    accumulator = StreamAccumulator()
    for event in events:
        accumulator.add(event)
    return accumulator.result(deployment=DEPLOYMENT, request_id=None)


# ------------------------------------------------------------------------------------------ Chat Completions


@pytest.mark.vcr
def test_gateway_complete_chat_decodes_text_usage_and_request_id(
    gateway: GatewayFactory, cassette: Cassette, azure_endpoint: CassetteEndpoint
) -> None:
    result = gateway().complete(_ask("Say hello to the cassette."))

    status, headers, body = _recorded(cassette)
    recorded = json.loads(body)
    assert status == 200
    assert result.text == recorded["choices"][0]["message"]["content"] != ""
    assert result.finish_reason == recorded["choices"][0]["finish_reason"] == "stop"
    assert result.usage is not None
    assert result.usage.input_tokens == recorded["usage"]["prompt_tokens"] > 0
    assert result.usage.output_tokens == recorded["usage"]["completion_tokens"] > 0
    assert result.response_id == recorded["id"]
    assert result.model == recorded["model"]
    assert result.request_id == headers["apim-request-id"]
    assert result.deployment == DEPLOYMENT
    _assert_served(cassette, azure_endpoint)


@pytest.mark.vcr
async def test_gateway_acomplete_chat_decodes_text_and_request_id(
    agateway: GatewayFactory, cassette: Cassette, azure_endpoint: CassetteEndpoint
) -> None:
    result = await agateway().acomplete(_ask("Name a colour."))

    _, headers, body = _recorded(cassette)
    recorded = json.loads(body)
    assert result.text == recorded["choices"][0]["message"]["content"] != ""
    assert result.request_id == headers["apim-request-id"]
    _assert_served(cassette, azure_endpoint)


@pytest.mark.vcr
def test_gateway_stream_chat_yields_the_recorded_deltas_and_usage(
    gateway: GatewayFactory, cassette: Cassette, azure_endpoint: CassetteEndpoint
) -> None:
    events = list(gateway().stream(_ask("Count from one to five in words.")))

    _, headers, body = _recorded(cassette)
    text, finish, usage = _chat_stream_text(body)
    assert headers["content-type"].startswith("text/event-stream")
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1
    assert "".join(deltas) == text != ""
    folded = _fold(events)
    assert folded.finish_reason == finish == "stop"
    assert usage is not None and folded.usage is not None
    assert folded.usage.total_tokens == usage["total_tokens"]
    _assert_served(cassette, azure_endpoint)


@pytest.mark.vcr
async def test_gateway_astream_chat_yields_the_recorded_deltas(
    agateway: GatewayFactory, cassette: Cassette, azure_endpoint: CassetteEndpoint
) -> None:
    events = [event async for event in agateway().astream(_ask("Say three words."))]

    text, finish, _ = _chat_stream_text(_recorded(cassette)[2])
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == text != ""
    assert _fold(events).finish_reason == finish
    _assert_served(cassette, azure_endpoint)


@pytest.mark.vcr
def test_gateway_complete_chat_decodes_a_forced_tool_call(
    gateway: GatewayFactory, cassette: Cassette, azure_endpoint: CassetteEndpoint
) -> None:
    request = _ask("What is the weather in Paris?", tools=(WEATHER,), tool_choice=NamedToolChoice("get_weather"))
    result = gateway().complete(request)

    recorded = json.loads(_recorded(cassette)[2])["choices"][0]["message"]["tool_calls"]
    assert [(c.id, c.name) for c in result.tool_calls] == [(c["id"], c["function"]["name"]) for c in recorded]
    assert result.tool_calls[0].name == "get_weather"
    assert result.tool_calls[0].arguments == json.loads(recorded[0]["function"]["arguments"])
    assert isinstance(result.tool_calls[0].arguments.get("city"), str)
    assert result.invalid_tool_calls == ()
    sent = json.loads(cassette.requests[0].body)
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    _assert_served(cassette, azure_endpoint)


@pytest.mark.vcr
def test_gateway_complete_unknown_deployment_raises_deployment_not_found(
    gateway: GatewayFactory, cassette: Cassette, azure_endpoint: CassetteEndpoint
) -> None:
    with pytest.raises(DeploymentNotFoundError) as caught:
        gateway(deployment="no-such-deployment").complete(_ask("Hello?"))

    status, headers, body = _recorded(cassette)
    assert status == caught.value.status == 404
    assert caught.value.code == json.loads(body)["error"]["code"] == "DeploymentNotFound"
    assert caught.value.deployment == "no-such-deployment"
    assert caught.value.request_id == headers["apim-request-id"]
    assert cassette.requests[0].path == "/openai/deployments/no-such-deployment/chat/completions"
    _assert_served(cassette, azure_endpoint)


# ------------------------------------------------------------------------------------------ Responses API


@pytest.mark.vcr
def test_gateway_complete_responses_decodes_output_text_and_usage(
    gateway: GatewayFactory, cassette: Cassette, azure_endpoint: CassetteEndpoint
) -> None:
    result = gateway(api="responses", api_version="v1").complete(_ask("Say hello via the Responses API."))

    recorded = json.loads(_recorded(cassette)[2])
    assert result.text == _responses_text(recorded) != ""
    assert result.response_id == recorded["id"]
    assert result.usage is not None
    assert result.usage.input_tokens == recorded["usage"]["input_tokens"] > 0
    assert result.usage.output_tokens == recorded["usage"]["output_tokens"] > 0
    assert cassette.requests[0].path == "/openai/v1/responses"
    assert json.loads(cassette.requests[0].body)["model"] == DEPLOYMENT
    _assert_served(cassette, azure_endpoint)


@pytest.mark.vcr
async def test_gateway_astream_responses_yields_deltas_until_completed(
    agateway: GatewayFactory, cassette: Cassette, azure_endpoint: CassetteEndpoint
) -> None:
    events = [e async for e in agateway(api="responses", api_version="v1").astream(_ask("Name two planets."))]

    frames = _sse_data(_recorded(cassette)[2])
    deltas = [f["delta"] for f in frames if f["type"] == "response.output_text.delta"]
    completed = next(f["response"] for f in frames if f["type"] == "response.completed")
    assert [e.text for e in events if isinstance(e, TextDelta)] == deltas
    folded = _fold(events)
    assert folded.text == _responses_text(completed) == "".join(deltas) != ""
    assert folded.usage is not None
    assert folded.usage.output_tokens == completed["usage"]["output_tokens"]
    _assert_served(cassette, azure_endpoint)


@pytest.mark.vcr
def test_gateway_cassette_tests_reach_loopback_only(
    gateway: GatewayFactory, cassette: Cassette, azure_endpoint: CassetteEndpoint, request: pytest.FixtureRequest
) -> None:
    result = gateway().complete(_ask("Ping."))

    assert result.text == json.loads(_recorded(cassette)[2])["choices"][0]["message"]["content"]
    if azure_endpoint.kind == "azure":  # recording from a real resource lifts the restriction, and only then
        assert request.node.get_closest_marker("enable_socket") is not None
        return
    with warnings.catch_warnings(), pytest.raises(SocketConnectBlockedError):
        warnings.simplefilter("ignore")  # pytest-socket warns as well as raising
        socket.create_connection(("192.0.2.1", 443), timeout=1)  # TEST-NET-1: never a real host


# ------------------------------------------------------------------------------------------ the scheme


def _scheme_vcr(record_mode: RecordMode) -> VCR:
    vcr = VCR(record_mode=record_mode)
    register_scheme(vcr)
    return vcr


def test_cassette_missing_in_none_mode_fails_without_reaching_the_server(tmp_path: Path) -> None:
    with AzureTestServer(api_key="test-key") as server:
        config = load_config(env={}, endpoint=server.endpoint, api_key="test-key", default_deployment=DEPLOYMENT)
        with (
            httpx.Client() as client,
            _scheme_vcr(RecordMode.NONE).use_cassette(str(tmp_path / "absent.yaml"), **vcr_config()),
            pytest.raises(CannotOverwriteExistingCassetteException),
        ):
            Gateway(config, http_client=client).complete(_ask("Hello?"))
        assert server.request_count == 0
    assert not (tmp_path / "absent.yaml").exists()


def test_cassette_replays_regardless_of_host_port_key_order_and_query_order(tmp_path: Path) -> None:
    path = str(tmp_path / "order.yaml")
    with AzureTestServer(api_key="test-key") as server, httpx.Client() as client:
        with _scheme_vcr(RecordMode.ONCE).use_cassette(path, **vcr_config()):
            url = f"{server.endpoint}/openai/deployments/{DEPLOYMENT}/chat/completions?api-version=2024-10-21&x=1"
            body = b'{"messages":[{"role":"user","content":"hi"}],"temperature":0}'
            recorded = client.post(url, content=body, headers={"api-key": "test-key"})
        with _scheme_vcr(RecordMode.NONE).use_cassette(path, **vcr_config()) as replay:
            url = f"{PLACEHOLDER_ENDPOINT}/openai/deployments/{DEPLOYMENT}/chat/completions?x=1&api-version=2024-10-21"
            body = b'{ "temperature": 0, "messages": [ {"content": "hi", "role": "user"} ] }'
            replayed = client.post(url, content=body)
            assert replayed.json() == recorded.json()
            assert replay.all_played
            with pytest.raises(CannotOverwriteExistingCassetteException):
                client.post(url, content=body.replace(b"hi", b"bye"))


def test_cassette_recording_scrubs_secrets_and_stores_readable_text(tmp_path: Path) -> None:
    def azure(request: httpx.Request) -> httpx.Response:
        headers = {"set-cookie": "ARRAffinity=abc123; Path=/", "content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, content=b'data: {"a": 1}\n\ndata: [DONE]\n\n')

    path = tmp_path / "scrubbed.yaml"
    secret_headers = {"api-key": "k-123", "authorization": "Bearer t-456", "cookie": "session=s-789"}
    with (
        httpx.Client(transport=httpx.MockTransport(azure)) as client,
        _scheme_vcr(RecordMode.ONCE).use_cassette(str(path), **vcr_config()),
    ):
        client.post("http://127.0.0.1:4321/openai/v1/responses", json={"model": "m"}, headers=secret_headers)

    text = path.read_text(encoding="utf-8")
    assert not any(secret in text for secret in ("k-123", "t-456", "s-789", "abc123"))
    assert "127.0.0.1" not in text and "!!binary" not in text
    interaction = ReadableYamlSerializer.deserialize(text)["interactions"][0]
    assert interaction["request"]["uri"] == f"https://{CASSETTE_HOST}/openai/v1/responses"
    assert interaction["request"]["headers"]["host"] == [CASSETTE_HOST]
    assert json.loads(interaction["request"]["body"]) == {"model": "m"}
    assert interaction["response"]["body"]["string"] == 'data: {"a": 1}\n\ndata: [DONE]\n\n'
    assert "string: |" in text  # the event stream is a block, one event per line


_LIVE_ENV = {"AZURE_OPENAI_ENDPOINT": "https://contoso.openai.azure.com/", "AZURE_OPENAI_API_KEY": "k-live"}


def test_azure_endpoint_is_a_placeholder_when_replaying_even_with_credentials_set() -> None:
    with cassette_endpoint(live=False, environ=_LIVE_ENV) as endpoint:
        assert (endpoint.url, endpoint.kind, endpoint.server) == (PLACEHOLDER_ENDPOINT, "replay", None)


def test_azure_endpoint_is_the_real_resource_when_recording_with_credentials() -> None:
    with cassette_endpoint(live=True, environ=_LIVE_ENV) as endpoint:
        assert (endpoint.url, endpoint.api_key, endpoint.kind) == (
            "https://contoso.openai.azure.com",
            "k-live",
            "azure",
        )
        assert endpoint.server is None and "k-live" not in repr(endpoint)


def test_azure_endpoint_is_the_loopback_server_when_recording_without_credentials() -> None:
    with cassette_endpoint(
        live=True, environ={"AZURE_OPENAI_ENDPOINT": "https://contoso.openai.azure.com"}
    ) as endpoint:
        assert endpoint.kind == "loopback" and endpoint.server is not None
        assert endpoint.url == endpoint.server.endpoint and endpoint.url.startswith("http://127.0.0.1:")
        assert httpx.post(endpoint.url + "/nowhere").status_code == 404  # it is serving
    assert not sends_requests("none", False) and sends_requests("rewrite", False) and sends_requests("none", True)


class _Options:
    def __init__(self, record_mode: str | None) -> None:
        self.options = {"--record-mode": record_mode, "--disable-recording": False}

    def getoption(self, name: str) -> object:
        return self.options[name]


@pytest.mark.parametrize(
    ("record_mode", "environ", "marker"),
    [(None, _LIVE_ENV, "allow_hosts"), ("rewrite", {}, "allow_hosts"), ("rewrite", _LIVE_ENV, "enable_socket")],
)
def test_network_marker_allows_loopback_only_unless_recording_from_azure(
    record_mode: str | None, environ: dict[str, str], marker: str
) -> None:
    chosen = network_marker(_Options(record_mode), environ)  # type: ignore[arg-type]
    assert chosen.name == marker
    if marker == "allow_hosts":
        assert chosen.args == (["127.0.0.1", "::1"],)


def test_cassettes_are_stored_under_cassettes_by_test_module(vcr_cassette_dir: str) -> None:
    assert Path(vcr_cassette_dir) == CASSETTE_ROOT / "test_gateway_cassettes"
    recorded = {p.stem for p in Path(vcr_cassette_dir).glob("*.yaml")}
    marked = {
        name
        for name, test in globals().items()
        if name.startswith("test_") and any(mark.name == "vcr" for mark in getattr(test, "pytestmark", ()))
    }
    assert marked and recorded == marked


def test_committed_cassettes_are_readable_and_in_canonical_form() -> None:
    paths = sorted(CASSETTE_ROOT.rglob("*.yaml"))
    assert paths
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert "!!binary" not in text, path
        data = ReadableYamlSerializer.deserialize(text)
        assert ReadableYamlSerializer.serialize(data) == text, f"{path} was edited by hand or re-serialized"
        for interaction in data["interactions"]:
            assert isinstance(interaction["response"]["body"]["string"], str), path


@pytest.mark.xfail(
    strict=True, raises=AssertionError, reason="kevin1024/vcrpy#970: replayed aiohttp responses have no raw_headers"
)
async def test_cassette_replay_through_the_shared_aiohttp_client_keeps_response_headers(tmp_path: Path) -> None:
    # When this passes, vcrpy is fixed: drop the xfail and let async cassette tests use the shared client.
    path = str(tmp_path / "aiohttp.yaml")
    with AzureTestServer(api_key="test-key") as server, _scheme_vcr(RecordMode.ONCE).use_cassette(path, **vcr_config()):
        live = await Gateway(_config(CassetteEndpoint(server.endpoint, "test-key", "loopback"))).acomplete(_ask("Hi"))
    with _scheme_vcr(RecordMode.NONE).use_cassette(path, **vcr_config()) as replay:
        replayed = await Gateway(_config(CassetteEndpoint(PLACEHOLDER_ENDPOINT, "k", "replay"))).acomplete(_ask("Hi"))
        assert replay.all_played
    assert replayed.text == live.text != ""  # the body does replay through the aiohttp stub
    assert replayed.request_id == live.request_id is not None
