"""One call through one channel, in one mode, and what its caller saw.

A channel is a way users reach Azure through this project: the core :class:`~shared_core.Gateway`, LangChain's
:class:`~langchain_azure_gateway.AzureGatewayChatModel` or LlamaIndex's
:class:`~llamaindex_azure_gateway.AzureGatewayLLM`. A mode is ``complete`` / ``acomplete`` / ``stream`` /
``astream`` (``invoke`` / ``ainvoke`` / ``stream`` / ``astream`` in LangChain, ``chat`` / ``achat`` /
``stream_chat`` / ``astream_chat`` in LlamaIndex). :func:`run` records, in the caller's own terms, the text
pieces in the order they arrived, the final text, the tool calls (valid and invalid) and the error, so one
assertion covers all three channels.

The frameworks take ``max_retries`` only; their gateway's backoff is shortened here (its public
``retry_policy``, same ``max_retries``) so a retried fault costs milliseconds. What the matrix asserts, the
number of HTTP attempts, is still set by the framework's own ``max_retries`` field.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias

from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole
from pydantic import SecretStr

from langchain_azure_gateway import AzureGatewayChatModel
from llamaindex_azure_gateway import AzureGatewayLLM
from shared_core import (
    ChatRequest,
    ChatResult,
    Gateway,
    GenerationSettings,
    ListSink,
    Message,
    RetryPolicy,
    StreamEvent,
    TextDelta,
    ToolSpec,
    load_config,
)
from shared_core.messages import JsonValue
from shared_core.result import StreamAccumulator

__all__ = [
    "BLOCKING",
    "CHANNELS",
    "DEPLOYMENT",
    "KEY",
    "MODES",
    "STREAMS",
    "WEATHER",
    "Api",
    "Channel",
    "Client",
    "Mode",
    "Prompt",
    "Seen",
    "Target",
    "arun",
    "build",
    "fast_retries",
    "run",
]

KEY = "fault-matrix-key"
DEPLOYMENT = "gpt-4o-mini"
Channel = Literal["gateway", "langchain", "llamaindex"]
CHANNELS: tuple[Channel, ...] = ("gateway", "langchain", "llamaindex")
Mode = Literal["complete", "acomplete", "stream", "astream"]
MODES: tuple[Mode, ...] = ("complete", "acomplete", "stream", "astream")
STREAMS: tuple[Mode, ...] = ("stream", "astream")
BLOCKING: tuple[Mode, ...] = ("complete", "acomplete")
Api = Literal["chat", "responses"]
Client: TypeAlias = Gateway | AzureGatewayChatModel | AzureGatewayLLM

WEATHER = ToolSpec(
    "get_weather",
    "The weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def fast_retries(max_retries: int = 2, *, deadline: float | None = 10.0) -> RetryPolicy:
    """Backoff of a few milliseconds; a server's Retry-After is still honoured in full."""
    return RetryPolicy(max_retries=max_retries, base_delay=0.01, max_delay=0.02, jitter=0.0, deadline=deadline)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a channel's client points and how it retries.

    Attributes:
        endpoint: The emulator's endpoint.
        deployment: The default deployment.
        api: Chat Completions or Responses.
        max_retries: Retries after the first attempt (the framework field of that name).
        deadline: The whole call's deadline.
        sink: Receives the gateway's events.
        key: The API key sent.
        model: The base model behind ``deployment`` (``deployment_models``), when its name does not say.
        managed_identity: Authenticate with the managed identity the environment points at, not the key.
        http_client: A user's ``httpx.Client`` for sync calls.
        async_http_client: A user's ``httpx.AsyncClient`` for async calls.
        max_tokens: The output limit the client sets (``None``: the client sends none, as the anchors).
    """

    endpoint: str
    deployment: str = DEPLOYMENT
    api: Api = "chat"
    max_retries: int = 2
    deadline: float | None = 10.0
    sink: ListSink = field(default_factory=ListSink)
    key: str = KEY
    model: str | None = None
    managed_identity: bool = False
    http_client: Any = None
    async_http_client: Any = None
    max_tokens: int | None = None

    @property
    def api_version(self) -> str:
        return "2024-10-21" if self.api == "chat" else "v1"

    @property
    def api_key(self) -> str | None:
        return None if self.managed_identity else self.key

    @property
    def deployment_models(self) -> dict[str, str] | None:
        return {self.deployment: self.model} if self.model else None


def build(channel: Channel, target: Target) -> Client:
    """The channel's client, pointed at ``target``."""
    responses = target.api == "responses"
    policy = fast_retries(target.max_retries, deadline=target.deadline)
    match channel:
        case "gateway":
            config = load_config(
                env={},
                endpoint=target.endpoint,
                api_key=target.api_key,
                use_managed_identity=target.managed_identity or None,
                default_deployment=target.deployment,
                api_version=target.api_version,
                max_retries=target.max_retries,
                deployment_models=target.deployment_models,
                max_tokens=target.max_tokens,
            )
            return Gateway(
                config,
                api=target.api,
                retry_policy=policy,
                event_sink=target.sink,
                http_client=target.http_client,
                async_http_client=target.async_http_client,
            )
        case "langchain":
            model = AzureGatewayChatModel(
                endpoint=target.endpoint,
                api_key=_secret(target.api_key),
                use_managed_identity=target.managed_identity or None,
                deployment=target.deployment,
                api_version=target.api_version,
                max_retries=target.max_retries,
                use_responses_api=responses,
                deployment_models=target.deployment_models,
                event_sink=target.sink,
                http_client=target.http_client,
                http_async_client=target.async_http_client,
                max_tokens=target.max_tokens,
            )
            model.gateway.retry_policy = _shortened(model.gateway.retry_policy, target)
            return model
        case "llamaindex":
            llm = AzureGatewayLLM(
                engine=target.deployment,
                azure_endpoint=target.endpoint,
                api_key=_secret(target.api_key),
                use_managed_identity=target.managed_identity,
                api_version=target.api_version,
                max_retries=target.max_retries,
                use_responses_api=responses,
                deployment_models=target.deployment_models or {},
                event_sink=target.sink,
                http_client=target.http_client,
                async_http_client=target.async_http_client,
                max_tokens=target.max_tokens,
            )
            llm.gateway.retry_policy = _shortened(llm.gateway.retry_policy, target)
            return llm


