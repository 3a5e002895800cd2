"""The framework packages' direct chunk builders give exactly what validation (or ``model_construct``) gives,
and folding a repeated content-filter verdict once, or the text once at the end, changes no folded result."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole, TextBlock

from langchain_azure_gateway import chunks
from llamaindex_azure_gateway import stream
from shared_core import StreamEvent, TextDelta
from shared_core.integration import ContentFilterDelta, ResponseMetadata, StreamAccumulator, TokenLogprob


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


_SAFE = {"filtered": False, "severity": "safe"}
_LOW = {"filtered": False, "severity": "low"}
_LOGPROB = TokenLogprob(token="b", logprob=-0.5, bytes=None)


def _events() -> list[StreamEvent]:
    return [
        ResponseMetadata(deployment="d", request_id="r", response_id="chatcmpl-1"),
        TextDelta(text="a"),
        ContentFilterDelta(results={"hate": _SAFE, "violence": _SAFE}),
        TextDelta(text="b", logprobs=(_LOGPROB,)),
        ContentFilterDelta(results={"hate": _SAFE, "violence": _SAFE}),
        TextDelta(text="c"),
        ContentFilterDelta(results={"hate": _LOW, "violence": _SAFE}),
        TextDelta(text="d"),
        ContentFilterDelta(results={"hate": _SAFE, "violence": _SAFE}),  # milder again: "low" is kept
        TextDelta(text="e"),
    ]


def test_both_packages_fold_what_the_core_folds() -> None:
    reference = StreamAccumulator()
    chunker = chunks.StreamChunker()
    builder = stream.ChatStreamBuilder()
    for event in _events():
        reference.add(event)
        chunker.feed(event)
        builder.feed(event)
    expected = reference.result()
    assert expected.content_filter_results["hate"] == _LOW
    assert chunker.result() == expected
    assert builder.accumulator.result() == expected
    assert builder.accumulator.result() == expected  # reading it twice adds nothing
    assert expected.message.text == "abcde" and expected.logprobs == (_LOGPROB,)
