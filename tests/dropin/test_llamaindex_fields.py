"""Every field of llama-index's AzureOpenAI and AzureOpenAIResponses: accepted with the same effect on what
Azure receives and what the caller gets (checked against the anchors on the emulator), or refused with a typed
error; unknown keyword arguments warn.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.tools import FunctionTool
from llama_index.llms.azure_openai import AzureOpenAI, AzureOpenAIResponses

from azure_openai_emulator import AzureEmulator, DeploymentInfo
from llamaindex_azure_gateway import AzureGatewayLLM
from llamaindex_azure_gateway.anchor_fields import FIELD_EFFECTS, REFUSED_ARGUMENTS, UnsupportedFieldError
from llamaindex_azure_gateway.llm_fields import UnknownArgumentWarning
from tests.dropin.llamaindex_support import (
    API_KEY,
    TALLY,
    Difference,
    build_pair,
    capture,
    memo,
    request_differences,
    result_differences,
    undocumented,
)

MESSAGES = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="hello there")]
TOKEN = "entra-token"  # an Entra token the emulator accepts


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


MULTIPLY = FunctionTool.from_defaults(fn=multiply)


def _chat(llm: FunctionCallingLLM) -> object:
    return llm.chat(MESSAGES)


def _stream(llm: FunctionCallingLLM) -> object:
    return list(llm.stream_chat(MESSAGES))


def _tools(llm: FunctionCallingLLM) -> object:
    return llm.chat_with_tools([MULTIPLY], "multiply 6 by 7")


def search(query: str, limit: int = 5) -> str:
    """Search the catalogue."""
    return query


SEARCH = FunctionTool.from_defaults(fn=search)


def _optional_parameter_tool(llm: FunctionCallingLLM) -> object:
    return llm.chat_with_tools([SEARCH], "search cats")


def _twice(llm: FunctionCallingLLM) -> object:
    llm.chat(MESSAGES)
    return llm.chat(MESSAGES)


def _predict(llm: FunctionCallingLLM) -> object:
    from llama_index.core.prompts import PromptTemplate

    return llm.predict(PromptTemplate("Say {word}."), word="hi")


O3_MINI = {"model": "o3-mini", "engine": "o3-mini"}

# (field, Responses API?, constructor arguments, what to run); the endpoint is filled in by the test.
FIELD_CASES: list[tuple[str, bool, dict[str, Any], Callable[[FunctionCallingLLM], object]]] = [
    ("temperature", False, {"temperature": 0.5}, _chat),
    ("max_tokens", False, {"max_tokens": 50}, _chat),
    ("additional_kwargs", False, {"additional_kwargs": {"seed": 3, "presence_penalty": 0.5}}, _chat),
    ("reasoning_effort", False, {**O3_MINI, "reasoning_effort": "low"}, _chat),
    ("logprobs", False, {"logprobs": True, "top_logprobs": 2}, _chat),
    ("top_logprobs", False, {"logprobs": True, "top_logprobs": 3}, _stream),
    ("modalities", False, {"modalities": ["text"]}, _chat),
    ("strict", False, {"strict": True}, _tools),
    ("system_prompt", False, {"system_prompt": "You are terse."}, _predict),
    ("default_headers", False, {"default_headers": {"Ocp-Apim-Subscription-Key": "sub-1"}}, _chat),
    ("api_base", False, {"azure_endpoint": None, "api_base": "{endpoint}/openai"}, _chat),
    (
        "api_base (deployment URL)",
        False,
        {"azure_endpoint": None, "engine": "unused", "api_base": "{endpoint}/openai/deployments/gpt-4o-mini"},
        _chat,
    ),
    ("timeout", False, {"timeout": 12.0}, _chat),
    ("reuse_client", False, {"reuse_client": False}, _twice),
    ("use_azure_ad", False, {"api_key": None, "use_azure_ad": True, "azure_ad_token_provider": lambda: TOKEN}, _chat),
    ("deployment_name", False, {"engine": None, "deployment_name": "gpt-4o-mini"}, _chat),
    ("azure_deployment", False, {"engine": None, "azure_deployment": "gpt-4o-mini"}, _chat),
    ("max_output_tokens", True, {"max_output_tokens": 60}, _chat),
    ("top_p", True, {"top_p": 0.5}, _chat),
    (
        "reasoning_options",
        True,
        {"model": "o3-mini", "engine": "o3-mini", "reasoning_options": {"effort": "low"}},
        _chat,
    ),
    ("include", True, {"include": ["reasoning.encrypted_content"]}, _chat),
    ("instructions", True, {"instructions": "Answer in French."}, _chat),
    ("store", True, {"store": True}, _chat),
    ("previous_response_id", True, {"previous_response_id": "resp_0123456789abcdef"}, _chat),
    ("track_previous_responses", True, {"track_previous_responses": True}, _twice),
    ("truncation", True, {"truncation": "auto"}, _chat),
    ("user", True, {"user": "user-42"}, _chat),
    ("call_metadata", True, {"call_metadata": {"team": "search"}}, _chat),
    ("strict (Responses)", True, {"strict": True}, _tools),
    ("strict (optional parameter)", False, {"strict": True}, _optional_parameter_tool),
    (
        "audio_config",
        False,
        {"modalities": ["text", "audio"], "audio_config": {"voice": "alloy", "format": "wav"}},
        _chat,
    ),
    ("built_in_tools", True, {"built_in_tools": [{"type": "web_search_preview"}]}, _chat),
]

# Cases whose differences have their own README rows: their ids carry this tag.
TAGS = {"strict (optional parameter)": "strict-schema:"}

# Fields with no effect on the request (framework plumbing), checked by the call matrix or the metadata test.
NO_WIRE_EFFECT = {
    "callback_manager",
    "messages_to_prompt",
    "completion_to_prompt",
    "output_parser",
    "pydantic_program_mode",
    "query_wrapper_prompt",
    "rate_limiter",
    "model",
    "engine",
    "deployment",
    "deployment_id",
    "azure_endpoint",
    "api_key",
    "api_version",
    "azure_ad_token_provider",
    "max_retries",
    "http_client",
    "async_http_client",
    "context_window",
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[AzureEmulator]:
    deployments = {"gpt-4o-mini": DeploymentInfo(), "o3-mini": DeploymentInfo(model="o3-mini-2025-01-31")}
    with AzureEmulator(api_key=API_KEY, bearer_tokens=[TOKEN], deployments=deployments) as running:
        yield running


def anchor_arguments() -> set[str]:
    """Every field and constructor argument of the two llama-index classes (``self``/``kwargs`` aside)."""
    names: set[str] = set()
    for cls in (AzureOpenAI, AzureOpenAIResponses):
        names |= set(cls.model_fields)
        names |= set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
    return names | set(REFUSED_ARGUMENTS)


def test_llamaindex_field_table_names_every_anchor_field_and_argument() -> None:
    assert anchor_arguments() == set(FIELD_EFFECTS)
    TALLY.fields = len(FIELD_EFFECTS)


def test_llamaindex_every_anchor_field_is_a_field_or_alias_of_ours() -> None:
    ours = set(AzureGatewayLLM.model_fields)
    aliases = {"deployment_name", "deployment_id", "deployment", "azure_deployment", "max_output_tokens"}
    missing = {n for n in FIELD_EFFECTS if n not in ours | aliases | set(REFUSED_ARGUMENTS)}
    assert missing == set()


def test_llamaindex_every_field_with_a_wire_effect_has_a_differential_case() -> None:
    cased = {name.split(" ")[0] for name, *_ in FIELD_CASES}
    refused = {n for n, effect in FIELD_EFFECTS.items() if effect.startswith("refused")}
    assert set(FIELD_EFFECTS) - cased - refused - NO_WIRE_EFFECT == set()


def run_field_case(
    emulator: AzureEmulator, responses: bool, kwargs: dict[str, Any], scenario: Any, tag: str = ""
) -> list[Difference]:
    """Build both with the case's arguments, run the scenario, and compare requests and results (ids tagged)."""
    filled = {k: v.format(endpoint=emulator.endpoint) if isinstance(v, str) else v for k, v in kwargs.items()}
    anchor, ours = build_pair(emulator.endpoint, responses=responses, **filled)
    a_result, a_requests = capture(emulator, lambda: scenario(anchor))
    o_result, o_requests = capture(emulator, lambda: scenario(ours))
    found = [Difference("requests.count")] if len(a_requests) != len(o_requests) else []
    for a_request, o_request in zip(a_requests, o_requests, strict=False):
        found += request_differences(a_request, o_request)
    return [Difference(tag + d.id, d.detail) for d in found + result_differences(a_result, o_result)]


