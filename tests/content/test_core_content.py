"""Issue 16 in the core: hosted tools, citations, audio and file input, audio output, reasoning_content, n > 1.

Encoded bodies validate against the openai SDK's request params types; decoding reads what the emulator sends
(itself validated against the SDK's response models in test_emulator_content.py); streamed and non-streamed
calls of the same exchange fold to equal results; bad input is refused before anything is sent.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from pydantic import TypeAdapter

from shared_core import (
    ChatRequest,
    ChatResult,
    ConversationError,
    Gateway,
    Message,
    TextPart,
    UnsupportedParameterError,
)
from shared_core.deployments import ResolvedDeployment, profile_for
from shared_core.messages import AudioPart, FilePart, HostedToolPart
from shared_core.request import HostedToolSpec, ToolSpec, tool_from_dict
from shared_core.wire import chat_completions, responses
from shared_core.wire.media import MAX_FILE_BYTES
from tests.support.azure_server import AzureTestServer, Reply
from tests.support.responses_bodies import assert_valid_request_body

KEY = "test-key"
AUDIO_MODEL = "gpt-4o-audio-preview-2024-12-17"
MESSAGES = TypeAdapter(list[ChatCompletionMessageParam])
TOOLS = TypeAdapter(list[ChatCompletionToolParam])
HOSTED = (
    {"type": "web_search_preview"},
    {"type": "file_search", "vector_store_ids": ["vs_1"]},
    {"type": "code_interpreter", "container": {"type": "auto"}},
    {"type": "image_generation", "quality": "low"},
    {"type": "mcp", "server_label": "docs", "server_url": "https://mcp.example.com", "require_approval": "never"},
)
PDF = FilePart.from_bytes(b"%PDF-1.4 tiny", "application/pdf", "tiny.pdf")
WAV = AudioPart.from_bytes(b"RIFF....WAVEfmt ", "wav")


def _target(model: str = "gpt-4o", deployment: str = "dep") -> ResolvedDeployment:
    return ResolvedDeployment(model, deployment, model, "explicit", profile_for(model))


def _gateway(azure: AzureTestServer, api: str = "responses", **extra: Any) -> Gateway:
    params: dict[str, Any] = {"endpoint": azure.endpoint, "api_key": KEY, "default_deployment": "gpt-4o-mini"}
    return Gateway(api=api, max_retries=0, **(params | extra))  # type: ignore[arg-type]


def _stream(gateway: Gateway, request: ChatRequest) -> ChatResult:
    from shared_core.result import StreamAccumulator

    accumulator = StreamAccumulator()
    for event in gateway.stream(request):
        accumulator.add(event)
    return accumulator.result()


def _shape(message: Message) -> list[Any]:
    """The message with the ids the emulator draws per response left out."""
    out: list[Any] = []
    for part in message.parts:
        if isinstance(part, HostedToolPart):
            out.append({k: v for k, v in part.item.items() if k != "id"})
        elif isinstance(part, AudioPart):
            out.append((part.data, part.transcript, part.format))
        else:
            out.append(part)
    return out


def _same(a: ChatResult, b: ChatResult) -> None:
    assert _shape(a.message) == _shape(b.message)
    assert [c.message for c in a.choices] == [c.message for c in b.choices]
    assert a.finish_reason == b.finish_reason


# -- hosted tools ----------------------------------------------------------------------------------------------


def test_tool_from_dict_reads_hosted_tools_and_functions() -> None:
    assert tool_from_dict({"type": "web_search_preview"}) == HostedToolSpec({"type": "web_search_preview"})
    assert isinstance(tool_from_dict({"type": "function", "function": {"name": "f"}}), ToolSpec)
    assert isinstance(tool_from_dict({"name": "f", "input_schema": {"type": "object"}}), ToolSpec)


def test_responses_encode_hosted_tools_validates_against_sdk_params() -> None:
    request = ChatRequest((Message.user("hi"),), tools=(*(HostedToolSpec(t) for t in HOSTED), ToolSpec("f")))
    body = responses.encode_request(request, _target(), api_version="v1", stream=False).body
    assert body["tools"][:5] == list(HOSTED)
    assert_valid_request_body(body)


def test_chat_encode_hosted_tool_raises_before_sending_naming_deployment_and_fix() -> None:
    request = ChatRequest((Message.user("hi"),), tools=(HostedToolSpec({"type": "web_search_preview"}),))
    with pytest.raises(UnsupportedParameterError, match=r"web_search_preview.*'chat-dep'.*use_responses_api"):
        chat_completions.encode_request(request, _target(deployment="chat-dep"), api_version="v1", stream=False)


def test_gateway_hosted_tools_decode_items_and_citations_stream_and_not(azure: AzureTestServer) -> None:
    gateway = _gateway(azure)
    request = ChatRequest((Message.user("find it"),), tools=tuple(HostedToolSpec(t) for t in HOSTED))
    result = gateway.complete(request)
    hosted = [p for p in result.message.parts if isinstance(p, HostedToolPart)]
    assert [p.item_type for p in hosted] == [
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "image_generation_call",
        "mcp_list_tools",
        "mcp_call",
    ]
    assert hosted[1].item["results"][0]["filename"] == "notes.pdf"  # type: ignore[index]
    assert hosted[2].item["outputs"] == [{"type": "logs", "logs": "4\n"}]
    assert str(hosted[3].item["result"]).startswith("iVBOR")
    text = next(p for p in result.message.parts if isinstance(p, TextPart))
    assert [a["type"] for a in text.annotations] == ["url_citation", "file_citation"]
    assert text.annotations[0]["end_index"] == len(text.text)
    assert "other_output" not in result.provider_details
    _same(result, _stream(gateway, request))


def test_gateway_hosted_tool_async_stream_folds_like_complete(azure: AzureTestServer) -> None:
    from shared_core.result import StreamAccumulator

    gateway = _gateway(azure)
    request = ChatRequest((Message.user("find"),), tools=(HostedToolSpec({"type": "web_search_preview"}),))

    async def both() -> tuple[ChatResult, ChatResult]:
        accumulator = StreamAccumulator()
        async for event in gateway.astream(request):
            accumulator.add(event)
        return await gateway.acomplete(request), accumulator.result()

    done, streamed = asyncio.run(both())
    _same(done, streamed)
    assert isinstance(done.message.parts[0], HostedToolPart)


def test_hosted_items_sent_back_next_turn_validate_and_mcp_approval_round_trip(azure: AzureTestServer) -> None:
    gateway = _gateway(azure)
    tool = HostedToolSpec({"type": "mcp", "server_label": "docs", "server_url": "https://mcp.example.com"})
    first = gateway.complete(ChatRequest((Message.user("q"),), tools=(tool,)))
    approval = next(p for p in first.message.parts if isinstance(p, HostedToolPart) and "approval" in p.item_type)
    answer = HostedToolPart({"type": "mcp_approval_response", "approval_request_id": approval.id, "approve": True})
    history = (Message.user("q"), first.message, Message("user", (answer,)))
    request = ChatRequest(history, tools=(tool,))
    body = responses.encode_request(request, _target(), api_version="v1", stream=False).body
    assert_valid_request_body(body)
    kinds = [i.get("type") for i in body["input"] if isinstance(i, dict)]
    assert kinds[1:3] == ["mcp_list_tools", "mcp_approval_request"]
    second = gateway.complete(request)
    call = next(p for p in second.message.parts if isinstance(p, HostedToolPart) and p.item_type == "mcp_call")
    assert call.item["approval_request_id"] == approval.id


def test_hosted_item_in_the_wrong_role_is_a_conversation_error() -> None:
    part = HostedToolPart({"type": "web_search_call", "id": "ws_1", "status": "completed"})
    with pytest.raises(ConversationError, match="only assistant messages"):
        responses.encode_request(ChatRequest((Message("user", (part,)),)), _target(), api_version="v1", stream=False)


# -- audio and files in ------------------------------------------------------------------------------------


def test_chat_encode_audio_and_file_parts_validate_against_sdk_params() -> None:
    request = ChatRequest((Message("user", (TextPart("hear and read"), WAV, PDF, FilePart(file_id="file-1"))),))
    body = chat_completions.encode_request(request, _target(AUDIO_MODEL), api_version="v1", stream=False).body
    MESSAGES.validate_python(body["messages"])
    content = body["messages"][0]["content"]
    assert content[1] == {"type": "input_audio", "input_audio": {"data": WAV.data, "format": "wav"}}
    assert content[2]["file"]["file_data"].startswith("data:application/pdf;base64,")
    assert content[3] == {"type": "file", "file": {"file_id": "file-1"}}


def test_responses_encode_file_parts_validate_against_sdk_params() -> None:
    request = ChatRequest((Message("user", (TextPart("read"), PDF, FilePart(file_id="file-1"))),))
    body = responses.encode_request(request, _target(), api_version="v1", stream=False).body
    assert_valid_request_body(body)
    parts = body["input"][0]["content"]
    assert parts[1] == {"type": "input_file", "file_data": PDF.data_url, "filename": "tiny.pdf"}
    assert parts[2] == {"type": "input_file", "file_id": "file-1"}


def test_responses_encode_audio_is_refused_naming_the_fix() -> None:
    request = ChatRequest((Message("user", (TextPart("hear"), WAV)),))
    with pytest.raises(ConversationError, match=r"Responses API cannot carry.*Chat Completions"):
        responses.encode_request(request, _target(AUDIO_MODEL), api_version="v1", stream=False)


def test_audio_to_a_deployment_without_audio_raises_before_sending(azure: AzureTestServer) -> None:
    gateway = _gateway(azure, api="chat", deployment_models={"gpt-4o-mini": "gpt-4o-mini"})
    with pytest.raises(UnsupportedParameterError, match=r"'gpt-4o-mini'.*takes no audio input.*deployment_models"):
        gateway.complete(ChatRequest((Message("user", (WAV,)),)))
    assert azure.requests == []


def test_audio_in_a_format_azure_does_not_take_is_a_conversation_error() -> None:
    request = ChatRequest((Message("user", (AudioPart(data="AAAA", format="flac"),)),))
    with pytest.raises(ConversationError, match=r"'flac'.*wav or mp3"):
        chat_completions.encode_request(request, _target(AUDIO_MODEL), api_version="v1", stream=False)


def test_file_over_the_request_limit_raises_before_sending(azure: AzureTestServer) -> None:
    big = FilePart(data_url="data:application/pdf;base64," + "A" * (MAX_FILE_BYTES // 3 * 4 + 8), filename="b.pdf")
    for api in ("chat", "responses"):
        with pytest.raises(UnsupportedParameterError, match=r"32 MB per request.*file_id"):
            _gateway(azure, api=api).complete(ChatRequest((Message("user", (big,)),)))
    assert azure.requests == []


# -- Chat Completions: audio out, reasoning_content, n ------------------------------------------------------------


def test_gateway_chat_audio_output_reasoning_and_n_decode_stream_and_not(azure: AzureTestServer) -> None:
    gateway = _gateway(azure, api="chat", default_deployment="audio")
    extra = {"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}, "n": 2}
    from shared_core import GenerationSettings

    request = ChatRequest((Message.user("hi"),), settings=GenerationSettings(extra_body=extra))
    results = []
    for _ in range(2):
        azure.script(Reply(text="Hello there", reasoning="Think first.", choices=("Second answer",)))
    results = [gateway.complete(request), _stream(gateway, request)]
    for result in results:
        kinds = [p.kind for p in result.message.parts]
        assert kinds == ["reasoning", "text", "audio"]
        audio = result.message.parts[2]
        assert isinstance(audio, AudioPart)
        assert audio.transcript == "Hello there" and audio.id and audio.expires_at and audio.data.startswith("UklGR")
        assert [c.text for c in result.choices] == ["Second answer"]
    _same(results[0], results[1])


def test_chat_encode_assistant_audio_goes_back_by_id() -> None:
    answer = Message("assistant", (AudioPart(id="audio_1", transcript="hi"),))
    request = ChatRequest((Message.user("hi"), answer, Message.user("again")))
    body = chat_completions.encode_request(request, _target(AUDIO_MODEL), api_version="v1", stream=False).body
    MESSAGES.validate_python(body["messages"])
    assert body["messages"][1] == {"role": "assistant", "content": None, "audio": {"id": "audio_1"}}


def test_citations_of_several_text_parts_count_in_the_joined_text_stream_and_not() -> None:
    import json as _json

    from shared_core.result import StreamAccumulator
    from shared_core.wire.responses_decode import ResponsesStreamDecoder, decode_response

    cite = {"type": "url_citation", "start_index": 0, "end_index": 2, "url": "https://b", "title": "B"}
    parts = [
        {"type": "output_text", "text": "aa ", "annotations": []},
        {"type": "output_text", "text": "bb", "annotations": [cite]},
    ]
    message = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": parts}
    body = {"id": "resp_1", "object": "response", "status": "completed", "output": [message]}
    (text,) = decode_response(body).message.parts
    assert isinstance(text, TextPart) and text.text == "aa bb"
    assert (text.annotations[0]["start_index"], text.annotations[0]["end_index"]) == (3, 5)
    decoder, accumulator = ResponsesStreamDecoder(), StreamAccumulator()
    events: list[dict[str, Any]] = [
        {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "aa "},
        {"type": "response.output_text.delta", "output_index": 0, "content_index": 1, "delta": "bb"},
        {"type": "response.output_text.annotation.added", "output_index": 0, "content_index": 1, "annotation": cite},
        {"type": "response.completed", "response": body},
    ]
    for event in events:
        for decoded in decoder.decode(event["type"], _json.dumps(event)):
            accumulator.add(decoded)
    assert accumulator.result().message.parts == (text,)


def test_gateway_chat_reasoning_audio_and_n_async_complete_and_astream(azure: AzureTestServer) -> None:
    from shared_core import GenerationSettings
    from shared_core.result import StreamAccumulator

    gateway = _gateway(azure, api="chat", default_deployment="audio")
    extra = {"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}, "n": 2}
    request = ChatRequest((Message.user("hi"),), settings=GenerationSettings(extra_body=extra))
    for _ in range(2):
        azure.script(Reply(text="Hello there", reasoning="Think first.", choices=("Second answer",)))

    async def both() -> tuple[ChatResult, ChatResult]:
        accumulator = StreamAccumulator()
        done = await gateway.acomplete(request)
        async for event in gateway.astream(request):
            accumulator.add(event)
        return done, accumulator.result()

    done, streamed = asyncio.run(both())
    assert [p.kind for p in done.message.parts] == ["reasoning", "text", "audio"]
    assert [c.text for c in done.choices] == ["Second answer"]
    _same(done, streamed)


def test_gateway_responses_without_api_version_async_and_streams_use_v1(azure: AzureTestServer) -> None:
    gateway = _gateway(azure)
    request = ChatRequest((Message.user("hi"),))

    async def run() -> None:
        await gateway.acomplete(request)
        async for _ in gateway.astream(request):
            pass

    asyncio.run(run())
    list(gateway.stream(request))
    assert [(r.path, r.query) for r in azure.requests] == [("/openai/v1/responses", {})] * 3


def test_hosted_tool_choice_forces_a_built_in_tool_on_responses_and_is_refused_on_chat() -> None:
    from shared_core.request import HostedToolChoice, hosted_tool_choice

    assert (
        hosted_tool_choice("file_search")
        == hosted_tool_choice({"type": "file_search"})
        == HostedToolChoice("file_search")
    )
    assert hosted_tool_choice("get_weather") is None
    tool = HostedToolSpec({"type": "web_search_preview"})
    request = ChatRequest((Message.user("hi"),), tools=(tool,), tool_choice=HostedToolChoice("web_search_preview"))
    body = responses.encode_request(request, _target(), api_version="v1", stream=False).body
    assert body["tool_choice"] == {"type": "web_search_preview"}
    assert_valid_request_body(body)
    functions = ChatRequest((Message.user("hi"),), tools=(ToolSpec("f"),), tool_choice=HostedToolChoice("file_search"))
    with pytest.raises(UnsupportedParameterError, match="only the Responses API"):
        chat_completions.encode_request(functions, _target(), api_version="v1", stream=False)
