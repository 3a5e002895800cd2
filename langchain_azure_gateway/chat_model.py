"""``AzureGatewayChatModel``: a LangChain ``BaseChatModel`` on the gateway; glue only.

Fields accept the names ``AzureChatOpenAI`` users type (``azure_endpoint``, ``azure_deployment``,
``openai_api_version`` ...). The gateway is built on first use and kept for the instance; every call converts
once (``convert.py``), runs through the gateway (repair, retries, failover, auth) and converts back.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.callbacks.manager import ahandle_event, handle_event
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import AliasChoices, ConfigDict, Field, PrivateAttr, SecretStr, field_validator

from langchain_azure_gateway.chunks import StreamChunker
from langchain_azure_gateway.convert import from_core_result, repairs_payload, to_core_messages, to_core_request
from langchain_azure_gateway.errors import from_core_error
from langchain_azure_gateway.serialization import register_for_load
from langchain_azure_gateway.structured import StructuredMethod, structured_runnable
from shared_core import (
    REPAIR_EVENT,
    ChatRequest,
    CostTracker,
    EndpointItem,
    Gateway,
    GatewayError,
    GenerationSettings,
    PriceItem,
    ReasoningEffort,
    endpoints_to_json,
    hide_endpoint_secrets,
    prices_to_json,
)
from shared_core import ChatResult as CoreResult

__all__ = ["AzureGatewayChatModel"]

_log = logging.getLogger("langchain_azure_gateway")

# Model field -> GatewayConfig field, for the fields that configure the gateway itself.
_CONFIG_FIELDS: Mapping[str, str] = {
    "endpoint": "endpoint",
    "api_key": "api_key",
    "azure_ad_token": "azure_ad_token",
    "api_version": "api_version",
    "use_managed_identity": "use_managed_identity",
    "managed_identity_client_id": "managed_identity_client_id",
    "use_default_credential": "use_default_credential",
    "token_scope": "token_scope",
    "deployment": "default_deployment",
    "model": "default_model",
    "deployment_mapping": "deployment_mapping",
    "deployment_models": "deployment_models",
    "max_tokens": "max_tokens",
    "temperature": "temperature",
    "timeout": "timeout",
    "max_retries": "max_retries",
    "deadline": "deadline",
    "debug": "debug",
    "raw_debug": "raw_debug",
    "endpoints": "endpoints",
    "routing": "routing",
    "prices": "prices",
    "gateway_url": "gateway_url",
    "gateway_key": "gateway_key",
    "forward_azure_credentials": "forward_azure_credentials",
}


def _env(*names: str) -> Callable[[], str | None]:
    def read() -> str | None:
        for name in names:
            value = os.environ.get(name)
            if value:
                return value
        return None

    return read


def _env_secret(*names: str) -> Callable[[], SecretStr | None]:
    read = _env(*names)

    def secret() -> SecretStr | None:
        value = read()
        return SecretStr(value) if value else None

    return secret


class AzureGatewayChatModel(BaseChatModel):
    """Azure OpenAI chat model: a drop-in for ``AzureChatOpenAI`` with managed identity, deployment mapping,
    failover, conversation repair and typed content-filter errors.

    Example:
        ```python
        model = AzureGatewayChatModel(azure_endpoint="https://my-resource.openai.azure.com",
                                      azure_deployment="gpt-4o-mini", use_managed_identity=True)
        model.invoke("Hello")
        ```

    Settings not given here come from a config file (``config_file`` or ``$AZURE_GATEWAY_CONFIG``), then from
    the environment (``AZURE_OPENAI_ENDPOINT``, ``AZURE_OPENAI_API_KEY``, ``AZURE_OPENAI_API_VERSION`` ...).
    ``OPENAI_API_KEY`` is never read.

    With ``endpoints`` (regions, each with deployments) one model spans several deployments, ordered by
    ``routing`` and failing over on throttling or outages; ``gateway_url`` sends everything through an
    OpenAI-compatible gateway instead. Every answer's ``response_metadata["cost"]`` says what the call cost
    (invoke and stream alike), and ``cost_tracker`` totals it per deployment and per model.
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, protected_namespaces=())

    endpoint: str | None = Field(
        default_factory=_env("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_BASE_URL"),
        validation_alias=AliasChoices("endpoint", "azure_endpoint", "base_url", "openai_api_base"),
    )
    """``https://<resource>.openai.azure.com`` (a trailing ``/openai/v1`` selects the GA v1 routes)."""
    api_key: SecretStr | None = Field(
        default_factory=_env_secret("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_KEY"),
        validation_alias=AliasChoices("api_key", "openai_api_key"),
    )
    """Azure OpenAI key; never serialized (``lc_secrets``)."""
    azure_ad_token: SecretStr | None = Field(default_factory=_env_secret("AZURE_OPENAI_AD_TOKEN"))
    """A ready Entra token (never refreshed; prefer a token provider or managed identity)."""
    azure_ad_token_provider: Callable[[], str] | None = Field(default=None, exclude=True)
    """``() -> str`` Entra token source; run off the event loop in async calls."""
    azure_ad_async_token_provider: Callable[[], Awaitable[str]] | None = Field(default=None, exclude=True)
    """``async () -> str`` Entra token source; with it alone, sync calls still work."""
    api_version: str | None = Field(
        default_factory=_env("AZURE_OPENAI_API_VERSION", "OPENAI_API_VERSION"),
        validation_alias=AliasChoices("api_version", "openai_api_version"),
    )
    """The Azure api-version (``v1`` for the GA routes)."""
    use_managed_identity: bool | None = None
    managed_identity_client_id: str | None = None
    use_default_credential: bool | None = None
    token_scope: str | None = None
    deployment: str | None = Field(
        default=None, validation_alias=AliasChoices("deployment", "azure_deployment", "deployment_name")
    )
    """The default deployment."""
    model: str | None = Field(default=None, validation_alias=AliasChoices("model", "model_name"))
    """The model behind the default deployment (rules, tracing); a per-call ``model=`` goes via the map."""
    deployment_mapping: dict[str, str] | None = None
    """Model name -> deployment name, for per-call ``model=``."""
    deployment_models: dict[str, str] | None = None
    """Deployment name -> base model, for deployments whose name says nothing."""
    endpoints: list[EndpointItem] | None = None
    """Named endpoints (regions), each with its deployments, as ``EndpointConfig`` s or config-file tables: one
    model spans every deployment of its base model and fails over between them. Secrets in tables are kept as
    ``SecretStr`` and left out by ``dumpd`` (``langchain_azure_gateway.routing_fields``)."""
    routing: str | None = None
    """How a route's deployments are ordered: ``priority`` (default), ``least_latency``, ``weighted_round_robin``."""
    prices: dict[str, PriceItem] | None = None
    """Price overrides by base model: ``{"gpt-4o": {"input": 2.5, "output": 10, "cached_input": 1.25}}``
    (USD per 1M tokens) or ``ModelPrice`` s, over the shipped table."""
    gateway_url: str | None = None
    """Base URL of an OpenAI-compatible gateway in front of Azure; every request then goes there."""
    gateway_key: SecretStr | None = None
    """The gateway's key (``X-API-Key``); never serialized (``lc_secrets``)."""
    forward_azure_credentials: bool | None = None
    """Also send the Azure endpoint and key to the gateway (off by default)."""
    max_tokens: int | None = Field(default=None, validation_alias=AliasChoices("max_tokens", "max_completion_tokens"))
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    reasoning_effort: ReasoningEffort | None = None
    stop: list[str] | None = Field(default=None, validation_alias=AliasChoices("stop", "stop_sequences"))
    timeout: float | None = Field(default=None, validation_alias=AliasChoices("timeout", "request_timeout"))
    max_retries: int | None = None
    deadline: float | None = None
    """Seconds the whole call may take (60 by default): every attempt, retry wait, failover and body read, a
    stream's included. Each attempt gets ``min(timeout, time left)``; ``max_retries`` bounds the count."""
    debug: bool | None = None
    raw_debug: bool | None = None
    config_file: str | None = None
    use_responses_api: bool | None = None
    """Use the Responses API instead of Chat Completions."""
    streaming: bool = False
    """Stream by default (``invoke`` then streams and folds)."""
    repair: bool = True
    """Repair histories Azure would reject (dangling tool calls); off raises instead."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra top-level request fields, sent as given."""
    http_client: Any = Field(default=None, exclude=True)
    """An ``httpx.Client`` for sync calls instead of the shared pool."""
    http_async_client: Any = Field(default=None, exclude=True)
    """An ``httpx.AsyncClient`` for async calls instead of the shared pool."""
    proxy: str | None = Field(default=None, validation_alias=AliasChoices("proxy", "openai_proxy"))
    event_sink: Any = Field(default=None, exclude=True)
    """An ``EventSink`` for the gateway's debug events, per-call summaries included (logging at DEBUG by
    default, without the summaries unless ``debug`` is on)."""

    _gateway: Gateway | None = PrivateAttr(default=None)
    _settings: GenerationSettings | None = PrivateAttr(default=None)

    def __getstate__(self) -> dict[Any, Any]:
        """Pickle without the built gateway: its locks and pooled clients belong to this process (rebuilt on use)."""
        state = super().__getstate__()
        private = state.get("__pydantic_private__")
        if private:
            state["__pydantic_private__"] = {**private, "_gateway": None}
        return state

    @field_validator("endpoints")
    @classmethod
    def _hide_endpoint_secrets(cls, endpoints: list[EndpointItem] | None) -> list[EndpointItem] | None:
        return hide_endpoint_secrets(endpoints)

    # -- LangChain identity and serialization -----------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "azure-gateway-chat"

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """Serializable with ``dumpd``/``dumps``; secrets are written as references, never values."""
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """The import path ``load`` uses."""
        return ["langchain_azure_gateway", "chat_model"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        """Secret fields and the environment variables ``load`` reads them from."""
        return {
            "api_key": "AZURE_OPENAI_API_KEY",
            "azure_ad_token": "AZURE_OPENAI_AD_TOKEN",
            "gateway_key": "AZURE_GATEWAY_KEY",
        }

    @property
    def lc_attributes(self) -> dict[str, Any]:
        """Endpoints (without their secrets) and prices as JSON that the model accepts back."""
        out: dict[str, Any] = {}
        if self.endpoints:
            out["endpoints"] = endpoints_to_json(self.endpoints)
        if self.prices:
            out["prices"] = prices_to_json(self.prices)
        return out

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "deployment": self.deployment,
            "model": self.model,
            "api_version": self.api_version,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "use_responses_api": bool(self.use_responses_api),
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(ls_provider="azure", ls_model_type="chat")
        requested = kwargs.get("model")
        name = requested if isinstance(requested, str) else self.model or self.deployment
        params["ls_model_name"] = name or "unknown"
        temperature = kwargs.get("temperature", self.temperature)
        if isinstance(temperature, int | float):
            params["ls_temperature"] = float(temperature)
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if isinstance(max_tokens, int):
            params["ls_max_tokens"] = max_tokens
        if stop or self.stop:
            params["ls_stop"] = list(stop or self.stop or [])
        return params

    # -- the gateway, built once ----------------------------------------------------------------------------

    @property
    def gateway(self) -> Gateway:
        """The instance's gateway (built on first use: config resolved, no network)."""
        gateway = self._gateway
        if gateway is None:
            gateway = self._gateway = self._build_gateway()
        return gateway

    @property
    def cost_tracker(self) -> CostTracker:
        """What this model's calls cost, per deployment and per model (the gateway's tracker; read-only)."""
        return self.gateway.costs

    def _build_gateway(self) -> Gateway:
        # Only explicitly given fields become kwargs, so a config file still wins over the environment.
        given = self.model_fields_set
        config: dict[str, Any] = {}
        for name, config_name in _CONFIG_FIELDS.items():
            value = getattr(self, name)
            if name in given and value is not None:
                config[config_name] = value
        return Gateway(
            api="responses" if self.use_responses_api else "chat",
            token_provider=self.azure_ad_token_provider,
            async_token_provider=self.azure_ad_async_token_provider,
            http_client=self.http_client,
            async_http_client=self.http_async_client,
            event_sink=self.event_sink,
            repair=self.repair,
            proxy=self.proxy,
            config_file=self.config_file,
            **config,
        )

    def _base_settings(self) -> GenerationSettings:
        settings = self._settings
        if settings is None:
            settings = self._settings = GenerationSettings(
                top_p=self.top_p,
                seed=self.seed,
                reasoning_effort=self.reasoning_effort,
                stop=tuple(self.stop) if self.stop else None,
                extra_body=dict(self.model_kwargs),
            )
        return settings

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]) -> ChatRequest:
        return to_core_request(to_core_messages(messages), self._base_settings(), stop, kwargs)

    # -- calls ------------------------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, kwargs)
        try:
            result = self.gateway.complete(request)
        except GatewayError as error:
            raise from_core_error(error) from error
        repairs = _repairs_of(result)
        if repairs and run_manager is not None:
            handle_event(
                run_manager.handlers,
                "on_custom_event",
                "ignore_custom_event",
                REPAIR_EVENT,
                repairs,
                run_id=run_manager.run_id,
                tags=run_manager.tags,
                metadata=run_manager.metadata,
            )
        return _chat_result(result)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, kwargs)
        try:
            result = await self.gateway.acomplete(request)
        except GatewayError as error:
            raise from_core_error(error) from error
        repairs = _repairs_of(result)
        if repairs and run_manager is not None:
            await ahandle_event(
                run_manager.handlers,
                "on_custom_event",
                "ignore_custom_event",
                REPAIR_EVENT,
                repairs,
                run_id=run_manager.run_id,
                tags=run_manager.tags,
                metadata=run_manager.metadata,
            )
        return _chat_result(result)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, stop, kwargs)
        chunker = StreamChunker()
        try:
            for event in self.gateway.stream(request):
                chunk = chunker.feed(event)
                if chunk is not None:
                    if run_manager is not None:
                        run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
        except GatewayError as error:
            raise from_core_error(error) from error
        result = chunker.result()
        _repairs_of(result)
        yield chunker.final(result)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        request = self._request(messages, stop, kwargs)
        chunker = StreamChunker()
        try:
            async for event in self.gateway.astream(request):
                chunk = chunker.feed(event)
                if chunk is not None:
                    if run_manager is not None:
                        await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
        except GatewayError as error:
            raise from_core_error(error) from error
        result = chunker.result()
        _repairs_of(result)
        yield chunker.final(result)

    # -- tools and structured output ------------------------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (LangChain tools, functions, pydantic classes, OpenAI dicts) to the model.

        Args:
            tools: The tools.
            tool_choice: ``"auto"``, ``"none"``, ``"any"``/``"required"``/``True`` (some tool), or a name.
            strict: Ask Azure to enforce each tool's schema exactly.
            parallel_tool_calls: Allow several calls in one turn (``None`` leaves Azure's default).
            **kwargs: Other call arguments to bind.
        """
        formatted = [convert_to_openai_tool(t, strict=strict) for t in tools]
        if tool_choice is not None and tool_choice is not False:
            kwargs["tool_choice"] = tool_choice
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        method: StructuredMethod = "json_schema",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """A runnable that answers with ``schema`` (a pydantic class, TypedDict or JSON schema).

        Args:
            schema: The answer's shape.
            method: ``json_schema`` (``response_format``), ``function_calling`` (one forced tool) or
                ``json_mode`` (any JSON object, parsed with the schema).
            include_raw: Return ``{"raw": AIMessage, "parsed": ..., "parsing_error": ...}``.
            strict: Ask Azure to enforce the schema exactly.
            **kwargs: Other call arguments to bind.
        """
        return structured_runnable(self, schema, method=method, strict=strict, include_raw=include_raw, kwargs=kwargs)


def _repairs_of(result: CoreResult) -> dict[str, Any] | None:
    """The call's conversation repairs (``response_metadata["conversation_repairs"]``), warned about once."""
    repairs = repairs_payload(result)
    if repairs:
        # Azure would have rejected this history with a 400; say so where users look.
        _log.warning("repaired the conversation before sending it to Azure OpenAI: %s", repairs)
    return repairs


def _chat_result(result: CoreResult) -> ChatResult:
    message = from_core_result(result)
    generation = ChatGeneration(message=message, generation_info={"finish_reason": result.finish_reason})
    return ChatResult(generations=[generation], llm_output={"model_name": result.model})


register_for_load(AzureGatewayChatModel)
