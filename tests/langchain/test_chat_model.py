"""AzureGatewayChatModel on the loopback Azure server: fields, metadata, streaming, tools, errors, repair."""

from __future__ import annotations

import logging
import statistics
import time
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.exceptions import ModelInvalidRequestError, ModelRateLimitError
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from pydantic import SecretStr

from langchain_azure_gateway import AzureContentFilterError, AzureGatewayChatModel, AzureRateLimitError
from shared_core import ContentFilterError, ListSink, RateLimitError
from shared_core.repair import REPAIR_EVENT
from tests.langchain.conftest import make_model
from tests.support.azure_server import AzureTestServer, HttpError, PromptFiltered, Reply, ToolCall, Usage


def collect(model: AzureGatewayChatModel, prompt: Any, **kwargs: Any) -> AIMessageChunk:
    full: AIMessageChunk | None = None
    for chunk in model.stream(prompt, **kwargs):
        full = chunk if full is None else full + chunk
    assert full is not None
    return full


class TokenRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.custom: list[tuple[str, Any]] = []

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens.append(token)

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.custom.append((name, data))


# -- fields ------------------------------------------------------------------------------------------------


def test_chat_model_accepts_azure_chat_openai_field_names() -> None:
    model = AzureGatewayChatModel(
        azure_endpoint="https://res.openai.azure.com",
        deployment_name="prod-chat",
        openai_api_version="2025-04-01-preview",
        openai_api_key="key-123",
        max_completion_tokens=77,
        stop_sequences=["END"],
        model_name="gpt-4o",
    )
    assert (model.endpoint, model.deployment, model.api_version) == (
        "https://res.openai.azure.com",
        "prod-chat",
        "2025-04-01-preview",
    )
    assert (model.max_tokens, model.stop, model.model) == (77, ["END"], "gpt-4o")
    assert isinstance(model.api_key, SecretStr)
    assert model.api_key.get_secret_value() == "key-123"
    assert "key-123" not in repr(model)
    assert AzureGatewayChatModel(base_url="https://x.openai.azure.com/openai/v1").endpoint.endswith("/openai/v1")  # type: ignore[union-attr]
    assert AzureGatewayChatModel(azure_deployment="d1").deployment == "d1"


def test_chat_model_construction_is_cheap_and_builds_the_gateway_once() -> None:
    timings: list[float] = []
    for _ in range(300):
        started = time.perf_counter()
        AzureGatewayChatModel(azure_endpoint="https://res.openai.azure.com", azure_deployment="d", api_key="k")
        timings.append(time.perf_counter() - started)
    assert statistics.median(timings) < 0.001
    model = AzureGatewayChatModel(azure_endpoint="https://res.openai.azure.com", azure_deployment="d", api_key="k")
    assert model._gateway is None
    assert model.gateway is model.gateway


def test_chat_model_ls_params_honour_a_per_call_model() -> None:
    model = AzureGatewayChatModel(azure_deployment="gpt-4o-mini", temperature=0.2, max_tokens=9, stop=["x"])
    params = model._get_ls_params()
    assert params["ls_provider"] == "azure"
    assert params["ls_model_name"] == "gpt-4o-mini"
    assert (params.get("ls_temperature"), params.get("ls_max_tokens"), params.get("ls_stop")) == (
        0.2,
        9,
        ["x"],
    )
    assert model._get_ls_params(model="gpt-4o")["ls_model_name"] == "gpt-4o"


# -- invoke and stream -------------------------------------------------------------------------------------


def test_chat_model_invoke_returns_azure_metadata_and_usage(server: AzureTestServer) -> None:
    server.script(Reply("Hi there.", usage=Usage(prompt_tokens=30, completion_tokens=7, cached_tokens=16)))
    message = make_model(server).invoke("Hello")
    assert message.content == "Hi there."
    meta = message.response_metadata
    assert meta["model_name"] == "gpt-4o-mini-2024-07-18"
    assert meta["deployment"] == "gpt-4o-mini"
    assert meta["finish_reason"] == "stop"
    assert meta["system_fingerprint"] == "fp_efad92c60b"
    assert meta["request_id"]
    assert meta["prompt_filter_results"][0]["prompt_index"] == 0
    assert "hate" in meta["content_filter_results"]
    assert message.usage_metadata == {
        "input_tokens": 30,
        "output_tokens": 7,
        "total_tokens": 37,
        "input_token_details": {"cache_read": 16},
        "output_token_details": {"reasoning": 0},
    }