@pytest.mark.parametrize(("field", "responses", "kwargs", "scenario"), FIELD_CASES, ids=[c[0] for c in FIELD_CASES])
def test_llamaindex_field_has_the_anchors_effect_on_the_wire(
    emulator: AzureEmulator, field: str, responses: bool, kwargs: dict[str, Any], scenario: Any
) -> None:
    found = memo(("field", field), lambda: run_field_case(emulator, responses, kwargs, scenario, TAGS.get(field, "")))
    assert undocumented(found) == [], field


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("openai_client", object()),
        ("async_openai_client", object()),
    ],
)
def test_llamaindex_refused_field_raises_a_typed_error_naming_it(field: str, value: object) -> None:
    kwargs: dict[str, Any] = {"engine": "d", "azure_endpoint": "https://r.openai.azure.com", "api_key": "k"}
    with pytest.raises(UnsupportedFieldError) as caught:
        AzureGatewayLLM(**{field: value}, **kwargs)
    assert caught.value.field == field
    assert field in str(caught.value)
    assert caught.value.fix


@pytest.mark.parametrize("field", ["store", "instructions", "include", "previous_response_id", "truncation"])
def test_llamaindex_responses_field_with_chat_completions_is_refused(field: str) -> None:
    value: Any = ["x"] if field == "include" else True if field == "store" else "x"
    with pytest.raises(UnsupportedFieldError, match="use_responses_api=True"):
        AzureGatewayLLM(engine="d", azure_endpoint="https://r.openai.azure.com", api_key="k", **{field: value})


def test_llamaindex_unknown_keyword_argument_warns_and_names_it() -> None:
    with pytest.warns(UnknownArgumentWarning, match="temprature"):
        AzureGatewayLLM(engine="d", azure_endpoint="https://r.openai.azure.com", api_key="k", temprature=0.2)


def test_llamaindex_default_headers_are_never_serialized() -> None:
    llm = AzureGatewayLLM(
        engine="d", azure_endpoint="https://r.openai.azure.com", api_key="k", default_headers={"api-key": "sub-9"}
    )
    assert "sub-9" not in llm.to_json()
    assert "sub-9" not in repr(llm)
