"""Core semantics every framework class inherits (drop-in parity, part 1).

Evidence: requests are encoded by the real gateway (``Gateway.prepare``, no I/O) or sent to the loopback
emulator and read back from its request log; credentials are chosen by the real chain from a given environment.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from azure_openai_emulator import AzureEmulator, Reply
from shared_core import (
    ChatRequest,
    ConfigurationError,
    Gateway,
    GenerationSettings,
    Message,
    ToolCallPart,
    ToolResultPart,
)
from shared_core.result import StreamAccumulator, TextDelta, TokenLogprob
from shared_core.wire.chat_completions import ChatStreamDecoder
from shared_core.wire.responses import ResponsesStreamDecoder

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

ENDPOINT = "https://example-resource.openai.azure.com"
HI = ChatRequest(messages=(Message.user("hi"),))


def _body(gateway: Gateway, request: ChatRequest = HI, *, stream: bool = False) -> dict[str, object]:
    return dict(gateway.prepare(request, stream=stream).encoded.body)


# -- no unrequested defaults ------------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize("deployment", ["gpt-4o-mini", "o4-mini", "my-chat"])
def test_gateway_sends_no_temperature_or_token_limit_when_nothing_set(api: str, deployment: str) -> None:
    version = "v1" if api == "responses" else "2024-10-21"
    gateway = Gateway(
        endpoint=ENDPOINT,
        api_key="k",
        default_deployment=deployment,
        api=api,
        api_version=version,
        env={},  # type: ignore[arg-type]
    )
    body = _body(gateway)
    assert not {"temperature", "max_tokens", "max_completion_tokens", "max_output_tokens", "top_p"} & set(body)


def test_gateway_config_file_default_temperature_and_max_tokens_are_sent(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text("default_temperature = 0.2\ndefault_max_tokens = 300\n")
    gateway = Gateway(endpoint=ENDPOINT, api_key="k", default_deployment="gpt-4o-mini", config_file=str(path), env={})
    body = _body(gateway)
    assert (body["temperature"], body["max_completion_tokens"]) == (0.2, 300)


def test_gateway_request_settings_win_over_config_defaults() -> None:
    gateway = Gateway(
        endpoint=ENDPOINT, api_key="k", default_deployment="gpt-4o-mini", temperature=0.9, max_tokens=50, env={}
    )
    request = ChatRequest(messages=HI.messages, settings=GenerationSettings(temperature=0.1, max_tokens=7))
    body = _body(gateway, request)
    assert (body["temperature"], body["max_completion_tokens"]) == (0.1, 7)


# -- an explicit credential beats the environment ---------------------------------------------------------


def test_token_provider_kwarg_beats_env_api_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="shared_core.auth")
    gateway = Gateway(
        endpoint=ENDPOINT, token_provider=lambda: "tok", env={"AZURE_OPENAI_API_KEY": "env-key"}, max_retries=0
    )
    assert gateway.auth.kind == "token_provider"
    assert "given in code, which beats a credential from the environment" in gateway.auth.reason
    assert "api_key (api_key set by env AZURE_OPENAI_API_KEY)" in caplog.text  # configured but ignored
    assert gateway.auth.headers() == {"Authorization": "Bearer tok"}


def test_api_key_kwarg_beats_env_ad_token_and_managed_identity() -> None:
    env = {"AZURE_OPENAI_AD_TOKEN": "env-token", "AZURE_USE_MANAGED_IDENTITY": "true"}
    gateway = Gateway(endpoint=ENDPOINT, api_key="code-key", env=env)
    assert gateway.auth.kind == "api_key"
    assert gateway.auth.headers() == {"api-key": "code-key"}


def test_config_file_credential_beats_env_credential(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text('azure_ad_token = "file-token"\n')
    gateway = Gateway(endpoint=ENDPOINT, config_file=str(path), env={"AZURE_OPENAI_API_KEY": "env-key"})
    assert gateway.auth.kind == "azure_ad_token"
    assert "from the config file, which beats a credential from the environment" in gateway.auth.reason


def test_auth_order_decides_within_one_source() -> None:
    gateway = Gateway(endpoint=ENDPOINT, api_key="k", token_provider=lambda: "t", env={})
    assert gateway.auth.kind == "api_key"
    assert "comes first in the auth order" in gateway.auth.reason


def test_openai_api_key_is_the_last_fallback() -> None:
    alone = Gateway(endpoint=ENDPOINT, env={"OPENAI_API_KEY": "sk-fallback"})
    assert alone.auth.kind == "api_key" and "env OPENAI_API_KEY" in alone.auth.reason
    with_azure_token = Gateway(
        endpoint=ENDPOINT, env={"OPENAI_API_KEY": "sk-fallback", "AZURE_OPENAI_AD_TOKEN": "azure-token"}
    )
    assert with_azure_token.auth.kind == "azure_ad_token"
    with_azure_key = Gateway(endpoint=ENDPOINT, env={"OPENAI_API_KEY": "sk-x", "AZURE_OPENAI_API_KEY": "az"})
    assert with_azure_key.auth.headers() == {"api-key": "az"}


def test_no_credential_error_lists_every_name_read() -> None:
    with pytest.raises(ConfigurationError) as info:
        Gateway(endpoint=ENDPOINT, env={})
    text = str(info.value)
    for name in (
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_KEY",
        "AZURE_OPENAI_AD_TOKEN",
        "AZURE_USE_MANAGED_IDENTITY",
        "AZURE_USE_DEFAULT_CREDENTIAL",
        "AZURE_MANAGED_IDENTITY_CLIENT_ID",
        "OPENAI_API_KEY",
        "token_provider",
    ):
        assert name in text


# -- request fields, headers and query ----------------------------------------------------------------------


def test_gateway_extra_headers_and_query_reach_the_request_but_never_replace_ours() -> None:
    settings = GenerationSettings(
        extra_headers={"Ocp-Apim-Subscription-Key": "apim", "api-key": "smuggled", "Content-Type": "text/plain"},
        extra_query={"tenant": "t1", "api-version": "1999-01-01"},
    )
    gateway = Gateway(endpoint=ENDPOINT, api_key=SecretStr("k"), default_deployment="gpt-4o-mini", env={})
    call = gateway.prepare(ChatRequest(messages=HI.messages, settings=settings), stream=False)
    headers = call.http_request.headers
    assert headers["Ocp-Apim-Subscription-Key"] == "apim"
    assert "api-key" not in headers and "Content-Type" not in headers
    assert headers["content-type"] == "application/json"
    assert call.http_request.query == {"tenant": "t1", "api-version": "2024-10-21"}


# -- repairs and logprobs on the result ------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator() -> Iterator[AzureEmulator]:
    with AzureEmulator(api_key="k") as server:
        yield server


BROKEN = ChatRequest(
    messages=(
        Message.user("weather?"),
        Message("assistant", (ToolCallPart("c1", "weather", "{}"), ToolCallPart("c2", "time", "{}"))),
        Message("tool", (ToolResultPart("c1", "sunny"),)),
        Message.user("and?"),
    )
)


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_repairs_travel_on_the_result_and_the_first_stream_event(emulator: AzureEmulator, api: str) -> None:
    version = "v1" if api == "responses" else "2024-10-21"
    gateway = Gateway(
        endpoint=emulator.endpoint,
        api_key="k",
        default_deployment="gpt-4o-mini",
        api=api,
        api_version=version,
        env={},  # type: ignore[arg-type]
    )
    result = gateway.complete(BROKEN)
    assert [(r.tool_call_id, r.action) for r in result.repairs] == [("c2", "inserted_missing_result")]
    events = list(gateway.stream(BROKEN))
    first = events[0]
    assert first.kind == "metadata" and first.repairs == result.repairs
    assert gateway.complete(HI).repairs == ()


def test_logprobs_asked_for_reach_the_wire(emulator: AzureEmulator) -> None:
    gateway = Gateway(endpoint=emulator.endpoint, api_key="k", default_deployment="gpt-4o-mini", env={})
    request = ChatRequest(messages=HI.messages, settings=GenerationSettings(logprobs=True, top_logprobs=2))
    emulator.script(Reply("Hello"))
    gateway.complete(request)
    sent = emulator.requests[-1].json
    assert (sent["logprobs"], sent["top_logprobs"]) == (True, 2)


def test_stream_logprobs_fold_into_the_result() -> None:
    chunk = {
        "id": "x",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "delta": {"content": "Hi"},
                "logprobs": {"content": [{"token": "Hi", "logprob": -0.25, "bytes": [72, 105], "top_logprobs": []}]},
            }
        ],
    }
    decoder = ChatStreamDecoder()
    accumulator = StreamAccumulator()
    for event in decoder.decode(None, json.dumps(chunk)):
        accumulator.add(event)
    assert accumulator.result().logprobs == (TokenLogprob("Hi", -0.25, (72, 105)),)
    delta = {"type": "response.output_text.delta", "delta": "Yo", "logprobs": [{"token": "Yo", "logprob": -1.0}]}
    events = ResponsesStreamDecoder().decode("response.output_text.delta", json.dumps(delta))
    assert events == (TextDelta("Yo", (TokenLogprob("Yo", -1.0),)),)
