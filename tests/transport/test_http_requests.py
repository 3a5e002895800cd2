"""What goes on the wire and what comes back from ``transport.http``: the URL (built once per call) with its
query, the auth headers passed beside the prepared request, and response headers lower-cased once."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from shared_core.errors import ConnectionFailedError
from shared_core.transport import http

URL = "https://example-resource.openai.azure.com/openai/deployments/gpt-4o/chat/completions"


def _echo(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            headers=[("Apim-Request-Id", "req-1"), ("X-Multi", "a"), ("x-multi", "b"), ("Content-Type", "text/x")],
            content=b"{}",
        )

    return httpx.MockTransport(handler)


def _request(query: dict[str, str]) -> http.HttpRequest:
    return http.HttpRequest(URL, query, b'{"a":1}', {"content-type": "application/json", "api-key": "prepared"})


def test_http_send_puts_the_query_on_the_url_and_adds_extra_headers() -> None:
    seen: list[httpx.Request] = []
    client = httpx.Client(transport=_echo(seen))
    req = _request({"api-version": "2024-10-21", "x": "a b&c"})

    response = http.send(client, req, http.Timeouts(), {"api-key": "fresh", "authorization": "Bearer t"})
    again = http.send(client, req, http.Timeouts())

    assert response.status == 200 and again.status == 200
    first, second = seen
    assert str(first.url) == f"{URL}?api-version=2024-10-21&x=a+b%26c"
    assert dict(first.url.params) == {"api-version": "2024-10-21", "x": "a b&c"}
    assert first.headers["api-key"] == "fresh" and first.headers["authorization"] == "Bearer t"
    assert first.content == b'{"a":1}'
    assert second.url == first.url
    assert second.headers["api-key"] == "prepared" and "authorization" not in second.headers
    assert dict(req.headers) == {"content-type": "application/json", "api-key": "prepared"}  # not mutated


def test_http_request_without_query_keeps_the_bare_url() -> None:
    seen: list[httpx.Request] = []

    http.send(httpx.Client(transport=_echo(seen)), _request({}), http.Timeouts())

    assert str(seen[0].url) == URL
    assert _request({}).full_url == URL


def test_http_response_headers_are_lower_case_with_repeats_joined() -> None:
    response = http.send(httpx.Client(transport=_echo([])), _request({"api-version": "v1"}), http.Timeouts())

    assert dict(response.headers) == {
        "apim-request-id": "req-1",
        "x-multi": "a, b",
        "content-type": "text/x",
        "content-length": "2",
    }


async def test_http_asend_and_astream_send_the_same_request_and_lower_case_headers() -> None:
    seen: list[httpx.Request] = []
    client = httpx.AsyncClient(transport=_echo(seen))
    req = _request({"api-version": "2024-10-21"})

    response = await http.asend(client, req, http.Timeouts(), {"api-key": "fresh"})
    opened = await http.astream(client, req, http.Timeouts(), {"api-key": "fresh"})
    await opened.aclose()

    assert response.headers["apim-request-id"] == "req-1" and opened.headers["apim-request-id"] == "req-1"
    assert "Apim-Request-Id" not in response.headers and "Apim-Request-Id" not in opened.headers
    assert [str(r.url) for r in seen] == [f"{URL}?api-version=2024-10-21"] * 2
    assert [r.headers["api-key"] for r in seen] == ["fresh", "fresh"]


@pytest.mark.parametrize("query", [{"api-version": "2025-04-01-preview"}, {}])
def test_http_stream_sends_to_the_full_url(query: dict[str, str]) -> None:
    seen: list[httpx.Request] = []
    opened = http.stream(httpx.Client(transport=_echo(seen)), _request(query), http.Timeouts())
    opened.close()

    assert str(seen[0].url) == (f"{URL}?api-version={query['api-version']}" if query else URL)
    assert opened.headers["x-multi"] == "a, b"


def _raising(exc: Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("exc", "connected"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), False),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), True),
        (httpx.ReadError("[Errno 104] Connection reset by peer"), True),
    ],
)
def test_http_connection_failure_says_whether_the_connection_was_made(exc: Exception, connected: bool) -> None:
    # The transport sees the underlying exception; failover reads only the flag (a free failover when False).
    with pytest.raises(ConnectionFailedError) as caught:
        http.send(httpx.Client(transport=_raising(exc)), _request({}), http.Timeouts())
    assert caught.value.connected is connected


def test_http_refused_loopback_port_is_never_connected_sync_and_async() -> None:
    with socket.socket() as sock:  # bound, never listening: the kernel refuses the connection
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/x"
        req = http.HttpRequest(url, {}, b"{}", {})
        with pytest.raises(ConnectionFailedError) as sync_caught:
            http.send(httpx.Client(), req, http.Timeouts(connect=2.0))

        async def go() -> None:
            async with httpx.AsyncClient() as client:
                await http.asend(client, req, http.Timeouts(connect=2.0))

        with pytest.raises(ConnectionFailedError) as async_caught:
            asyncio.run(go())
    assert sync_caught.value.connected is False and async_caught.value.connected is False
