"""The clients the benchmark compares, each behind one small adapter with the same five operations.

Each adapter imports its library lazily (only the worker process that measures it pays that import) and uses
the library the way its documentation shows, with its defaults: the point is what a user gets. The raw
baselines send the very body the gateway sends (the run passes it in), decode it with ``json.loads`` and read
the text, which is the least any client must do.
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks.adapter import Adapter, Target, httpx_limits, sse_payloads, text_of
from benchmarks.adapter import headers as _headers
from benchmarks.framework_clients import LangChainFloor, LangChainGateway, LlamaIndexFloor, LlamaIndexGateway
from benchmarks.workloads import core_request, langchain_input, llamaindex_messages, messages

__all__ = ["ADAPTERS", "Adapter", "Target", "unavailable_reason"]


class PlainHttpx(Adapter):
    """A raw POST with httpx: the floor every other client is measured against."""

    name = "httpx"
    label = "plain httpx"
    modules = ("httpx",)

    def setup(self, target: Target) -> None:
        import httpx

        self._target = target
        self._client = httpx.Client(limits=httpx_limits())
        self._url = target.url(target.deployment)

    def construct(self, target: Target) -> object:
        import httpx

        client = httpx.Client(limits=httpx_limits())
        client.close()
        return client

    def call(self) -> None:
        response = self._client.post(self._url, content=self._target.body, headers=_headers(self._target, stream=False))
        text_of(json.loads(response.content))

    def stream(self) -> None:
        headers = _headers(self._target, stream=True)
        with self._client.stream("POST", self._url, content=self._target.stream_body, headers=headers) as response:
            for payload in sse_payloads(response.iter_bytes()):
                text_of(payload)

    def _async_client(self) -> Any:
        import httpx

        return httpx.AsyncClient(limits=httpx_limits())

    async def asetup(self, target: Target) -> None:
        self._atarget = target
        self._aurl = target.url(target.held_deployment)
        self._aclient = self._async_client()

    async def acall(self) -> None:
        headers = _headers(self._atarget, stream=False)
        response = await self._aclient.post(self._aurl, content=self._atarget.body, headers=headers)
        text_of(json.loads(response.content))


class HttpxAiohttp(PlainHttpx):
    """httpx's API on aiohttp's connection pool (the ``httpx-aiohttp`` transport); async only."""

    name = "httpx-aiohttp"
    label = "httpx + aiohttp transport"
    modules = ("httpx", "httpx_aiohttp")
    sync = False

    def construct(self, target: Target) -> object:
        import httpx
        from httpx_aiohttp import AiohttpTransport

        return httpx.AsyncClient(transport=AiohttpTransport(limits=httpx_limits()))

    def _async_client(self) -> Any:
        import httpx
        from httpx_aiohttp import AiohttpTransport

        return httpx.AsyncClient(transport=AiohttpTransport(limits=httpx_limits()))


class OpenAISdk(Adapter):
    """``openai.AzureOpenAI`` / ``AsyncAzureOpenAI`` with their default (httpx) clients."""

    name = "openai"
    label = "openai SDK"
    modules = ("openai",)

    def _kwargs(self, target: Target) -> dict[str, Any]:
        return {"azure_endpoint": target.endpoint, "api_key": target.api_key, "api_version": target.api_version}

    def setup(self, target: Target) -> None:
        from openai import AzureOpenAI

        self._client = AzureOpenAI(**self._kwargs(target))
        self._model = target.deployment

    def construct(self, target: Target) -> object:
        from openai import AzureOpenAI

        return AzureOpenAI(**self._kwargs(target))

    def call(self) -> None:
        result = self._client.chat.completions.create(model=self._model, messages=messages())
        _ = result.choices[0].message.content

    def stream(self) -> None:
        for chunk in self._client.chat.completions.create(
            model=self._model,
            messages=messages(),
            stream=True,
            stream_options={"include_usage": True},
        ):
            if chunk.choices:
                _ = chunk.choices[0].delta.content

    def _async_kwargs(self, target: Target) -> dict[str, Any]:
        return self._kwargs(target)

    async def asetup(self, target: Target) -> None:
        from openai import AsyncAzureOpenAI

        self._aclient = AsyncAzureOpenAI(**self._async_kwargs(target))
        self._amodel = target.held_deployment

    async def acall(self) -> None:
        result = await self._aclient.chat.completions.create(model=self._amodel, messages=messages())
        _ = result.choices[0].message.content


class OpenAISdkAiohttp(OpenAISdk):
    """``AsyncAzureOpenAI(http_client=DefaultAioHttpClient())``, the SDK's documented aiohttp option; async only."""

    name = "openai-aiohttp"
    label = "openai SDK + aiohttp"
    modules = ("openai", "httpx_aiohttp")
    sync = False

    def construct(self, target: Target) -> object:
        from openai import AsyncAzureOpenAI, DefaultAioHttpClient

        return AsyncAzureOpenAI(**self._kwargs(target), http_client=DefaultAioHttpClient())

    def _async_kwargs(self, target: Target) -> dict[str, Any]:
        from openai import DefaultAioHttpClient

        return {**self._kwargs(target), "http_client": DefaultAioHttpClient()}


