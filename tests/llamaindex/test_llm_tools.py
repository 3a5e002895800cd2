"""Tool calling and structured output of AzureGatewayLLM, against the loopback Azure server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from llama_index.core.llms import ChatMessage
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from llamaindex_azure_gateway import AzureGatewayLLM, InvalidToolCallError
from tests.support.azure_server import AzureTestServer, Reply, ToolCall


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


TOOLS = [FunctionTool.from_defaults(fn=add), FunctionTool.from_defaults(fn=multiply)]


class City(BaseModel):
    """A city."""

    name: str
    population: int


def test_chat_with_tools_sends_tools_and_returns_parsed_calls(llm: AzureGatewayLLM, azure: AzureTestServer) -> None:
    azure.script(Reply(tool_calls=(ToolCall("add", '{"a": 2, "b": 3}', call_id="call_1"),)))
    response = llm.chat_with_tools(TOOLS, user_msg="add 2 and 3")
    (selection,) = llm.get_tool_calls_from_response(response)
    assert (selection.tool_id, selection.tool_name, selection.tool_kwargs) == ("call_1", "add", {"a": 2, "b": 3})
    body = azure.requests[0].json
    assert [t["function"]["name"] for t in body["tools"]] == ["add", "multiply"]  # type: ignore[index,union-attr]
    assert body["tool_choice"] == "auto" and body["parallel_tool_calls"] is False


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"tool_required": True}, "required"),
        ({"tool_choice": "multiply"}, {"type": "function", "function": {"name": "multiply"}}),
        ({"tool_choice": "none"}, "none"),
    ],
)
def test_chat_with_tools_tool_choice_forms(
    llm: AzureGatewayLLM, azure: AzureTestServer, kwargs: dict[str, object], expected: object
) -> None:
    llm.chat_with_tools(TOOLS, user_msg="numbers", **kwargs)  # type: ignore[arg-type]
    assert azure.requests[0].json["tool_choice"] == expected


def test_chat_with_tools_strict_marks_tools_and_closes_schemas(
    make_llm: Callable[..., AzureGatewayLLM], azure: AzureTestServer
) -> None:
    make_llm(strict=True).chat_with_tools(TOOLS, user_msg="x")
    function = azure.requests[0].json["tools"][0]["function"]  # type: ignore[index]
    assert function["strict"] is True and function["parameters"]["additionalProperties"] is False  # type: ignore[index]


def test_prepare_chat_with_tools_never_changes_the_callers_history(llm: AzureGatewayLLM) -> None:
    history = [ChatMessage(role="system", content="sys"), ChatMessage(role="user", content="earlier")]
    before = [m.model_dump() for m in history]
    prepared = llm._prepare_chat_with_tools(TOOLS, user_msg="now", chat_history=history)
    assert len(prepared["messages"]) == 3 and prepared["messages"][-1].content == "now"
    assert [m.model_dump() for m in history] == before and len(history) == 2


def test_chat_with_tools_single_call_kept_when_parallel_not_allowed(
    llm: AzureGatewayLLM, azure: AzureTestServer
) -> None:
    azure.script(Reply(tool_calls=(ToolCall("add", '{"a": 1, "b": 1}'), ToolCall("multiply", '{"a": 2, "b": 2}'))))
    response = llm.chat_with_tools(TOOLS, user_msg="both")
    assert [s.tool_name for s in llm.get_tool_calls_from_response(response)] == ["add"]
    azure.script(Reply(tool_calls=(ToolCall("add", '{"a": 1, "b": 1}'), ToolCall("multiply", '{"a": 2, "b": 2}'))))
    both = llm.chat_with_tools(TOOLS, user_msg="both", allow_parallel_tool_calls=True)
    assert [s.tool_name for s in llm.get_tool_calls_from_response(both)] == ["add", "multiply"]


def test_get_tool_calls_from_response_no_call(llm: AzureGatewayLLM) -> None:
    response = llm.chat(user_msgs("plain"))
    with pytest.raises(ValueError, match="0 tool calls"):
        llm.get_tool_calls_from_response(response)
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []


def user_msgs(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


def test_stream_tool_call_partial_json_tolerated_then_invalid_reported(
    llm: AzureGatewayLLM, azure: AzureTestServer
) -> None:
    azure.script(Reply(tool_calls=(ToolCall("add", '{"a": 1, "b": 2', call_id="call_x"),), argument_pieces=4))
    chunks = list(llm.stream_chat_with_tools(TOOLS, user_msg="add"))
    assert len(chunks) >= 4
    for chunk in chunks[:-1]:  # mid-stream: partial JSON is shown as far as it parses, never raises
        (selection,) = llm.get_tool_calls_from_response(chunk, error_on_no_tool_call=False)
        assert selection.tool_name == "add"
    with pytest.raises(InvalidToolCallError) as info:
        llm.get_tool_calls_from_response(chunks[-1], error_on_no_tool_call=False)
    assert info.value.raw_arguments == '{"a": 1, "b": 2' and info.value.tool_id == "call_x"
    assert chunks[-1].raw["invalid_tool_calls"][0]["raw_arguments"] == '{"a": 1, "b": 2'


def test_stream_tool_call_valid_final_arguments(llm: AzureGatewayLLM, azure: AzureTestServer) -> None:
    azure.script(Reply(tool_calls=(ToolCall("add", '{"a": 10, "b": 20}'),), argument_pieces=5))
    chunks = list(llm.stream_chat_with_tools(TOOLS, user_msg="add"))
    assert all(not c.delta for c in chunks)
    (selection,) = llm.get_tool_calls_from_response(chunks[-1])
    assert selection.tool_kwargs == {"a": 10, "b": 20}


def test_predict_and_call_runs_the_tool(llm: AzureGatewayLLM, azure: AzureTestServer) -> None:
    azure.script(Reply(tool_calls=(ToolCall("multiply", '{"a": 6, "b": 7}'),)))
    assert llm.predict_and_call(TOOLS, user_msg="six times seven").response == "42"


def test_structured_predict_uses_json_schema_where_the_api_version_allows(
    llm: AzureGatewayLLM, azure: AzureTestServer
) -> None:
    city = llm.structured_predict(City, PromptTemplate("Describe {place}"), place="Paris")
    assert isinstance(city, City)
    body = azure.requests[0].json
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "City"  # type: ignore[index,call-overload]
    assert fmt["json_schema"]["strict"] is True and "tools" not in body  # type: ignore[index,call-overload]


def test_structured_predict_falls_back_to_a_forced_tool_on_old_api_versions(
    make_llm: Callable[..., AzureGatewayLLM], azure: AzureTestServer
) -> None:
    llm = make_llm(api_version="2024-06-01")
    city = llm.structured_predict(City, PromptTemplate("Describe {place}"), place="Rome")
    assert isinstance(city, City)
    body = azure.requests[0].json
    assert "response_format" not in body and body["tool_choice"] in (
        "required",
        {"type": "function", "function": {"name": "City"}},
    )


def test_astructured_predict_and_as_structured_llm(llm: AzureGatewayLLM, azure: AzureTestServer) -> None:
    import asyncio

    city = asyncio.run(llm.astructured_predict(City, PromptTemplate("Describe {place}"), place="Oslo"))
    assert isinstance(city, City)
    structured = llm.as_structured_llm(City)
    response = structured.chat([ChatMessage(role="user", content="a city please")])
    assert isinstance(response.raw, City)
    assert all(r.json["response_format"]["type"] == "json_schema" for r in azure.requests)  # type: ignore[index,call-overload]
