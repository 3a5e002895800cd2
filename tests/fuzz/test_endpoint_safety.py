"""Endpoint safety: plain http only for loopback, and no redirect ever carries credentials to another host.

The http rule is checked against what the HTTP clients will really connect to: an accepted endpoint is parsed
again by httpx (the sync path) and by yarl (aiohttp, the async path), and with plain http both must see a
loopback host, no userinfo and the path the codec built. Redirects are checked end to end: a loopback server
answers every request with a redirect to a second loopback server (another origin), and the gateway must
raise one of our errors while the second server sees no request at all, for every redirect status, sync and
async, streaming or not, with an api key or a bearer token.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import pytest
import yarl
from aiohttp import web
from hypothesis import event, given

from shared_core import Gateway
from shared_core.config import load_config
from shared_core.errors import ConfigurationError, GatewayError
from shared_core.messages import Message
from shared_core.request import ChatRequest
from tests.fuzz.endpoint_urls import endpoint_urls, is_loopback_host
from tests.fuzz.json_values import any_text
from tests.fuzz.loopback_app import LoopbackApp

_PATH = "/openai/deployments/d/chat/completions"
_CANARY = "CANARY-api-key-7f3a"
_CANARY_TOKEN = "CANARY-bearer-token-91c2"
_REQUEST = ChatRequest(messages=(Message.user("hi"),))


# ---- plain http only for loopback --------------------------------------------------------------------------


@given(endpoint_urls | any_text)
def test_load_config_endpoint_plain_http_only_for_loopback(url: str) -> None:
    try:
        config = load_config(endpoint=url, env={})
    except ConfigurationError as error:
        event("rejected")
        assert "kwarg 'endpoint'" in str(error)
        return
    endpoint = config.endpoint
    assert endpoint is not None
    event(f"accepted {endpoint.split(':', 1)[0]}")
    sync_url = httpx.URL(endpoint + _PATH)
    async_url = yarl.URL(endpoint + _PATH)
    assert sync_url.scheme == async_url.scheme and sync_url.scheme in {"http", "https"}
    assert (sync_url.userinfo, async_url.user, async_url.password) == (b"", None, None)
    assert (sync_url.path, async_url.path) == (_PATH, _PATH)
    assert not sync_url.query and not async_url.query_string
    if sync_url.scheme == "http":
        assert is_loopback_host(sync_url.host), (url, sync_url.host)
        assert is_loopback_host(async_url.host or ""), (url, async_url.host)


_ACCEPTED = [
    "http://127.0.0.1",
    "http://127.0.0.1:8080/",
    "http://127.8.9.10:1",
    "http://localhost:1234/openai",
    "http://[::1]:9000/openai/v1",
    "https://example-resource.openai.azure.com",
]
_REJECTED = [
    "http://127.0.0.1@evil.com",
    "http://localhost.evil.com",
    "http://127.0.0.1.evil.com",
    "http://evil.com",
    "http://evil.com@127.0.0.1",
    "http://user:pw@127.0.0.1",
    "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54",  # full-width "localhost"
    "http://l\u043ecalhost",  # Cyrillic o
    "http://2130706433",
    "http://0x7f.0.0.1",
    "http://127.1",
    "http://10.0.0.1",
    "http://169.254.169.254",
    "http://[fe80::1]",
    "http://[::]",
    "http://0.0.0.0",
    "https://user@example-resource.openai.azure.com",
    "ftp://127.0.0.1",
    "127.0.0.1",
]


@pytest.mark.parametrize("url", _ACCEPTED)
def test_load_config_endpoint_loopback_or_https_is_accepted(url: str) -> None:
    assert load_config(endpoint=url, env={}).endpoint == url.removesuffix("/openai/v1").removesuffix("/openai").rstrip(
        "/"
    )


@pytest.mark.parametrize("url", _REJECTED)
def test_load_config_endpoint_non_loopback_http_or_userinfo_is_rejected(url: str) -> None:
    with pytest.raises(ConfigurationError, match="kwarg 'endpoint'"):
        load_config(endpoint=url, env={})


# ---- URLs the HTTP clients would refuse only at the first request are refused at configuration ---------


@pytest.mark.parametrize("url", ["http://[::1", "http://[evil.com]", "https://\u2100.com"])
def test_config_endpoint_unparsable_url_is_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="kwarg 'endpoint'"):
        load_config(endpoint=url, env={})


@pytest.mark.parametrize("url", ["http://127.0.0.1:abc", "http://127.0.0.1:80\\evil.com", "http://localhost:99999"])
def test_config_endpoint_bad_port_is_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="kwarg 'endpoint'"):
        load_config(endpoint=url, env={})


def test_gateway_complete_bad_port_endpoint_is_typed_error() -> None:
    with pytest.raises(GatewayError):
        Gateway(endpoint="http://127.0.0.1:abc", api_key=_CANARY, default_deployment="d", env={}).complete(_REQUEST)


@pytest.mark.parametrize("url", ["https://\x1b", "https://\x80.openai.azure.com", "https://exa\x7fmple.com"])
def test_config_endpoint_host_not_a_hostname_is_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="kwarg 'endpoint'"):
        load_config(endpoint=url, env={})


def test_gateway_complete_control_character_host_is_typed_error() -> None:
    with pytest.raises(GatewayError):
        Gateway(endpoint="https://\x1b", api_key=_CANARY, default_deployment="d", env={}).complete(_REQUEST)


@pytest.mark.parametrize("url", ["http://:@127.0.0.1", "http://@127.0.0.1", "https://:@example.openai.azure.com"])
def test_config_endpoint_empty_userinfo_is_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="kwarg 'endpoint'"):
        load_config(endpoint=url, env={})


_UNUSABLE = [
    "http://[::1",
    "https://\u2100.com",
    "http://127.0.0.1:abc",
    "http://localhost:99999",
    "https://\x1b",
    "https://exa\x7fmple.com",
    "http://:@127.0.0.1",
]


@pytest.mark.parametrize("url", _UNUSABLE)
def test_config_gateway_url_unusable_url_is_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="kwarg 'gateway_url'"):
        load_config(gateway_url=url, env={})


@pytest.mark.parametrize(
    "url",
    [
        "http://user:s3cret@[::1",
        "https://user:s3cret@\u2100.com",
        "http://user:s3cret@evil.com",
        "https://:s3cret@\x1b",
    ],
)
@pytest.mark.parametrize("setting", ["endpoint", "gateway_url"])
def test_config_url_with_password_is_rejected_without_showing_it(url: str, setting: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config(env={}, **{setting: url})
    assert "s3cret" not in str(caught.value)


async def test_gateway_acomplete_empty_userinfo_endpoint_is_typed_error() -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.json_response({"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}]})

    with LoopbackApp(answer) as app, pytest.raises(GatewayError):
        endpoint = app.endpoint.replace("//", "//:@")
        gateway = Gateway(endpoint=endpoint, azure_ad_token=_CANARY_TOKEN, default_deployment="d", env={})
        await gateway.acomplete(_REQUEST)


# ---- no redirect carries credentials to another host -------------------------------------------------------


@pytest.fixture(scope="module")
def other_host() -> Iterator[LoopbackApp]:
    """The server a redirect points to: it must never see a request."""

    async def answer(request: web.Request) -> web.StreamResponse:
        return web.json_response({"choices": [{"index": 0, "message": {"role": "assistant", "content": "leaked"}}]})

    with LoopbackApp(answer) as app:
        yield app


@pytest.fixture(scope="module", params=[301, 302, 303, 307, 308])
def redirecting(request: pytest.FixtureRequest, other_host: LoopbackApp) -> Iterator[LoopbackApp]:
    """A server that answers every request with a redirect to ``other_host``, same path and query."""
    status: int = request.param

    async def redirect(req: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": other_host.endpoint + req.path_qs})

    with LoopbackApp(redirect) as app:
        yield app


def _gateway(
    app: LoopbackApp,
    credential: str,
    http_client: httpx.Client | None = None,
    async_http_client: httpx.AsyncClient | None = None,
) -> Gateway:
    return Gateway(
        endpoint=app.endpoint,
        api_key=_CANARY if credential == "api_key" else None,
        azure_ad_token=_CANARY_TOKEN if credential == "bearer" else None,
        default_deployment="d",
        env={},
        max_retries=0,
        http_client=http_client,
        async_http_client=async_http_client,
    )


async def _run(gateway: Gateway, mode: str) -> None:
    if mode == "complete":
        gateway.complete(_REQUEST)
    elif mode == "acomplete":
        await gateway.acomplete(_REQUEST)
    elif mode == "stream":
        list(gateway.stream(_REQUEST))
    else:
        _ = [event async for event in gateway.astream(_REQUEST)]


@pytest.mark.parametrize("mode", ["complete", "acomplete", "stream", "astream"])
@pytest.mark.parametrize("credential", ["api_key", "bearer"])
async def test_gateway_redirect_to_other_host_is_not_followed(
    mode: str, credential: str, redirecting: LoopbackApp, other_host: LoopbackApp
) -> None:
    sent_before, leaked_before = len(redirecting.requests), len(other_host.requests)
    with pytest.raises(GatewayError) as caught:
        await _run(_gateway(redirecting, credential), mode)
    assert len(other_host.requests) == leaked_before, "the redirect was followed"
    sent = redirecting.requests[sent_before:]
    secret = _CANARY if credential == "api_key" else _CANARY_TOKEN
    assert sent and all(secret in str(r.headers) for r in sent), "the credential never went out, so proves nothing"
    error = caught.value
    for text in (str(error), repr(error), str(error.__cause__)):
        assert _CANARY not in text and _CANARY_TOKEN not in text


@pytest.mark.parametrize("mode", ["complete", "stream"])
def test_gateway_redirect_user_client_following_redirects_is_not_followed(
    mode: str, redirecting: LoopbackApp, other_host: LoopbackApp
) -> None:
    leaked_before = len(other_host.requests)
    with httpx.Client(follow_redirects=True) as client:
        gateway = _gateway(redirecting, "api_key", http_client=client)
        with contextlib.suppress(GatewayError):
            if mode == "complete":
                gateway.complete(_REQUEST)
            else:
                list(gateway.stream(_REQUEST))
    assert not any(_CANARY in str(r.headers) for r in other_host.requests), "the api key reached another host"
    assert len(other_host.requests) == leaked_before


@pytest.mark.parametrize("mode", ["acomplete", "astream"])
async def test_gateway_redirect_user_async_client_following_redirects_is_not_followed(
    mode: str, redirecting: LoopbackApp, other_host: LoopbackApp
) -> None:
    leaked_before = len(other_host.requests)
    async with httpx.AsyncClient(follow_redirects=True) as client:
        gateway = _gateway(redirecting, "api_key", async_http_client=client)
        with contextlib.suppress(GatewayError):
            await _run(gateway, mode)
    assert not any(_CANARY in str(r.headers) for r in other_host.requests), "the api key reached another host"
    assert len(other_host.requests) == leaked_before
