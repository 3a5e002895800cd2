"""Every field of the installed ``AzureChatOpenAI``: accepted with the same effect, or refused with a typed error.

The fields are enumerated from ``AzureChatOpenAI.model_fields`` (langchain-openai 1.8), so a field added
upstream fails :func:`test_every_anchor_field_is_classified` until it is handled here. Each class of field is
checked where its effect shows: request fields in ``test_langchain_requests.py`` (what Azure receives), result
fields below (what the caller gets), refused fields raise :class:`UnsupportedFieldError`.
"""

from __future__ import annotations

import warnings
from typing import Any

import httpx
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from langchain_openai import AzureChatOpenAI
from pydantic import SecretStr

from azure_openai_emulator import AzureEmulator
from langchain_azure_gateway import AzureGatewayChatModel
from langchain_azure_gateway.fields import UnsupportedFieldError
from tests.dropin.langchain_pairs import KEY, emulator, pair
from tests.dropin.test_langchain_requests import REQUEST_FIELDS

__all__ = ["emulator"]

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

INHERITED = {
    "name",
    "cache",
    "verbose",
    "callbacks",
    "tags",
    "metadata",
    "custom_get_token_ids",
    "rate_limiter",
    "disable_streaming",
    "output_version",
    "profile",
}
"""BaseChatModel's own fields: the same code on both classes."""
REQUEST = {
    "model_name",
    "temperature",
    "model_kwargs",
    "openai_api_key",
    "openai_api_base",
    "openai_organization",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "streaming",
    "n",
    "top_p",
    "max_tokens",
    "reasoning_effort",
    "reasoning",
    "verbosity",
    "default_headers",
    "default_query",
    "stop",
    "extra_body",
    "include",
    "prompt_cache_options",
    "context_management",
    "service_tier",
    "store",
    "truncation",
    "use_previous_response_id",
    "use_responses_api",
    "azure_endpoint",
    "deployment_name",
    "openai_api_version",
    "azure_ad_token",
    "azure_ad_token_provider",
    "stream_usage",
}
"""Fields whose effect is what Azure receives (compared request by request)."""
RESULT = {"include_response_headers", "model_version", "disabled_params"}
"""Fields whose effect is on the result or on what a helper method binds."""
TRANSPORT = {
    "openai_proxy",
    "request_timeout",
    "max_retries",
    "http_client",
    "http_async_client",
    "stream_chunk_timeout",
    "azure_ad_async_token_provider",
}
"""Fields of the HTTP exchange (proxy, timeouts, retries, clients): no effect on the request's content."""
NO_EFFECT = {"openai_api_type", "validate_base_url", "tiktoken_model_name"}
"""Fields that change nothing a request or result carries, in the anchor either (legacy, validation, tokenizer)."""
REFUSED = {"client", "async_client", "root_client", "root_async_client", "http_socket_options"}
"""The openai SDK's own client objects and socket options: refused with UnsupportedFieldError."""

SAMPLES: dict[str, Any] = {
    "name": "m",
    "cache": False,
    "verbose": True,
    "callbacks": [],
    "tags": ["t"],
    "metadata": {"k": "v"},
    "custom_get_token_ids": len,
    "rate_limiter": None,
    "disable_streaming": True,
    "output_version": "v1",
    "profile": {"max_input_tokens": 10},
    "openai_proxy": "http://127.0.0.1:3128",
    "request_timeout": 12.0,
    "max_retries": 1,
    "stream_chunk_timeout": 30.0,
    "azure_ad_async_token_provider": None,
    "http_client": None,
    "http_async_client": None,
    "openai_api_type": "azure",
    "validate_base_url": False,
    "tiktoken_model_name": "gpt-4o",
    "include_response_headers": True,
    "model_version": "2024-05-13",
    "disabled_params": {"parallel_tool_calls": None},
}


def _aliases(field: str) -> list[str]:
    info = AzureChatOpenAI.model_fields[field]
    return [field] + ([info.alias] if info.alias and info.alias != field else [])


