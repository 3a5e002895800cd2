"""Gateway mode: an OpenAI-compatible gateway in front of Azure (TensorWall's request shape).

The loopback server plays the gateway: its ``/openai/v1`` prefix takes the model from the body, so
``gateway_url = <server>/openai/v1`` receives ``POST .../chat/completions`` with ``model = "azure/<deployment>"``
exactly as a gateway would, and the server records every header it got. A second server plays Azure itself
and must never be reached; a third, plain redirecting server checks that no key follows a redirect.
"""

from __future__ import annotations

import asyncio
import http.server
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared_core import (
    BadRequestError,
    ChatRequest,
    ConfigurationError,
    Gateway,
    GatewayError,
    ListSink,
    Message,
    StreamEvent,
    load_config,
)
from shared_core.result import StreamAccumulator
from tests.support.azure_server import AzureTestServer, DeploymentInfo, HttpError

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

GATEWAY_KEY = "gw-canary-7c1e"
AZURE_KEY = "azure-canary-93b2"
DEPLOYMENT = "gpt-4o-mini"


@pytest.fixture(scope="module")
def gateway_server() -> Iterator[AzureTestServer]:
    # No key check: the gateway's key is checked by the test, from the recorded headers.
    with AzureTestServer(api_key=None, deployments={f"azure/{DEPLOYMENT}": DeploymentInfo()}) as server:
        yield server


@pytest.fixture(scope="module")
def azure_server() -> Iterator[AzureTestServer]:
    with AzureTestServer(api_key=AZURE_KEY, deployments={DEPLOYMENT: DeploymentInfo()}) as server:
        yield server


@pytest.fixture
def servers(gateway_server: AzureTestServer, azure_server: AzureTestServer) -> Iterator[None]:
    gateway_server.reset()
    azure_server.reset()
    yield
    gateway_server.reset()
    azure_server.reset()