def test_chat_model_stream_matches_invoke_and_fires_a_token_per_delta(server: AzureTestServer) -> None:
    model = make_model(server)
    server.script(Reply("One two three.", chunks=3), Reply("One two three.", chunks=3))
    invoked = model.invoke("Hello")
    recorder = TokenRecorder()
    streamed = collect(model, "Hello", config={"callbacks": [recorder]})
    assert streamed.content == invoked.content
    assert streamed.usage_metadata == invoked.usage_metadata
    for key in ("model_name", "deployment", "finish_reason", "system_fingerprint", "prompt_filter_results"):
        assert streamed.response_metadata[key] == invoked.response_metadata[key], key
    assert streamed.response_metadata["request_id"]
    assert streamed.response_metadata["content_filter_results"]
    text_tokens = [t for t in recorder.tokens if t]
    assert "".join(text_tokens) == "One two three."
    assert len(text_tokens) == 3
    assert server.requests[-1].json["stream_options"] == {"include_usage": True}


async def test_chat_model_astream_and_ainvoke_work(server: AzureTestServer) -> None:
    model = make_model(server)
    server.script(Reply("Async answer.", chunks=2), Reply("Async answer."))
    chunks = [c async for c in model.astream("Hello")]
    assert "".join(str(c.content) for c in chunks) == "Async answer."
    assert chunks[-1].chunk_position == "last"
    assert chunks[-1].usage_metadata is not None
    assert (await model.ainvoke("Hello")).content == "Async answer."


def test_chat_model_per_call_model_routes_through_the_deployment_map(server: AzureTestServer) -> None:
    message = make_model(server).invoke("Hello", model="gpt-4o")
    assert server.requests[-1].deployment == "gpt-4o"
    assert message.response_metadata["model_name"] == "gpt-4o-2024-11-20"
    assert message.response_metadata["deployment"] == "gpt-4o"


def test_chat_model_responses_api_invoke_and_stream(server: AzureTestServer) -> None:
    model = make_model(server, use_responses_api=True, openai_api_version="2025-04-01-preview")
    server.script(Reply("From responses."), Reply("From responses.", chunks=2))
    assert model.invoke("Hello").content == "From responses."
    streamed = collect(model, "Hello")
    assert streamed.content == "From responses."
    assert streamed.usage_metadata is not None
    assert all(r.api == "responses" for r in server.requests)


# -- tools -------------------------------------------------------------------------------------------------


def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"sunny in {city}"


def test_chat_model_streamed_tool_call_chunks_merge_into_tool_calls(server: AzureTestServer) -> None:
    server.script(Reply(tool_calls=(ToolCall("get_weather", '{"city": "Paris"}'),), argument_pieces=4))
    model = make_model(server).bind_tools([get_weather], tool_choice="any", parallel_tool_calls=False)
    streamed = collect(model, "Weather in Paris?")
    assert [(c["name"], c["args"]) for c in streamed.tool_calls] == [("get_weather", {"city": "Paris"})]
    body = server.requests[-1].json
    assert body["tool_choice"] == "required"
    assert body["parallel_tool_calls"] is False
    assert body["tools"][0]["function"]["name"] == "get_weather"


def test_chat_model_invalid_tool_json_lands_in_invalid_tool_calls(server: AzureTestServer) -> None:
    server.script(Reply(tool_calls=(ToolCall("get_weather", '{"city": "Par'),)))
    model = make_model(server).bind_tools([get_weather])
    invoked = model.invoke("Weather?")
    assert invoked.tool_calls == []
    assert invoked.invalid_tool_calls[0]["args"] == '{"city": "Par'
    assert invoked.invalid_tool_calls[0]["error"]


def test_chat_model_streamed_malformed_tool_json_lands_in_invalid_tool_calls(server: AzureTestServer) -> None:
    # LangChain re-parses merged chunks leniently (a truncated object is completed), so only text that no
    # parser can read is invalid after a stream; invoke reports truncated arguments too (test above).
    server.script(Reply(tool_calls=(ToolCall("get_weather", '{"city": Paris}'),)))
    streamed = collect(make_model(server).bind_tools([get_weather]), "Weather?")
    assert streamed.tool_calls == []
    assert streamed.invalid_tool_calls[0]["args"] == '{"city": Paris}'


