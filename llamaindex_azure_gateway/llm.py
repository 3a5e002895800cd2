"""``AzureGatewayLLM``: LlamaIndex's ``FunctionCallingLLM`` on the gateway; glue only.

Conversion lives in ``convert.py`` / ``options.py`` / ``stream.py``, the pipeline in ``shared_core.Gateway``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

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
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.llm import ToolSelection
from llama_index_instrumentation import get_dispatcher  # what llama_index.core.instrumentation re-exports

from llamaindex_azure_gateway.anchor_fields import endpoint_from_api_base
from llamaindex_azure_gateway.content_blocks import with_built_in_tools
from llamaindex_azure_gateway.convert import (
    from_core_result,
    to_core_messages,
    to_core_tool_choice,
    to_core_tools,
    tool_selections_from_response,
)
from llamaindex_azure_gateway.errors import NoToolCallError
from llamaindex_azure_gateway.llm_fields import CONFIG_FIELDS
from llamaindex_azure_gateway.options import RequestOptions, to_core_request, to_core_settings
from llamaindex_azure_gateway.repairs import ConversationRepairedEvent
from llamaindex_azure_gateway.stream import ChatStreamBuilder
from llamaindex_azure_gateway.structured import StructuredOutputLLM
from shared_core import ChatRequest, ChatResult, ConfigurationError, CostTracker, Gateway, GenerationSettings, ToolSpec
from shared_core.integration import HostedToolSpec, JsonValue, ToolSequenceRepair, profile_for

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["AzureGatewayLLM"]

dispatcher = get_dispatcher(__name__)


class AzureGatewayLLM(StructuredOutputLLM):
    """Azure OpenAI for LlamaIndex: a drop-in for ``llama_index.llms.azure_openai.AzureOpenAI`` and, with
    ``use_responses_api=True``, for ``AzureOpenAIResponses``.

    Every field of those classes is accepted with the same effect or refused with
    :class:`~llamaindex_azure_gateway.UnsupportedFieldError` (``anchor_fields.FIELD_EFFECTS`` says which); an
    unknown keyword argument warns (:class:`~llamaindex_azure_gateway.UnknownArgumentWarning`).

    Query engines, chat engines and agents work with it, streaming included. Unlike the class it replaces, it
    repairs tool-call histories Azure would reject, asks for streaming usage always, never emits an empty first
    token, raises :class:`shared_core.ContentFilterError` (with ``.partial``) on a filtered prompt or answer,
    has one retry loop (its own, honouring ``retry-after``), refreshes Entra tokens, works across event loops,
    and never serialises a secret.

    ``ChatResponse.raw`` is a dict in the shape documented in ``llamaindex_azure_gateway.convert`` (``usage`` as
    Azure reported it, ``finish_reason``, filter verdicts, ``request_id``, ``cost`` ...); ``additional_kwargs``
    holds the token counts, the finish reason, the request id and the cost (with the Responses API also
    ``usage``, ``built_in_tool_calls`` and ``annotations``, as there), and ``conversation_repairs`` when the
    history was repaired (also a :class:`~llamaindex_azure_gateway.ConversationRepairedEvent`). Tool calls are
    ``ToolCallBlock`` s and also ``message.additional_kwargs["tool_calls"]``, where llama-index-core reads
    them. While streaming, each chunk carries one text, tool-call or reasoning delta
    (``additional_kwargs['thinking_delta']``) and the last one the final ``raw``.

    With ``endpoints`` (regions, each with deployments) one LLM spans several deployments, ordered by
    ``routing`` and failing over on throttling or outages; ``gateway_url`` sends everything through an
    OpenAI-compatible gateway instead. ``cost_tracker`` totals what the calls cost, per deployment and model.

    Configuration (endpoint, auth, api-version, deployment) is read once, at construction; settings not given
    fall back to the config file and the ``AZURE_OPENAI_*`` environment variables.

    Example:
        ``AzureGatewayLLM(engine="gpt-4o-mini", azure_endpoint="https://res.openai.azure.com", api_key=...)``
    """

    def model_post_init(self, context: Any, /) -> None:
        """Build the gateway (no network): configuration errors surface here, not on the first call."""
        super().model_post_init(context)
        endpoint, engine = self.azure_endpoint, self.engine
        if not endpoint and self.api_base:
            # llama-index hands api_base to the openai SDK as base_url only when azure_endpoint is not given.
            endpoint, url_deployment = endpoint_from_api_base(self.api_base)
            engine = url_deployment or engine
        self._previous_response_id = self.previous_response_id
        use_dc = self.use_default_credential or (
            self.use_azure_ad and self.azure_ad_token_provider is None and self.async_azure_ad_token_provider is None
        )
        # None, False or {} means "not given": the config file and AZURE_OPENAI_* variables then decide.
        config = CONFIG_FIELDS.config_kwargs(self) | {
            "endpoint": endpoint,
            "default_deployment": engine,
            "use_default_credential": True if use_dc else None,
            "temperature": self.temperature if "temperature" in self.model_fields_set else None,
        }
        self._gateway = Gateway(
            api="responses" if self.use_responses_api else "chat",
            token_provider=self.azure_ad_token_provider,
            async_token_provider=self.async_azure_ad_token_provider,
            http_client=self.http_client,
            async_http_client=self.async_http_client,
            event_sink=self.event_sink,
            health=self.health_store,
            config_file=self.config_file,
            **config,
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
        """Context window from the model profile (or ``context_window``), ``num_output`` as llama-index sets it."""
        profile = self._profile
        return LLMMetadata(
            context_window=self.context_window or profile.context_window,
            # llama-index's -1 when no limit is set (here: neither in the call settings nor in the config).
            num_output=self.max_tokens or self._gateway.config.max_tokens or -1,
            # llama-index's choice for o-series and gpt-5 models, kept so prompts are laid out the same.
            system_role=MessageRole.USER if self._profile.reasoning else MessageRole.SYSTEM,
            is_chat_model=True,
            is_function_calling_model=profile.supports_tools,
            model_name=self._model_name,
        )

    # -- request building ------------------------------------------------------------------------------------

    def _request(self, messages: Sequence[ChatMessage], options: dict[str, Any]) -> ChatRequest:
        base = self._base_settings()
        if self.additional_kwargs:
            base = to_core_settings(self.additional_kwargs, base)
        core_messages = to_core_messages(messages)
        options = with_built_in_tools(options, self.built_in_tools)
        if self.use_responses_api:
            # llama-index's Responses class sends system messages with the developer role.
            core_messages = tuple(replace(m, role="developer") if m.role == "system" else m for m in core_messages)
        request = to_core_request(core_messages, options, RequestOptions(base))
        if not self.use_responses_api:
            return request
        store = request.store
        if store is None:
            store = self.store if self.store is not None else self.track_previous_responses
        return replace(
            request,
            store=store,
            previous_response_id=request.previous_response_id or self._previous_response_id,
            instructions=request.instructions if request.instructions is not None else self.instructions,
            include=request.include or tuple(self.include or ()),
            truncation=request.truncation or self.truncation or "disabled",  # llama-index's default, sent
        )

    def _base_settings(self) -> GenerationSettings:
        temperature, top_p = self._sampling()
        extra: dict[str, JsonValue] = {}
        if self.modalities is not None:
            extra["modalities"] = list(self.modalities)
        if self.audio_config is not None:
            extra["audio"] = dict(self.audio_config)
        if self.use_responses_api and self.call_metadata is not None:
            extra["metadata"] = dict(self.call_metadata)
        return GenerationSettings(
            temperature=temperature,
            top_p=top_p,
            max_tokens=self.max_tokens,
            reasoning_effort=self.reasoning_effort,
            reasoning=dict(self.reasoning_options) if self.reasoning_options is not None else None,
            user=self.user,
            logprobs=True if self.logprobs else None,
            top_logprobs=self.top_logprobs if self.logprobs else None,
            extra_body=extra,
            extra_headers=dict(self.default_headers or {}),
        )

    def _sampling(self) -> tuple[float | None, float | None]:
        """Temperature and top_p as llama-index sends them, minus what the model would reject."""
        if self.reasoning_options is not None:
            return None, None  # llama-index drops both whenever reasoning options are set
        temperature = self.temperature
        if "temperature" not in self.model_fields_set and (
            "temperature" in self._gateway.config.sources or not self._profile.accepts_temperature
        ):
            temperature = None  # the config file / environment decides, or the model takes none
        top_p = self.top_p
        if top_p is None and self.use_responses_api and self._profile.accepts_top_p:
            top_p = 1.0
        return temperature, top_p

    def _track(self, result: ChatResult, *, streamed: bool = False) -> ChatResult:
        if self.track_previous_responses and result.response_id:
            self._previous_response_id = result.response_id
        if result.repairs and not streamed:  # a stream reported them with its first event
            _report_repairs(result.repairs)
        return result

    # -- chat --------------------------------------------------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Send the conversation; returns the whole answer."""
        return self._chat(messages, **kwargs)

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        result = self._track(self._gateway.complete(self._request(messages, kwargs)))
        return from_core_result(result, responses_api=self.use_responses_api)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async :meth:`chat`."""
        return await self._achat(messages, **kwargs)

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        result = self._track(await self._gateway.acomplete(self._request(messages, kwargs)))
        return from_core_result(result, responses_api=self.use_responses_api)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Stream the answer: one chunk per delta; the last carries usage and the finish reason in ``raw``."""
        return self._stream_chat(messages, **kwargs)

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._stream_responses(self._request(messages, kwargs))

    def _stream_responses(self, request: ChatRequest) -> Generator[ChatResponse, None, None]:
        builder = ChatStreamBuilder(responses_api=self.use_responses_api, on_repairs=_report_repairs)
        for event in self._gateway.stream(request):
            chunk = builder.feed(event)
            if chunk is not None:
                yield chunk
        # The stream's last event carried its cost, so the folded result is priced as a chat call is.
        final = builder.finish(self._track(builder.result(), streamed=True))
        if final is not None:
            yield final

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        """Async :meth:`stream_chat`."""
        return await self._astream_chat(messages, **kwargs)

    async def _astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        return self._astream_responses(self._request(messages, kwargs))

    async def _astream_responses(self, request: ChatRequest) -> AsyncGenerator[ChatResponse, None]:
        builder = ChatStreamBuilder(responses_api=self.use_responses_api, on_repairs=_report_repairs)
        async for event in self._gateway.astream(request):
            chunk = builder.feed(event)
            if chunk is not None:
                yield chunk
        # The stream's last event carried its cost, so the folded result is priced as a chat call is.
        final = builder.finish(self._track(builder.result(), streamed=True))
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
        specs = self._tool_specs(tools, self.strict if strict is None else strict)
        if specs:
            prepared["tools"] = specs
            prepared["tool_choice"] = to_core_tool_choice(tool_choice, tool_required=tool_required)
            prepared["parallel_tool_calls"] = allow_parallel_tool_calls
        return prepared

    def _tool_specs(self, tools: Sequence[BaseTool], strict: bool) -> tuple[ToolSpec | HostedToolSpec, ...]:
        specs = to_core_tools(tools, strict=strict)
        if strict or self.use_responses_api or not self._profile.supports_tools:
            return specs
        # As llama-index's AzureOpenAI sends them to a function-calling model: strict named, no extra properties.
        return tuple(
            replace(spec, strict=False, parameters={**spec.parameters, "additionalProperties": False})
            if isinstance(spec, ToolSpec)
            else spec
            for spec in specs
        )

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
            NoToolCallError: No tool call and ``error_on_no_tool_call`` (also a ``ValueError``, as LlamaIndex's
                OpenAI class raises).
        """
        selections = tool_selections_from_response(
            response, error_on_invalid=bool(kwargs.get("error_on_invalid_tool_call", True))
        )
        if not selections and error_on_no_tool_call:
            raise NoToolCallError("Expected at least one tool call, but got 0 tool calls.")
        return selections


def _report_repairs(repairs: tuple[ToolSequenceRepair, ...]) -> None:
    dispatcher.event(ConversationRepairedEvent.of(repairs))