class GatewayAdapter(Adapter):
    """``shared_core.Gateway`` with its defaults (shared clients; aiohttp's pool on the async path)."""

    name = "gateway"
    label = "shared_core.Gateway"
    modules = ("shared_core",)

    def _gateway(self, target: Target, deployment: str) -> Any:
        from shared_core import Gateway

        return Gateway(endpoint=target.endpoint, api_key=target.api_key, default_deployment=deployment, env={})

    def setup(self, target: Target) -> None:
        self._gw = self._gateway(target, target.deployment)
        self._request = core_request()

    def construct(self, target: Target) -> object:
        return self._gateway(target, target.deployment)

    def call(self) -> None:
        _ = self._gw.complete(self._request).text

    def stream(self) -> None:
        for _event in self._gw.stream(self._request):
            pass

    async def asetup(self, target: Target) -> None:
        self._agw = self._gateway(target, target.held_deployment)
        self._arequest = core_request()

    async def acall(self) -> None:
        _ = (await self._agw.acomplete(self._arequest)).text


class LangChainAzure(Adapter):
    """``langchain_openai.AzureChatOpenAI`` (invoke / stream / ainvoke), defaults otherwise."""

    name = "langchain"
    label = "AzureChatOpenAI"
    modules = ("langchain_openai",)

    def _model(self, target: Target, deployment: str) -> Any:
        from langchain_openai import AzureChatOpenAI  # pyright: ignore[reportMissingImports]

        return AzureChatOpenAI(
            azure_endpoint=target.endpoint,
            api_key=target.api_key,  # type: ignore[arg-type]
            api_version=target.api_version,
            azure_deployment=deployment,
        )

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


class LlamaIndexAzure(Adapter):
    """llama-index's ``AzureOpenAI`` (chat / stream_chat / achat), defaults otherwise."""

    name = "llamaindex"
    label = "llama-index AzureOpenAI"
    modules = ("llama_index.llms.azure_openai",)

    def _model(self, target: Target, deployment: str) -> Any:
        from llama_index.llms.azure_openai import AzureOpenAI  # pyright: ignore[reportMissingImports]

        return AzureOpenAI(
            engine=deployment,
            model="gpt-4o-mini",
            azure_endpoint=target.endpoint,
            api_key=target.api_key,
            api_version=target.api_version,
        )

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


ADAPTERS: dict[str, type[Adapter]] = {
    cls.name: cls
    for cls in (
        PlainHttpx,
        HttpxAiohttp,
        OpenAISdk,
        OpenAISdkAiohttp,
        GatewayAdapter,
        LangChainAzure,
        LangChainFloor,
        LangChainGateway,
        LlamaIndexAzure,
        LlamaIndexFloor,
        LlamaIndexGateway,
    )
}
"""Every client, in report order; ``httpx`` first because every ratio is against it."""


def unavailable_reason(name: str) -> str | None:
    """``None`` when the client's modules import here, else why not (checked without importing them)."""
    import importlib.util

    for module in ADAPTERS[name]().modules:
        try:
            found = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            found = None
        if found is None:
            return f"{module} is not installed"
    return None
