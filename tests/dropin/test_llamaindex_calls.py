"""The call matrix: every way LlamaIndex code drives an LLM, run on llama-index's AzureOpenAI /
AzureOpenAIResponses and on AzureGatewayLLM against the same emulator; what Azure receives and what the caller
gets back must be equal, except for the rows of the README table "Differences from llama-index AzureOpenAI".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent, ReActAgent
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from azure_openai_emulator import AzureEmulator
from tests.dropin.llamaindex_support import (
    API_KEY,
    Difference,
    build_pair,
    capture,
    memo,
    request_differences,
    result_differences,
    undocumented,
)

MESSAGES = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="hello there")]


class Song(BaseModel):
    """A song."""

    title: str
    year: int


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


MULTIPLY = FunctionTool.from_defaults(fn=multiply)
SONG_PROMPT = PromptTemplate("Name a song from {year}.")


def _collect(agen_factory: Callable[[], Any]) -> list[Any]:
    async def go() -> list[Any]:
        return [item async for item in await agen_factory()]

    return asyncio.run(go())


def _agent(kind: type[FunctionAgent] | type[ReActAgent], llm: FunctionCallingLLM, *, streaming: bool = False) -> str:
    agent = kind(tools=[MULTIPLY], llm=llm, streaming=streaming)

    async def go() -> str:
        return str(await agent.run("What is 6 times 7? Use the multiply tool."))

    return asyncio.run(go())


def _query_engine(llm: FunctionCallingLLM) -> str:
    index = VectorStoreIndex.from_documents(
        [Document(text="The Eiffel Tower is 330 metres tall.")], embed_model=MockEmbedding(embed_dim=8)
    )
    response = index.as_query_engine(llm=llm, streaming=True).query("How tall is the Eiffel Tower?")
    return "".join(response.response_gen)  # pyright: ignore[reportAttributeAccessIssue]


SCENARIOS: dict[str, Callable[[FunctionCallingLLM], object]] = {
    "chat": lambda llm: llm.chat(MESSAGES),
    "achat": lambda llm: asyncio.run(llm.achat(MESSAGES)),
    "complete": lambda llm: llm.complete("hello there"),
    "acomplete": lambda llm: asyncio.run(llm.acomplete("hello there")),
    "stream_chat": lambda llm: list(llm.stream_chat(MESSAGES)),
    "astream_chat": lambda llm: _collect(lambda: llm.astream_chat(MESSAGES)),
    "stream_complete": lambda llm: list(llm.stream_complete("hello there")),
    "astream_complete": lambda llm: _collect(lambda: llm.astream_complete("hello there")),
    "chat_with_tools": lambda llm: llm.chat_with_tools([MULTIPLY], "multiply 6 by 7"),
    "stream_chat_with_tools": lambda llm: list(llm.stream_chat_with_tools([MULTIPLY], "multiply 6 by 7")),
    "predict_and_call": lambda llm: str(llm.predict_and_call([MULTIPLY], "multiply 6 by 7")),
    "structured_predict": lambda llm: llm.structured_predict(Song, SONG_PROMPT, year="1999"),
    "astructured_predict": lambda llm: asyncio.run(llm.astructured_predict(Song, SONG_PROMPT, year="1999")),
    "stream_structured_predict": lambda llm: list(llm.stream_structured_predict(Song, SONG_PROMPT, year="1999")),
    "astream_structured_predict": lambda llm: _collect(
        lambda: llm.astream_structured_predict(Song, SONG_PROMPT, year="1999")
    ),
    "as_structured_llm.chat": lambda llm: llm.as_structured_llm(Song).chat(MESSAGES).raw,
    "as_structured_llm.stream_chat": lambda llm: [c.raw for c in llm.as_structured_llm(Song).stream_chat(MESSAGES)],
    "as_structured_llm.astream_chat": lambda llm: [
        c.raw for c in _collect(lambda: llm.as_structured_llm(Song).astream_chat(MESSAGES))
    ],
    "FunctionAgent": lambda llm: _agent(FunctionAgent, llm),
    "FunctionAgent.streaming": lambda llm: _agent(FunctionAgent, llm, streaming=True),
    "ReActAgent": lambda llm: _agent(ReActAgent, llm),
    "ReActAgent.streaming": lambda llm: _agent(ReActAgent, llm, streaming=True),
    "query_engine_streaming": _query_engine,
}

# The Responses anchor builds its structured output with the SDK's responses.parse (not through chat): the
# same scenarios run, compared on results; see the README rows for the request shape.
RESPONSES_SCENARIOS = tuple(SCENARIOS)


@pytest.fixture(scope="module")
def emulator() -> Iterator[AzureEmulator]:
    with AzureEmulator(api_key=API_KEY) as running:
        yield running


def run_both(
    emulator: AzureEmulator, scenario: Callable[[FunctionCallingLLM], object], *, tag: str = "", **kwargs: Any
) -> list[Difference]:
    """Run one scenario on the anchor and on ours: every request and result difference found (ids ``tag``-ged)."""
    anchor, ours = build_pair(emulator.endpoint, **kwargs)
    a_result, a_requests = capture(emulator, lambda: scenario(anchor))
    o_result, o_requests = capture(emulator, lambda: scenario(ours))
    found: list[Difference] = []
    if len(a_requests) != len(o_requests):
        found.append(Difference("requests.count", f"{len(a_requests)} vs {len(o_requests)}"))
    for a_request, o_request in zip(a_requests, o_requests, strict=False):
        found += request_differences(a_request, o_request)
    found += result_differences(a_result, o_result)
    return [Difference(tag + d.id, d.detail) for d in found]


# Without model=, llama-index assumes gpt-35-turbo (structured output by function call); we read the
# deployment's model. The scenarios where that matters run both ways.
MODEL_UNSET_SCENARIOS = ("chat", "stream_chat", "chat_with_tools", *(n for n in SCENARIOS if "structured" in n))
CHAT_MATRIX = [(n, "gpt-4o-mini") for n in SCENARIOS] + [(n, None) for n in MODEL_UNSET_SCENARIOS]


def matrix_differences(emulator: AzureEmulator, kind: str, name: str) -> list[Difference]:
    """One matrix cell: ``kind`` is ``chat``, ``responses`` or ``unset`` (Chat Completions without model=)."""
    scenario = SCENARIOS[name]
    if kind == "unset":
        return memo((kind, name), lambda: run_both(emulator, scenario, tag="model-unset:"))
    return memo((kind, name), lambda: run_both(emulator, scenario, responses=kind == "responses", model="gpt-4o-mini"))


@pytest.mark.parametrize(("name", "model"), CHAT_MATRIX)
def test_llamaindex_chat_api_call_matrix_differs_only_as_documented(
    emulator: AzureEmulator, name: str, model: str | None
) -> None:
    found = matrix_differences(emulator, "chat" if model else "unset", name)
    assert undocumented(found) == []


@pytest.mark.parametrize("name", RESPONSES_SCENARIOS)
def test_llamaindex_responses_api_call_matrix_differs_only_as_documented(emulator: AzureEmulator, name: str) -> None:
    found = matrix_differences(emulator, "responses", name)
    assert undocumented(found) == []
