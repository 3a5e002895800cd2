"""The loopback Azure server's scripted faults, its request log and script API, its concurrency and its CLI.

Shapes against the recordings are in ``test_azure_server.py``; these tests check that each scripted outcome
happens on the wire (status, header, timing, dropped connection) and that the server records what was sent.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import jsonschema
import pytest

from tests.support.azure_server import (
    AzureTestServer,
    BadGateway,
    ConnectionReset,
    DeploymentInfo,
    HttpError,
    PromptFiltered,
    Reply,
    Unparsable,
    deterministic_responder,
)
from tests.support.recordings import REPO_ROOT

CLASSIC = "/openai/deployments/{d}/chat/completions"
V1_CHAT = "/openai/v1/chat/completions"
USER = [{"role": "user", "content": "What is 4200 + 42?"}]
GPT5 = DeploymentInfo(model="gpt-5-mini-2025-08-07", system_fingerprint=None)


@pytest.fixture(scope="module")
def server() -> Iterator[AzureTestServer]:
    with AzureTestServer(deployments={"gpt-4o-mini": DeploymentInfo(), "gpt-5-mini": GPT5}) as srv:
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


# ------------------------------------------------------------------------------------------ scripted faults


@pytest.mark.parametrize(
    ("kind", "value"), [("retry-after", "3"), ("retry-after-ms", "2500"), ("x-ms-retry-after-ms", "2500")]
)
def test_azure_server_429_announces_retry_after_in_chosen_header(
    client: httpx.Client, server: AzureTestServer, kind: str, value: str
) -> None:
    server.script(HttpError(429, retry_after=2.5, retry_after_headers=kind))  # type: ignore[arg-type]
    response = chat(client)
    assert response.status_code == 429
    assert response.headers[kind] == value
    assert {"retry-after", "retry-after-ms", "x-ms-retry-after-ms"} & set(response.headers) == {kind}
    error = response.json()["error"]
    assert error["code"] == "429"
    assert "ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21" in error["message"]
    assert "Please retry after 3 seconds" in error["message"]


@pytest.mark.parametrize(("status", "key"), [(500, "type"), (503, "code"), (401, "code"), (404, "code")])
def test_azure_server_scripted_error_status_has_azure_json_body(
    client: httpx.Client, server: AzureTestServer, status: int, key: str
) -> None:
    server.script(HttpError(status))
    response = chat(client)
    assert response.status_code == status
    expected = {500: "server_error", 503: "ServiceUnavailable", 401: "401", 404: "DeploymentNotFound"}[status]
    assert json.loads(response.content)["error"][key] == expected
    uuid.UUID(response.headers["apim-request-id"])


def test_azure_server_bad_gateway_is_an_html_page(client: httpx.Client, server: AzureTestServer) -> None:
    server.script(BadGateway())
    response = chat(client)
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith("<html>") and "<title>502 Bad Gateway</title>" in response.text


@pytest.mark.parametrize(("rst", "error"), [(True, httpx.ReadError), (False, httpx.RemoteProtocolError)])
def test_azure_server_connection_reset_drops_without_response(
    client: httpx.Client, server: AzureTestServer, rst: bool, error: type[Exception]
) -> None:
    server.script(ConnectionReset(rst=rst))
    with pytest.raises(error):
        chat(client)
    assert chat(client).status_code == 200  # the server keeps serving
    assert server.request_count == 2


def test_azure_server_stream_cut_closes_after_n_events_without_done(
    client: httpx.Client, server: AzureTestServer
) -> None:
    server.script(Reply("one two three four", cut_after=3))
    lines: list[str] = []
    body = {"model": "gpt-4o-mini", "messages": USER, "stream": True}
    with pytest.raises(httpx.RemoteProtocolError), client.stream("POST", V1_CHAT, json=body) as response:
        lines.extend(line for line in response.iter_lines() if line.startswith("data:"))
    assert len(lines) == 3
    assert "data: [DONE]" not in lines


def test_azure_server_slow_chunks_are_spaced_by_the_delay(client: httpx.Client, server: AzureTestServer) -> None:
    server.script(Reply("ab", chunks=1, chunk_delay=0.06))
    arrivals: list[float] = []
    with client.stream("POST", V1_CHAT, json={"model": "gpt-4o-mini", "messages": USER, "stream": True}) as r:
        arrivals.extend(time.monotonic() for line in r.iter_lines() if line.startswith("data:"))
    assert len(arrivals) == 5  # prompt filter, role, text, finish, [DONE]
    assert arrivals[-1] - arrivals[0] >= 0.2


def test_azure_server_slow_first_byte_delays_the_status_line(client: httpx.Client, server: AzureTestServer) -> None:
    server.script(Reply("late", first_byte_delay=0.5))
    with pytest.raises(httpx.ReadTimeout):
        client.post(V1_CHAT, json={"model": "gpt-4o-mini", "messages": USER}, timeout=httpx.Timeout(5, read=0.1))


def test_azure_server_unparsable_body_is_a_200_that_does_not_parse(
    client: httpx.Client, server: AzureTestServer
) -> None:
    server.script(Unparsable())
    response = chat(client)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


@pytest.mark.parametrize(
    "outcome",
    [Reply("x"), PromptFiltered(), HttpError(429, retry_after=1), HttpError(500), HttpError(503), Unparsable()],
)
def test_azure_server_apim_request_id_is_a_fresh_uuid_on_every_response(
    client: httpx.Client, server: AzureTestServer, outcome: Any
) -> None:
    server.script(outcome, outcome)
    ids = [chat(client).headers["apim-request-id"], chat(client).headers["apim-request-id"]]
    assert len({uuid.UUID(i) for i in ids}) == 2


# ------------------------------------------------------------------------------------------ recording and script


def test_azure_server_records_every_attempt(client: httpx.Client, server: AzureTestServer) -> None:
    server.script(HttpError(429, retry_after=0), HttpError(429, retry_after=0), Reply("ok"))
    statuses = [chat(client, route="v1", stream=False, temperature=0).status_code for _ in range(3)]
    assert statuses == [429, 429, 200]
    assert server.request_count == 3 and server.pending == 0
    first = server.requests[0]
    assert (first.method, first.path, first.query, first.api, first.deployment, first.stream) == (
        "POST",
        V1_CHAT,
        {},
        "chat",
        "gpt-4o-mini",
        False,
    )
    assert first.headers["api-key"] == "test-key" and first.json["temperature"] == 0
    assert "test-key" not in repr(first)


def test_azure_server_records_query_and_lowercases_headers(client: httpx.Client, server: AzureTestServer) -> None:
    client.post(
        CLASSIC.format(d="gpt-4o-mini"),
        params={"api-version": "2024-10-21"},
        json={"messages": USER},
        headers={"X-Custom-Header": "Value"},
    )
    rec = server.requests[-1]
    assert rec.query == {"api-version": "2024-10-21"}
    assert rec.headers["x-custom-header"] == "Value"
    assert rec.json == {"messages": USER}


def test_azure_server_deployment_script_is_consumed_only_by_that_deployment(
    client: httpx.Client, server: AzureTestServer
) -> None:
    server.script(HttpError(503), deployment="gpt-5-mini")
    assert chat(client).status_code == 200
    assert chat(client, route="v1", deployment="gpt-5-mini").status_code == 503
    assert chat(client, route="v1", deployment="gpt-5-mini").status_code == 200


def test_azure_server_reset_forgets_requests_and_script(client: httpx.Client, server: AzureTestServer) -> None:
    server.script(HttpError(500))
    chat(client, deployment="missing")  # refused before the script: consumes nothing
    assert server.pending == 1 and server.request_count == 1
    server.reset()
    assert server.pending == 0 and server.request_count == 0 and server.requests == []


def test_azure_server_set_default_outcome_answers_every_request(client: httpx.Client, server: AzureTestServer) -> None:
    server.set_default(HttpError(503))
    assert [chat(client).status_code for _ in range(2)] == [503, 503]


async def test_azure_server_holds_many_requests_concurrently(server: AzureTestServer) -> None:
    # Each answer is held 2 s: long enough for a loaded machine to open all 200 connections before the first
    # answer leaves (0.3 s was not, on two busy cores); served one at a time they would take 400 s.
    server.set_default(Reply("held", first_byte_delay=2.0))
    body = {"model": "gpt-4o-mini", "messages": USER}
    started = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one() -> int:
            async with session.post(server.endpoint + V1_CHAT, json=body, headers={"api-key": "test-key"}) as r:
                await r.read()
                return r.status

        statuses = await asyncio.gather(*(one() for _ in range(200)))
    assert statuses == [200] * 200
    assert server.max_in_flight >= 200
    assert time.monotonic() - started < 30


def test_azure_server_runs_standalone_and_prints_its_endpoint() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.azure_server", "--port", "0", "--print-endpoint"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        endpoint = proc.stdout.readline().strip()
        assert endpoint.startswith("http://127.0.0.1:")
        response = httpx.post(
            endpoint + V1_CHAT, json={"model": "gpt-4o-mini", "messages": USER}, headers={"api-key": "test-key"}
        )
        assert response.json()["choices"][0]["message"]["content"] == "You said: What is 4200 + 42?"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


# ------------------------------------------------------------------------------------------ default responder


def test_azure_server_default_responder_calls_a_tool_and_reads_its_result(client: httpx.Client) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": schema}}]
    ask = [{"role": "user", "content": "Weather in Paris? Use get_weather."}]
    message = chat(client, messages=ask, tools=tools).json()["choices"][0]["message"]
    call = message["tool_calls"][0]
    jsonschema.validate(json.loads(call["function"]["arguments"]), schema)
    result = {"role": "tool", "tool_call_id": call["id"], "content": "21 degrees"}
    answer = chat(client, messages=[*ask, message, result], tools=tools).json()["choices"][0]["message"]
    assert "21 degrees" in answer["content"]
