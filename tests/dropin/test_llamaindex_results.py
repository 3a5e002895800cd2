"""Result shapes and metadata as llama-index's AzureOpenAI has them: ``metadata`` for known models (and never
an error for unknown ones), tool calls where llama-index-core reads them, streaming structured output filled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from llama_index.llms.azure_openai import AzureOpenAI
from pydantic import BaseModel

from llamaindex_azure_gateway import AzureGatewayLLM
from shared_core.emulator import AzureEmulator
from tests.dropin.llamaindex_support import API_KEY, Difference, build_pair, undocumented

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
