"""The loopback Azure server answers in the shapes of the real recordings, and does what its script says.

Each shape test compares the server's output with a real recorded interaction of the same kind (key sets and
order, chunk structure, header names), so a drift from Azure's wire shows up here, not in client tests.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import pytest

from azure_openai_emulator import shapes
from tests.support import recordings
from tests.support.azure_server import (
    AzureTestServer,
    DeploymentInfo,
    FilterVerdict,
    PromptFiltered,
    Reply,
    ToolCall,
    Usage,
    deterministic_responder,
)

CLASSIC = "/openai/deployments/{d}/chat/completions"
V1_CHAT = "/openai/v1/chat/completions"
PREVIEW_RESPONSES = "/openai/responses"
V1_RESPONSES = "/openai/v1/responses"
TRANSPORT_HEADERS = {"date", "content-length", "transfer-encoding", "connection", "keep-alive", "server"}
GPT5 = DeploymentInfo(
    model="gpt-5-mini-2025-08-07", system_fingerprint=None, requests_per_minute=100, tokens_per_minute=100000
)
USER = [{"role": "user", "content": "What is 4200 + 42?"}]
PASSWORD_TOOL = {
    "type": "function",
    "function": {
        "name": "secret_retrieval_tool",
        "parameters": {
            "type": "object",
            "properties": {"password": {"type": "string"}},
            "required": ["password"],
        },
    },
}


@cache
def recorded(name: str) -> recordings.Interaction:
    """The recorded interaction ``<file stem>#<index>`` under ``Mirascope__mirascope``/``traceloop__openllmetry``."""
    stem, _, index = name.partition("#")
    path = next(p for p in recordings.recording_files() if p.stem.endswith(stem))
    return recordings.load_recording_file(path)[int(index or 0)]


def rec_chat(kind: str) -> recordings.Interaction:
    return recorded(f"test_call__azure-openai_completions_gpt_4o_mini__{kind}")


TOOL_STREAM = "test_call_with_tools__azure-openai_responses_gpt_4o_mini__stream"


def rec_responses(kind: str) -> recordings.Interaction:
    return recorded(f"test_call__azure-openai_responses_gpt_4o_mini__{kind}")


def header_names(headers: Any) -> set[str]:
    return {k.lower() for k in headers} - TRANSPORT_HEADERS


def sse_data(body: bytes | str) -> tuple[list[dict[str, Any]], bool]:
    """(parsed ``data:`` payloads, whether ``data: [DONE]`` ended the stream)."""
    text = body.decode() if isinstance(body, bytes) else body
    lines = [line[6:] for line in text.split("\n") if line.startswith("data: ")]
    done = bool(lines) and lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines if line != "[DONE]"], done