def test_chat_model_bind_tools_strict_and_named_choice(server: AzureTestServer) -> None:
    make_model(server).bind_tools([get_weather], tool_choice="get_weather", strict=True).invoke("Weather in Oslo?")
    body = server.requests[-1].json
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["tools"][0]["function"]["strict"] is True


# -- errors ------------------------------------------------------------------------------------------------


def test_chat_model_completion_filter_is_a_typed_error_with_the_partial_message(
    server: AzureTestServer,
) -> None:
    model = make_model(server)
    server.script(Reply("First part. Second part.", chunks=4, filter_after=1))
    with pytest.raises(AzureContentFilterError) as caught:
        model.invoke("Hello")
    error = caught.value
    assert isinstance(error, ContentFilterError)
    assert isinstance(error, ModelInvalidRequestError)
    assert error.side == "completion"
    assert isinstance(error.partial_message, AIMessage)
    assert error.partial_message.content == error.partial_text
    server.script(Reply("First part. Second part.", chunks=4, filter_after=1))
    with pytest.raises(AzureContentFilterError) as streamed:
        collect(model, "Hello")
    assert streamed.value.side == "completion"
    assert streamed.value.partial_message is not None


def test_chat_model_prompt_filter_is_a_typed_error(server: AzureTestServer) -> None:
    server.script(PromptFiltered())
    with pytest.raises(AzureContentFilterError) as caught:
        make_model(server).invoke("something filtered")
    assert caught.value.side == "prompt"
    assert "self_harm" in caught.value.filtered_categories


def test_chat_model_rate_limit_is_catchable_as_langchain_and_core_errors(server: AzureTestServer) -> None:
    server.script(HttpError(429, retry_after=3))
    with pytest.raises(ModelRateLimitError) as caught:
        make_model(server).invoke("Hello")
    assert isinstance(caught.value, AzureRateLimitError)
    assert isinstance(caught.value, RateLimitError)
    assert caught.value.retry_after == 3


# -- repair ------------------------------------------------------------------------------------------------


def test_chat_model_repairs_a_dangling_tool_call_and_says_so(
    server: AzureTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    history = [
        HumanMessage("Weather in Paris?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_lost"}]),
        HumanMessage("Never mind, say hi."),
    ]
    recorder = TokenRecorder()
    with caplog.at_level(logging.WARNING, logger="langchain_azure_gateway"):
        message = make_model(server).invoke(history, config={"callbacks": [recorder]})
    sent = server.requests[-1].json["messages"]
    assert isinstance(sent, list)
    tool_messages = [m for m in sent if isinstance(m, dict) and m.get("role") == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["call_lost"]
    assert message.response_metadata["conversation_repairs"]["count"] == 1
    assert [name for name, _ in recorder.custom] == [REPAIR_EVENT]
    assert "repaired the conversation" in caplog.text


def test_chat_model_stream_reports_repairs_in_metadata(server: AzureTestServer) -> None:
    history = [
        HumanMessage("Weather?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {}, "id": "call_a"}]),
        ToolMessage("orphan", tool_call_id="call_unknown"),
        HumanMessage("hi"),
    ]
    streamed = collect(make_model(server), history)
    assert streamed.response_metadata["conversation_repairs"]["count"] >= 2


def test_chat_model_sends_summaries_only_to_a_sink_the_user_gave_and_repairs_always(
    server: AzureTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    history = [
        HumanMessage("Weather?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {}, "id": "call_a"}]),
        HumanMessage("hi"),
    ]
    with caplog.at_level(logging.DEBUG, logger="shared_core.events"):
        message = make_model(server).invoke(history)
        streamed = collect(make_model(server), history)
    logged = [r.getMessage().split(" ", 1)[0] for r in caplog.records if r.name == "shared_core.events"]
    assert logged.count(REPAIR_EVENT) == 2
    assert "llm:request:debug" not in logged and "llm:response:debug" not in logged
    assert message.response_metadata["conversation_repairs"]["count"] == 1
    assert streamed.response_metadata["conversation_repairs"]["count"] == 1
    assert streamed.response_metadata["request_id"] and streamed.response_metadata["deployment"] == "gpt-4o-mini"

    sink = ListSink()
    make_model(server, event_sink=sink).invoke(history)
    assert [e.name for e in sink.events if e.name.startswith("llm:") or e.name == REPAIR_EVENT] == [
        REPAIR_EVENT,
        "llm:request:debug",
        "llm:response:debug",
    ]
