"""Our framework packages, and the framework floors they are judged against (DESIGN.md §3).

A floor is the framework's own base class (LangChain's ``BaseChatModel``, LlamaIndex's ``LLM``) whose only
work is a raw httpx request of the gateway's body: no message conversion, no retries, no metadata. What a
framework's callbacks, run managers and message classes cost is in the floor; what our package adds on top is
the difference. A floor's async calls go through the ``httpx-aiohttp`` transport, the pool our packages use,
so the in-flight figures compare framework work and not pools.

Each package is used as its documentation shows, with the same arguments as the anchor it replaces.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from typing import Any

from benchmarks.adapter import Adapter, Target, headers, httpx_limits, sse_payloads, text_of
from benchmarks.workloads import langchain_input, llamaindex_messages

__all__ = ["LangChainFloor", "LangChainGateway", "LlamaIndexFloor", "LlamaIndexGateway"]


class _RawRequests:
    """The floors' only work: the raw client's POST and stream, sync and async (the latter on aiohttp's pool)."""

    def __init__(self, target: Target, deployment: str) -> None:
        import httpx
        from httpx_aiohttp import AiohttpTransport

        self.target = target
        self.url = target.url(deployment)
        self.client = httpx.Client(limits=httpx_limits())
        self.aclient = httpx.AsyncClient(transport=AiohttpTransport(limits=httpx_limits()))

    def text(self) -> str:
        response = self.client.post(self.url, content=self.target.body, headers=headers(self.target, stream=False))
        return str(text_of(json.loads(response.content)) or "")

    async def atext(self) -> str:
        hdrs = headers(self.target, stream=False)
        response = await self.aclient.post(self.url, content=self.target.body, headers=hdrs)
        return str(text_of(json.loads(response.content)) or "")

    def deltas(self) -> Iterator[str]:
        hdrs = headers(self.target, stream=True)
        with self.client.stream("POST", self.url, content=self.target.stream_body, headers=hdrs) as response:
            for payload in sse_payloads(response.iter_bytes()):
                text = text_of(payload)
                if text:
                    yield str(text)


@functools.cache
def _raw_requests(target: Target, deployment: str) -> _RawRequests:
    # Shared by every floor built for one deployment, as our packages share the gateway's clients: building
    # httpx clients (the CA bundle, about 18 ms) must not be what a floor's construction figure measures.
    return _RawRequests(target, deployment)


@functools.cache
def _langchain_floor() -> type[Any]:
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
    from pydantic import ConfigDict

    class FloorChatModel(BaseChatModel):
        """``BaseChatModel`` around a raw httpx request."""

        model_config = ConfigDict(arbitrary_types_allowed=True)
        raw: Any

        @property
        def _llm_type(self) -> str:
            return "benchmark-floor"

        def _generate(
            self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
        ) -> ChatResult:
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.raw.text()))])

        async def _agenerate(
            self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
        ) -> ChatResult:
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=await self.raw.atext()))])

        def _stream(
            self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
        ) -> Iterator[ChatGenerationChunk]:
            for text in self.raw.deltas():
                yield ChatGenerationChunk(message=AIMessageChunk(content=text))

    return FloorChatModel


@functools.cache
def _llamaindex_floor() -> type[Any]:
    from llama_index.core.base.llms.types import (
        ChatMessage,
        ChatResponse,
        ChatResponseAsyncGen,
        ChatResponseGen,
        LLMMetadata,
    )
    from llama_index.core.llms import LLM
    from llama_index.core.llms.callbacks import llm_chat_callback
    from pydantic import PrivateAttr

    class FloorLLM(LLM):
        """LlamaIndex's ``LLM`` around a raw httpx request (chat methods only, as the benchmark uses)."""

        _raw: Any = PrivateAttr()

        def __init__(self, raw: _RawRequests) -> None:
            super().__init__()
            self._raw = raw

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(is_chat_model=True, model_name="benchmark-floor")

        @llm_chat_callback()
        def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
            return ChatResponse(message=ChatMessage(role="assistant", content=self._raw.text()))

        @llm_chat_callback()
        async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
            return ChatResponse(message=ChatMessage(role="assistant", content=await self._raw.atext()))

        @llm_chat_callback()
        def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
            def gen() -> ChatResponseGen:
                content = ""
                for delta in self._raw.deltas():
                    content += delta
                    yield ChatResponse(message=ChatMessage(role="assistant", content=content), delta=delta)

            return gen()

        def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            raise NotImplementedError

        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            raise NotImplementedError

        async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            raise NotImplementedError

        async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
            raise NotImplementedError

        async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            raise NotImplementedError

    return FloorLLM


