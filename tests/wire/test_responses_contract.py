"""Contract: every Responses body we build validates against the openai SDK's generated request type.

``openai.types.responses.ResponseCreateParams`` is a union of two TypedDicts (non-streaming / streaming);
``tests.support.responses_bodies.assert_valid_request_body`` validates with pydantic, extra keys forbidden,
forcing the lazily validated ``Iterable`` fields. The unit tests in ``test_responses.py`` run every body
they build through the same check; this module covers the recorded requests re-encoded and a catalogue of
requests that together use every encoding rule, and shows the check can fail.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared_core.deployments import ResolvedDeployment, profile_for
from shared_core.messages import ImagePart, Message, ReasoningPart, TextPart, ToolCallPart
from shared_core.request import ChatRequest, GenerationSettings, NamedToolChoice, ResponseFormat, ToolSpec
from shared_core.wire.responses import encode_request
from tests.support.recordings import azure_interactions
from tests.support.responses_bodies import Inexpressible, assert_valid_request_body, parse_request_body

_PARAMS = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"], "additionalProperties": False}
_CONVERSATION = (
    Message.system("sys"),
    Message("developer", (TextPart("dev"),)),
    Message(
        "user",
        (TextPart("look"), ImagePart("https://example.com/a.png", "low"), ImagePart("data:image/png;base64,AA==")),
    ),
    Message(
        "assistant",
        (
            ReasoningPart("why", "rs_1", "gAAA"),
            ReasoningPart("no id"),
            TextPart("calling"),
            ToolCallPart("call_1", "search", '{"q":"x"}'),
        ),
    ),
    Message.tool("call_1", "result"),
    Message.assistant("done"),
    Message.user("again"),
)

CATALOGUE: dict[str, tuple[ChatRequest, str]] = {
    "minimal": (ChatRequest((Message.user("hi"),)), "gpt-4o-mini"),
    "conversation": (ChatRequest(_CONVERSATION), "gpt-4o"),
    "tools-named-choice": (
        ChatRequest(
            (Message.user("hi"),),
            tools=(ToolSpec("search", "find", _PARAMS, strict=True), ToolSpec("bare")),
            tool_choice=NamedToolChoice("search"),
        ),
        "gpt-4.1",
    ),
    "tools-required": (
        ChatRequest((Message.user("hi"),), tools=(ToolSpec("bare"),), tool_choice="required"),
        "gpt-4.1",
    ),
    "all-settings": (
        ChatRequest(
            (Message.user("hi"),),
            settings=GenerationSettings(
                temperature=0.5,
                top_p=0.9,
                max_tokens=100,
                stop=("x",),
                seed=1,
                presence_penalty=0.1,
                frequency_penalty=0.1,
                response_format=ResponseFormat("json_schema", "T", _PARAMS, True),
                parallel_tool_calls=False,
                user="u",
                logprobs=True,
            ),
            previous_response_id="resp_1",
            store=True,
        ),
        "gpt-4o",
    ),
    "reasoning-stateless": (
        ChatRequest(
            (Message.user("hi"),),
            settings=GenerationSettings(
                reasoning_effort="high", temperature=1.0, response_format=ResponseFormat("json_object")
            ),
            store=False,
        ),
        "gpt-5",
    ),
    "text-format": (
        ChatRequest((Message.user("hi"),), settings=GenerationSettings(response_format=ResponseFormat("text"))),
        "o3",
    ),
}


def _target(model: str) -> ResolvedDeployment:
    return ResolvedDeployment(model, f"{model}-dep", model, "explicit", profile_for(model))


@pytest.mark.parametrize("name", sorted(CATALOGUE))
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("api_version", ["2025-03-01-preview", "v1"])
def test_contract_catalogue_bodies_validate(name: str, stream: bool, api_version: str) -> None:
    request, model = CATALOGUE[name]
    encoded = encode_request(request, _target(model), api_version=api_version, stream=stream)
    assert_valid_request_body(encoded.body)


def test_contract_reencoded_recorded_bodies_validate() -> None:
    checked = 0
    for interaction in azure_interactions():
        if interaction.api_shape != "responses":
            continue
        try:
            parsed = parse_request_body(interaction.request_json)
        except Inexpressible:
            continue
        encoded = encode_request(parsed.request, _target("gpt-4o-mini"), api_version="v1", stream=parsed.stream)
        assert_valid_request_body(encoded.body)
        checked += 1
    print(f"\nre-encoded recorded bodies validated against ResponseCreateParams: {checked}")
    assert checked >= 60


@pytest.mark.parametrize(
    "bad",
    [
        {"model": "m", "input": 5},
        {"model": "m", "input": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "name": 5}]},
        {"model": "m", "input": [{"role": "user", "content": "hi", "extra": 1}]},
        {"model": "m", "input": "hi", "max_tokens": 5},
        {"model": "m", "input": "hi", "stream": "yes"},
        {"model": "m", "input": [{"type": "function_call", "call_id": "c"}]},
    ],
    ids=["input-int", "tool-name-int", "item-extra-key", "chat-param", "stream-str", "call-missing-fields"],
)
def test_contract_check_rejects_bad_bodies(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        assert_valid_request_body(bad)