def sse_events(body: bytes | str) -> list[tuple[str, dict[str, Any]]]:
    text = body.decode() if isinstance(body, bytes) else body
    out: list[tuple[str, dict[str, Any]]] = []
    for block in text.strip().split("\n\n"):
        event, _, data = block.partition("\n")
        out.append((event.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


def collapse(types: list[str]) -> list[str]:
    """Event types with runs of the same delta type collapsed to one."""
    return [t for i, t in enumerate(types) if i == 0 or t != types[i - 1] or not t.endswith(".delta")]


@pytest.fixture(scope="module")
def server() -> Iterator[AzureTestServer]:
    deployments = {"gpt-4o-mini": DeploymentInfo(), "gpt-5-mini": GPT5}
    with AzureTestServer(api_key="test-key", bearer_tokens={"good-token"}, deployments=deployments) as srv:
        yield srv


@pytest.fixture(autouse=True)
def fresh(server: AzureTestServer) -> None:
    server.reset()
    server.set_default(deterministic_responder)


@pytest.fixture
def client(server: AzureTestServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.endpoint, headers={"api-key": "test-key"}, timeout=5) as c:
        yield c


def chat(
    client: httpx.Client, *, route: str = "classic", deployment: str = "gpt-4o-mini", **body: Any
) -> httpx.Response:
    body.setdefault("messages", USER)
    if route == "classic":
        return client.post(CLASSIC.format(d=deployment), params={"api-version": "2024-10-21"}, json=body)
    return client.post(V1_CHAT, json={"model": deployment, **body})


def responses(client: httpx.Client, *, v1: bool = False, **body: Any) -> httpx.Response:
    body = {"model": "gpt-4o-mini", "input": "What is 4200 + 42?", **body}
    if v1:
        return client.post(V1_RESPONSES, json=body)
    return client.post(PREVIEW_RESPONSES, params={"api-version": "2025-03-01-preview"}, json=body)


# ------------------------------------------------------------------------------------------ chat, recorded shapes


def test_azure_server_chat_body_keys_and_headers_match_recording(client: httpx.Client) -> None:
    real = rec_chat("sync")
    real_body = json.loads(real.response_body)
    response = chat(client)
    body = response.json()
    assert list(body) == list(real_body)
    assert list(body["choices"][0]) == list(real_body["choices"][0])
    assert list(body["choices"][0]["message"]) == list(real_body["choices"][0]["message"])
    assert body["usage"].keys() == real_body["usage"].keys()
    assert body["prompt_filter_results"] == real_body["prompt_filter_results"]
    assert body["model"] == "gpt-4o-mini-2024-07-18" == real_body["model"]
    assert body["system_fingerprint"].startswith("fp_")
    assert header_names(response.headers) == header_names(real.response_headers)
    assert response.headers["content-type"] == real.response_headers["content-type"]
    assert response.headers["x-ms-deployment-name"] == "gpt-4o-mini"


def test_azure_server_chat_v1_gpt5_body_and_headers_match_recording(client: httpx.Client) -> None:
    real = recorded("test_call__azure_gpt_5_mini__sync")
    response = chat(client, route="v1", deployment="gpt-5-mini")
    body = response.json()
    assert list(body) == list(json.loads(real.response_body))
    assert body["model"] == "gpt-5-mini-2025-08-07"
    assert body["system_fingerprint"] is None
    assert header_names(response.headers) == header_names(real.response_headers)
    assert response.headers["x-ms-client-request-id"] == "Not-Set"


def test_azure_server_chat_stream_chunks_match_recording_with_usage(client: httpx.Client) -> None:
    real = recorded("test_call__azure_gpt_4o_mini__stream")
    real_chunks, real_done = sse_data(real.response_body)
    response = chat(client, route="v1", stream=True, stream_options={"include_usage": True})
    chunks, done = sse_data(response.content)
    assert done and real_done
    assert chunks[0] == real_chunks[0]  # choices [] + prompt_filter_results, empty id/model
    for ours, theirs in [(chunks[1], real_chunks[1]), (chunks[2], real_chunks[2]), (chunks[-2], real_chunks[-2])]:
        assert list(ours) == list(theirs)
        assert list(ours["choices"][0]) == list(theirs["choices"][0])
        assert ours["choices"][0]["content_filter_results"] == theirs["choices"][0]["content_filter_results"]
        assert ours["choices"][0]["delta"].keys() == theirs["choices"][0]["delta"].keys()
    assert list(chunks[-1]) == list(real_chunks[-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    assert all(c["usage"] is None and c["obfuscation"] is not None for c in chunks[1:-1])
    assert header_names(response.headers) == header_names(real.response_headers)
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"


def test_azure_server_chat_stream_without_include_usage_has_no_usage_key(client: httpx.Client) -> None:
    real_chunks, _ = sse_data(rec_chat("stream").response_body)
    chunks, done = sse_data(chat(client, stream=True).content)
    assert done
    assert all("usage" not in c for c in chunks + real_chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_azure_server_chat_stream_splits_text_into_n_chunks(client: httpx.Client, server: AzureTestServer) -> None:
    server.script(Reply("abcdefghij", chunks=3))
    chunks, _ = sse_data(chat(client, stream=True).content)
    contents = [c["choices"][0]["delta"]["content"] for c in chunks[2:-1]]
    assert contents == ["abcd", "efg", "hij"]


def test_azure_server_chat_tool_calls_match_recording(client: httpx.Client, server: AzureTestServer) -> None:
    real = json.loads(recorded("test_call_with_tools__azure-openai_completions_gpt_4o_mini__sync").response_body)
    server.script(Reply(tool_calls=(ToolCall("secret_retrieval_tool", '{"password": "mellon"}'),) * 2))
    body = chat(client, tools=[PASSWORD_TOOL]).json()
    ours, theirs = body["choices"][0], real["choices"][0]
    assert list(ours["message"]) == list(theirs["message"])
    assert [list(t) for t in ours["message"]["tool_calls"]] == [list(t) for t in theirs["message"]["tool_calls"]]
    assert ours["finish_reason"] == theirs["finish_reason"] == "tool_calls"
    assert ours["content_filter_results"] == theirs["content_filter_results"] == {}
    assert ours["message"]["content"] is None
    ids = [t["id"] for t in ours["message"]["tool_calls"]]
    assert len(set(ids)) == 2 and all(i.startswith("call_") for i in ids)


def test_azure_server_chat_tool_call_stream_fragments_match_recording(
    client: httpx.Client, server: AzureTestServer
) -> None:
    real_chunks, _ = sse_data(
        recorded("test_call_with_tools__azure-openai_completions_gpt_4o_mini__stream").response_body
    )
    args = ['{"password": "mellon"}', '{"password": "radiance"}']
    server.script(Reply(tool_calls=tuple(ToolCall("secret_retrieval_tool", a) for a in args)))
    chunks, done = sse_data(chat(client, stream=True, tools=[PASSWORD_TOOL]).content)
    assert done
    assert (
        chunks[1]["choices"][0]["delta"]
        == real_chunks[1]["choices"][0]["delta"]
        == {"content": None, "role": "assistant"}
    )
    fragments = [t for c in chunks[2:-1] for t in c["choices"][0]["delta"]["tool_calls"]]
    real_fragments = [t for c in real_chunks[2:-1] for t in c["choices"][0]["delta"]["tool_calls"]]
    assert list(fragments[0]) == list(real_fragments[0]) and list(fragments[1]) == list(real_fragments[1])
    assert [("id" in f) for f in fragments] == [f["function"].get("name") is not None for f in fragments]
    rebuilt = ["".join(f["function"]["arguments"] for f in fragments if f["index"] == i) for i in (0, 1)]
    assert rebuilt == args
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_azure_server_chat_packed_tool_calls_put_several_indexes_in_one_chunk(
    client: httpx.Client, server: AzureTestServer
) -> None:
    server.script(Reply(tool_calls=(ToolCall("a", '{"x": 1}'), ToolCall("b", '{"y": 2}')), pack_tool_calls=True))
    chunks, _ = sse_data(chat(client, stream=True).content)
    per_chunk = [[t["index"] for t in c["choices"][0]["delta"]["tool_calls"]] for c in chunks[2:-1]]
    assert per_chunk[0] == [0, 1]
    assert all("id" not in t for c in chunks[3:-1] for t in c["choices"][0]["delta"]["tool_calls"])


def test_azure_server_chat_forced_tool_choice_finishes_with_stop_as_recorded(
    client: httpx.Client, server: AzureTestServer
) -> None:
    real = json.loads(
        recorded(
            "test_structured_output_with_formatting_instructions__tool__azure-openai_completions_gpt_4o_mini"
        ).response_body
    )
    choice = {"type": "function", "function": {"name": "secret_retrieval_tool"}}
    body = chat(client, tools=[PASSWORD_TOOL], tool_choice=choice).json()
    assert body["choices"][0]["finish_reason"] == real["choices"][0]["finish_reason"] == "stop"
    assert body["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "secret_retrieval_tool"


def test_azure_server_usage_numbers_are_reported_as_scripted(client: httpx.Client, server: AzureTestServer) -> None:
    usage = Usage(prompt_tokens=11, completion_tokens=22, cached_tokens=3, reasoning_tokens=5)
    server.script(Reply("hi", usage=usage), Reply("hi", usage=usage))
    chat_usage = chat(client).json()["usage"]
    assert (chat_usage["prompt_tokens"], chat_usage["completion_tokens"], chat_usage["total_tokens"]) == (11, 22, 33)
    assert chat_usage["prompt_tokens_details"]["cached_tokens"] == 3
    assert chat_usage["completion_tokens_details"]["reasoning_tokens"] == 5
    resp_usage = responses(client).json()["usage"]
    assert (resp_usage["input_tokens"], resp_usage["output_tokens"], resp_usage["total_tokens"]) == (11, 22, 33)
    assert resp_usage["input_tokens_details"]["cached_tokens"] == 3
    assert resp_usage["output_tokens_details"]["reasoning_tokens"] == 5


# ------------------------------------------------------------------------------------------ content filter


def test_azure_server_prompt_filter_chat_is_recorded_400_even_for_a_stream(
    client: httpx.Client, server: AzureTestServer
) -> None:
    real = recorded("test_refusal__azure-openai_completions_gpt_4o_mini__stream")
    server.script(PromptFiltered(FilterVerdict("self_harm", "medium")))
    response = chat(client, stream=True)
    assert response.status_code == real.status == 400
    assert response.json() == json.loads(real.response_body)
    assert header_names(response.headers) == header_names(real.response_headers)
    assert response.headers["content-type"] == "application/json"


def test_azure_server_prompt_filter_responses_is_recorded_body(client: httpx.Client, server: AzureTestServer) -> None:
    real = recorded("test_refusal__azure-openai_responses_gpt_4o_mini__sync")
    server.script(PromptFiltered())
    response = responses(client)
    assert response.status_code == 400
    assert response.content == real.response_body
    assert header_names(response.headers) == header_names(real.response_headers)


def test_azure_server_midstream_filter_chat_stream_ends_with_content_filter(
    client: httpx.Client, server: AzureTestServer
) -> None:
    server.script(Reply("one two three four", filter_after=2, filter=FilterVerdict("violence", "high")))
    chunks, done = sse_data(chat(client, stream=True, stream_options={"include_usage": True}).content)
    texts = [c["choices"][0]["delta"].get("content") for c in chunks[2:-2]]
    finish = chunks[-2]["choices"][0]
    assert done and texts == ["one", " two"]
    assert finish["finish_reason"] == "content_filter"
    assert finish["content_filter_results"]["violence"] == {"filtered": True, "severity": "high"}
    assert finish["content_filter_results"]["hate"]["filtered"] is False


def test_azure_server_midstream_filter_chat_nonstream_keeps_partial_content(
    client: httpx.Client, server: AzureTestServer
) -> None:
    server.script(Reply("one two three four", filter_after=3))
    choice = chat(client).json()["choices"][0]
    assert choice["finish_reason"] == "content_filter"
    assert choice["message"]["content"] == "one two three"
    assert choice["content_filter_results"]["violence"]["filtered"] is True


def test_azure_server_midstream_filter_responses_stream_matches_recording(
    client: httpx.Client, server: AzureTestServer
) -> None:
    real = sse_events(recorded("test_refusal__azure-openai_responses_gpt_4o_mini__stream").response_body)
    server.script(Reply("I'm sorry, but I cannot assist with that request.", chunks=1, filter_after=1))
    ours = sse_events(responses(client, stream=True).content)
    assert [t for t, _ in ours] == [t for t, _ in real]
    assert [list(d) for _, d in ours] == [list(d) for _, d in real]
    assert ours[-1][1]["response"]["incomplete_details"] == real[-1][1]["response"]["incomplete_details"]
    assert ours[2][1]["item"]["status"] == real[2][1]["item"]["status"] == "incomplete"


# ------------------------------------------------------------------------------------------ responses


def test_azure_server_responses_body_matches_recording(client: httpx.Client) -> None:
    real = rec_responses("sync")
    response = responses(client)
    body, real_body = response.json(), json.loads(real.response_body)
    assert list(body) == list(real_body)
    assert [list(i) for i in body["output"]] == [list(i) for i in real_body["output"]]
    assert list(body["output"][0]["content"][0]) == list(real_body["output"][0]["content"][0])
    assert body["usage"].keys() == real_body["usage"].keys()
    assert body["model"] == "gpt-4o-mini"  # the deployment, as recorded
    assert response.content.startswith(b'{\n  "id": "resp_')  # pretty-printed, as recorded
    assert header_names(response.headers) == header_names(real.response_headers)


def test_azure_server_responses_stream_events_match_recording(client: httpx.Client) -> None:
    real = rec_responses("stream")
    real_events = sse_events(real.response_body)
    response = responses(client, stream=True)
    ours = sse_events(response.content)
    assert collapse([t for t, _ in ours]) == collapse([t for t, _ in real_events])
    real_keys = {t: list(d) for t, d in real_events}
    assert all(list(d) == real_keys[t] for t, d in ours)
    assert [d["sequence_number"] for _, d in ours] == list(range(len(ours)))
    assert all(d["type"] == t for t, d in ours)
    assert b"[DONE]" not in response.content and ours[-1][0] == "response.completed"
    assert header_names(response.headers) == header_names(real.response_headers)


def test_azure_server_responses_function_call_stream_matches_recording(
    client: httpx.Client, server: AzureTestServer
) -> None:
    real = sse_events(recorded("test_call_with_tools__azure-openai_responses_gpt_4o_mini__stream").response_body)
    args = ['{"password":"mellon"}', '{"password":"radiance"}']
    server.script(Reply(tool_calls=tuple(ToolCall("secret_retrieval_tool", a) for a in args)))
    tool = {"type": "function", "name": "secret_retrieval_tool", "parameters": PASSWORD_TOOL["function"]["parameters"]}
    ours = sse_events(responses(client, stream=True, tools=[tool]).content)
    assert collapse([t for t, _ in ours]) == collapse([t for t, _ in real])
    assert [list(d) for t, d in ours if t.startswith("response.output_item")] == [
        list(d) for t, d in real if t.startswith("response.output_item")
    ]
    assert list(ours[-1][1]["response"]["tools"][0]) == list(real[-1][1]["response"]["tools"][0])
    done = [d["arguments"] for t, d in ours if t == "response.function_call_arguments.done"]
    assert done == args


def test_azure_server_responses_v1_route_answers_like_preview(client: httpx.Client) -> None:
    preview, v1 = responses(client).json(), responses(client, v1=True).json()
    assert list(preview) == list(v1)
    assert v1["status"] == "completed"


# ------------------------------------------------------------------------------------------ routing and auth


def test_azure_server_unknown_model_on_v1_is_recorded_400(client: httpx.Client) -> None:
    real = recorded("test_model_not_found__azure_gpt_5_mini")
    response = chat(client, route="v1", deployment="this-model-does-not-exist-12345")
    assert response.status_code == 400
    assert response.content == real.response_body
    assert header_names(response.headers) == header_names(real.response_headers)
    assert response.headers["content-type"] == "application/json; charset=utf-8"


def test_azure_server_unknown_deployment_on_classic_route_is_recorded_404(client: httpx.Client) -> None:
    real = recorded("test_azure__test_chat_reasoning#1")
    response = chat(client, deployment="gpt-5-nano")
    assert response.status_code == 404
    assert response.content == real.response_body
    assert header_names(response.headers) == header_names(real.response_headers)
    assert "content-type" not in response.headers  # as recorded


@pytest.mark.parametrize(
    "path",
    [
        "/openai/deployments/gpt-4o-mini/chat/completions",  # no api-version
        "/openai/deployments/gpt-4o-mini/completions?api-version=2024-10-21",
        "/openai/v2/chat/completions",
    ],
)
def test_azure_server_wrong_path_is_resource_not_found(client: httpx.Client, path: str) -> None:
    response = client.post(path, json={"model": "gpt-4o-mini", "messages": USER})
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "404", "message": "Resource not found"}}
    uuid.UUID(response.headers["apim-request-id"])


@pytest.mark.parametrize(
    ("headers", "message_start"),
    [
        ({"api-key": "wrong"}, "Access denied"),
        ({"authorization": "Bearer bad-token"}, "Unauthorized. Access token"),
        ({}, "Access denied"),
    ],
)
def test_azure_server_rejects_wrong_credentials_with_401(
    server: AzureTestServer, headers: dict[str, str], message_start: str
) -> None:
    response = httpx.post(server.endpoint + V1_CHAT, json={"model": "gpt-4o-mini", "messages": USER}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "401"
    assert response.json()["error"]["message"].startswith(message_start)
    uuid.UUID(response.headers["apim-request-id"])


def test_azure_server_accepts_configured_bearer_token(server: AzureTestServer) -> None:
    headers = {"authorization": "Bearer good-token"}
    response = httpx.post(server.endpoint + V1_CHAT, json={"model": "gpt-4o-mini", "messages": USER}, headers=headers)
    assert response.status_code == 200
    server.bearer_tokens.discard("good-token")
    try:
        again = httpx.post(server.endpoint + V1_CHAT, json={"model": "gpt-4o-mini", "messages": USER}, headers=headers)
        assert again.status_code == 401
    finally:
        server.bearer_tokens.add("good-token")


def sdk_errors(adapter: Any, value: Any) -> set[tuple[Any, ...]]:
    """Locations the OpenAI SDK's pydantic model rejects in ``value`` (empty when it parses)."""
    from pydantic import ValidationError

    try:
        adapter.validate_python(value)
    except ValidationError as error:
        return {tuple(e["loc"]) for e in error.errors()}
    return set()


def test_azure_server_bodies_parse_with_the_openai_sdk_types(client: httpx.Client, server: AzureTestServer) -> None:
    from openai.types.chat import ChatCompletion, ChatCompletionChunk
    from openai.types.responses import Response, ResponseStreamEvent
    from pydantic import TypeAdapter

    calls = (ToolCall("get_weather", '{"city": "Paris"}'),)
    server.script(Reply("hi there"), Reply("hi", tool_calls=calls), Reply("hi there"), Reply(tool_calls=calls))
    assert sdk_errors(TypeAdapter(ChatCompletion), chat(client).json()) == set()
    chunks, _ = sse_data(chat(client, stream=True, stream_options={"include_usage": True}).content)
    # Azure's first chunk (object "") is outside the SDK's model, in the recordings too.
    assert all(sdk_errors(TypeAdapter(ChatCompletionChunk), chunk) == set() for chunk in chunks[1:])
    # The SDK wants usage fields real Azure does not send: ours may fail only where the recording fails.
    response_type = TypeAdapter(Response)
    real_body = json.loads(rec_responses("sync").response_body)
    assert sdk_errors(response_type, responses(client).json()) <= sdk_errors(response_type, real_body)
    events = TypeAdapter(ResponseStreamEvent)
    # Real Azure omits `name` on response.function_call_arguments.done, which newer SDKs require: the baseline
    # takes the recorded tool-call stream too, so ours may fail only where a real Azure stream fails.
    real_errors: dict[str, set[tuple[Any, ...]]] = {}
    for body in (rec_responses("stream").response_body, recorded(TOOL_STREAM).response_body):
        for t, d in sse_events(body):
            real_errors.setdefault(t, set()).update(sdk_errors(events, d))
    for event_type, data in sse_events(responses(client, stream=True, tools=[]).content):
        assert sdk_errors(events, data) <= real_errors.get(event_type, set()), event_type


def test_azure_shapes_chat_stream_is_a_pure_function() -> None:
    completion = shapes.Completion(response_id="chatcmpl-x", created=1, model="m", text_pieces=("a", "b"))
    assert shapes.chat_stream(completion, include_usage=True) == shapes.chat_stream(completion, include_usage=True)
    assert shapes.chat_stream(completion, include_usage=False)[-1] == b"data: [DONE]\n\n"