class _Redirect(http.server.BaseHTTPRequestHandler):
    target = ""
    seen: list[dict[str, str]] = []

    def do_POST(self) -> None:
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(307)
        self.send_header("Location", self.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        """Quiet."""


@pytest.fixture
def redirecting(azure_server: AzureTestServer) -> Iterator[str]:
    _Redirect.target = azure_server.endpoint
    _Redirect.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def via_gateway(url: str, *, sink: ListSink | None = None, **config: Any) -> Gateway:
    resolved = load_config(env={}, gateway_url=url, gateway_key=GATEWAY_KEY, default_deployment=DEPLOYMENT, **config)
    return Gateway(resolved, event_sink=sink or ListSink())


def ask() -> ChatRequest:
    return ChatRequest((Message.user("hello"),))


def run_all_modes(gateway: Gateway) -> list[str]:
    texts = [gateway.complete(ask()).text, asyncio.run(gateway.acomplete(ask())).text]
    for events in (list(gateway.stream(ask())), asyncio.run(_drain(gateway))):
        accumulator = StreamAccumulator()
        for event in events:
            accumulator.add(event)
        texts.append(accumulator.result().text)
    return texts


async def _drain(gateway: Gateway) -> list[StreamEvent]:
    return [e async for e in gateway.astream(ask())]


def test_gateway_mode_sends_openai_shape_with_x_api_key_and_azure_model(
    servers: None, gateway_server: AzureTestServer, azure_server: AzureTestServer
) -> None:
    gateway = via_gateway(gateway_server.endpoint + "/openai/v1")
    assert run_all_modes(gateway) == ["You said: hello"] * 4

    requests = gateway_server.requests
    assert len(requests) == 4
    for r in requests:
        assert (r.method, r.path, r.query) == ("POST", "/openai/v1/chat/completions", {})
        assert r.json["model"] == f"azure/{DEPLOYMENT}"
        assert r.headers["x-api-key"] == GATEWAY_KEY
        assert {"api-key", "authorization", "x-azure-endpoint", "x-azure-api-key"}.isdisjoint(r.headers)
    assert [r.stream for r in requests] == [False, False, True, True]
    assert azure_server.request_count == 0


def test_gateway_mode_forwards_azure_credentials_only_when_asked(
    servers: None, gateway_server: AzureTestServer, azure_server: AzureTestServer
) -> None:
    gateway = via_gateway(
        gateway_server.endpoint + "/openai/v1",
        endpoint=azure_server.endpoint,
        api_key=AZURE_KEY,
        forward_azure_credentials=True,
    )
    assert gateway.complete(ask()).text == "You said: hello"
    (sent,) = gateway_server.requests
    assert sent.headers["x-azure-endpoint"] == azure_server.endpoint
    assert sent.headers["x-azure-api-key"] == AZURE_KEY
    assert sent.headers["x-api-key"] == GATEWAY_KEY
    assert azure_server.request_count == 0, "the gateway is the only host spoken to"

    unforwarded = via_gateway(gateway_server.endpoint + "/openai/v1", endpoint=azure_server.endpoint, api_key=AZURE_KEY)
    unforwarded.complete(ask())
    assert "x-azure-api-key" not in gateway_server.requests[-1].headers


def test_gateway_mode_azure_key_never_follows_a_redirect_to_another_host(
    servers: None, azure_server: AzureTestServer, redirecting: str
) -> None:
    gateway = via_gateway(
        redirecting, endpoint=azure_server.endpoint, api_key=AZURE_KEY, forward_azure_credentials=True
    )
    for mode in ("sync", "async"):
        with pytest.raises(GatewayError) as caught:
            if mode == "sync":
                gateway.complete(ask())
            else:
                asyncio.run(gateway.acomplete(ask()))
        assert caught.value.status == 307
    assert len(_Redirect.seen) == 2 and all(h["x-azure-api-key"] == AZURE_KEY for h in _Redirect.seen)
    assert azure_server.request_count == 0, "the redirect was not followed, so the key went nowhere else"


def test_gateway_mode_key_is_masked_everywhere(
    servers: None, gateway_server: AzureTestServer, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    sink = ListSink()
    gateway = via_gateway(
        gateway_server.endpoint + "/openai/v1",
        sink=sink,
        endpoint="https://res.openai.azure.com",
        api_key=AZURE_KEY,
        forward_azure_credentials=True,
        raw_debug=True,
    )
    gateway_server.script(HttpError(400, body=b'{"error": {"code": "invalid_value", "message": "no"}}'))
    with pytest.raises(BadRequestError) as caught:
        gateway.complete(ask())
    gateway.complete(ask())
    config = gateway.config
    texts = [repr(config), str(config), str(config.describe()), repr(gateway), str(gateway.auth), caplog.text]
    texts += [str(caught.value), repr(caught.value), *(str(e) for e in sink.events)]
    assert not [t for t in texts if GATEWAY_KEY in t or AZURE_KEY in t]
    assert config.describe()["gateway_key"].startswith("**********")

    path = tmp_path / "gw.toml"
    path.write_text(
        f'gateway_url = "{gateway_server.endpoint}/openai/v1/"\ngateway_key = "${{GW_KEY}}"\n'
        "forward_azure_credentials = false\n",
        encoding="utf-8",
    )
    from_file = load_config(config_file=str(path), env={"GW_KEY": GATEWAY_KEY})
    assert from_file.gateway_url == f"{gateway_server.endpoint}/openai/v1"
    assert from_file.gateway_key is not None and from_file.gateway_key.get_secret_value() == GATEWAY_KEY


def test_gateway_mode_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="plain http"):
        load_config(env={}, gateway_url="http://gw.example.com/v1")
    with pytest.raises(ConfigurationError, match="credentials in the URL"):
        load_config(env={}, gateway_url="https://user:pw@gw.example.com/v1")
    with pytest.raises(ConfigurationError, match="forward_azure_credentials needs"):
        via_gateway("https://gw.example.com/v1", forward_azure_credentials=True)
    gateway = via_gateway("https://gw.example.com/v1")
    call = gateway.prepare(ask(), stream=False)
    assert call.http_request.url == "https://gw.example.com/v1/chat/completions"
    assert dict(call.http_request.query) == {}
