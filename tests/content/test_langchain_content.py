"""Issue 16 through LangChain: hosted tools and citations as v1 content blocks (and back next turn), reasoning
content, n > 1, audio and file input, audio output; invoke, ainvoke, stream and astream on the emulator."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage

from langchain_azure_gateway import AzureGatewayChatModel
from tests.support.azure_server import AzureTestServer, Reply
from tests.support.responses_bodies import assert_valid_request_body

KEY = "test-key"
WAV_B64 = base64.b64encode(b"RIFF\x24\x00\x00\x00WAVEfmt ").decode()
PDF_B64 = base64.b64encode(b"%PDF-1.4 tiny").decode()


def _model(azure: AzureTestServer, **extra: Any) -> AzureGatewayChatModel:
    params: dict[str, Any] = {"azure_endpoint": azure.endpoint, "api_key": KEY, "azure_deployment": "gpt-4o-mini"}
    return AzureGatewayChatModel(max_retries=0, **(params | extra))


def _all_modes(model: Any, messages: list[BaseMessage] | str, **kwargs: Any) -> list[AIMessage]:
    """invoke, stream (chunks added up), ainvoke, astream: four messages of the same exchange."""

    def add(chunks: list[AIMessageChunk]) -> AIMessage:
        total = chunks[0]
        for chunk in chunks[1:]:
            total = total + chunk
        return total

    async def both() -> tuple[AIMessage, AIMessage]:
        one = await model.ainvoke(messages, **kwargs)
        return one, add([c async for c in model.astream(messages, **kwargs)])

    done, streamed = model.invoke(messages, **kwargs), add(list(model.stream(messages, **kwargs)))
    return [done, streamed, *asyncio.run(both())]


def _types(message: AIMessage) -> list[str]:
    return [b["type"] for b in message.content_blocks]


# -- hosted tools ----------------------------------------------------------------------------------------------


def test_langchain_web_search_tool_gives_server_tool_blocks_and_citations_in_every_mode(
    azure: AzureTestServer,
) -> None:
    model = _model(azure, use_responses_api=True).bind_tools([{"type": "web_search_preview"}])
    for message in _all_modes(model, "news?"):
        assert _types(message) == ["server_tool_call", "server_tool_result", "text"]
        call = message.content_blocks[0]
        assert call["type"] == "server_tool_call" and call["name"] == "web_search"
        assert call["args"]["query"] == "news?"
        text = message.content_blocks[2]
        assert text["type"] == "text" and text["text"] == "You said: news?"
        assert text["annotations"][0]["type"] == "citation"
        assert text["annotations"][0]["cited_text"] == "You said: news?"
    assert azure.requests[0].json["tools"] == [{"type": "web_search_preview"}]


def test_langchain_hosted_items_go_back_next_turn_and_validate(azure: AzureTestServer) -> None:
    tools = [
        {"type": "web_search_preview"},
        {"type": "image_generation"},
        {"type": "code_interpreter", "container": {"type": "auto"}},
    ]
    model = _model(azure, use_responses_api=True).bind_tools(tools)
    first = model.invoke("draw")
    image = next(b for b in first.content_blocks if b["type"] == "image")
    assert image["mime_type"] == "image/png" and str(image["base64"]).startswith("iVBOR")
    model.invoke([HumanMessage("draw"), first, HumanMessage("again")])
    body = azure.requests[1].json
    assert_valid_request_body(body)
    sent = [i for i in body["input"] if isinstance(i, dict) and i.get("type", "").endswith("_call")]
    assert [i["type"] for i in sent] == ["web_search_call", "image_generation_call", "code_interpreter_call"]
    assert sent[1]["result"] == image["base64"]
    assert sent[2]["outputs"] == [{"type": "logs", "logs": "4\n"}]


def test_langchain_mcp_approval_round_trip(azure: AzureTestServer) -> None:
    tool = {"type": "mcp", "server_label": "docs", "server_url": "https://mcp.example.com"}
    model = _model(azure, use_responses_api=True).bind_tools([tool])
    first = model.invoke("q")
    request = next(b for b in first.content_blocks if b["type"] == "non_standard")
    approval = {"type": "mcp_approval_response", "approval_request_id": request["value"]["id"], "approve": True}
    second = model.invoke([HumanMessage("q"), first, HumanMessage(content=[approval])])
    call = next(b for b in second.content_blocks if b["type"] == "server_tool_call" and b["name"] == "lookup")
    assert call["args"] == {"q": "q"}
    assert_valid_request_body(azure.requests[1].json)


def test_langchain_hosted_tool_selects_the_responses_api_unless_chat_completions_is_chosen(
    azure: AzureTestServer,
) -> None:
    _model(azure).bind_tools([{"type": "web_search_preview"}]).invoke("hi")  # AzureChatOpenAI's rule
    assert azure.requests[0].path == "/openai/v1/responses"
    azure.reset()
    model = _model(azure, use_responses_api=False).bind_tools([{"type": "web_search_preview"}])
    with pytest.raises(Exception, match="use_responses_api=True") as caught:
        model.invoke("hi")
    assert "UnsupportedParameter" in type(caught.value).__name__
    assert azure.requests == []


# -- Chat Completions: reasoning, n, audio ---------------------------------------------------------------------


def test_langchain_reasoning_content_is_a_reasoning_block_in_every_mode(azure: AzureTestServer) -> None:
    for _ in range(4):
        azure.script(Reply(text="42", reasoning="Add them up."))
    for message in _all_modes(_model(azure), "sum?"):
        assert message.additional_kwargs["reasoning_content"] == "Add them up."
        reasoning = {k: v for k, v in message.content_blocks[0].items() if k != "index"}  # streams carry an index
        assert reasoning == {"type": "reasoning", "reasoning": "Add them up."}
        assert message.text == "42"


def test_langchain_n_gives_one_generation_per_choice(azure: AzureTestServer) -> None:
    azure.script(Reply(text="one", choices=("two", "three")))
    result = _model(azure).generate([[HumanMessage("hi")]], n=3)
    assert [g.text for g in result.generations[0]] == ["one", "two", "three"]
    azure.script(Reply(text="one", choices=("two",)))
    async_result = asyncio.run(_model(azure).agenerate([[HumanMessage("hi")]], n=2))
    assert [g.text for g in async_result.generations[0]] == ["one", "two"]
    azure.script(Reply(text="one", choices=("two",)))
    chunks = list(_model(azure).stream("hi", n=2))
    assert "".join(c.text for c in chunks) == "one"
    assert chunks[-1].response_metadata["choices"][0]["content"] == "two"


def test_langchain_audio_and_pdf_input_blocks_reach_azure(azure: AzureTestServer) -> None:
    message = HumanMessage(
        [
            {"type": "text", "text": "hear and read"},
            {"type": "audio", "base64": WAV_B64, "mime_type": "audio/wav"},
            {"type": "file", "base64": PDF_B64, "mime_type": "application/pdf"},
            {"type": "file", "file": {"filename": "a.pdf", "file_data": f"data:application/pdf;base64,{PDF_B64}"}},
        ]
    )
    _all_modes(_model(azure, azure_deployment="gpt-4o-audio-preview"), [message])
    assert len(azure.requests) == 4
    for sent in azure.requests:
        content = sent.json["messages"][0]["content"]
        assert content[1] == {"type": "input_audio", "input_audio": {"data": WAV_B64, "format": "wav"}}
        assert content[2] == {
            "type": "file",
            "file": {"file_data": f"data:application/pdf;base64,{PDF_B64}", "filename": "document.pdf"},
        }
        assert content[3]["file"]["filename"] == "a.pdf"


def test_langchain_audio_to_a_deployment_without_audio_is_refused_before_sending(azure: AzureTestServer) -> None:
    message = HumanMessage([{"type": "input_audio", "input_audio": {"data": WAV_B64, "format": "wav"}}])
    with pytest.raises(Exception, match="takes no audio input"):
        _model(azure, model="gpt-4o-mini").invoke([message])
    assert azure.requests == []


def test_langchain_audio_output_in_every_mode_and_back_by_id(azure: AzureTestServer) -> None:
    audio = {"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}}
    model = _model(azure, azure_deployment="gpt-4o-audio-preview", model_kwargs=audio)
    messages = _all_modes(model, "say hi")
    for message in messages:
        out = message.additional_kwargs["audio"]
        assert out["transcript"] == "You said: say hi" and out["id"].startswith("audio_")
        assert base64.b64decode(out["data"]).startswith(b"RIFF")
    model.invoke([HumanMessage("say hi"), messages[0], HumanMessage("again")])
    assert azure.requests[-1].json["messages"][1]["audio"] == {"id": messages[0].additional_kwargs["audio"]["id"]}


def test_langchain_raw_items_from_an_azurechatopenai_history_go_back(azure: AzureTestServer) -> None:
    item = {"type": "web_search_call", "id": "ws_1", "status": "completed", "index": 0}
    item["action"] = {"type": "search", "query": "news"}
    history = [
        HumanMessage("news?"),
        AIMessage(content=[item, {"type": "text", "text": "Here."}]),
        HumanMessage("more"),
    ]
    _model(azure, use_responses_api=True).invoke(history)
    body = azure.requests[0].json
    assert_valid_request_body(body)
    assert body["input"][1] == {k: v for k, v in item.items() if k != "index"}


def test_langchain_tool_choice_names_a_built_in_tool(azure: AzureTestServer) -> None:
    model = _model(azure, use_responses_api=True).bind_tools(
        [{"type": "web_search_preview"}], tool_choice="web_search_preview"
    )
    model.invoke("news?")
    assert azure.requests[0].json["tool_choice"] == {"type": "web_search_preview"}
