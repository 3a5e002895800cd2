"""``AzureGatewayLLM``: LlamaIndex's ``FunctionCallingLLM`` on the gateway; glue only.

Conversion lives in ``convert.py`` / ``options.py`` / ``stream.py``, the pipeline in ``shared_core.Gateway``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.instrumentation.events.llm import LLMStructuredPredictEndEvent, LLMStructuredPredictStartEvent
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.types import PydanticProgramMode
from llama_index_instrumentation import get_dispatcher  # what llama_index.core.instrumentation re-exports
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_serializer,
    field_validator,
)

from llamaindex_azure_gateway.convert import (
    from_core_result,
    to_core_messages,
    to_core_tool_choice,
    to_core_tools,
    tool_selections_from_response,
)
from llamaindex_azure_gateway.options import RequestOptions, to_core_request, to_core_settings
from llamaindex_azure_gateway.stream import ChatStreamBuilder
from llamaindex_azure_gateway.structured import json_schema_allowed, parse_structured_response
from shared_core import (
    ChatRequest,
    ConfigurationError,
    CostTracker,
    EndpointItem,
    Gateway,
    GenerationSettings,
    ModelProfile,
    PriceItem,
    ReasoningEffort,
    endpoints_to_json,
    hide_endpoint_secrets,
    prices_to_json,
    profile_for,
)

if TYPE_CHECKING:
    from llama_index.core.prompts import PromptTemplate
    from llama_index.core.tools.types import BaseTool

__all__ = ["AzureGatewayLLM"]

dispatcher = get_dispatcher(__name__)
Model = TypeVar("Model", bound=BaseModel)


class AzureGatewayLLM(FunctionCallingLLM):
    """Azure OpenAI for LlamaIndex: a drop-in for ``llama_index.llms.azure_openai.AzureOpenAI``.

    Query engines, chat engines and agents work with it, streaming included. Unlike the class it replaces, it
    repairs tool-call histories Azure would reject, asks for streaming usage always, never emits an empty first
    token, raises :class:`shared_core.ContentFilterError` (with ``.partial``) on a filtered prompt or answer,
    has one retry loop (its own, honouring ``retry-after``), refreshes Entra tokens, works across event loops,
    and never serialises a secret.

    ``ChatResponse.raw`` is a dict in the shape documented in ``llamaindex_azure_gateway.convert`` (``usage`` as
    Azure reported it, ``finish_reason``, filter verdicts, ``request_id``, ``cost`` ...); ``additional_kwargs``
    holds the token counts, the finish reason, the request id and the cost. While streaming, each chunk carries
    one text, tool-call or reasoning delta (``additional_kwargs['thinking_delta']``) and the last one the final
    ``raw``.

    With ``endpoints`` (regions, each with deployments) one LLM spans several deployments, ordered by
    ``routing`` and failing over on throttling or outages; ``gateway_url`` sends everything through an
    OpenAI-compatible gateway instead. ``cost_tracker`` totals what the calls cost, per deployment and model.

    Configuration (endpoint, auth, api-version, deployment) is read once, at construction; settings not given
    fall back to the config file and the ``AZURE_OPENAI_*`` environment variables.

    Example:
        ``AzureGatewayLLM(engine="gpt-4o-mini", azure_endpoint="https://res.openai.azure.com", api_key=...)``
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    model: str | None = Field(default=None, description="The base model (gpt-4o, o3 ...), for rules and metadata.")
    engine: str | None = Field(
        default=None,
        description="The Azure deployment name.",
        validation_alias=AliasChoices("engine", "deployment_name", "azure_deployment", "deployment_id", "deployment"),
    )
    azure_endpoint: str | None = Field(
        default=None,
        description="https://<resource>.openai.azure.com",
        validation_alias=AliasChoices("azure_endpoint", "endpoint"),
    )
    api_version: str | None = Field(default=None, description="Azure api-version, or 'v1' for /openai/v1.")
    api_key: SecretStr | None = Field(default=None, exclude=True, repr=False, description="Azure OpenAI key.")
    azure_ad_token: SecretStr | None = Field(default=None, exclude=True, repr=False, description="A ready Entra token.")
    use_azure_ad: bool = Field(
        default=False, description="Use Entra ID: the token provider, else DefaultAzureCredential."
    )
    azure_ad_token_provider: Callable[[], str] | None = Field(default=None, exclude=True, repr=False)
    async_azure_ad_token_provider: Callable[[], Awaitable[str]] | None = Field(default=None, exclude=True, repr=False)
    use_managed_identity: bool = Field(default=False, description="Use a managed identity.")
    managed_identity_client_id: str | None = Field(default=None, description="User-assigned identity client id.")
    use_default_credential: bool = Field(default=False, description="Use azure-identity's DefaultAzureCredential.")
    deployment_mapping: dict[str, str] = Field(default_factory=dict, description="Model name -> deployment.")
    deployment_models: dict[str, str] = Field(default_factory=dict, description="Deployment -> base model.")
    endpoints: list[EndpointItem] | None = Field(
        default=None,
        description="Named endpoints (regions) with their deployments (EndpointConfig or config-file tables): one "
        "LLM spans them and fails over. Serialized without their secrets.",
    )
    routing: str | None = Field(
        default=None, description="'priority' (default), 'least_latency' or 'weighted_round_robin'."
    )
    prices: dict[str, PriceItem] | None = Field(
        default=None,
        description="Price overrides by base model, USD per 1M tokens: {'gpt-4o': {'input': 2.5, 'output': 10}}.",
    )
    gateway_url: str | None = Field(default=None, description="An OpenAI-compatible gateway in front of Azure.")
    gateway_key: SecretStr | None = Field(default=None, exclude=True, repr=False, description="The gateway's key.")
    forward_azure_credentials: bool = Field(
        default=False, description="Also send the Azure endpoint and key to the gateway."
    )
    use_responses_api: bool = Field(default=False, description="Use the Responses API instead of Chat Completions.")
    temperature: float | None = Field(default=None, description="Sampling temperature (dropped for reasoning models).")
    max_tokens: int | None = Field(default=None, description="Output token limit.")
    reasoning_effort: ReasoningEffort | None = Field(default=None, description="Effort for reasoning models.")
    timeout: float | None = Field(default=None, description="Seconds for one HTTP attempt's read.")
    max_retries: int | None = Field(default=None, description="Retries after the first attempt.")
    deadline: float | None = Field(
        default=None,
        description="Seconds the whole call may take (60 by default): every attempt, retry wait, failover and body "
        "read, a stream's included. Each attempt gets min(timeout, time left); max_retries bounds the count.",
    )
    strict: bool = Field(default=False, description="Ask Azure to enforce tool schemas exactly.")
    additional_kwargs: dict[str, Any] = Field(default_factory=dict, description="Extra request parameters.")
    config_file: str | None = Field(default=None, description="A TOML gateway config file.")
    http_client: Any = Field(default=None, exclude=True, repr=False, description="An httpx.Client to use.")
    async_http_client: Any = Field(default=None, exclude=True, repr=False, description="An httpx.AsyncClient.")
    event_sink: Any = Field(default=None, exclude=True, repr=False, description="A shared_core.EventSink.")

    _gateway: Gateway = PrivateAttr()
    _profile: ModelProfile = PrivateAttr()
    _model_name: str = PrivateAttr(default="")

    @field_validator("endpoints")
    @classmethod
    def _hide_endpoint_secrets(cls, endpoints: list[EndpointItem] | None) -> list[EndpointItem] | None:
        return hide_endpoint_secrets(endpoints)

    @field_serializer("endpoints")
    def _endpoints_without_secrets(self, endpoints: list[EndpointItem] | None) -> list[dict[str, Any]] | None:
        return None if endpoints is None else endpoints_to_json(endpoints)

    @field_serializer("prices")
    def _prices_as_tables(self, prices: dict[str, PriceItem] | None) -> dict[str, dict[str, Any]] | None:
        return None if prices is None else prices_to_json(prices)

    def model_post_init(self, context: Any, /) -> None:
        """Build the gateway (no network): configuration errors surface here, not on the first call."""
        super().model_post_init(context)
        use_dc = self.use_default_credential or (
            self.use_azure_ad and self.azure_ad_token_provider is None and self.async_azure_ad_token_provider is None
        )
        self._gateway = Gateway(
            api="responses" if self.use_responses_api else "chat",
            token_provider=self.azure_ad_token_provider,
            async_token_provider=self.async_azure_ad_token_provider,
            http_client=self.http_client,
            async_http_client=self.async_http_client,
            event_sink=self.event_sink,
            config_file=self.config_file,
            # None means "not given": the config file and AZURE_OPENAI_* variables then decide.
            endpoint=self.azure_endpoint,
            api_key=self.api_key,
            azure_ad_token=self.azure_ad_token,
            api_version=self.api_version,
            use_managed_identity=True if self.use_managed_identity else None,
            managed_identity_client_id=self.managed_identity_client_id,
            use_default_credential=True if use_dc else None,
            default_deployment=self.engine,
            default_model=self.model,
            deployment_mapping=self.deployment_mapping or None,
            deployment_models=self.deployment_models or None,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            timeout=self.timeout,
            max_retries=self.max_retries,
            deadline=self.deadline,
            endpoints=self.endpoints,
            routing=self.routing,
            prices=self.prices,
            gateway_url=self.gateway_url,
            gateway_key=self.gateway_key,
            forward_azure_credentials=True if self.forward_azure_credentials else None,
        )
        try:
            target = self._gateway.deployments.resolve(None)
            self._profile, self._model_name = target.profile, target.model or target.deployment
        except ConfigurationError:
            # No default deployment: every call names its model (deployment_mapping); metadata stays generic.
            self._profile, self._model_name = profile_for(self.model), self.model or ""

    @classmethod
    def class_name(cls) -> str:
        """The serialisation id."""
        return "AzureGatewayLLM"

    def __repr__(self) -> str:
        return f"AzureGatewayLLM(engine={self.engine!r}, model={self._model_name!r}, {self._gateway!r})"

    @property
    def gateway(self) -> Gateway:
        """The core gateway this LLM runs on."""
        return self._gateway

    @property
    def cost_tracker(self) -> CostTracker:
        """What this LLM's calls cost, per deployment and per model (the gateway's tracker; read-only)."""
        return self._gateway.costs

    @property
    def metadata(self) -> LLMMetadata:
        """Context window and output size from the model profile; a function-calling chat model."""
        profile = self._profile
        num_output = min(self.max_tokens or self._gateway.config.max_tokens, profile.max_output_tokens)
        return LLMMetadata(
            context_window=profile.context_window,
            num_output=num_output,
            is_chat_model=True,
            is_function_calling_model=profile.supports_tools,
            model_name=self._model_name,
        )

    # -- request building ------------------------------------------------------------------------------------

    def _request(self, messages: Sequence[ChatMessage], options: dict[str, Any]) -> ChatRequest:
        base = GenerationSettings(
            temperature=self.temperature, max_tokens=self.max_tokens, reasoning_effort=self.reasoning_effort
        )
        if self.additional_kwargs:
            base = to_core_settings(self.additional_kwargs, base)
        return to_core_request(to_core_messages(messages), options, RequestOptions(base))

    # -- chat --------------------------------------------------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Send the conversation; returns the whole answer."""
        return self._chat(messages, **kwargs)

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return from_core_result(self._gateway.complete(self._request(messages, kwargs)))

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async :meth:`chat`."""
        return await self._achat(messages, **kwargs)

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return from_core_result(await self._gateway.acomplete(self._request(messages, kwargs)))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Stream the answer: one chunk per delta; the last carries usage and the finish reason in ``raw``."""
        return self._stream_chat(messages, **kwargs)

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._stream_responses(self._request(messages, kwargs))

    def _stream_responses(self, request: ChatRequest) -> Generator[ChatResponse, None, None]:
        builder = ChatStreamBuilder()
        for event in self._gateway.stream(request):
            chunk = builder.feed(event)
            if chunk is not None:
                yield chunk
        # The stream's last event carried its cost, so the folded result is priced as a chat call is.
        final = builder.finish(builder.accumulator.result())
        if final is not None:
            yield final

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        """Async :meth:`stream_chat`."""
        return await self._astream_chat(messages, **kwargs)

    async def _astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        return self._astream_responses(self._request(messages, kwargs))

    async def _astream_responses(self, request: ChatRequest) -> AsyncGenerator[ChatResponse, None]:
        builder = ChatStreamBuilder()
        async for event in self._gateway.astream(request):
            chunk = builder.feed(event)
            if chunk is not None:
                yield chunk
        # The stream's last event carried its cost, so the folded result is priced as a chat call is.
        final = builder.finish(builder.accumulator.result())
        if final is not None:
            yield final

    # -- completion (a chat with one user message) -------------------------------------------------------------

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Complete a prompt (sent as one user message)."""
        return chat_to_completion_decorator(self._chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Async :meth:`complete`."""
        return await achat_to_completion_decorator(self._achat)(prompt, **kwargs)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        """Stream a completion."""
        return stream_chat_to_completion_decorator(self._stream_chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseAsyncGen:
        """Async :meth:`stream_complete`."""
        return await astream_chat_to_completion_decorator(self._astream_chat)(prompt, **kwargs)

    # -- tools -------------------------------------------------------------------------------------------------

    def _prepare_chat_with_tools(  # noqa: PLR0917 - LlamaIndex's own signature
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The ``chat`` arguments for a call with tools; ``chat_history`` is copied, never changed."""
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg))
        elif user_msg is not None:
            messages.append(user_msg)
        prepared: dict[str, Any] = {"messages": messages, **kwargs}
        specs = to_core_tools(tools, strict=self.strict if strict is None else strict)
        if specs:
            prepared["tools"] = specs
            prepared["tool_choice"] = to_core_tool_choice(tool_choice, tool_required=tool_required)
            prepared["parallel_tool_calls"] = allow_parallel_tool_calls
        return prepared

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Keep only the first tool call when parallel calls were not allowed (a copy; the response is kept)."""
        calls = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
        if allow_parallel_tool_calls or len(calls) <= 1:
            return response
        blocks = [b for b in response.message.blocks if not isinstance(b, ToolCallBlock) or b is calls[0]]
        message = response.message.model_copy(update={"blocks": blocks})
        return response.model_copy(update={"message": message})

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """The response's tool calls.

        Arguments still streaming are shown as far as they parse; a finished call whose arguments are not a
        JSON object raises :class:`~llamaindex_azure_gateway.convert.InvalidToolCallError` (pass
        ``error_on_invalid_tool_call=False`` to leave it out instead); it is never run with ``{}``.

        Raises:
            ValueError: No tool call and ``error_on_no_tool_call``.
        """
        selections = tool_selections_from_response(
            response, error_on_invalid=bool(kwargs.get("error_on_invalid_tool_call", True))
        )
        if not selections and error_on_no_tool_call:
            raise ValueError("Expected at least one tool call, but got 0 tool calls.")
        return selections

    # -- structured output -------------------------------------------------------------------------------------

    def _json_schema_allowed(self) -> bool:
        return self.pydantic_program_mode == PydanticProgramMode.DEFAULT and json_schema_allowed(
            self._profile, self._gateway.config.api_version, responses_api=self.use_responses_api
        )

    @dispatcher.span
    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Structured output: ``json_schema`` where allowed, else a forced function call."""
        if not self._json_schema_allowed():
            return super().structured_predict(output_cls, prompt, llm_kwargs=llm_kwargs, **prompt_args)
        dispatcher.event(
            LLMStructuredPredictStartEvent(output_cls=output_cls, template=prompt, template_args=prompt_args)
        )
        messages = self._get_messages(prompt, **prompt_args)
        response = self.chat(messages, **{**(llm_kwargs or {}), "response_format": output_cls})
        result = parse_structured_response(output_cls, response)
        dispatcher.event(LLMStructuredPredictEndEvent(output=result))
        return result

    @dispatcher.span
    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Async :meth:`structured_predict`."""
        if not self._json_schema_allowed():
            return await super().astructured_predict(output_cls, prompt, llm_kwargs=llm_kwargs, **prompt_args)
        dispatcher.event(
            LLMStructuredPredictStartEvent(output_cls=output_cls, template=prompt, template_args=prompt_args)
        )
        messages = self._get_messages(prompt, **prompt_args)
        response = await self.achat(messages, **{**(llm_kwargs or {}), "response_format": output_cls})
        result = parse_structured_response(output_cls, response)
        dispatcher.event(LLMStructuredPredictEndEvent(output=result))
        return result
