"""Offline token counts against the prompt token counts Azure reported in ``../shared/azure-recordings``.

Evidence: every recorded 200 Chat Completions request whose response carries ``usage`` and whose messages are
text only (streams read from their usage chunk), without a ``json_schema`` response format (neither class counts
one). The anchor's own count needs a tiktoken download, so it is not run here; the bound is on the error.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

from langchain_azure_gateway import AzureGatewayChatModel
from langchain_azure_gateway.tokens import count_chat_tokens
from tests.support.recordings import Interaction, azure_interactions


def _usage(rec: Interaction) -> dict[str, Any] | None:
    if not rec.is_stream:
        body = json.loads(rec.response_body)
        return body.get("usage") if isinstance(body, dict) else None
    found = None
    for line in rec.response_body.decode("utf-8", "replace").splitlines():
        if line.startswith("data:") and '"usage"' in line:
            chunk = json.loads(line[5:])
            found = chunk.get("usage") or found
    return found


def _text_only(body: dict[str, Any]) -> bool:
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list) and any(p.get("type") != "text" for p in content):
            return False
    return (body.get("response_format") or {}).get("type") != "json_schema"


def _cases() -> list[tuple[dict[str, Any], int]]:
    cases = []
    for rec in azure_interactions():
        body = rec.request_json
        if rec.status != 200 or rec.api_shape != "chat" or not isinstance(body, dict) or not _text_only(body):
            continue
        usage = _usage(rec)
        if usage and usage.get("prompt_tokens"):
            cases.append((body, int(usage["prompt_tokens"])))
    return cases


def _errors(cases: list[tuple[dict[str, Any], int]]) -> list[float]:
    return [(count_chat_tokens(b["messages"], b.get("tools") or ()) - p) / p for b, p in cases]


def test_token_estimate_error_against_azure_counts() -> None:
    cases = _cases()
    plain = [c for c in cases if not c[0].get("tools")]
    with_tools = [c for c in cases if c[0].get("tools")]
    assert len(plain) >= 100 and len(with_tools) >= 100
    for group, median_bound, p90_bound in ((plain, 0.08, 0.20), (with_tools, 0.20, 0.40)):
        errors = sorted(abs(e) for e in _errors(group))
        assert statistics.median(errors) <= median_bound
        assert errors[int(0.9 * len(errors))] <= p90_bound


def test_get_num_tokens_from_messages_works_offline_with_tools() -> None:
    @tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        return city

    model = AzureGatewayChatModel(azure_endpoint="https://r.openai.azure.com", api_key="k", azure_deployment="gpt-4o")
    history = [
        SystemMessage("You are terse."),
        HumanMessage("Weather in Paris?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"}]),
        ToolMessage("sunny", tool_call_id="c1"),
    ]
    without = model.get_num_tokens_from_messages(history)
    with_tools = model.get_num_tokens_from_messages(history, tools=[get_weather])
    assert 20 < without < with_tools < 200
    assert model.get_num_tokens("hello world") == 2


@pytest.mark.parametrize(("text", "low", "high"), [("The quick brown fox jumps over the lazy dog.", 9, 12)])
def test_get_num_tokens_is_close_for_english(text: str, low: int, high: int) -> None:
    model = AzureGatewayChatModel(azure_endpoint="https://r.openai.azure.com", api_key="k")
    assert low <= model.get_num_tokens(text) <= high
