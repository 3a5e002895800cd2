"""Fault matrix, answers that are not Azure's: an HTML error page from a proxy, a 200 whose body does not parse,
and a client passed in by the user that the user already closed.

A proxy or Application Gateway in front of Azure answers in HTML, without Azure's request id; the error must say
a proxy answered (with the page's title), keep the class its status gives, and be retried only when that status
is transient. A user's closed client must be a configuration error naming the client, before any request.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from langchain_core.exceptions import ModelAPIError

from shared_core import (
    AuthenticationError,
    ConfigurationError,
    GatewayError,
    InvalidResponseError,
    ServerError,
    StreamInterruptedError,
)
from tests.faults.channels import BLOCKING, CHANNELS, MODES, STREAMS, Channel, Mode, Target, build, run
from tests.support.azure_server import AzureTestServer, BadGateway, HttpError, Reply, Unparsable

NOT_REACHED = Reply("this answer must never be requested")
CORPORATE_PROXY_PAGE = (
    b"<!DOCTYPE html><html><head><title>Access Denied - Corporate Web Gateway</title></head>"
    b"<body><h1>This site is blocked by policy</h1></body></html>"
)


# -- an HTML error page from a proxy ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_fault_html_error_page_from_a_proxy_is_a_retried_server_error_naming_the_proxy(
    server: AzureTestServer, channel: Channel, mode: Mode
) -> None:
    server.script(BadGateway(), BadGateway(), BadGateway(), NOT_REACHED)
    seen = run(build(channel, Target(server.endpoint, max_retries=2)), mode)

    error = seen.error
    assert isinstance(error, ServerError) and error.status == 502
    assert "HTML page from a proxy" in error.message and "502 Bad Gateway" in error.message
    assert error.request_id is None, "a proxy page carries no Azure request id"
    if channel == "langchain":
        assert isinstance(error, ModelAPIError)
    assert server.request_count == 3, "a 502 is transient: retried max_retries times"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_fault_html_refusal_from_a_corporate_proxy_is_typed_and_not_retried(
    server: AzureTestServer, channel: Channel, mode: Mode
) -> None:
    server.script(HttpError(403, body=CORPORATE_PROXY_PAGE), NOT_REACHED)
    seen = run(build(channel, Target(server.endpoint)), mode)

    error = seen.error
    assert isinstance(error, AuthenticationError) and error.status == 403
    assert "HTML page from a proxy" in error.message and "Corporate Web Gateway" in error.message
    assert "<body>" not in error.message, "the title, not the page"
    assert server.request_count == 1


# -- a 200 with an unparsable body ---------------------------------------------------------------------------------

UNPARSABLE = {
    "truncated-json": Unparsable(),
    "html-login-page": Unparsable(body=b"<html><head><title>Sign in to the proxy</title></head></html>"),
}


@pytest.mark.parametrize("body", sorted(UNPARSABLE))
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("mode", BLOCKING)
def test_fault_200_with_unparsable_body_is_invalid_response(
    server: AzureTestServer, mode: Mode, channel: Channel, body: str
) -> None:
    server.script(UNPARSABLE[body], NOT_REACHED)
    seen = run(build(channel, Target(server.endpoint)), mode)

    error = seen.error
    assert isinstance(error, GatewayError) and error.status == 200
    assert "not JSON" in error.message and "proxy" in error.message
    assert server.request_count == 1
    assert isinstance(error, InvalidResponseError)


@pytest.mark.parametrize("body", sorted(UNPARSABLE))
@pytest.mark.parametrize("mode", STREAMS)
@pytest.mark.parametrize("channel", CHANNELS)
def test_fault_200_with_unparsable_stream_is_interrupted_by_invalid_response(
    server: AzureTestServer, channel: Channel, mode: Mode, body: str
) -> None:
    server.script(UNPARSABLE[body], NOT_REACHED)
    seen = run(build(channel, Target(server.endpoint)), mode)

    error = seen.error
    assert isinstance(error, StreamInterruptedError)
    if body == "truncated-json":
        assert any(isinstance(e, InvalidResponseError) for e in _chain(error)), "a chunk that is not JSON"
    else:  # an HTML page holds no "data:" line: no event at all, so no terminal event either
        assert "terminal event" in error.message
    assert seen.pieces == []
    assert server.request_count == 1


def _chain(error: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in out:
        out.append(current)
        current = current.__cause__
    return out


# -- a client passed in by the user that is closed -------------------------------------------------------------


def _closed_clients() -> tuple[httpx.Client, httpx.AsyncClient]:
    sync_client, async_client = httpx.Client(), httpx.AsyncClient()
    sync_client.close()
    asyncio.run(async_client.aclose())
    return sync_client, async_client


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_fault_closed_user_client_is_a_configuration_error_before_any_request(
    server: AzureTestServer, channel: Channel, mode: Mode
) -> None:
    sync_client, async_client = _closed_clients()
    target = Target(server.endpoint, http_client=sync_client, async_http_client=async_client)
    seen = run(build(channel, target), mode)

    error = seen.error
    assert isinstance(error, ConfigurationError)
    assert "http_client" in error.message and "closed" in error.message
    assert server.request_count == 0
