"""Fault matrix, requests Azure refuses: a prompt the filter rejects, ``max_tokens`` and ``temperature`` on a
reasoning deployment, a context that is too long, and an expired ``previous_response_id``.

None of these is transient: each must be one typed error after one HTTP attempt, on one deployment (a sibling
would refuse it the same way). The reasoning-model rules are the emulator's (``azure_openai_emulator.model_rules``,
as Azure words them), applied by the deployment's model, whatever its name.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from langchain_core.exceptions import ContextOverflowError, ModelInvalidRequestError

from azure_openai_emulator import shapes
from shared_core import (
    BadRequestError,
    ContentFilterError,
    ContextLengthExceededError,
    Gateway,
    GatewayError,
    ListSink,
    UnsupportedParameterError,
)
from tests.faults.channels import BLOCKING, CHANNELS, MODES, Api, Channel, Mode, Prompt, Target, build, run
from tests.faults.regions import counts
from tests.support.azure_server import AzureTestServer, HttpError, PromptFiltered, Reply

APIS: tuple[Api, ...] = ("chat", "responses")
NOT_REACHED = Reply("this answer must never be requested")
CONTEXT_LENGTH_BODY = json.dumps(
    {
        "error": {
            "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in "
            "131072 tokens. Please reduce the length of the messages.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }
).encode()
PREVIOUS_RESPONSE_BODY = json.dumps(
    {
        "error": {
            "message": "Previous response with id 'resp_expired' not found.",
            "type": "invalid_request_error",
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        }
    },
    indent=2,
).encode()


def _parameter(error: BaseException | None) -> object:
    return getattr(error, "parameter", None)


# -- prompt rejected by the filter -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("api", APIS)
def test_fault_prompt_rejected_by_filter_is_typed_and_not_retried(
    server: AzureTestServer, api: Api, channel: Channel, mode: Mode
) -> None:
    server.script(PromptFiltered(filter=shapes.FilterVerdict("hate", "high")), NOT_REACHED)
    seen = run(build(channel, Target(server.endpoint, api=api)), mode)

    error = seen.error
    assert isinstance(error, ContentFilterError)
    assert (error.side, error.status, error.code) == ("prompt", 400, "content_filter")
    assert error.partial is None and seen.pieces == []
    if api == "chat":  # the Responses API names no category (recorded)
        assert error.filtered_categories == ("hate",)
    if channel == "langchain":
        assert isinstance(error, ModelInvalidRequestError)
    assert server.request_count == 1


def test_fault_prompt_rejected_by_filter_is_not_failed_over(
    regions: dict[str, AzureTestServer], routed: Callable[..., Gateway]
) -> None:
    regions["east"].script(PromptFiltered())
    seen = run(routed(), "complete")
    assert isinstance(seen.error, ContentFilterError)
    assert counts(regions) == {"east": 1, "west": 0, "north": 0}, "every region's filter would reject it"


# -- max_tokens refused by a reasoning deployment ------------------------------------------------------------------

# (deployment, the base model the config names for it): the name says it, or deployment_models does.
REASONING_DEPLOYMENTS = [("gpt-5-mini", None), ("prod-reasoner", "gpt-5-mini")]


@pytest.mark.parametrize("mode", ["complete", "stream"])
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(("deployment", "model"), REASONING_DEPLOYMENTS, ids=["named", "mapped"])
def test_fault_max_tokens_on_reasoning_deployment_is_sent_as_max_completion_tokens(
    server: AzureTestServer, deployment: str, model: str | None, channel: Channel, mode: Mode
) -> None:
    seen = run(build(channel, Target(server.endpoint, deployment=deployment, model=model, max_tokens=64)), mode)

    assert seen.error is None and seen.text == "You said: hello"
    (request,) = server.requests
    assert "max_tokens" not in request.json and request.json.get("max_completion_tokens") == 64


@pytest.mark.parametrize("channel", CHANNELS)
def test_fault_max_tokens_forced_on_reasoning_deployment_is_typed_unsupported_parameter(
    server: AzureTestServer, channel: Channel
) -> None:
    forced = Prompt(options={"extra_body": {"max_tokens": 50}})
    seen = run(build(channel, Target(server.endpoint, deployment="gpt-5-mini")), "complete", forced)

    assert _parameter(seen.error) == "max_tokens"
    assert isinstance(seen.error, GatewayError) and seen.error.code == "unsupported_parameter"
    assert server.request_count == 1
    assert isinstance(seen.error, UnsupportedParameterError)


# -- unsupported temperature ------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(("deployment", "model"), REASONING_DEPLOYMENTS, ids=["named", "mapped"])
def test_fault_unsupported_temperature_is_dropped_with_an_event(
    server: AzureTestServer, deployment: str, model: str | None, channel: Channel
) -> None:
    sink = ListSink()
    target = Target(server.endpoint, deployment=deployment, model=model, sink=sink)
    seen = run(build(channel, target), "complete", Prompt(options={"temperature": 0.2}))

    assert seen.error is None
    (request,) = server.requests
    assert "temperature" not in request.json
    (adjusted,) = sink.named("provider:parameter_adjusted")
    assert "temperature=0.2 was not sent" in str(adjusted.data["warning"])


@pytest.mark.parametrize("channel", CHANNELS)
def test_fault_unsupported_temperature_forced_is_typed_and_not_retried(
    server: AzureTestServer, channel: Channel
) -> None:
    forced = Prompt(options={"extra_body": {"temperature": 0.2}})
    seen = run(build(channel, Target(server.endpoint, deployment="gpt-5-mini")), "complete", forced)

    assert _parameter(seen.error) == "temperature"
    assert isinstance(seen.error, GatewayError) and seen.error.code == "unsupported_value"
    assert server.request_count == 1
    assert isinstance(seen.error, UnsupportedParameterError)


@pytest.mark.parametrize("channel", CHANNELS)
def test_fault_unsupported_temperature_on_unmapped_reasoning_deployment_is_typed_and_not_retried(
    server: AzureTestServer, channel: Channel
) -> None:
    # "prod-reasoner" runs gpt-5-mini, but nothing tells the client so: Azure's 400 is all it can go by.
    target = Target(server.endpoint, deployment="prod-reasoner")
    seen = run(build(channel, target), "complete", Prompt(options={"temperature": 0.2}))

    assert _parameter(seen.error) == "temperature"
    assert isinstance(seen.error, GatewayError) and seen.error.status == 400
    assert "temperature" in seen.error.message
    assert server.request_count == 1


def test_fault_unsupported_temperature_on_unmapped_reasoning_deployment_names_the_fix(
    server: AzureTestServer,
) -> None:
    target = Target(server.endpoint, deployment="prod-reasoner")
    seen = run(build("gateway", target), "complete", Prompt(options={"temperature": 0.2}))
    assert isinstance(seen.error, UnsupportedParameterError)
    assert "deployment_models" in seen.error.message


# -- context length exceeded ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_fault_context_length_exceeded_is_typed_and_not_retried(
    server: AzureTestServer, channel: Channel, mode: Mode
) -> None:
    server.script(HttpError(400, body=CONTEXT_LENGTH_BODY), NOT_REACHED)
    seen = run(build(channel, Target(server.endpoint)), mode)

    error = seen.error
    assert isinstance(error, ContextLengthExceededError)
    assert (error.status, error.code) == (400, "context_length_exceeded")
    assert "context window" in error.message and "128000 tokens" in error.message
    if channel == "langchain":
        assert isinstance(error, ContextOverflowError)
    assert server.request_count == 1


def test_fault_context_length_exceeded_is_not_failed_over(
    regions: dict[str, AzureTestServer], routed: Callable[..., Gateway]
) -> None:
    regions["east"].script(HttpError(400, body=CONTEXT_LENGTH_BODY))
    seen = run(routed(), "astream")
    assert isinstance(seen.error, ContextLengthExceededError)
    assert counts(regions) == {"east": 1, "west": 0, "north": 0}


# -- expired previous_response_id on Responses --------------------------------------------------------------------


@pytest.mark.parametrize("mode", BLOCKING)
@pytest.mark.parametrize("channel", CHANNELS)
def test_fault_expired_previous_response_id_is_typed_and_not_retried(
    server: AzureTestServer, channel: Channel, mode: Mode
) -> None:
    # Stored responses expire (30 days) or live in another region: Azure answers 400 previous_response_not_found.
    # Retrying without the chain would silently answer without the conversation, so it is a typed error.
    server.script(HttpError(400, body=PREVIOUS_RESPONSE_BODY), NOT_REACHED)
    chained = Prompt(options={"previous_response_id": "resp_expired"})
    seen = run(build(channel, Target(server.endpoint, api="responses")), mode, chained)

    error = seen.error
    assert isinstance(error, BadRequestError)
    assert (error.status, error.code) == (400, "previous_response_not_found")
    assert "previous_response_id" in error.message and "resp_expired" in error.message
    if channel == "langchain":
        assert isinstance(error, ModelInvalidRequestError)
    (request,) = server.requests
    assert request.json.get("previous_response_id") == "resp_expired"
