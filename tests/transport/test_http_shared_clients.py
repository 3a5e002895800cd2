"""A request through a shared client goes straight to its transport: the same request ``Client.send`` would
send (headers, URL, body, timeouts), httpx's log line, and no cookie carried from one call to the next.

Each test sends one request both ways through the same ``httpx.Client`` on an ``httpx.MockTransport``: as a
user's client (``Client.send``, every httpx behaviour) and as a shared one (:class:`http.Pooled`, the
transport directly), and compares what the transport received.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import cast

import httpx
import pytest

from shared_core.transport import http

URL = "https://example-resource.openai.azure.com/openai/deployments/gpt-4o/chat/completions"
HEADERS = {"content-type": "application/json", "accept": "application/json", "user-agent": "azure-openai-gateway/0.1"}


def _recording(seen: list[httpx.Request], *, cookie: bool = False) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        headers = [("set-cookie", "affinity=abc; Path=/")] if cookie else []
        return httpx.Response(200, headers=headers, content=b'{"ok":true}')

    return httpx.MockTransport(handler)


def _request(extra: dict[str, str] | None = None) -> http.HttpRequest:
    return http.HttpRequest(URL, {"api-version": "2024-10-21"}, b'{"a":1}', {**HEADERS, **(extra or {})})


def _both(
    req: http.HttpRequest, timeouts: http.Timeouts, deadline: float | None = None
) -> tuple[httpx.Request, httpx.Request]:
    seen: list[httpx.Request] = []
    transport = _recording(seen)
    client = httpx.Client(transport=transport)
    pooled = http.Pooled(client, transport, dict(client.headers.items()))
    for sender in (client, pooled):
        assert http.send(sender, req, timeouts, {"api-key": "k"}, deadline=deadline).body == b'{"ok":true}'
    user, shared = seen
    return user, shared


def _multi(request: httpx.Request) -> list[tuple[str, str]]:
    return sorted((k.lower(), v) for k, v in request.headers.multi_items())


def test_http_shared_client_sends_what_client_send_would() -> None:
    timeouts = http.Timeouts(connect=3.0, read=7.0, write=5.0, pool=2.0)
    user, shared = _both(_request(), timeouts)

    assert _multi(shared) == _multi(user)
    assert ("host", "example-resource.openai.azure.com") in _multi(shared)
    assert ("content-length", "7") in _multi(shared) and ("connection", "keep-alive") in _multi(shared)
    assert shared.url == user.url and str(shared.url) == f"{URL}?api-version=2024-10-21"
    assert shared.content == user.content == b'{"a":1}'
    assert shared.extensions["timeout"] == user.extensions["timeout"] == timeouts.for_request(False).as_dict()


def test_http_timeouts_are_cut_to_the_time_left_before_the_deadline_on_both_paths() -> None:
    timeouts = http.Timeouts(connect=3.0, read=7.0, write=5.0, pool=0.5)
    user, shared = _both(_request(), timeouts, deadline=time.monotonic() + 2.0)

    for sent in (user, shared):
        cut = sent.extensions["timeout"]
        assert 1.0 < cut["connect"] <= 2.0 and 1.0 < cut["read"] <= 2.0 and 1.0 < cut["write"] <= 2.0
        assert cut["pool"] == 0.5, "a timeout shorter than the time left is kept"


@pytest.mark.parametrize("name", ["accept-encoding", "Accept-Encoding"])
def test_http_shared_client_lets_a_request_header_replace_a_client_default(name: str) -> None:
    user, shared = _both(_request({name: "identity"}), http.Timeouts())

    assert _multi(shared) == _multi(user)
    assert shared.headers.get_list("accept-encoding") == ["identity"]


def test_http_shared_client_writes_httpx_request_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="httpx"):
        _both(_request(), http.Timeouts())

    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    expected = f'HTTP Request: POST {URL}?api-version=2024-10-21 "HTTP/1.1 200 OK"'
    assert lines == [expected, expected]


def test_http_shared_client_carries_no_cookie_to_the_next_call() -> None:
    # A shared client serves every gateway of the process, whatever its credential: a cookie one call's answer
    # set is not sent with another's request. A user's client keeps httpx's cookie jar.
    seen: list[httpx.Request] = []
    transport = _recording(seen, cookie=True)
    client = httpx.Client(transport=transport)
    pooled = http.Pooled(client, transport, dict(client.headers.items()))

    for _ in range(2):
        http.send(pooled, _request(), http.Timeouts())
    for _ in range(2):
        http.send(client, _request(), http.Timeouts())

    assert [r.headers.get("cookie") for r in seen] == [None, None, None, "affinity=abc"]


def test_http_shared_async_client_sends_what_client_send_would() -> None:
    seen: list[httpx.Request] = []
    transport = _recording(seen)

    async def go() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            async_transport = cast(httpx.AsyncBaseTransport, transport)  # a MockTransport is both kinds
            pooled: http.AsyncPooled = http.Pooled(client, async_transport, dict(client.headers.items()))
            for sender in (client, pooled):
                assert (await http.asend(sender, _request(), http.Timeouts(), {"api-key": "k"})).status == 200
                opened = await http.astream(sender, _request(), http.Timeouts(), {"api-key": "k"})
                assert [chunk async for chunk in opened.aiter_bytes()] == [b'{"ok":true}']
                await opened.aclose()

    asyncio.run(go())
    user_send, user_stream, shared_send, shared_stream = seen
    assert _multi(shared_send) == _multi(user_send) and _multi(shared_stream) == _multi(user_stream)
    assert shared_stream.extensions["timeout"] == user_stream.extensions["timeout"]