def _shortened(policy: RetryPolicy, target: Target) -> RetryPolicy:
    # max_retries stays what the framework's own field configured: that is what the attempt counts check.
    return replace(policy, base_delay=0.01, max_delay=0.02, jitter=0.0, deadline=target.deadline)


def _secret(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class Prompt:
    """What is asked: one user message, optionally with tools and per-call options.

    Attributes:
        text: The user message.
        tools: Tools offered.
        options: Call options as the frameworks spell them (``temperature``, ``extra_body``,
            ``previous_response_id``); the gateway's request gets the same.
    """

    text: str = "hello"
    tools: tuple[ToolSpec, ...] = ()
    options: Mapping[str, Any] = field(default_factory=lambda: {})


@dataclass
class Seen:
    """What the caller saw.

    Attributes:
        pieces: Text deltas in arrival order (streams only; empty pieces included, so they can be asserted).
        text: The final text: the result's, or the pieces joined when the stream broke.
        tool_calls: ``(id, name, arguments)`` of every parsed tool call the caller received.
        invalid_tool_calls: ``(id, name, raw arguments)`` of every call whose arguments did not parse.
        prompt_filter_results: How many prompt-filter verdicts the result carried.
        content_filter: The verdict on the completion, merged over the stream.
        finish_reason: As the channel reports it.
        error: What the call raised, if anything.
        raw: What the channel returned, as it returned it (the result, or every event or chunk).
    """

    pieces: list[str] = field(default_factory=lambda: [])
    text: str = ""
    tool_calls: list[tuple[str | None, str | None, JsonValue]] = field(default_factory=lambda: [])
    invalid_tool_calls: list[tuple[str | None, str | None, str | None]] = field(default_factory=lambda: [])
    prompt_filter_results: int = 0
    content_filter: dict[str, Any] = field(default_factory=lambda: {})
    finish_reason: str | None = None
    error: BaseException | None = None
    raw: list[object] = field(default_factory=lambda: [])

    @property
    def joined(self) -> str:
        return "".join(self.pieces)


def run(client: Client, mode: Mode, prompt: Prompt = Prompt()) -> Seen:
    """Make one call (an async mode in a new event loop); exceptions are kept in ``Seen.error``, never raised."""
    if mode in ("acomplete", "astream"):
        return asyncio.run(arun(client, mode, prompt))
    seen = Seen()
    try:
        if isinstance(client, Gateway):
            _sync_gateway(client, mode, prompt, seen)
        elif isinstance(client, AzureGatewayChatModel):
            _sync_langchain(client, mode, prompt, seen)
        else:
            _sync_llamaindex(client, mode, prompt, seen)
    except Exception as error:  # the point is to record whatever the caller would catch
        seen.error = error
        seen.text = seen.text or seen.joined
    return seen


async def arun(client: Client, mode: Mode, prompt: Prompt = Prompt()) -> Seen:
    """Make one call in ``acomplete`` or ``astream`` mode on the running loop; as :func:`run`."""
    seen = Seen()
    try:
        if isinstance(client, Gateway):
            await _async_gateway(client, mode, prompt, seen)
        elif isinstance(client, AzureGatewayChatModel):
            await _async_langchain(client, mode, prompt, seen)
        else:
            await _async_llamaindex(client, mode, prompt, seen)
    except Exception as error:  # the point is to record whatever the caller would catch
        seen.error = error
        seen.text = seen.text or seen.joined
    return seen


# -- the gateway --------------------------------------------------------------------------------------------------


def _core_request(prompt: Prompt) -> ChatRequest:
    options = dict(prompt.options)
    settings = GenerationSettings(
        temperature=options.pop("temperature", None), extra_body=options.pop("extra_body", {})
    )
    previous = options.pop("previous_response_id", None)
    assert not options, f"no core spelling for {sorted(options)}"
    return ChatRequest(
        (Message.user(prompt.text),), tools=prompt.tools, settings=settings, previous_response_id=previous
    )


def _sync_gateway(gateway: Gateway, mode: Mode, prompt: Prompt, seen: Seen) -> None:
    events: list[StreamEvent] = []
    if mode == "complete":
        seen.raw = [result := gateway.complete(_core_request(prompt))]
        _read_core_result(result, seen)
        return
    try:
        for event in gateway.stream(_core_request(prompt)):
            events.append(event)
    finally:
        seen.pieces, seen.raw = [e.text for e in events if isinstance(e, TextDelta)], list(events)
    _read_core_result(_fold(events), seen)


async def _async_gateway(gateway: Gateway, mode: Mode, prompt: Prompt, seen: Seen) -> None:
    events: list[StreamEvent] = []
    if mode == "acomplete":
        seen.raw = [result := await gateway.acomplete(_core_request(prompt))]
        _read_core_result(result, seen)
        return
    try:
        async for event in gateway.astream(_core_request(prompt)):
            events.append(event)
    finally:
        seen.pieces, seen.raw = [e.text for e in events if isinstance(e, TextDelta)], list(events)
    _read_core_result(_fold(events), seen)


def _fold(events: list[StreamEvent]) -> ChatResult:
    accumulator = StreamAccumulator()
    for event in events:
        accumulator.add(event)
    return accumulator.result()


def _read_core_result(result: ChatResult, seen: Seen) -> None:
    seen.text = result.text
    seen.tool_calls = [(c.id, c.name, c.arguments) for c in result.tool_calls]
    seen.invalid_tool_calls = [(c.id, c.name, c.raw_arguments) for c in result.invalid_tool_calls]
    seen.prompt_filter_results = len(result.prompt_filter_results)
    seen.content_filter = dict(result.content_filter_results)
    seen.finish_reason = result.finish_reason


# -- LangChain ----------------------------------------------------------------------------------------------------


def _langchain_runnable(model: AzureGatewayChatModel, prompt: Prompt) -> Any:
    if not prompt.tools:
        return model
    tools = [{"type": "function", "function": {"name": t.name, "parameters": dict(t.parameters)}} for t in prompt.tools]
    return model.bind_tools(tools)


def _sync_langchain(model: AzureGatewayChatModel, mode: Mode, prompt: Prompt, seen: Seen) -> None:
    runnable, messages = _langchain_runnable(model, prompt), [HumanMessage(prompt.text)]
    if mode == "complete":
        seen.raw = [message := runnable.invoke(messages, **prompt.options)]
        _read_langchain_message(message, seen)
        return
    chunks: list[AIMessageChunk] = []
    try:
        for chunk in runnable.stream(messages, **prompt.options):
            chunks.append(chunk)
    finally:
        seen.pieces, seen.raw = _langchain_pieces(chunks), list(chunks)
    _read_langchain_message(_fold_chunks(chunks), seen)


async def _async_langchain(model: AzureGatewayChatModel, mode: Mode, prompt: Prompt, seen: Seen) -> None:
    runnable, messages = _langchain_runnable(model, prompt), [HumanMessage(prompt.text)]
    if mode == "acomplete":
        seen.raw = [message := await runnable.ainvoke(messages, **prompt.options)]
        _read_langchain_message(message, seen)
        return
    chunks: list[AIMessageChunk] = []
    try:
        async for chunk in runnable.astream(messages, **prompt.options):
            chunks.append(chunk)
    finally:
        seen.pieces, seen.raw = _langchain_pieces(chunks), list(chunks)
    _read_langchain_message(_fold_chunks(chunks), seen)


def _langchain_pieces(chunks: list[AIMessageChunk]) -> list[str]:
    # The closing chunk (chunk_position "last") carries metadata only; every other chunk is one delta.
    return [c.text for c in chunks if c.chunk_position != "last" and not c.tool_call_chunks]


def _fold_chunks(chunks: list[AIMessageChunk]) -> AIMessage | AIMessageChunk:
    folded: AIMessageChunk | None = None
    for chunk in chunks:
        folded = chunk if folded is None else folded + chunk
    return folded if folded is not None else AIMessageChunk(content="")


def _read_langchain_message(message: AIMessage | AIMessageChunk, seen: Seen) -> None:
    seen.text = message.text
    seen.tool_calls = [(c.get("id"), c["name"], c["args"]) for c in message.tool_calls]
    # A stream's closing chunk makes a truncated call unparseable for LangChain's fold and keeps the exact text
    # received in response_metadata (the args LangChain shows have that closing text appended).
    exact = message.response_metadata.get("invalid_tool_call_arguments") or {}
    seen.invalid_tool_calls = [
        (c.get("id"), c.get("name"), exact.get(c.get("id"), c.get("args"))) for c in message.invalid_tool_calls
    ]
    meta = message.response_metadata
    seen.prompt_filter_results = len(meta.get("prompt_filter_results") or [])
    seen.content_filter = dict(meta.get("content_filter_results") or {})
    seen.finish_reason = meta.get("finish_reason")


# -- LlamaIndex ---------------------------------------------------------------------------------------------------


def _llamaindex_call(prompt: Prompt) -> tuple[list[ChatMessage], dict[str, Any]]:
    options: dict[str, Any] = {"tools": list(prompt.tools)} if prompt.tools else {}
    return [ChatMessage(role=MessageRole.USER, content=prompt.text)], options | dict(prompt.options)


def _sync_llamaindex(llm: AzureGatewayLLM, mode: Mode, prompt: Prompt, seen: Seen) -> None:
    messages, options = _llamaindex_call(prompt)
    if mode == "complete":
        seen.raw = [response := llm.chat(messages, **options)]
        _read_llamaindex_response(llm, response, seen)
        return
    chunks: list[ChatResponse] = []
    try:
        for chunk in llm.stream_chat(messages, **options):
            chunks.append(chunk)
    finally:
        seen.pieces, seen.raw = [c.delta for c in chunks if c.delta is not None], list(chunks)
    _read_llamaindex_response(llm, _last(chunks), seen)


async def _async_llamaindex(llm: AzureGatewayLLM, mode: Mode, prompt: Prompt, seen: Seen) -> None:
    messages, options = _llamaindex_call(prompt)
    if mode == "acomplete":
        seen.raw = [response := await llm.achat(messages, **options)]
        _read_llamaindex_response(llm, response, seen)
        return
    chunks: list[ChatResponse] = []
    try:
        async for chunk in await llm.astream_chat(messages, **options):
            chunks.append(chunk)
    finally:
        seen.pieces, seen.raw = [c.delta for c in chunks if c.delta is not None], list(chunks)
    _read_llamaindex_response(llm, _last(chunks), seen)


def _last(chunks: list[ChatResponse]) -> ChatResponse:
    # Each LlamaIndex chunk is cumulative: the last one is the whole answer.
    return chunks[-1] if chunks else ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT))


def _read_llamaindex_response(llm: AzureGatewayLLM, response: ChatResponse, seen: Seen) -> None:
    seen.text = response.message.content or ""
    selections = llm.get_tool_calls_from_response(
        response, error_on_no_tool_call=False, error_on_invalid_tool_call=False
    )
    seen.tool_calls = [(s.tool_id, s.tool_name, _json(s.tool_kwargs)) for s in selections]
    raw: dict[str, Any] = response.raw if isinstance(response.raw, dict) else {}
    seen.invalid_tool_calls = [(c["id"], c["name"], c["raw_arguments"]) for c in raw.get("invalid_tool_calls", [])]
    seen.prompt_filter_results = len(raw.get("prompt_filter_results") or [])
    seen.content_filter = dict(raw.get("content_filter_results") or {})
    seen.finish_reason = raw.get("finish_reason")


def _json(value: object) -> JsonValue:
    loaded: JsonValue = json.loads(json.dumps(value))
    return loaded
