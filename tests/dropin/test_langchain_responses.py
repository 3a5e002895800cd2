"""Real Azure answers replayed to ``AzureChatOpenAI`` (the oracle) and ours; the ``AIMessage`` s compared.

Evidence: the 200 Chat Completions and Responses interactions in ``../shared/azure-recordings`` (streams
included, the hand-edited fixtures left out; a fixed sample of about 60 by default, all of them with
``DROPIN_ALL_RECORDINGS=1``) are served by an ``httpx.MockTransport`` to both classes, built with
the same arguments. Compared: content, tool calls, invalid tool calls, usage, additional kwargs, the message id,
and every ``response_metadata`` key the anchor produces (ours may add keys). A difference the README table
"Differences from AzureChatOpenAI" does not list fails the test.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from typing import Any

import httpx
import pytest
from langchain_core.messages import BaseMessage
from langchain_openai import AzureChatOpenAI

from langchain_azure_gateway import AzureGatewayChatModel
from tests.dropin.langchain_pairs import rows
from tests.dropin.support import Difference, assert_documented, differences
from tests.support.recordings import Interaction, azure_interactions

_SKIPPED_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding"})


def _replayable() -> list[Interaction]:
    """Every replayable interaction with ``DROPIN_ALL_RECORDINGS=1``; else a fixed sample of about 60 (CI time)."""
    found = [
        rec
        for rec in azure_interactions()
        if rec.status == 200 and rec.api_shape in ("chat", "responses") and not rec.hand_edited
    ]
    if os.environ.get("DROPIN_ALL_RECORDINGS") == "1":
        return found
    sample = found[:: max(1, len(found) // 60)]
    for rec in found:  # at least one of each kind (API shape, stream or not)
        if not any((r.api_shape, r.is_stream) == (rec.api_shape, rec.is_stream) for r in sample):
            sample.append(rec)
    return sample


def _transport(rec: Interaction) -> httpx.MockTransport:
    headers = {k: v for k, v in rec.response_headers.items() if k.lower() not in _SKIPPED_HEADERS}

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(rec.status, headers=headers, content=rec.response_body)

    return httpx.MockTransport(answer)


def _answer(model: Any, stream: bool) -> BaseMessage | Exception:
    try:
        if not stream:
            return model.invoke("hi")
        chunks = list(model.stream("hi"))
        merged = chunks[0]
        for chunk in chunks[1:]:
            merged = merged + chunk
        return merged
    except Exception as error:
        return error


def _view(message: BaseMessage, keys: set[str] | None = None) -> dict[str, Any]:
    metadata = {k: v for k, v in message.response_metadata.items() if keys is None or k in keys}
    return {
        "content": message.content,
        "tool_calls": getattr(message, "tool_calls", None),
        "invalid_tool_calls": getattr(message, "invalid_tool_calls", None),
        "usage_metadata": getattr(message, "usage_metadata", None),
        "additional_kwargs": message.additional_kwargs,
        "id": message.id,
        "response_metadata": metadata,
    }


def replay_differences(rec: Interaction) -> list[Difference]:
    """The differences between the anchor's and our answer to one recorded response."""
    arguments: dict[str, Any] = {
        "azure_endpoint": "https://example-resource.openai.azure.com",
        "api_key": "k",
        "api_version": "2025-03-01-preview",
        "azure_deployment": "gpt-4o-mini",
        "max_retries": 0,
        "use_responses_api": rec.api_shape == "responses",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        anchor = AzureChatOpenAI(**arguments, http_client=httpx.Client(transport=_transport(rec)))
        ours = AzureGatewayChatModel(**arguments, http_client=httpx.Client(transport=_transport(rec)))
        theirs, mine = _answer(anchor, rec.is_stream), _answer(ours, rec.is_stream)
    if isinstance(theirs, Exception) or isinstance(mine, Exception):
        return [Difference("message.raises", type(theirs).__name__, type(mine).__name__)]
    found = differences(_view(theirs), _view(mine, set(theirs.response_metadata)), "message")
    return [Difference(re.sub(r"\[\d+\]", "[*]", d.path), d.anchor, d.ours) for d in found]


REPLAYS = _replayable()


@pytest.mark.parametrize("rec", REPLAYS, ids=[r.name for r in REPLAYS])
def test_recorded_response_gives_the_anchor_message(rec: Interaction) -> None:
    assert_documented(replay_differences(rec), rows(), context=rec.name)


def test_replays_cover_both_api_shapes_and_streams() -> None:
    kinds = {(rec.api_shape, rec.is_stream) for rec in REPLAYS}
    assert kinds == {("chat", False), ("chat", True), ("responses", False), ("responses", True)}
    assert len(REPLAYS) >= 60


def test_logprobs_reach_response_metadata_as_the_anchor_gives_them() -> None:
    rec = next(r for r in REPLAYS if r.api_shape == "chat" and not r.is_stream and b'"content":"' in r.response_body)
    body = json.loads(rec.response_body)
    body["choices"][0]["logprobs"] = {
        "content": [
            {
                "token": "Hi",
                "bytes": [72, 105],
                "logprob": -0.25,
                "top_logprobs": [{"token": "Hi", "bytes": [72, 105], "logprob": -0.25}],
            }
        ],
        "refusal": None,
    }
    edited = Interaction(**{**rec.__dict__, "response_body": json.dumps(body).encode()})
    found = replay_differences(edited)
    assert not [d for d in found if "logprobs" in d.path]
    assert_documented(found, rows(), context="logprobs")
    ours = AzureGatewayChatModel(
        azure_endpoint="https://example-resource.openai.azure.com",
        api_key="k",
        azure_deployment="gpt-4o-mini",
        http_client=httpx.Client(transport=_transport(edited)),
    )
    assert ours.invoke("hi").response_metadata["logprobs"] == body["choices"][0]["logprobs"]


def test_streams_keep_the_id_and_filter_verdicts_the_anchor_drops() -> None:
    rec = next(
        r for r in REPLAYS if r.api_shape == "chat" and r.is_stream and b"prompt_filter_results" in r.response_body
    )
    arguments: dict[str, Any] = {"azure_endpoint": "https://r.openai.azure.com", "api_key": "k", "max_retries": 0}
    arguments |= {"api_version": "2024-10-21", "azure_deployment": "gpt-4o-mini"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        anchor = AzureChatOpenAI(**arguments, http_client=httpx.Client(transport=_transport(rec)))
        ours = AzureGatewayChatModel(**arguments, http_client=httpx.Client(transport=_transport(rec)))
        theirs, mine = _answer(anchor, stream=True), _answer(ours, stream=True)
    assert isinstance(theirs, BaseMessage) and isinstance(mine, BaseMessage)
    for key in ("id", "prompt_filter_results"):
        assert key not in theirs.response_metadata
        assert mine.response_metadata[key]
