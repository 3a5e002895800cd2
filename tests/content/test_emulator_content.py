"""The emulator's content shapes (issue 16): every body and stream event it sends for hosted tools, citations,
reasoning text, audio output and ``n`` > 1 validates against the openai SDK's response models, and input audio
to a model without audio gets Azure's recorded 400."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from tests.support.azure_server import AzureTestServer, DeploymentInfo, Reply

KEY = "test-key"
HOSTED_TOOLS: list[dict[str, Any]] = [
    {"type": "web_search_preview"},
    {"type": "file_search", "vector_store_ids": ["vs_1"]},
    {"type": "code_interpreter", "container": {"type": "auto"}},
    {"type": "image_generation", "quality": "low"},
    {"type": "mcp", "server_label": "docs", "server_url": "https://mcp.example.com", "require_approval": "never"},
]
RESPONSE = TypeAdapter(Response)
EVENT = TypeAdapter(ResponseStreamEvent)
COMPLETION = TypeAdapter(ChatCompletion)
CHUNK = TypeAdapter(ChatCompletionChunk)


def _sdk(value: Any) -> Any:
    """Azure's recorded usage has no ``cache_write_tokens``, which openai 2.54 requires; fill it in so the rest of
    the body is checked."""
    if isinstance(value, dict):
        out = {k: _sdk(v) for k, v in value.items()}
        details = out.get("input_tokens_details")
        if isinstance(details, dict) and "cache_write_tokens" not in details:
            details["cache_write_tokens"] = 0
        return out
    if isinstance(value, list):
        return [_sdk(v) for v in value]
    return value


def _post(azure: AzureTestServer, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{azure.endpoint}{path}", json=body, headers={"api-key": KEY}, timeout=10)


def _sse(response: httpx.Response) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for line in response.text.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            out.append(json.loads(line.removeprefix("data: ")))
    return out


def test_emulator_responses_hosted_tools_body_validates_against_sdk(azure: AzureTestServer) -> None:
    body = {"model": "gpt-4o-mini", "input": "find it", "tools": HOSTED_TOOLS}
    response = RESPONSE.validate_python(_sdk(_post(azure, "/openai/v1/responses", body).json()))
    kinds = [item.type for item in response.output]
    assert kinds == [
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "image_generation_call",
        "mcp_list_tools",
        "mcp_call",
        "message",
    ]
    message = response.output[-1]
    assert message.type == "message"
    text = message.content[0]
    assert text.type == "output_text"
    assert [a.type for a in text.annotations] == ["url_citation", "file_citation"]


def test_emulator_responses_hosted_tools_stream_events_validate_against_sdk(azure: AzureTestServer) -> None:
    body = {"model": "gpt-4o-mini", "input": "find it", "tools": HOSTED_TOOLS, "stream": True}
    events = [EVENT.validate_python(_sdk(e)) for e in _sse(_post(azure, "/openai/v1/responses", body))]
    names = {e.type for e in events}
    assert {
        "response.web_search_call.searching",
        "response.file_search_call.completed",
        "response.code_interpreter_call_code.delta",
        "response.image_generation_call.partial_image",
        "response.mcp_list_tools.completed",
        "response.mcp_call_arguments.done",
        "response.output_text.annotation.added",
    } <= names
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].type == "response.completed"


def test_emulator_mcp_asks_approval_then_calls_once_approved(azure: AzureTestServer) -> None:
    tool = {"type": "mcp", "server_label": "docs", "server_url": "https://mcp.example.com"}
    first_body = {"model": "gpt-4o-mini", "input": "q", "tools": [tool]}
    first = RESPONSE.validate_python(_sdk(_post(azure, "/openai/v1/responses", first_body).json()))
    request = next(item for item in first.output if item.type == "mcp_approval_request")
    approval = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}
    second_body = {"model": "gpt-4o-mini", "input": [approval, {"role": "user", "content": "q"}], "tools": [tool]}
    second = RESPONSE.validate_python(_sdk(_post(azure, "/openai/v1/responses", second_body).json()))
    call = next(item for item in second.output if item.type == "mcp_call")
    assert call.approval_request_id == request.id


def test_emulator_chat_audio_reasoning_and_n_validate_against_sdk(azure: AzureTestServer) -> None:
    azure.script(Reply(text="Hello there", reasoning="Think first.", choices=("Second",)))
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "modalities": ["text", "audio"],
        "audio": {"voice": "alloy", "format": "wav"},
        "n": 2,
    }
    raw = _post(azure, "/openai/deployments/gpt-4o-audio/chat/completions?api-version=2025-01-01-preview", body)
    completion = COMPLETION.validate_python(raw.json())
    assert [c.message.content for c in completion.choices] == ["Hello there", "Second"]
    audio = completion.choices[0].message.audio
    assert audio is not None and audio.transcript == "Hello there" and audio.data.startswith("UklGR")
    assert raw.json()["choices"][0]["message"]["reasoning_content"] == "Think first."


def test_emulator_chat_stream_audio_reasoning_and_n_validate_against_sdk(azure: AzureTestServer) -> None:
    azure.script(Reply(text="Hello there", reasoning="Think first.", choices=("Second",)))
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "modalities": ["text", "audio"],
        "n": 2,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    raw = _post(azure, "/openai/deployments/gpt-4o-audio/chat/completions?api-version=2025-01-01-preview", body)
    # Azure's first chunk (prompt filter verdicts) has "object": "" (recorded), which the SDK's model rejects.
    chunks = [CHUNK.validate_python(_sdk(c)) for c in _sse(raw) if c["object"]]
    by_choice: dict[int, str] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            by_choice[choice.index] = by_choice.get(choice.index, "") + (choice.delta.content or "")
    assert by_choice == {0: "Hello there", 1: "Second"}
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content", "") for c in _sse(raw) if c["choices"])
    assert reasoning == "Think first."


def test_emulator_input_audio_to_a_model_without_audio_is_azures_400(azure: AzureTestServer) -> None:
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "hear"}, audio]}]}
    raw = _post(azure, "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21", body)
    assert raw.status_code == 400
    assert raw.json()["error"]["code"] == "invalid_value"
    assert "either text or image_url" in raw.json()["error"]["message"]


AUDIO_RECORDING = (
    "Mirascope__mirascope/python__tests__e2e__input__cassettes__test_call_with_audio__azure_openai_gpt_5_mini.yaml"
)


def _recorded_audio_refusal() -> Any:
    from tests.support.recordings import RECORDINGS_DIR, load_recording_file, require_dir

    path = require_dir(RECORDINGS_DIR, "The shared Azure recordings folder") / AUDIO_RECORDING
    (interaction,) = [i for i in load_recording_file(path) if i.status == 400]
    return interaction


def test_emulator_audio_refusal_matches_the_recorded_azure_400(azure: AzureTestServer) -> None:
    recorded = _recorded_audio_refusal()
    request = json.loads(recorded.request_body)
    azure.deployments["gpt-5-mini"] = DeploymentInfo(model="gpt-5-mini-2025-08-07", system_fingerprint=None)
    raw = _post(azure, "/openai/v1/chat/completions", request | {"model": "gpt-5-mini"})
    assert raw.status_code == recorded.status == 400
    assert raw.json() == json.loads(recorded.response_body)


def test_gateway_refuses_the_recorded_audio_request_before_sending(azure: AzureTestServer) -> None:
    """The recorded request (input_audio to gpt-5-mini on /openai/v1) is refused by the gateway before sending."""
    from shared_core import ChatRequest, Gateway, Message, TextPart, UnsupportedParameterError
    from shared_core.messages import AudioPart

    content = json.loads(_recorded_audio_refusal().request_body)["messages"][0]["content"]
    audio = next(p["input_audio"] for p in content if p["type"] == "input_audio")
    message = Message("user", (TextPart(content[0]["text"]), AudioPart(data=audio["data"], format=audio["format"])))
    gateway = Gateway(endpoint=azure.endpoint, api_key=KEY, api_version="v1", default_deployment="gpt-5-mini")
    with pytest.raises(UnsupportedParameterError, match=r"'gpt-5-mini'.*takes no audio input") as caught:
        gateway.complete(ChatRequest((message,)))
    assert caught.value.deployment == "gpt-5-mini"
    assert azure.requests == []
