"""Proxy environment variables apply, decided once per client rather than per request.

The async client decides once, from ``HTTP(S)_PROXY`` / ``NO_PROXY``, when it is built, rather than letting
aiohttp look proxies up on every request (``trust_env=True``, hundreds of µs per call). These tests run a
loopback forward proxy that counts what passes through it and check both paths, sync and async, use it when
the environment says so and bypass it when ``NO_PROXY`` covers the endpoint.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal, cast
from urllib.parse import urlsplit

import pytest

from shared_core import ChatRequest, ConnectionFailedError, Gateway, ListSink, Message, RetryPolicy, load_config
from tests.support.azure_server import AzureTestServer, DeploymentInfo

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

KEY = "proxy-test-key"
DEPLOYMENT = "gpt-4o-mini"
Mode = Literal["complete", "stream", "acomplete", "astream"]
_HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class _CountingProxy(ThreadingHTTPServer):
    """A plain HTTP forward proxy on loopback: forwards absolute-form requests, refuses CONNECT; counts both."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.seen: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def _seen(self) -> list[tuple[str, str]]:
        return cast(_CountingProxy, self.server).seen

    def do_POST(self) -> None:
        self._seen.append(("POST", self.path))
        target = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
        try:
            upstream.request("POST", target.path + (f"?{target.query}" if target.query else ""), body, headers)
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_CONNECT(self) -> None:
        # Enough to prove an https:// endpoint was tunnelled through us; there is no Azure behind it.
        self._seen.append(("CONNECT", self.path))
        self.send_response(502)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class names it so
        pass


@pytest.fixture
def proxy() -> Iterator[_CountingProxy]:
    server = _CountingProxy()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def azure() -> Iterator[AzureTestServer]:
    # A server (so an endpoint, so a shared client) per test: a client built under one test's environment
    # must not be reused under another's.
    with AzureTestServer(api_key=KEY, deployments={DEPLOYMENT: DeploymentInfo()}) as server:
        yield server


@pytest.fixture
def clean_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def _gateway(endpoint: str) -> Gateway:
    config = load_config(env={}, endpoint=endpoint, api_key=KEY, default_deployment=DEPLOYMENT)
    return Gateway(config, event_sink=ListSink(), retry_policy=RetryPolicy(max_retries=0))


def _text(gateway: Gateway, mode: Mode) -> str:
    request = ChatRequest((Message.user("hi"),))
    if mode == "complete":
        return gateway.complete(request).text
    if mode == "acomplete":
        return asyncio.run(gateway.acomplete(request)).text

    async def drain() -> str:
        return "".join([getattr(e, "text", "") async for e in gateway.astream(request)])

    if mode == "astream":
        return asyncio.run(drain())
    return "".join(getattr(e, "text", "") for e in gateway.stream(request))


MODES: tuple[Mode, ...] = ("complete", "stream", "acomplete", "astream")


@pytest.mark.parametrize("mode", MODES)
def test_http_proxy_env_routes_every_call_through_the_proxy(
    azure: AzureTestServer, proxy: _CountingProxy, clean_proxy_env: pytest.MonkeyPatch, mode: Mode
) -> None:
    clean_proxy_env.setenv("HTTP_PROXY", proxy.url)

    text = _text(_gateway(azure.endpoint), mode)

    assert text  # the answer came back through the proxy
    assert [method for method, _ in proxy.seen] == ["POST"]
    assert proxy.seen[0][1].startswith(f"{azure.endpoint}/openai/deployments/{DEPLOYMENT}/chat/completions?")
    assert azure.request_count == 1


@pytest.mark.parametrize("mode", MODES)
def test_http_proxy_env_no_proxy_bypasses_the_proxy(
    azure: AzureTestServer, proxy: _CountingProxy, clean_proxy_env: pytest.MonkeyPatch, mode: Mode
) -> None:
    clean_proxy_env.setenv("HTTP_PROXY", proxy.url)
    clean_proxy_env.setenv("NO_PROXY", "127.0.0.1")

    text = _text(_gateway(azure.endpoint), mode)

    assert text
    assert proxy.seen == []
    assert azure.request_count == 1


@pytest.mark.parametrize("mode", MODES)
def test_http_proxy_env_https_proxy_tunnels_an_https_endpoint(
    proxy: _CountingProxy, clean_proxy_env: pytest.MonkeyPatch, mode: Mode
) -> None:
    clean_proxy_env.setenv("HTTPS_PROXY", proxy.url)
    # A name nothing resolves: only the proxy is ever connected to (and it refuses the tunnel).
    endpoint = f"https://proxy-test-{mode}.openai.azure.invalid"

    with pytest.raises(ConnectionFailedError):
        _text(_gateway(endpoint), mode)

    assert proxy.seen == [("CONNECT", f"proxy-test-{mode}.openai.azure.invalid:443")]
