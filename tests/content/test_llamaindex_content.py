"""Issue 16 through LlamaIndex: built-in tools (the ``built_in_tools`` field and ``tools=`` dicts) with their items
in ``built_in_tool_calls``, generated images and citations as blocks, and back next turn; reasoning content as
ThinkingBlock; AudioBlock and DocumentBlock input; audio output; n > 1 refused; chat, achat, stream_chat and
astream_chat on the emulator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    ChatResponse,
    CitationBlock,
    DocumentBlock,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
)

from llamaindex_azure_gateway import AzureGatewayLLM
from llamaindex_azure_gateway.content_blocks import ManyChoicesError
from shared_core import UnsupportedParameterError
from tests.support.azure_server import AzureTestServer, Reply
from tests.support.responses_bodies import assert_valid_request_body

KEY = "test-key"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "
PDF = b"%PDF-1.4 tiny"


def _llm(azure: AzureTestServer, **extra: Any) -> AzureGatewayLLM:
    params: dict[str, Any] = {"engine": "gpt-4o-mini", "azure_endpoint": azure.endpoint, "api_key": KEY}
    return AzureGatewayLLM(max_retries=0, **(params | extra))


def _all_modes(llm: AzureGatewayLLM, messages: list[ChatMessage], **kwargs: Any) -> list[ChatResponse]:
    """chat, the last chunk of stream_chat, achat, the last chunk of astream_chat."""

    async def both() -> tuple[ChatResponse, ChatResponse]:
        done = await llm.achat(messages, **kwargs)
        last: ChatResponse | None = None
        async for chunk in await llm.astream_chat(messages, **kwargs):
            last = chunk
        assert last is not None
        return done, last

    streamed = list(llm.stream_chat(messages, **kwargs))[-1]
    return [llm.chat(messages, **kwargs), streamed, *asyncio.run(both())]


def _user(*blocks: Any) -> ChatMessage:
    return ChatMessage(role="user", blocks=list(blocks))


def test_llamaindex_built_in_tools_give_items_images_and_citations_in_every_mode(azure: AzureTestServer) -> None:
    tools = [{"type": "web_search_preview"}, {"type": "image_generation"}]
    llm = _llm(azure, use_responses_api=True, built_in_tools=tools)
    for response in _all_modes(llm, [_user(TextBlock(text="draw news"))]):
        calls = response.message.additional_kwargs["built_in_tool_calls"]
        assert [c["type"] for c in calls] == ["web_search_call", "image_generation_call"]
        assert response.additional_kwargs["built_in_tool_calls"] == calls
        images = [b for b in response.message.blocks if isinstance(b, ImageBlock)]
        assert len(images) == 1 and images[0].image_mimetype == "image/png"
        citation = next(b for b in response.message.blocks if isinstance(b, CitationBlock))
        assert citation.source == "https://example.com/search-result"
        assert citation.cited_content.text == "You said: draw news"  # type: ignore[union-attr]
        assert response.message.content == "You said: draw news"
    assert azure.requests[0].json["tools"] == tools


def test_llamaindex_built_in_tool_items_go_back_next_turn(azure: AzureTestServer) -> None:
    llm = _llm(azure, use_responses_api=True)
    tools = [{"type": "web_search_preview"}, {"type": "image_generation"}]
    first = llm.chat([_user(TextBlock(text="draw"))], tools=tools)
    llm.chat([_user(TextBlock(text="draw")), first.message, _user(TextBlock(text="again"))], tools=tools)
    body = azure.requests[1].json
    assert_valid_request_body(body)
    kinds = [i.get("type") for i in body["input"] if isinstance(i, dict)]
    assert kinds[1:3] == ["web_search_call", "image_generation_call"]


def test_llamaindex_built_in_tool_on_chat_completions_is_refused_before_sending(azure: AzureTestServer) -> None:
    from llamaindex_azure_gateway import UnsupportedFieldError

    with pytest.raises(UnsupportedParameterError, match="use_responses_api"):
        _llm(azure).chat([_user(TextBlock(text="hi"))], tools=[{"type": "web_search_preview"}])
    with pytest.raises(UnsupportedFieldError, match="built_in_tools"):
        _llm(azure, built_in_tools=[{"type": "web_search_preview"}])
    assert azure.requests == []


def test_llamaindex_reasoning_content_is_a_thinking_block_in_every_mode(azure: AzureTestServer) -> None:
    for _ in range(4):
        azure.script(Reply(text="42", reasoning="Add them up."))
    for response in _all_modes(_llm(azure), [_user(TextBlock(text="sum?"))]):
        thinking = response.message.blocks[0]
        assert isinstance(thinking, ThinkingBlock) and thinking.content == "Add them up."
        assert response.message.content == "42"


def test_llamaindex_n_above_one_is_refused_before_sending(azure: AzureTestServer) -> None:
    with pytest.raises(ManyChoicesError, match="n=2") as caught:
        _llm(azure).chat([_user(TextBlock(text="hi"))], n=2)
    assert caught.value.n == 2 and isinstance(caught.value, UnsupportedParameterError)
    with pytest.raises(ManyChoicesError):
        _llm(azure, additional_kwargs={"n": 3}).stream_chat([_user(TextBlock(text="hi"))])
    with pytest.raises(ManyChoicesError):
        asyncio.run(_llm(azure).achat([_user(TextBlock(text="hi"))], n=2))

    async def astream() -> None:
        async for _ in await _llm(azure).astream_chat([_user(TextBlock(text="hi"))], n=2):
            pass

    with pytest.raises(ManyChoicesError):
        asyncio.run(astream())
    assert azure.requests == []


def test_llamaindex_audio_and_document_blocks_reach_azure(azure: AzureTestServer) -> None:
    llm = _llm(azure, engine="gpt-4o-audio-preview")
    message = _user(
        TextBlock(text="hear and read"),
        AudioBlock(audio=WAV, format="wav"),
        DocumentBlock(data=PDF, title="tiny.pdf", document_mimetype="application/pdf"),
    )
    _all_modes(llm, [message])
    assert len(azure.requests) == 4
    for sent in azure.requests:
        content = sent.json["messages"][0]["content"]
        assert content[1]["type"] == "input_audio" and content[1]["input_audio"]["format"] == "wav"
        assert content[2]["file"]["filename"] == "tiny.pdf"
        assert content[2]["file"]["file_data"].startswith("data:application/pdf;base64,")


def test_llamaindex_audio_to_a_deployment_without_audio_is_refused_before_sending(azure: AzureTestServer) -> None:
    with pytest.raises(UnsupportedParameterError, match="takes no audio input"):
        _llm(azure, model="gpt-4o-mini").chat([_user(AudioBlock(audio=WAV, format="wav"))])
    assert azure.requests == []


def test_llamaindex_audio_output_in_every_mode_and_back_by_id(azure: AzureTestServer) -> None:
    audio = {"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}}
    llm = _llm(azure, engine="gpt-4o-audio-preview", additional_kwargs=audio)
    responses = _all_modes(llm, [_user(TextBlock(text="say hi"))])
    for response in responses:
        block = next(b for b in response.message.blocks if isinstance(b, AudioBlock))
        assert block.resolve_audio().read().startswith(b"RIFF")
        assert response.message.additional_kwargs["audio"]["transcript"] == "You said: say hi"
    first = responses[0].message
    llm.chat([_user(TextBlock(text="say hi")), first, _user(TextBlock(text="again"))])
    assert azure.requests[-1].json["messages"][1]["audio"] == {"id": first.additional_kwargs["audio"]["id"]}


def test_llamaindex_tool_choice_names_a_built_in_tool(azure: AzureTestServer) -> None:
    llm = _llm(azure, use_responses_api=True)
    llm.chat(
        [_user(TextBlock(text="news?"))],
        tools=[{"type": "web_search_preview"}],
        tool_choice={"type": "web_search_preview"},
    )
    assert azure.requests[0].json["tool_choice"] == {"type": "web_search_preview"}
