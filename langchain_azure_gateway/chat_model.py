"""``AzureGatewayChatModel``: a LangChain ``BaseChatModel`` on the gateway; glue only.

Fields accept the names ``AzureChatOpenAI`` users type (``azure_endpoint``, ``azure_deployment``,
``openai_api_version`` ...). The gateway is built on first use and kept for the instance; every call converts
once (``convert.py``), runs through the gateway (repair, retries, failover, auth) and converts back.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.callbacks.manager import ahandle_event, handle_event
from langchain_core.language_models import LangSmithParams, LanguageModelInput, ModelProfile
from langchain_core.messages import AIMessage, BaseMessage, convert_to_openai_messages
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import PrivateAttr, field_validator

from langchain_azure_gateway.chunks import StreamChunker
from langchain_azure_gateway.content_blocks import choice_generations
from langchain_azure_gateway.convert import ai_message
from langchain_azure_gateway.errors import from_core_error
from langchain_azure_gateway.fields import CONFIG_FIELDS, AzureChatOpenAIFields
from langchain_azure_gateway.metadata import MetadataOptions, anchor_metadata
from langchain_azure_gateway.result_objects import chat_generation, chat_result
from langchain_azure_gateway.serialization import register_for_load
from langchain_azure_gateway.settings import base_settings, request_for, responses_api_for
from langchain_azure_gateway.structured import StructuredMethod, structured_runnable
from langchain_azure_gateway.tokens import count_chat_tokens, count_text_tokens
from shared_core import ChatRequest, CostTracker, GatewayError, GenerationSettings
from shared_core import ChatResult as CoreResult
from shared_core.integration import (
    REPAIR_EVENT,
    EndpointItem,
    endpoints_to_json,
    hide_endpoint_secrets,
    prices_to_json,
    profile_for,
    repairs_summary,
)

if TYPE_CHECKING:  # imported where a gateway is built: the pipeline and its transport load on first use
    from langchain_core.tools import BaseTool  # an annotation only: langchain_core.tools loads its whole base

    from shared_core import Gateway

__all__ = ["AzureGatewayChatModel"]

_log = logging.getLogger("langchain_azure_gateway")


class AzureGatewayChatModel(AzureChatOpenAIFields):
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
    ``OPENAI_API_KEY`` is the last fallback. Every ``AzureChatOpenAI`` field is accepted with the same effect or
    refused with :class:`~langchain_azure_gateway.fields.UnsupportedFieldError` (``fields.py``).

    With ``endpoints`` (regions, each with deployments) one model spans several deployments, ordered by
    ``routing`` and failing over on throttling or outages; ``gateway_url`` sends everything through an
    OpenAI-compatible gateway instead. Every answer's ``response_metadata["cost"]`` says what the call cost
    (invoke and stream alike), and ``cost_tracker`` totals it per deployment and per model.
    """

    _gateway: Gateway | None = PrivateAttr(default=None)
    _sibling: Gateway | None = PrivateAttr(default=None)
    _settings: GenerationSettings | None = PrivateAttr(default=None)

    def __getstate__(self) -> dict[Any, Any]:
        """Pickle without the built gateway: its locks and pooled clients belong to this process (rebuilt on use)."""
        state = super().__getstate__()
        private = state.get("__pydantic_private__")
        if private:
            state["__pydantic_private__"] = {**private, "_gateway": None, "_sibling": None}
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
        if not isinstance(requested, str) and self.model and self.model_version not in self.model:
            name = f"{self.model}-{self.model_version.lstrip('-')}"
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

    def _resolve_model_profile(self) -> ModelProfile | None:
        """``profile`` from the core's model profile of the model (else the deployment's base model, else the
        deployment name): context window, output limit, tools, structured output, images, reasoning."""
        deployment = self.deployment or ""
        name = self.model or (self.deployment_models or {}).get(deployment) or deployment
        core = profile_for(name) if name else None
        if core is None or core.family == "unknown":
            return None
        # The gpt-5 reasoning models' 400k window holds 128k of output: their input limit is 272k.
        split = core.reasoning and core.family.startswith("gpt-5")
        return ModelProfile(
            max_input_tokens=core.context_window - core.max_output_tokens if split else core.context_window,
            max_output_tokens=core.max_output_tokens,
            text_inputs=True,
            image_inputs=core.supports_vision,
            image_url_inputs=core.supports_vision,
            text_outputs=True,
            reasoning_output=core.reasoning,
            tool_calling=core.supports_tools,
            tool_choice=core.supports_tools,
            structured_output=core.supports_json_schema,
            temperature=core.accepts_temperature,
        )

    # -- the gateway, built once ----------------------------------------------------------------------------

    @property
    def gateway(self) -> Gateway:
        """The instance's gateway (built on first use: config resolved, no network).

        It speaks the API shape the model's fields select; a call whose arguments select the other shape goes
        through a sibling gateway that shares its configuration, credential, health and cost tracker.
        """
        gateway = _private(self)["_gateway"]
        if gateway is None:
            gateway = self._gateway = self._build_gateway()
        return gateway

    def _gateway_for(self, responses: bool) -> Gateway:
        gateway = self.gateway
        if (gateway.api == "responses") == responses:
            return gateway
        sibling = _private(self)["_sibling"]
        if sibling is None:
            from shared_core import Gateway  # noqa: PLC0415  (loaded on first use: see the imports)

            sibling = self._sibling = Gateway(
                gateway.config,
                api="responses" if responses else "chat",
                auth=gateway.auth,
                http_client=self.http_client,
                async_http_client=self.http_async_client,
                event_sink=self.event_sink,
                repair=self.repair,
                timeouts=gateway.timeouts,
                proxy=self.proxy,
                health=gateway.health,
                costs=gateway.costs,
            )
        return sibling

    @property
    def cost_tracker(self) -> CostTracker:
        """What this model's calls cost, per deployment and per model (the gateway's tracker; read-only)."""
        return self.gateway.costs

    def _build_gateway(self) -> Gateway:
        # Only explicitly given fields become kwargs, so a config file still wins over the environment.
        from shared_core import Gateway  # noqa: PLC0415  (loaded on first use: see the imports)

        config = CONFIG_FIELDS.config_kwargs(self, given=self.model_fields_set)
        gateway = Gateway(
            api="responses" if responses_api_for(self, {}) else "chat",
            token_provider=self.azure_ad_token_provider,
            async_token_provider=self.azure_ad_async_token_provider,
            http_client=self.http_client,
            async_http_client=self.http_async_client,
            event_sink=self.event_sink,
            health=self.health_store,
            repair=self.repair,
            proxy=self.proxy,
            config_file=self.config_file,
            **config,
        )
        # AzureChatOpenAI bounds the wait for each chunk by both its HTTP read timeout and stream_chunk_timeout.
        if self.stream_chunk_timeout:
            chunk = min(gateway.timeouts.chunk, self.stream_chunk_timeout)
            gateway.timeouts = replace(gateway.timeouts, chunk=chunk)
        return gateway

    def _base_settings(self) -> GenerationSettings:
        settings = _private(self)["_settings"]
        if settings is None:
            settings = self._settings = base_settings(self)
        return settings

    def _prepare(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> tuple[Gateway, ChatRequest, MetadataOptions]:
        responses = responses_api_for(self, kwargs)
        request = request_for(self, self._base_settings(), messages, stop, kwargs, responses=responses)
        shape = (responses, self.model_version, self.include_response_headers)
        options = _OPTIONS.get(shape)
        if options is None:
            options = _OPTIONS[shape] = MetadataOptions("responses" if responses else "chat", *shape[1:])
        return self._gateway_for(responses), request, options

    def _combine_llm_outputs(self, llm_outputs: list[dict[str, Any] | None]) -> dict[str, Any]:
        """``generate``'s ``llm_output``: token usage summed over the calls, as ``AzureChatOpenAI`` does."""
        usage: dict[str, Any] = {}
        fingerprint = None
        for output in llm_outputs:
            if output is None:
                continue
            _add_usage(usage, output.get("token_usage") or {})
            fingerprint = fingerprint or output.get("system_fingerprint")
        combined: dict[str, Any] = {"token_usage": usage, "model_name": self.model}
        if fingerprint:
            combined["system_fingerprint"] = fingerprint
        return combined

    def get_num_tokens(self, text: str) -> int:
        """Estimated tokens of ``text``, offline (``tokens.py``; ``custom_get_token_ids`` when given)."""
        if self.custom_get_token_ids is not None:
            return len(self.custom_get_token_ids(text))
        return count_text_tokens(text)

    def get_num_tokens_from_messages(self, messages: list[BaseMessage], tools: Sequence[Any] | None = None) -> int:
        """Estimated prompt tokens of a history and its tools, offline: no tokenizer download, no
        ``transformers`` (``tokens.py`` states the error measured against Azure's counts)."""
        formatted = [convert_to_openai_tool(t) for t in tools or ()]
        return count_chat_tokens(convert_to_openai_messages(messages), formatted)

    def _stream_usage(self, kwargs: Mapping[str, Any]) -> bool:
        # Usage is always asked of Azure (costs need it); stream_usage=False only leaves it out of the chunks.
        wanted = kwargs.get("stream_usage", self.stream_usage)
        return wanted is not False

    # -- calls ------------------------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        gateway, request, options = self._prepare(messages, stop, kwargs)
        try:
            result = gateway.complete(request)
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
        return _chat_result(result, options)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        gateway, request, options = self._prepare(messages, stop, kwargs)
        try:
            result = await gateway.acomplete(request)
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
        return _chat_result(result, options)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        gateway, request, options = self._prepare(messages, stop, kwargs)
        chunker = StreamChunker(options, usage=self._stream_usage(kwargs))
        try:
            for event in gateway.stream(request):
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
        gateway, request, options = self._prepare(messages, stop, kwargs)
        chunker = StreamChunker(options, usage=self._stream_usage(kwargs))
        try:
            async for event in gateway.astream(request):
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


_OPTIONS: dict[tuple[bool, str, bool], MetadataOptions] = {}  # few: one per API shape and field values


def _private(model: AzureGatewayChatModel) -> dict[str, Any]:
    # Private attributes read directly: through pydantic's ``BaseModel.__getattr__`` each read costs a failed
    # class lookup and an AttributeError raised and caught inside pydantic (about 20 times a dict read).
    return cast(dict[str, Any], model.__pydantic_private__)


_LLM_OUTPUT_KEYS = ("token_usage", "model_provider", "model_name", "system_fingerprint", "id")


def _add_usage(into: dict[str, Any], usage: Mapping[str, Any]) -> None:
    for key, value in usage.items():
        if value is None:
            continue
        before = into.get(key)
        if type(value) is int:  # a count (the usual value): no Mapping check through the ABC
            into[key] = (before or 0) + value
        elif type(value) is dict or isinstance(value, Mapping):
            if isinstance(before, dict):
                _add_usage(cast(dict[str, Any], before), cast(Mapping[str, Any], value))
            else:
                into[key] = dict(cast(Mapping[str, Any], value))
        else:
            into[key] = (before or 0) + value


def _repairs_of(result: CoreResult) -> dict[str, Any] | None:
    """The call's conversation repairs (``response_metadata["conversation_repairs"]``), warned about once."""
    repairs = repairs_summary(result.repairs)
    if repairs:
        # Azure would have rejected this history with a 400; say so where users look.
        _log.warning("repaired the conversation before sending it to Azure OpenAI: %s", repairs)
    return repairs


def _chat_result(result: CoreResult, options: MetadataOptions) -> ChatResult:
    metadata = anchor_metadata(result, options, stream=False)
    llm_output = {key: metadata.get(key) for key in _LLM_OUTPUT_KEYS}
    message = ai_message(result, metadata)
    info: dict[str, Any] = {"finish_reason": result.finish_reason}
    if options.api == "chat":
        # AzureChatOpenAI copies the message's refusal (None when there is none) on Chat Completions.
        message.additional_kwargs.setdefault("refusal", result.refusal)
        info["logprobs"] = metadata.get("logprobs")
    generation = chat_generation(message, info)
    # n > 1: one generation per choice, as AzureChatOpenAI gives them.
    generations = [generation, *choice_generations(result)] if result.choices else [generation]
    return chat_result(generations, llm_output)


register_for_load(AzureGatewayChatModel)