def test_every_anchor_field_is_classified() -> None:
    groups = [INHERITED, REQUEST, RESULT, TRANSPORT, NO_EFFECT, REFUSED]
    assert set(AzureChatOpenAI.model_fields) == set().union(*groups)
    assert sum(len(g) for g in groups) == len(AzureChatOpenAI.model_fields)  # each in exactly one group


def test_inherited_fields_are_base_chat_model_fields_on_both() -> None:
    for field in INHERITED:
        assert field in BaseChatModel.model_fields
        assert field in AzureGatewayChatModel.model_fields


def test_every_request_field_has_a_request_case() -> None:
    covered = {name for case in REQUEST_FIELDS.values() for name in case}
    for field in REQUEST:
        names = {*_aliases(field), field.removeprefix("openai_")}
        assert names & covered or field in {"openai_api_key", "azure_endpoint", "deployment_name"}, field


@pytest.mark.parametrize("field", sorted(INHERITED | RESULT | TRANSPORT | NO_EFFECT))
def test_anchor_field_is_accepted_without_moving_to_model_kwargs(field: str) -> None:
    for name in _aliases(field):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = AzureGatewayChatModel(
                azure_endpoint="https://r.openai.azure.com", api_key="k", **{name: SAMPLES[field]}
            )
        assert model.model_kwargs == {}


@pytest.mark.parametrize("field", sorted(REFUSED))
def test_refused_field_raises_a_typed_error_saying_what_to_use(field: str) -> None:
    with pytest.raises(UnsupportedFieldError, match=field) as info:
        AzureGatewayChatModel(azure_endpoint="https://r.openai.azure.com", api_key="k", **{field: object()})
    assert "http_client" in str(info.value)


def test_anchor_attribute_names_read_the_same_values(emulator: AzureEmulator) -> None:
    anchor, ours = pair(
        emulator,
        model="gpt-4o",
        temperature=0.2,
        max_tokens=33,
        n=1,
        stop=["END"],
        timeout=9.0,
        openai_proxy=None,
        model_kwargs={"user": "u"},
        model_version="2024-11-20",
        include_response_headers=True,
    )
    read = [
        "deployment_name",
        "openai_api_version",
        "azure_endpoint",
        "openai_api_base",
        "model_name",
        "temperature",
        "max_tokens",
        "request_timeout",
        "max_retries",
        "openai_proxy",
        "streaming",
        "n",
        "stop",
        "model_kwargs",
        "disabled_params",
        "stream_chunk_timeout",
        "openai_api_type",
        "include_response_headers",
        "model_version",
        "use_responses_api",
        "use_previous_response_id",
        "validate_base_url",
        "openai_organization",
    ]
    for name in read:
        assert getattr(ours, name) == getattr(anchor, name), name
    assert isinstance(ours.openai_api_key, SecretStr)
    assert ours.openai_api_key.get_secret_value() == anchor.openai_api_key.get_secret_value() == KEY  # type: ignore[union-attr]


def test_base_url_with_a_deployment_splits_into_endpoint_and_deployment() -> None:
    model = AzureGatewayChatModel(base_url="https://r.openai.azure.com/openai/deployments/prod", api_key="k")
    assert (model.endpoint, model.deployment_name, model.openai_api_base) == (
        "https://r.openai.azure.com",
        "prod",
        "https://r.openai.azure.com/openai/deployments/prod",
    )
    with pytest.raises(ValueError, match="/openai"):
        AzureGatewayChatModel(base_url="https://r.openai.azure.com", api_key="k")
    with pytest.raises(ValueError, match="azure_deployment"):
        AzureGatewayChatModel(base_url="https://r.openai.azure.com/openai/deployments/p", azure_deployment="q")


