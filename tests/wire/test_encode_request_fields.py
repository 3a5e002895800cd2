"""The request fields both frameworks' anchors send, encoded for each API shape (pure: no I/O)."""

from __future__ import annotations

from typing import Any

from shared_core.deployments import ResolvedDeployment, profile_for
from shared_core.messages import Message
from shared_core.request import ChatRequest, GenerationSettings, ResponseFormat
from shared_core.wire import chat_completions, responses

HI = (Message.user("hi"),)


def _target(model: str) -> ResolvedDeployment:
    return ResolvedDeployment(model, "dep", model, "explicit", profile_for(model))


def _chat(model: str = "gpt-4o-mini", **kwargs: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
    settings = GenerationSettings(**kwargs)
    encoded = chat_completions.encode_request(
        ChatRequest(HI, settings=settings), _target(model), api_version="2024-10-21", stream=False
    )
    return dict(encoded.body), encoded.warnings


def _responses(request: ChatRequest, model: str = "gpt-5-mini") -> tuple[dict[str, Any], tuple[str, ...]]:
    encoded = responses.encode_request(request, _target(model), api_version="v1", stream=False)
    return dict(encoded.body), encoded.warnings


def test_chat_encode_request_sends_sampling_and_logprob_fields() -> None:
    body, warnings = _chat(
        n=2, logprobs=True, top_logprobs=3, frequency_penalty=0.5, presence_penalty=-0.5, seed=7, service_tier="flex"
    )
    assert {k: body[k] for k in ("n", "logprobs", "top_logprobs", "frequency_penalty", "presence_penalty")} == {
        "n": 2,
        "logprobs": True,
        "top_logprobs": 3,
        "frequency_penalty": 0.5,
        "presence_penalty": -0.5,
    }
    assert (body["seed"], body["service_tier"], warnings) == (7, "flex", ())


def test_chat_encode_request_reasoning_effort_any_string_and_reasoning_dict_effort() -> None:
    assert _chat("gpt-5-mini", reasoning_effort="xhigh")[0]["reasoning_effort"] == "xhigh"
    assert _chat("gpt-5-mini", reasoning_effort="none")[0]["reasoning_effort"] == "none"
    body, warnings = _chat("o4-mini", reasoning={"effort": "low", "summary": "auto"}, verbosity="low")
    assert (body["reasoning_effort"], body["verbosity"]) == ("low", "low")
    assert any("summary" in w for w in warnings)


def test_chat_encode_request_store_and_extra_body_win() -> None:
    request = ChatRequest(HI, settings=GenerationSettings(extra_body={"n": 5, "custom": {"a": 1}}, n=2), store=True)
    encoded = chat_completions.encode_request(request, _target("gpt-4o"), api_version="2024-10-21", stream=False)
    assert (encoded.body["store"], encoded.body["n"], encoded.body["custom"]) == (True, 5, {"a": 1})


def test_responses_encode_request_reasoning_verbosity_and_format_share_objects() -> None:
    settings = GenerationSettings(
        reasoning={"summary": "auto"},
        reasoning_effort="minimal",
        verbosity="high",
        response_format=ResponseFormat("json_object"),
        service_tier="priority",
        top_logprobs=2,
        logprobs=True,
    )
    body, _ = _responses(ChatRequest(HI, settings=settings, include=("reasoning.encrypted_content",)))
    assert body["reasoning"] == {"summary": "auto", "effort": "minimal"}
    assert body["text"] == {"format": {"type": "json_object"}, "verbosity": "high"}
    assert (body["service_tier"], body["top_logprobs"]) == ("priority", 2)
    assert body["include"] == ["reasoning.encrypted_content", "message.output_text.logprobs"]


def test_responses_encode_request_state_fields() -> None:
    request = ChatRequest(HI, store=False, instructions="Be brief.", truncation="auto", previous_response_id="resp_1")
    body, _ = _responses(request)
    assert (body["store"], body["instructions"], body["truncation"], body["previous_response_id"]) == (
        False,
        "Be brief.",
        "auto",
        "resp_1",
    )
    assert body["include"] == ["reasoning.encrypted_content"]  # stateless reasoning keeps its state


def test_responses_encode_request_drops_n_with_a_warning() -> None:
    body, warnings = _responses(ChatRequest(HI, settings=GenerationSettings(n=2)))
    assert "n" not in body
    assert any("'n'" in w for w in warnings)
