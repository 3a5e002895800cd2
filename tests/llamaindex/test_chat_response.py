"""The ``ChatResponse`` of a call is built with exactly the state validation gives it, and the per-LLM request
defaults reused between calls follow every change of the fields they come from (the loopback Azure server
checks what was sent)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, LogProb, MessageRole, TextBlock

from llamaindex_azure_gateway import AzureGatewayLLM, chat_response
from llamaindex_azure_gateway.chat_response import from_core_result
from shared_core import CallCost, ChatResult, Message, TextPart, ToolCall, ToolCallPart, Usage
from shared_core.integration import ReasoningPart, TokenLogprob, ToolSequenceRepair
from shared_core.result import PromptFilterResult
from tests.support.azure_server import AzureTestServer, Reply


def _state(model: Any) -> tuple[Any, ...]:
    typed = [(key, type(value), value) for key, value in model.__dict__.items()]
    return type(model), typed, model.__pydantic_fields_set__, model.__pydantic_extra__, model.__pydantic_private__


def _validated(response: ChatResponse) -> ChatResponse:
    """The same response built through pydantic's validation, from the same values."""
    message = response.message
    blocks = [TextBlock(text=b.text) if isinstance(b, TextBlock) else b for b in message.blocks]
    return ChatResponse(
        message=ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=message.additional_kwargs),
        raw=response.raw,
        delta=response.delta,
        logprobs=response.logprobs,
        additional_kwargs=response.additional_kwargs,
    )


_TOKEN = TokenLogprob(token="Hi", logprob=-0.1, bytes=(72, 105), top_logprobs=(TokenLogprob("Hi", -0.1, (72, 105)),))
_RESULTS = {
    "text": ChatResult(
        message=Message.assistant("Paris."),
        finish_reason="stop",
        usage=Usage(12, 3, 15, cached_input_tokens=2),
        response_id="chatcmpl-1",
        model="gpt-4o-mini-2024-07-18",
        deployment="gpt-4o-mini",
        request_id="req-1",
        prompt_filter_results=(PromptFilterResult(0, {"hate": {"filtered": False, "severity": "safe"}}),),
        content_filter_results={"hate": {"filtered": False, "severity": "safe"}},
        cost=CallCost("gpt-4o-mini", "gpt-4o-mini", 0.0001),
    ),
    "empty": ChatResult(message=Message("assistant", ())),
    "logprobs and repairs": ChatResult(
        message=Message.assistant("Hi"),
        logprobs=(_TOKEN,),
        repairs=(ToolSequenceRepair("call_9", "lookup", "removed_orphan_result"),),
    ),
    "reasoning and tool call": ChatResult(
        message=Message(
            "assistant", (ReasoningPart("thought", "rs_1", None), TextPart("a"), ToolCallPart("c1", "f", '{"x":1}'))
        ),
        tool_calls=(ToolCall("c1", "f", {"x": 1}, '{"x":1}'),),
        finish_reason="tool_calls",
    ),
}


@pytest.mark.parametrize("name", list(_RESULTS))
@pytest.mark.parametrize("responses_api", [False, True])
def test_chat_response_is_the_validated_one(name: str, responses_api: bool) -> None:
    assert chat_response._response is chat_response._direct_response  # the fast path, with this llama-index
    response = from_core_result(_RESULTS[name], responses_api=responses_api)
    validated = _validated(response)
    assert _state(response) == _state(validated)
    assert _state(response.message) == _state(validated.message)
    for built, checked in zip(response.message.blocks, validated.message.blocks, strict=True):
        assert _state(built) == _state(checked)
    assert response.model_dump() == validated.model_dump()


def test_chat_response_text_and_logprobs_are_llamaindex_shapes() -> None:
    response = from_core_result(_RESULTS["logprobs and repairs"])
    assert response.message.content == "Hi" and str(response) == "assistant: Hi"
    assert response.logprobs == [[LogProb(token="Hi", logprob=-0.1, bytes=[72, 105])]]
    raw: dict[str, Any] = response.raw or {}
    assert response.additional_kwargs["conversation_repairs"] == raw["conversation_repairs"]
    again = from_core_result(_RESULTS["logprobs and repairs"])
    response.message.additional_kwargs["x"] = 1  # fresh containers on every call: nothing shared
    response.additional_kwargs["x"] = 1
    assert "x" not in again.message.additional_kwargs and "x" not in again.additional_kwargs
    assert raw is not again.raw and raw["cost"] is None


def _user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


def test_llm_request_follows_field_changes_between_calls(
    make_llm: Callable[..., AzureGatewayLLM], azure: AzureTestServer
) -> None:
    llm = make_llm()
    changes: list[tuple[str, Any]] = [
        ("temperature", 0.7),
        ("max_tokens", 33),
        ("top_p", 0.5),
        ("user", "u-1"),
        ("logprobs", True),
        ("top_logprobs", 2),
        ("temperature", 0.3),  # set before: only the value changes
    ]
    azure.script(*(Reply("ok") for _ in range(len(changes) + 5)))
    llm.chat(_user("first"))
    for field, value in changes:  # one field at a time, each seen by the next call
        setattr(llm, field, value)
        llm.chat(_user(field))
    llm.default_headers = {"X-Team": "a"}
    llm.chat(_user("headers"))
    assert llm.default_headers is not None
    llm.default_headers["X-Team"] = "b"  # changed in place: seen too
    llm.chat(_user("headers changed in place"))
    llm.default_headers = None
    llm.model_copy(update={"user": "u-2"}).chat(_user("a copy"))
    llm.chat(_user("last"))
    bodies = [r.json for r in azure.requests]
    assert bodies[0]["temperature"] == 0.1 and not {"max_completion_tokens", "top_p", "user"} & set(bodies[0])
    wire = {"max_tokens": "max_completion_tokens"}
    for index, (field, value) in enumerate(changes, start=1):
        assert bodies[index][wire.get(field, field)] == value, field
    headers = [r.headers.get("x-team") for r in azure.requests[-4:]]
    assert headers == ["a", "b", None, None]
    assert (bodies[-2]["user"], bodies[-1]["user"]) == ("u-2", "u-1")
    assert {k: v for k, v in bodies[-1].items() if k != "messages"} == {
        k: v for k, v in bodies[len(changes)].items() if k != "messages"
    }
