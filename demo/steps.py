"""The demo's steps, each a few lines of ordinary LangChain or LlamaIndex code on this package's classes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from llama_index.core import Document, SummaryIndex
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from llama_index.core.tools import FunctionTool

from demo.console import say, shorten, stream_text
from demo.targets import Models
from langchain_azure_gateway import AzureGatewayChatModel
from llamaindex_azure_gateway import AzureGatewayLLM
from shared_core.costs import CostTotals

__all__ = [
    "add_totals",
    "cost_rows",
    "failover_step",
    "langchain_chain",
    "langchain_repair",
    "langchain_tool_call",
    "llamaindex_agent",
    "llamaindex_query_engine",
]

DOCUMENTS = (
    "The Eiffel Tower is in Paris and is 330 metres tall.",
    "The Colosseum is in Rome and held about 50,000 spectators.",
    "The Acropolis is in Athens and overlooks the city.",
)


def weather_report(city: str) -> str:
    """A stand-in weather service: the same answer every time, so runs compare."""
    return f"18 C and sunny in {city}"


@tool
def get_weather(city: str) -> str:
    """Current weather in a city."""
    return weather_report(city)


def _text(message: BaseMessage) -> str:
    return message.content if isinstance(message.content, str) else ""


def langchain_chain(chat: AzureGatewayChatModel) -> None:
    """A prompt | model | parser chain, streamed chunk by chunk."""
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer in one short sentence."), ("human", "What does {feature} do for an Azure OpenAI app?")]
    )
    chain = prompt | chat | StrOutputParser()
    stats = stream_text(chain.stream({"feature": "deployment failover"}))
    say(f"({stats.chunks} chunks streamed)")


def langchain_tool_call(chat: AzureGatewayChatModel) -> None:
    """The model asks for a tool, the tool runs, the model answers with its result."""
    with_tools = chat.bind_tools([get_weather])
    messages: list[BaseMessage] = [HumanMessage("What's the weather in 'Paris'?")]
    reply = with_tools.invoke(messages)
    if not reply.tool_calls:
        say(f"the model answered without the tool: {shorten(_text(reply))}")
        return
    messages.append(reply)
    for call in reply.tool_calls:
        result = get_weather.invoke(call)  # a ToolCall in, a ToolMessage out
        say(f"tool call: {call['name']}({call['args']}) -> {shorten(_text(result), 60)}")
        messages.append(result)
    say(f"> {shorten(_text(with_tools.invoke(messages)))}")


def langchain_repair(chat: AzureGatewayChatModel) -> None:
    """A history whose tool call has no result (Azure answers 400 to it), sent anyway."""
    lost = {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_demo_lost"}
    history: list[BaseMessage] = [
        HumanMessage("What's the weather in 'Paris'?"),
        AIMessage("", tool_calls=[lost]),  # e.g. the app crashed before the tool answered
        HumanMessage("Never mind. Say hello in five words."),
    ]
    say("history: user, assistant calling get_weather (id call_demo_lost) with no tool result, user")
    reply = chat.bind_tools([get_weather]).invoke(history)
    repairs = reply.response_metadata.get("conversation_repairs")
    say(f"response_metadata['conversation_repairs'] = {repairs}")
    asked = ", ".join(call["name"] for call in reply.tool_calls)
    say(f"> {shorten(_text(reply))}" if _text(reply) else f"(the model asked for {asked or 'nothing'})")


def llamaindex_query_engine(llm: AzureGatewayLLM) -> None:
    """A query engine over a three-document index (a summary index: no embedding model needed), streamed."""
    index = SummaryIndex.from_documents([Document(text=text) for text in DOCUMENTS])
    engine = index.as_query_engine(llm=llm, streaming=True)
    response = engine.query("How tall is the Eiffel Tower?")
    stats = stream_text(response.response_gen)  # type: ignore[union-attr]  # streaming=True gives a stream
    say(f"({stats.chunks} chunks streamed)")


def llamaindex_agent(llm: AzureGatewayLLM) -> None:
    """A ``FunctionAgent`` that calls a tool and answers with its result."""
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(fn=weather_report, name="get_weather")], llm=llm)

    async def run() -> str:
        handler = agent.run(user_msg="What's the weather in 'Rome'?")
        async for event in handler.stream_events():
            if isinstance(event, ToolCallResult):
                say(f"tool call: {event.tool_name}({event.tool_kwargs}) -> {shorten(str(event.tool_output), 60)}")
        return str(await handler)

    say(f"> {shorten(asyncio.run(run()))}")


def _streamed(chat: AzureGatewayChatModel, question: str, sink: list[AIMessageChunk]) -> Iterator[str]:
    for chunk in chat.stream(question):
        sink.append(chunk)
        yield _text(chunk)


def _answered_by(cost: object) -> str:
    """``region/deployment`` (or the deployment alone on a single endpoint) and the call's cost."""
    if not isinstance(cost, dict):
        return "answered (no cost reported)"
    where = f"{cost['endpoint']}/{cost['deployment']}" if cost.get("endpoint") else cost.get("deployment")
    amount = "unknown" if cost.get("amount") is None else f"{cost['amount']:.6f} USD"
    return f"answered by {where}; cost {amount}"


def failover_step(models: Models) -> None:
    """One streamed LangChain call and one LlamaIndex call while the first region fails."""
    started = time.perf_counter()
    chunks: list[AIMessageChunk] = []
    say("LangChain, streamed:")
    stream_text(_streamed(models.chat, "Which region answered?", chunks))
    whole = sum(chunks[1:], chunks[0]) if chunks else None
    say(_answered_by(whole.response_metadata.get("cost") if whole is not None else None))
    say("LlamaIndex:")
    answer = models.llm.complete("Which region answered?")
    say(f"> {shorten(answer.text)}")
    say(_answered_by(answer.raw.get("cost") if isinstance(answer.raw, dict) else None))
    say(f"both calls took {(time.perf_counter() - started) * 1000:.0f} ms")


def add_totals(a: CostTotals, b: CostTotals) -> CostTotals:
    """The totals of two groups of calls together."""
    return CostTotals(
        a.calls + b.calls,
        a.input_tokens + b.input_tokens,
        a.cached_input_tokens + b.cached_input_tokens,
        a.output_tokens + b.output_tokens,
        a.amount + b.amount,
        a.unknown_cost_calls + b.unknown_cost_calls,
    )


def cost_rows(all_models: list[Models]) -> dict[str, CostTotals]:
    """Each deployment's totals over every model's ``cost_tracker`` (each model keeps its own)."""
    rows: dict[str, CostTotals] = {}
    for models in all_models:
        for tracker in (models.chat.cost_tracker, models.llm.cost_tracker):
            for name, totals in tracker.totals_by_deployment().items():
                rows[name] = add_totals(rows.get(name, CostTotals()), totals)
    return dict(sorted(rows.items()))
