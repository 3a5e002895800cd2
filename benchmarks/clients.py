"""The clients the benchmark compares, each behind one small adapter with the same five operations.

Each adapter imports its library lazily (only the worker process that measures it pays that import) and uses
the library the way its documentation shows, with its defaults: the point is what a user gets. The raw
baselines send the very body the gateway sends (the run passes it in), decode it with ``json.loads`` and read
the text, which is the least any client must do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["ADAPTERS", "Adapter", "Target", "unavailable_reason"]

# Same pool limits as the gateway's shared clients: the defaults of httpx and httpx-aiohttp (100 connections)
# would cap the in-flight scenario at half its 200 concurrent calls, and a baseline must not be handicapped.
_MAX_CONNECTIONS = 1000
_MAX_KEEPALIVE = 200


@dataclass(frozen=True, slots=True)
class Target:
    """Where and what to send.

    Attributes:
        endpoint: ``http://127.0.0.1:<port>`` of the benchmark server.
        api_key: The server's key.
        api_version: The ``api-version`` every client sends.
        deployment: The deployment answered at once.
        held_deployment: The deployment the server holds (the in-flight scenario).
        body: The gateway's non-streaming request body (the raw baselines send it verbatim).
        stream_body: The gateway's streaming request body.
    """

    endpoint: str
    api_key: str
    api_version: str
    deployment: str
    held_deployment: str
    body: bytes
    stream_body: bytes

    def url(self, deployment: str) -> str:
        """The classic chat route for ``deployment``."""
        return f"{self.endpoint}/openai/deployments/{deployment}/chat/completions?api-version={self.api_version}"


class Adapter:
    """One client library. Subclasses set ``name``/``label``/``modules`` and override what they support.

    ``setup`` builds the sync client once; ``construct`` builds a fresh one (timed); ``call`` makes one
    non-streaming call; ``stream`` reads one whole stream; ``asetup``/``acall`` do the async side for the
    held deployment, inside the running loop (the worker never closes it: its process is disposable).
    """

    name = ""
    label = ""
    modules: tuple[str, ...] = ()
    sync = True
    asynchronous = True

    def setup(self, target: Target) -> None:
        """Build the sync client."""

    def construct(self, target: Target) -> object:
        """Build and return a fresh client or model (timed by the worker)."""
        raise NotImplementedError

    def call(self) -> None:
        """One non-streaming call, result read."""
        raise NotImplementedError

    def stream(self) -> None:
        """One streamed call, every chunk read."""
        raise NotImplementedError

    async def asetup(self, target: Target) -> None:
        """Build the async client on the running loop."""

    async def acall(self) -> None:
        """One async non-streaming call against the held deployment."""
        raise NotImplementedError


def _headers(target: Target, *, stream: bool) -> dict[str, str]:
    accept = "text/event-stream" if stream else "application/json"
    return {"api-key": target.api_key, "content-type": "application/json", "accept": accept}


def _text_of(payload: Any) -> object:
    choices = payload.get("choices")
    if choices:
        return choices[0].get("delta", choices[0].get("message", {})).get("content")
    return None


def _sse_payloads(chunks: Iterator[bytes]) -> Iterator[Any]:
    """The least SSE handling a client can do: split on blank lines, ``json.loads`` each ``data:``."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        *events, buffer = buffer.split(b"\n\n")
        for event in events:
            if event.startswith(b"data: ") and event != b"data: [DONE]":
                yield json.loads(event[6:])


def _httpx_limits() -> Any:
    import httpx

    return httpx.Limits(max_connections=_MAX_CONNECTIONS, max_keepalive_connections=_MAX_KEEPALIVE)


class PlainHttpx(Adapter):
    """A raw POST with httpx: the floor every other client is measured against."""

    name = "httpx"
    label = "plain httpx"
    modules = ("httpx",)

    def setup(self, target: Target) -> None:
        import httpx

        self._target = target
        self._client = httpx.Client(limits=_httpx_limits())
        self._url = target.url(target.deployment)

    def construct(self, target: Target) -> object:
        import httpx

        client = httpx.Client(limits=_httpx_limits())
        client.close()
        return client

    def call(self) -> None:
        response = self._client.post(self._url, content=self._target.body, headers=_headers(self._target, stream=False))
        _text_of(json.loads(response.content))

    def stream(self) -> None:
        headers = _headers(self._target, stream=True)
        with self._client.stream("POST", self._url, content=self._target.stream_body, headers=headers) as response:
            for payload in _sse_payloads(response.iter_bytes()):
                _text_of(payload)

    def _async_client(self) -> Any:
        import httpx

        return httpx.AsyncClient(limits=_httpx_limits())

    async def asetup(self, target: Target) -> None:
        self._atarget = target
        self._aurl = target.url(target.held_deployment)
        self._aclient = self._async_client()

    async def acall(self) -> None:
        headers = _headers(self._atarget, stream=False)
        response = await self._aclient.post(self._aurl, content=self._atarget.body, headers=headers)
        _text_of(json.loads(response.content))


class HttpxAiohttp(PlainHttpx):
    """httpx's API on aiohttp's connection pool (the ``httpx-aiohttp`` transport); async only."""

    name = "httpx-aiohttp"
    label = "httpx + aiohttp transport"
    modules = ("httpx", "httpx_aiohttp")
    sync = False

    def construct(self, target: Target) -> object:
        import httpx
        from httpx_aiohttp import AiohttpTransport

        return httpx.AsyncClient(transport=AiohttpTransport(limits=_httpx_limits()))

    def _async_client(self) -> Any:
        import httpx
        from httpx_aiohttp import AiohttpTransport

        return httpx.AsyncClient(transport=AiohttpTransport(limits=_httpx_limits()))


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
        result = self._client.chat.completions.create(model=self._model, messages=[{"role": "user", "content": "hi"}])
        _ = result.choices[0].message.content

    def stream(self) -> None:
        for chunk in self._client.chat.completions.create(
            model=self._model,
            messages=[{"role": "user", "content": "hi"}],
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
        result = await self._aclient.chat.completions.create(
            model=self._amodel, messages=[{"role": "user", "content": "hi"}]
        )
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
        from shared_core import ChatRequest, Message

        self._gw = self._gateway(target, target.deployment)
        self._request = ChatRequest((Message.user("hi"),))

    def construct(self, target: Target) -> object:
        return self._gateway(target, target.deployment)

    def call(self) -> None:
        _ = self._gw.complete(self._request).text

    def stream(self) -> None:
        for _event in self._gw.stream(self._request):
            pass

    async def asetup(self, target: Target) -> None:
        from shared_core import ChatRequest, Message

        self._agw = self._gateway(target, target.held_deployment)
        self._arequest = ChatRequest((Message.user("hi"),))

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
        _ = self._llm.invoke("hi").content

    def stream(self) -> None:
        for chunk in self._llm.stream("hi"):
            _ = chunk.content

    async def asetup(self, target: Target) -> None:
        self._allm = self._model(target, target.held_deployment)

    async def acall(self) -> None:
        _ = (await self._allm.ainvoke("hi")).content


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
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role="user", content="hi")]

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
    for cls in (PlainHttpx, HttpxAiohttp, OpenAISdk, OpenAISdkAiohttp, GatewayAdapter, LangChainAzure, LlamaIndexAzure)
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