def test_unknown_kwarg_goes_to_model_kwargs_with_a_warning_naming_the_nearest_field() -> None:
    with pytest.warns(UserWarning, match="did you mean 'temperature'") as caught:
        model = AzureGatewayChatModel(azure_endpoint="https://r.openai.azure.com", api_key="k", temprature=0.5)
    assert model.model_kwargs == {"temprature": 0.5}
    assert "model_kwargs" in str(caught[0].message)
    with pytest.warns(UserWarning, match="moved to model_kwargs"):
        plain = AzureGatewayChatModel(azure_endpoint="https://r.openai.azure.com", api_key="k", user="u1")
    assert plain.model_kwargs == {"user": "u1"}


def test_n_rules_match_the_anchor() -> None:
    for arguments in ({"n": 0}, {"n": 2, "streaming": True}):
        with pytest.raises(ValueError):
            AzureChatOpenAI(
                azure_endpoint="https://r.openai.azure.com", api_key="k", api_version="2024-10-21", **arguments
            )
        with pytest.raises(ValueError):
            AzureGatewayChatModel(azure_endpoint="https://r.openai.azure.com", api_key="k", **arguments)


def test_include_response_headers_puts_azure_headers_in_metadata(emulator: AzureEmulator) -> None:
    anchor, ours = pair(emulator, include_response_headers=True)
    for message in (anchor.invoke("hi"), ours.invoke("hi")):
        headers = message.response_metadata["headers"]
        assert {"apim-request-id", "x-ms-region", "x-ratelimit-remaining-requests"} <= set(headers)
    ours_stream = list(ours.stream("hi"))[-1]
    assert "x-ms-region" in ours_stream.response_metadata["headers"]
    assert not {"api-key", "authorization", "set-cookie"} & set(ours.invoke("hi").response_metadata["headers"])
    _, plain = pair(emulator)
    assert "headers" not in plain.invoke("hi").response_metadata


def test_model_version_changes_model_name_as_the_anchor(emulator: AzureEmulator) -> None:
    anchor, ours = pair(emulator, model="gpt-4o-mini", model_version="2024-07-18")
    theirs, mine = anchor.generate([[HumanMessage("hi")]]), ours.generate([[HumanMessage("hi")]])
    assert mine.llm_output is not None and theirs.llm_output is not None
    assert mine.llm_output["model_name"] == theirs.llm_output["model_name"] == "gpt-4o-mini"
    assert mine.llm_output["token_usage"]["total_tokens"] == theirs.llm_output["token_usage"]["total_tokens"]
    versioned = anchor.invoke("hi").response_metadata["model_name"]
    assert ours.invoke("hi").response_metadata["model_name"] == versioned == "gpt-4o-mini-2024-07-18-2024-07-18"
    assert ours._get_ls_params()["ls_model_name"] == anchor._get_ls_params()["ls_model_name"]


def test_http_client_is_used_by_both(emulator: AzureEmulator) -> None:
    seen: list[str] = []

    def record(request: httpx.Request) -> None:
        seen.append(request.url.path)

    client = httpx.Client(event_hooks={"request": [record]})
    anchor, ours = pair(emulator, http_client=client)
    anchor.invoke("hi")
    ours.invoke("hi")
    assert len(seen) == 2 and seen[0] == seen[1]


def test_n_above_one_gives_one_generation_per_choice_as_the_anchor() -> None:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {"index": i, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
            for i, text in enumerate(["first", "second"])
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    arguments = {"azure_endpoint": "https://r.openai.azure.com", "api_key": "k", "azure_deployment": "d", "n": 2}
    anchor = AzureChatOpenAI(api_version="2024-10-21", http_client=httpx.Client(transport=transport), **arguments)
    ours = AzureGatewayChatModel(http_client=httpx.Client(transport=transport), **arguments)
    theirs, mine = anchor.generate([[HumanMessage("hi")]]), ours.generate([[HumanMessage("hi")]])
    assert [g.text for g in theirs.generations[0]] == ["first", "second"]
    assert [g.text for g in mine.generations[0]] == ["first", "second"]
    assert [g.generation_info for g in mine.generations[0]][1] == {"finish_reason": "stop"}
