"""A gateway that repeats ``function.name`` (and the id) in every tool-call delta (issue 12 item 5).

LangChain concatenates every string of the chunks it merges: the name came out ``get_weatherget_weather``,
while the core fold and LlamaIndex were right. The name and id now go out once per tool-call index.
"""

from __future__ import annotations

import json

from langchain_core.messages import AIMessageChunk

from langchain_azure_gateway import AzureGatewayChatModel
from tests.faults.channels import DEPLOYMENT, KEY
from tests.faults.raw_server import RawServer
from tests.faults.test_stream_keepalive import _stream


def _tool_delta(arguments: str, *, finish: str | None = None) -> bytes:
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


def test_langchain_streams_a_repeated_tool_name_once() -> None:
    pieces = ('{"city"', ': "Os', 'lo"}')
    records = (*(_tool_delta(p) for p in pieces), b"data: [DONE]\n\n")
    with RawServer(lambda n, r: _stream(*records)) as raw:
        model = AzureGatewayChatModel(azure_endpoint=raw.endpoint, api_key=KEY, azure_deployment=DEPLOYMENT)
        folded: AIMessageChunk | None = None
        for chunk in model.stream("weather in Oslo?"):
            folded = chunk if folded is None else folded + chunk
    assert folded is not None
    assert [(c["name"], c["id"], c["args"]) for c in folded.tool_calls] == [("get_weather", "call_1", {"city": "Oslo"})]
    assert folded.invalid_tool_calls == []