class _LangChainUsage(Adapter):
    """invoke / stream / ainvoke, as ``AzureChatOpenAI`` is used."""

    def _model(self, target: Target, deployment: str) -> Any:
        raise NotImplementedError

    def setup(self, target: Target) -> None:
        self._llm = self._model(target, target.deployment)

    def construct(self, target: Target) -> object:
        return self._model(target, target.deployment)

    def call(self) -> None:
        _ = self._llm.invoke(langchain_input()).content

    def stream(self) -> None:
        for chunk in self._llm.stream(langchain_input()):
            _ = chunk.content

    async def asetup(self, target: Target) -> None:
        self._allm = self._model(target, target.held_deployment)

    async def acall(self) -> None:
        _ = (await self._allm.ainvoke(langchain_input())).content


class LangChainGateway(_LangChainUsage):
    """``langchain_azure_gateway.AzureGatewayChatModel``, with ``AzureChatOpenAI``'s arguments."""

    name = "langchain-gateway"
    label = "AzureGatewayChatModel (ours)"
    modules = ("langchain_azure_gateway",)

    def _model(self, target: Target, deployment: str) -> Any:
        from langchain_azure_gateway import AzureGatewayChatModel

        # AzureChatOpenAI's argument names (aliases our model accepts), as a user switching over passes them.
        kwargs: dict[str, Any] = {
            "azure_endpoint": target.endpoint,
            "api_key": target.api_key,
            "api_version": target.api_version,
            "azure_deployment": deployment,
        }
        return AzureGatewayChatModel(**kwargs)


class LangChainFloor(_LangChainUsage):
    """A bare ``BaseChatModel`` subclass whose only work is a raw httpx request."""

    name = "langchain-floor"
    label = "LangChain floor (BaseChatModel + httpx)"
    modules = ("langchain_core", "httpx_aiohttp")

    def _model(self, target: Target, deployment: str) -> Any:
        return _langchain_floor()(raw=_raw_requests(target, deployment))


class _LlamaIndexUsage(Adapter):
    """chat / stream_chat / achat, as llama-index's ``AzureOpenAI`` is used."""

    def _model(self, target: Target, deployment: str) -> Any:
        raise NotImplementedError

    def _messages(self) -> list[Any]:
        return llamaindex_messages()

    def setup(self, target: Target) -> None:
        self._llm = self._model(target, target.deployment)

    def construct(self, target: Target) -> object:
        return self._model(target, target.deployment)

    def call(self) -> None:
        _ = self._llm.chat(self._messages()).message.content

    def stream(self) -> None:
        for response in self._llm.stream_chat(self._messages()):
            _ = response.delta

    async def asetup(self, target: Target) -> None:
        self._allm = self._model(target, target.held_deployment)

    async def acall(self) -> None:
        _ = (await self._allm.achat(self._messages())).message.content


class LlamaIndexGateway(_LlamaIndexUsage):
    """``llamaindex_azure_gateway.AzureGatewayLLM``, with llama-index ``AzureOpenAI``'s arguments."""

    name = "llamaindex-gateway"
    label = "AzureGatewayLLM (ours)"
    modules = ("llamaindex_azure_gateway",)

    def _model(self, target: Target, deployment: str) -> Any:
        from llamaindex_azure_gateway import AzureGatewayLLM

        kwargs: dict[str, Any] = {
            "engine": deployment,
            "model": "gpt-4o-mini",
            "azure_endpoint": target.endpoint,
            "api_key": target.api_key,
            "api_version": target.api_version,
        }
        return AzureGatewayLLM(**kwargs)


class LlamaIndexFloor(_LlamaIndexUsage):
    """A bare LlamaIndex ``LLM`` subclass whose only work is a raw httpx request."""

    name = "llamaindex-floor"
    label = "LlamaIndex floor (LLM + httpx)"
    modules = ("llama_index.core", "httpx_aiohttp")

    def _model(self, target: Target, deployment: str) -> Any:
        return _llamaindex_floor()(_raw_requests(target, deployment))
