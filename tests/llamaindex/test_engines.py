"""AzureGatewayLLM inside LlamaIndex's query engines, chat engines and agents, against the loopback server."""

from __future__ import annotations

import asyncio
import json

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent, ReActAgent
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.tools import FunctionTool

from llamaindex_azure_gateway import AzureGatewayLLM
from shared_core import ListSink
from shared_core.repair import REPAIR_EVENT
from tests.support.azure_server import AzureTestServer, Reply, ToolCall

DOCS = [
    Document(text="The Eiffel Tower is in Paris and is 330 metres tall."),
    Document(text="The Colosseum is in Rome and held 50,000 spectators."),
    Document(text="The Acropolis is in Athens and overlooks the city."),
]


async def _run(agent: FunctionAgent | ReActAgent, question: str) -> object:
    return await agent.run(question)


def _index() -> VectorStoreIndex:
    return VectorStoreIndex.from_documents(DOCS, embed_model=MockEmbedding(embed_dim=8))


def test_query_engine_streams_nonempty_tokens(llm: AzureGatewayLLM, azure: AzureTestServer) -> None:
    engine = _index().as_query_engine(llm=llm, streaming=True)
    response = engine.query("How tall is the Eiffel Tower?")
    tokens = list(response.response_gen)  # type: ignore[union-attr]
    assert len(tokens) > 1 and all(tokens)
    assert "".join(tokens).startswith("You said:")
    prompt = json.dumps(azure.requests[0].json["messages"])
    assert "Eiffel Tower" in prompt and "How tall is the Eiffel Tower?" in prompt  # retrieved context was sent


def test_condense_plus_context_chat_engine(llm: AzureGatewayLLM, azure: AzureTestServer) -> None:
    engine = _index().as_chat_engine(chat_mode="condense_plus_context", llm=llm)
    first = engine.chat("Tell me about Rome.")
    assert str(first).startswith("You said:")
    streamed = engine.stream_chat("And its capacity?")
    tokens = list(streamed.response_gen)
    assert tokens and all(tokens) and "".join(tokens) == str(streamed.response)
    # the second turn condensed the history into a standalone question before answering
    assert len(azure.requests) == 3 and azure.requests[1].stream is False and azure.requests[2].stream is True


def test_function_agent_calls_a_tool_and_answers(llm: AzureGatewayLLM, azure: AzureTestServer) -> None:
    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        return a * b

    azure.script(Reply(tool_calls=(ToolCall("multiply", '{"a": 6, "b": 7}'),)))
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(fn=multiply)], llm=llm)
    result = asyncio.run(_run(agent, "What is 6 times 7? Use the tool."))
    assert str(result).strip() == "The tool returned: 42"
    assert [r.stream for r in azure.requests] == [True, True]  # FunctionAgent streams via astream_chat_with_tools
    second = azure.requests[1].json["messages"]
    assert second[-1] == {"role": "tool", "tool_call_id": second[-2]["tool_calls"][0]["id"], "content": "42"}  # type: ignore[index]


def test_react_agent_reasons_acts_and_answers(llm: AzureGatewayLLM, azure: AzureTestServer) -> None:
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    azure.script(
        Reply('Thought: I need to add.\nAction: add\nAction Input: {"a": 2, "b": 3}', chunks=4),
        Reply("Thought: I can answer without using any more tools.\nAnswer: The sum is 5.", chunks=4),
    )
    agent = ReActAgent(tools=[FunctionTool.from_defaults(fn=add)], llm=llm)
    result = asyncio.run(_run(agent, "What is 2 + 3?"))
    assert "The sum is 5." in str(result)
    assert "Observation: 5" in json.dumps(azure.requests[1].json["messages"])


def _answered_every_call(messages: list[dict[str, object]]) -> bool:
    """Azure's rule, checked on the wire: each assistant tool call is answered by the tool messages right after it."""
    for i, message in enumerate(messages):
        calls = message.get("tool_calls") or []
        wanted = {c["id"] for c in calls}  # type: ignore[index,union-attr]
        answered: set[object] = set()
        for follower in messages[i + 1 :]:
            if follower.get("role") != "tool":
                break
            answered.add(follower.get("tool_call_id"))
        if wanted - answered:
            return False
    return True


def test_function_agent_return_direct_parallel_history_is_repaired_and_accepted(
    make_llm, azure: AzureTestServer
) -> None:  # type: ignore[no-untyped-def]
    def lookup(q: str) -> str:
        """Look something up."""
        return f"found {q}"

    sink = ListSink()
    llm = make_llm(event_sink=sink)
    tool = FunctionTool.from_defaults(fn=lookup, return_direct=True)
    agent = FunctionAgent(tools=[tool], llm=llm)
    memory = ChatMemoryBuffer.from_defaults()
    azure.script(
        Reply(tool_calls=(ToolCall("lookup", '{"q": "x"}', "call_a"), ToolCall("lookup", '{"q": "y"}', "call_b")))
    )

    async def run() -> tuple[str, str]:
        first = await agent.run("look up x and y", memory=memory)
        second = await agent.run("thanks, and now?", memory=memory)
        return str(first), str(second)

    first, second = asyncio.run(run())
    assert first.startswith("found ")
    assert second == "You said: thanks, and now?"
    # LlamaIndex left one call unanswered in memory; the wire request was repaired so Azure accepts it
    stored = [m for m in memory.get_all() if m.role == "tool"]
    assert len(stored) == 1
    sent = azure.requests[-1].json["messages"]
    assert _answered_every_call(sent)  # type: ignore[arg-type]
    assert any(e.name == REPAIR_EVENT for e in sink.events)


def test_function_agent_on_the_responses_api(make_llm, azure: AzureTestServer) -> None:  # type: ignore[no-untyped-def]
    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        return a * b

    llm = make_llm(use_responses_api=True, api_version="2025-04-01-preview")
    azure.script(Reply(tool_calls=(ToolCall("multiply", '{"a": 3, "b": 5}'),)))
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(fn=multiply)], llm=llm)
    assert str(asyncio.run(_run(agent, "3 times 5, use the tool"))).strip() == "The tool returned: 15"
    outputs = [i for i in azure.requests[1].json["input"] if i.get("type") == "function_call_output"]  # type: ignore[union-attr]
    assert [o["output"] for o in outputs] == ["15"]  # type: ignore[index]
