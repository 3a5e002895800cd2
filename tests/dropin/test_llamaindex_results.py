"""Result shapes and metadata as llama-index's AzureOpenAI has them: ``metadata`` for known models (and never
an error for unknown ones), tool calls where llama-index-core reads them, streaming structured output filled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from unittest.mock import ANY

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage, ToolCallBlock
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from llama_index.llms.azure_openai import AzureOpenAI
from pydantic import BaseModel

from azure_openai_emulator import AzureEmulator
from llamaindex_azure_gateway import AzureGatewayLLM, ConversationRepairedEvent
from tests.dropin.llamaindex_support import API_KEY, Difference, build_pair, result_differences, undocumented
from tests.support.llamaindex_events import Recorder

MESSAGES = [ChatMessage(role="user", content="hello")]

KNOWN_MODELS = [
    "gpt-35-turbo", "gpt-4", "gpt-4-32k", "gpt-4-turbo", "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini",
    "gpt-4.1-nano", "gpt-5", "gpt-5-mini", "gpt-5-nano", "o1", "o1-mini", "o3", "o3-mini", "o4-mini",
]  # fmt: skip
OFFLINE = {"engine": "d", "azure_endpoint": "https://r.openai.azure.com", "api_key": "k", "api_version": "2024-10-21"}


class Song(BaseModel):
    """A song."""

    title: str
    year: int


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


@pytest.fixture(scope="module")
def emulator() -> Iterator[AzureEmulator]:
    with AzureEmulator(api_key=API_KEY) as running:
        yield running


def metadata_differences(model: str) -> list[Difference]:
    """Compare ``metadata`` field by field for one model name (no network)."""
    anchor = AzureOpenAI(model=model, **OFFLINE).metadata.model_dump()
    ours = AzureGatewayLLM(model=model, **OFFLINE).metadata.model_dump()
    return [
        Difference(f"metadata.{k}", f"{model}: {anchor[k]!r} vs {ours[k]!r}") for k in anchor if anchor[k] != ours[k]
    ]


@pytest.mark.parametrize("model", KNOWN_MODELS)
def test_llamaindex_metadata_matches_for_known_models(model: str) -> None:
    assert undocumented(metadata_differences(model)) == []


def test_llamaindex_metadata_never_raises_for_an_unknown_model() -> None:
    with pytest.raises(ValueError, match="Unknown model"):
        _ = AzureOpenAI(model="my-finetune-x", **OFFLINE).metadata
    metadata = AzureGatewayLLM(model="my-finetune-x", **OFFLINE).metadata
    assert metadata.context_window > 0
    assert metadata.model_name == "my-finetune-x"


def test_llamaindex_metadata_context_window_field_overrides_the_profile() -> None:
    assert AzureGatewayLLM(model="gpt-4o", context_window=1000, **OFFLINE).metadata.context_window == 1000


@pytest.mark.parametrize("responses", [False, True], ids=["chat", "responses"])
def test_llamaindex_tool_calls_in_additional_kwargs_on_chat_stream_and_async(
    emulator: AzureEmulator, responses: bool
) -> None:
    _, llm = build_pair(emulator.endpoint, responses=responses, model="gpt-4o-mini")
    tool = FunctionTool.from_defaults(fn=multiply)
    chat = llm.chat_with_tools([tool], "multiply 6 by 7")
    stream = list(llm.stream_chat_with_tools([tool], "multiply 6 by 7"))

    async def astream() -> list[object]:
        return [c async for c in await llm.astream_chat_with_tools([tool], "multiply 6 by 7")]

    for response in (chat, stream[-1], asyncio.run(astream())[-1]):
        calls = response.message.additional_kwargs["tool_calls"]  # pyright: ignore[reportAttributeAccessIssue]
        assert [(c.type, c.function.name) for c in calls] == [("function", "multiply")]
        assert calls[0].function.arguments == '{"a": 6, "b": 7}'
        assert calls[0].id.startswith("call_")


@pytest.mark.parametrize("responses", [False, True], ids=["chat", "responses"])
@pytest.mark.parametrize("mode", ["default", "function"])
def test_llamaindex_streaming_structured_output_yields_filled_objects(
    emulator: AzureEmulator, responses: bool, mode: str
) -> None:
    from llama_index.core.types import PydanticProgramMode

    program_mode = PydanticProgramMode.FUNCTION if mode == "function" else PydanticProgramMode.DEFAULT
    _, llm = build_pair(emulator.endpoint, responses=responses, model="gpt-4o-mini", pydantic_program_mode=program_mode)
    prompt = PromptTemplate("Name a song from {year}.")
    streamed = list(llm.stream_structured_predict(Song, prompt, year="1999"))
    structured = llm.as_structured_llm(Song)
    chunks = list(structured.stream_chat([ChatMessage(role="user", content="a song from 1999")]))

    async def astream() -> list[object]:
        return [c.raw async for c in await structured.astream_chat([ChatMessage(role="user", content="a song")])]

    for last in (streamed[-1], chunks[-1].raw, asyncio.run(astream())[-1]):
        assert isinstance(last, Song)
        assert last.title


def _logprob(token: str, logprob: float, top: list[tuple[str, float]]) -> dict[str, object]:
    return {
        "token": token,
        "logprob": logprob,
        "bytes": list(token.encode()),
        "top_logprobs": [{"token": t, "logprob": p, "bytes": list(t.encode())} for t, p in top],
    }


# A Chat Completions answer with log probabilities, in Azure's shape (the recordings hold none).
LOGPROBS_ANSWER = {
    "id": "chatcmpl-logprobs1",
    "object": "chat.completion",
    "created": 1733000000,
    "model": "gpt-4o-mini-2024-07-18",
    "system_fingerprint": "fp_efad92c60b",
    "prompt_filter_results": [],
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Hi there"},
            "logprobs": {
                "content": [
                    _logprob("Hi", -0.1, [("Hi", -0.1), ("Hello", -2.3)]),
                    _logprob(" there", -0.2, [(" there", -0.2), ("!", -1.9)]),
                ],
                "refusal": None,
            },
            "content_filter_results": {},
        }
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}


def test_llamaindex_logprobs_read_the_same_as_the_anchor() -> None:
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=LOGPROBS_ANSWER, headers={"apim-request-id": "r-1"})

    client = httpx.Client(transport=httpx.MockTransport(answer))
    anchor, ours = build_pair(
        "https://r.openai.azure.com", model="gpt-4o-mini", logprobs=True, top_logprobs=2, http_client=client
    )
    a_response, o_response = anchor.chat(MESSAGES), ours.chat(MESSAGES)
    assert undocumented(result_differences(a_response, o_response)) == []
    assert o_response.logprobs is not None
    assert [[(p.token, p.logprob) for p in token] for token in o_response.logprobs] == [
        [("Hi", -0.1), ("Hello", -2.3)],
        [(" there", -0.2), ("!", -1.9)],
    ]


# A tool call whose result never came: Azure would answer 400; the gateway repairs it before sending.
DANGLING = [
    ChatMessage(role="user", content="look up x"),
    ChatMessage(
        role="assistant",
        blocks=[ToolCallBlock(tool_call_id="call_lost", tool_name="lookup", tool_kwargs={"q": "x"})],
    ),
    ChatMessage(role="user", content="never mind, say hi"),
]


@pytest.mark.parametrize("how", ["chat", "stream_chat", "astream_chat"])
def test_llamaindex_repairs_are_reported_in_the_response_and_as_an_event(
    emulator: AzureEmulator, recorder: Recorder, how: str
) -> None:
    _, llm = build_pair(emulator.endpoint, model="gpt-4o-mini")
    seen_before_first_chunk: list[int] = []
    if how == "chat":
        response = llm.chat(DANGLING)
    else:
        chunks = []
        stream = llm.stream_chat(DANGLING) if how == "stream_chat" else None
        if stream is not None:
            for chunk in stream:
                seen_before_first_chunk.append(len(_repair_events(recorder)))
                chunks.append(chunk)
        else:

            async def collect() -> None:
                async for chunk in await llm.astream_chat(DANGLING):
                    seen_before_first_chunk.append(len(_repair_events(recorder)))
                    chunks.append(chunk)

            asyncio.run(collect())
        response = chunks[-1]
        assert seen_before_first_chunk[0] == 1
    expected = {"count": 1, "repairs": [["call_lost", "lookup"]], "actions": [ANY]}
    assert response.additional_kwargs["conversation_repairs"] == expected
    assert response.raw["conversation_repairs"] == expected  # pyright: ignore[reportOptionalSubscript]
    [event] = _repair_events(recorder)
    assert event.repairs == [{"tool_call_id": "call_lost", "tool_name": "lookup", "action": ANY}]


def _repair_events(recorder: Recorder) -> list[ConversationRepairedEvent]:
    return [e for e in recorder.events if isinstance(e, ConversationRepairedEvent)]


def test_llamaindex_no_repair_key_when_nothing_was_repaired(emulator: AzureEmulator) -> None:
    _, llm = build_pair(emulator.endpoint, model="gpt-4o-mini")
    response = llm.chat(MESSAGES)
    assert "conversation_repairs" not in response.additional_kwargs
    assert response.raw["conversation_repairs"] is None  # pyright: ignore[reportOptionalSubscript]


def test_llamaindex_logprobs_on_the_responses_api_ask_azure_for_them(emulator: AzureEmulator) -> None:
    _, llm = build_pair(emulator.endpoint, responses=True, model="gpt-4o-mini", logprobs=True, top_logprobs=2)
    emulator.reset()
    llm.chat(MESSAGES)
    body = emulator.requests[-1].json
    assert body["top_logprobs"] == 2
    assert "message.output_text.logprobs" in body["include"]  # pyright: ignore[reportOperatorIssue]
