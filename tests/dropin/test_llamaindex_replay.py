"""Real Azure answers (``../shared/azure-recordings``) replayed to llama-index's AzureOpenAI /
AzureOpenAIResponses and to AzureGatewayLLM: what the caller reads must be equal, except for the rows of the
README table "Differences from llama-index AzureOpenAI"; an error answer must be an error for both.
"""

from __future__ import annotations

import collections
import re
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage

from tests.dropin.llamaindex_support import Difference, build_pair, result_differences, undocumented
from tests.support.recordings import Interaction, azure_interactions

ENDPOINT = "https://example-resource.openai.azure.com"
MESSAGES = [ChatMessage(role="user", content="hello")]


def _replayable() -> list[Interaction]:
    """Chat and Responses answers (hand-edited fixtures aside), one per recorded exchange.

    Mirascope recorded most exchanges four times (sync, async, stream, async stream) and under three provider
    names; one of each keeps the suite fast without losing a shape.
    """
    chosen: dict[tuple[str, int, str, bool], Interaction] = {}
    for i in azure_interactions():
        if i.api_shape not in ("chat", "responses") or i.hand_edited or i.status not in (200, 400, 404):
            continue
        stem = re.sub(r"__(async_stream|stream|async|sync)\.yaml$", "", i.source.name)
        stem = re.sub(r"azure(-openai_completions|-openai_responses|_openai)?_", "azure_", stem)
        chosen.setdefault((stem, i.index, i.api_shape, i.is_stream), i)
    return list(chosen.values())


def _transport(interaction: Interaction) -> httpx.MockTransport:
    headers = {
        k: v
        for k, v in interaction.response_headers.items()
        if k not in ("content-length", "content-encoding", "transfer-encoding")
    }

    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(interaction.status, headers=headers, content=interaction.response_body)

    return httpx.MockTransport(answer)


def _run(llm: Any, stream: bool) -> tuple[object, type[BaseException] | None]:
    try:
        return (list(llm.stream_chat(MESSAGES)) if stream else llm.chat(MESSAGES)), None
    except Exception as error:
        return None, type(error)


def replay_differences(interaction: Interaction) -> list[Difference]:
    """Replay one recorded answer to both classes and compare what each caller gets."""
    responses = interaction.api_shape == "responses"
    transport = _transport(interaction)
    anchor, ours = build_pair(
        ENDPOINT, responses=responses, model="gpt-4o-mini", http_client=httpx.Client(transport=transport)
    )
    a_result, a_error = _run(anchor, interaction.is_stream)
    o_result, o_error = _run(ours, interaction.is_stream)
    if (a_error is None) != (o_error is None):
        return [Difference("replay.outcome", f"{interaction.name}: {a_error} vs {o_error}")]
    if a_error is not None:
        return []
    return [Difference(d.id, f"{interaction.name}: {d.detail}") for d in result_differences(a_result, o_result)]


REPLAYED = _replayable()


@pytest.mark.parametrize(
    "group",
    sorted({(i.api_shape, i.is_stream, i.status == 200) for i in REPLAYED}),
    ids=lambda g: "-".join(map(str, g)),
)
def test_llamaindex_replayed_azure_answers_read_the_same_except_as_documented(group: tuple[str, bool, bool]) -> None:
    interactions = [i for i in REPLAYED if (i.api_shape, i.is_stream, i.status == 200) == group]
    found: list[Difference] = []
    for interaction in interactions:
        found += replay_differences(interaction)
    by_id = collections.Counter(d.id for d in undocumented(found))
    assert not by_id, [d for d in undocumented(found)][:5]
    assert interactions
