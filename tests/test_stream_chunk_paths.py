"""The framework packages' direct chunk builders give exactly what validation (or ``model_construct``) gives,
and both packages hand over the gateway's own folded result instead of folding the stream again (against the
loopback emulator)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import pytest
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole, TextBlock

from langchain_azure_gateway import chunks
from llamaindex_azure_gateway import stream
from shared_core import ChatRequest, Gateway, Message, TextDelta
from shared_core.integration import ResponseMetadata
from tests.support.azure_server import AzureTestServer, DeploymentInfo, Reply, ToolCall

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


def _state(model: Any) -> tuple[Any, ...]:
    return (
        type(model),
        model.__dict__,
        model.__pydantic_fields_set__,
        model.__pydantic_extra__,
        model.__pydantic_private__,
    )


@pytest.mark.parametrize(("text", "message_id"), [("Hello", "chatcmpl-9"), (" world", None), ("é\n", "")])
def test_langchain_text_chunk_is_the_validated_one(text: str, message_id: str | None) -> None:
    assert chunks._text_chunk is chunks._built_text_chunk  # the fast path is in use with this langchain-core
    built = chunks._built_text_chunk(text, message_id)
    validated = ChatGenerationChunk(message=AIMessageChunk(content=text, id=message_id))
    assert _state(built) == _state(validated)
    assert _state(built.message) == _state(validated.message)
    assert built == validated and built.text == text
    assert (built + built).message == (validated + validated).message
    built.message.additional_kwargs["x"] = 1  # fresh containers: nothing shared between chunks
    assert chunks._built_text_chunk(text, message_id).message.additional_kwargs == {}


def test_llamaindex_direct_models_are_the_constructed_ones() -> None:
    assert stream._response is stream._direct_response
    block = stream._text_block("Hello")
    assert _state(block) == _state(TextBlock.model_construct(text="Hello"))
    message = stream._message({"tool_calls": []}, [block])
    constructed = ChatMessage.model_construct(
        role=MessageRole.ASSISTANT, additional_kwargs={"tool_calls": []}, blocks=[block]
    )
    assert _state(message) == _state(constructed)
    assert message.content == "Hello"
    response = stream._response(message, "lo", {"thinking_delta": "x"})
    expected = ChatResponse.model_construct(
        message=constructed, raw=None, delta="lo", logprobs=None, additional_kwargs={"thinking_delta": "x"}
    )
    assert _state(response) == _state(expected)


KEY = "chunk-paths-key"


@pytest.fixture(scope="module")
def server() -> Iterator[AzureTestServer]:
    with AzureTestServer(api_key=KEY, deployments={"chat": DeploymentInfo()}) as app:
        yield app


def _gateway(server: AzureTestServer, api: Literal["chat", "responses"]) -> Gateway:
    version = "v1" if api == "responses" else "2024-10-21"
    return Gateway(
        endpoint=server.endpoint, api_key=KEY, default_deployment="chat", api=api, api_version=version, env={}
    )


_CALL = ToolCall("lookup", '{"city": "Oslo"}')


@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize("reply", [Reply("one two three"), Reply("looking", tool_calls=(_CALL,))])
def test_both_packages_take_the_gateways_folded_result(
    server: AzureTestServer, api: Literal["chat", "responses"], reply: Reply
) -> None:
    # Neither package folds the events again: the result both hand over is the one the closing event carries.
    server.reset()
    server.script(reply)
    events = list(_gateway(server, api).stream(ChatRequest((Message.user("hi"),))))
    closing = events[-1]
    assert isinstance(closing, ResponseMetadata) and closing.result is not None
    chunker = chunks.StreamChunker()
    builder = stream.ChatStreamBuilder()
    built = [chunk for event in events if (chunk := chunker.feed(event)) is not None]
    held = [chunk for event in events if (chunk := builder.feed(event)) is not None]
    assert chunker.result() is closing.result and builder.result() is closing.result
    assert "".join(chunk.text for chunk in built) == closing.result.text == (reply.text or "")
    assert held  # LlamaIndex holds back the last content chunk for ``finish``


def test_both_packages_without_the_closing_event_say_so() -> None:
    chunker, builder = chunks.StreamChunker(), stream.ChatStreamBuilder()
    for event in (ResponseMetadata(deployment="d"), TextDelta("a"), ResponseMetadata(cost=None)):
        chunker.feed(event)
        builder.feed(event)
    with pytest.raises(RuntimeError, match="closing event"):
        chunker.result()
    with pytest.raises(RuntimeError, match="closing event"):
        builder.result()
