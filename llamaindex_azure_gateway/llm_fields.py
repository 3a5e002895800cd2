"""The fields of :class:`~llamaindex_azure_gateway.AzureGatewayLLM`: ours, and every field of llama-index's
``AzureOpenAI`` and ``AzureOpenAIResponses`` (what each does here is in ``anchor_fields.FIELD_EFFECTS``).

Kept apart from the methods (``llm.py``) so that each file reads in one sitting.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from llama_index.core.constants import DEFAULT_TEMPERATURE
from llama_index.core.llms.function_calling import FunctionCallingLLM
from pydantic import (
    AliasChoices,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
)

from llamaindex_azure_gateway.anchor_fields import REFUSED_ARGUMENTS, check_fields
from shared_core import ConfigurationError, GatewayError
from shared_core.integration import (
    EndpointItem,
    FrameworkFields,
    ModelProfile,
    PriceItem,
    ReasoningEffort,
    endpoints_to_json,
    hide_endpoint_secrets,
    prices_to_json,
)

if TYPE_CHECKING:  # built in AzureGatewayLLM.__init__, where it is imported: the pipeline loads on first use
    from shared_core import Gateway

__all__ = ["CONFIG_FIELDS", "LLMFields", "UnknownArgumentWarning"]

# How the fields configure the gateway: every setting of ``shared_core.config.SETTINGS`` is copied from the field
# of the same name (or the renamed one) unless a reason below says why not. ``AzureGatewayLLM.model_post_init``
# computes four of them (endpoint and deployment from ``api_base``, ``use_azure_ad``, temperature only when set).
CONFIG_FIELDS = FrameworkFields(
    renamed={"endpoint": "azure_endpoint", "default_deployment": "engine", "default_model": "model"},
    not_copied={
        "token_scope": "no field (llama-index's AzureOpenAI has none): the config file's token_scope sets it",
        "max_cooldown": "no llama-index counterpart: the config file or AZURE_OPENAI_MAX_COOLDOWN sets it",
        "debug": "no field (llama-index's AzureOpenAI has none): event_sink, or the config file's debug",
        "raw_debug": "no field (llama-index's AzureOpenAI has none): the config file's raw_debug",
        "health_store": "passed as Gateway(health=...): the field also takes a redis client or a HealthStore",
    },
)

_ENGINE_ALIASES = ("engine", "deployment_name", "azure_deployment", "deployment_id", "deployment")
_MAX_TOKENS_ALIASES = ("max_tokens", "max_output_tokens", "max_new_tokens")


class UnknownArgumentWarning(UserWarning):
    """A keyword argument that neither this class nor llama-index's Azure classes know; it has no effect."""


class LLMFields(FunctionCallingLLM):
    """The declared fields; :class:`~llamaindex_azure_gateway.AzureGatewayLLM` adds the behaviour."""

    # defer_build: the validator is built when the first model is, not at import (and never for this base class).
    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, defer_build=True)

    model: str | None = Field(default=None, description="The base model (gpt-4o, o3 ...), for rules and metadata.")
    engine: str | None = Field(
        default=None, description="The Azure deployment name.", validation_alias=AliasChoices(*_ENGINE_ALIASES)
    )
    azure_endpoint: str | None = Field(
        default=None,
        description="https://<resource>.openai.azure.com",
        validation_alias=AliasChoices("azure_endpoint", "endpoint"),
    )
    api_base: str | None = Field(
        default=None,
        description="A base URL in the openai SDK's shape (an API Management front, ``https://apim.example/openai``"
        " or ``.../openai/deployments/<name>``); ``azure_endpoint`` wins when both are given, as in llama-index.",
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
    default_headers: dict[str, str] | None = Field(
        default=None,
        exclude=True,
        repr=False,
        description="Headers sent with every request (an API Management subscription key ...); never serialized.",
    )
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
    temperature: float | None = Field(
        default=DEFAULT_TEMPERATURE,
        description="Sampling temperature; llama-index's default (0.1) is sent unless the model is a reasoning "
        "model, which rejects it (a temperature you set yourself is dropped for those with a warning).",
    )
    top_p: float | None = Field(default=None, description="Nucleus sampling (Responses: 1.0 unless set).")
    max_tokens: int | None = Field(
        default=None, description="Output token limit.", validation_alias=AliasChoices(*_MAX_TOKENS_ALIASES)
    )
    reasoning_effort: ReasoningEffort | None = Field(default=None, description="Effort for reasoning models.")
    logprobs: bool | None = Field(default=None, description="Return token log probabilities (Chat Completions).")
    top_logprobs: int = Field(default=0, ge=0, le=20, description="Alternatives per token with ``logprobs``.")
    modalities: list[str] | None = Field(
        default=None, description="Output modalities: ['text'], or ['text', 'audio'] with an audio deployment."
    )
    audio_config: dict[str, Any] | None = Field(
        default=None, description="Audio output settings (voice, format), sent as audio."
    )
    timeout: float | None = Field(default=None, description="Seconds for one HTTP attempt's read.")
    max_retries: int | None = Field(default=None, description="Retries after the first attempt.")
    deadline: float | None = Field(
        default=None,
        description="Seconds the whole call may take (60 by default): every attempt, retry wait, failover and body "
        "read, a stream's included. Each attempt gets min(timeout, time left); max_retries bounds the count.",
    )
    reuse_client: bool = Field(
        default=True,
        description="Accepted for llama-index compatibility: pooled clients are always shared, per process.",
    )
    strict: bool = Field(default=False, description="Ask Azure to enforce tool schemas exactly.")
    additional_kwargs: dict[str, Any] = Field(default_factory=dict, description="Extra request parameters.")
    # AzureOpenAIResponses' fields: Responses API only (``use_responses_api=True``).
    reasoning_options: dict[str, Any] | None = Field(
        default=None, description="Responses ``reasoning``: {'effort': 'low', 'summary': 'concise'}."
    )
    include: list[str] | None = Field(default=None, description="Responses ``include`` (extra output data).")
    instructions: str | None = Field(default=None, description="Responses ``instructions`` (a system prompt).")
    track_previous_responses: bool = Field(
        default=False, description="Send each answer's id as the next call's previous_response_id (stores them)."
    )
    store: bool | None = Field(default=None, description="Responses ``store`` (False unless set, as llama-index).")
    previous_response_id: str | None = Field(default=None, description="Continue from this stored response.")
    built_in_tools: list[dict[str, Any]] | None = Field(
        default=None, description="Hosted Responses tools (web search, file search ...)."
    )
    truncation: str | None = Field(default=None, description="Responses ``truncation`` ('disabled' unless set).")
    user: str | None = Field(default=None, description="End-user id for Azure abuse monitoring.")
    call_metadata: dict[str, Any] | None = Field(default=None, description="Responses ``metadata``.")
    context_window: int | None = Field(default=None, description="Overrides the model profile's context window.")
    config_file: str | None = Field(default=None, description="A TOML gateway config file.")
    http_client: Any = Field(default=None, exclude=True, repr=False, description="An httpx.Client to use.")
    async_http_client: Any = Field(default=None, exclude=True, repr=False, description="An httpx.AsyncClient.")
    event_sink: Any = Field(default=None, exclude=True, repr=False, description="A shared_core.EventSink.")
    health_store: Any = Field(
        default=None,
        exclude=True,
        repr=False,
        description="Fleet mode: a Redis URL, a redis.Redis client or a HealthStore every process shares "
        "(default: config health_store / AZURE_GATEWAY_REDIS_URL, else in-process). Never serialized.",
    )

    _gateway: Gateway = PrivateAttr()
    _profile: ModelProfile = PrivateAttr()
    _model_name: str = PrivateAttr(default="")
    _previous_response_id: str | None = PrivateAttr(default=None)
    _defaults_cache: tuple[Any, ...] | None = PrivateAttr(default=None)  # AzureGatewayLLM._call_defaults

    def __init__(self, **data: Any) -> None:
        """Validate the fields; refuse openai SDK clients and warn about arguments nothing reads."""
        check_fields(data)
        for name in REFUSED_ARGUMENTS:
            data.pop(name, None)
        for name in ("engine", "azure_endpoint", "max_tokens"):
            # llama-index resolves engine=None, deployment_name="d" to "d": an explicit None must not hide an alias.
            if name in data and data[name] is None:
                del data[name]
        fields = type(self).model_fields  # a subclass's own fields count too
        unknown = sorted(k for k in data if k not in fields and k not in _ALIASES)
        if unknown:
            warnings.warn(
                f"AzureGatewayLLM got unknown keyword argument(s) {unknown}; they have no effect. Request "
                "parameters go in additional_kwargs={...}.",
                UnknownArgumentWarning,
                stacklevel=2,
            )
        try:
            super().__init__(**data)
        except ValidationError as error:
            # pydantic's message quotes the head of every argument (an api_key included): raise our own error,
            # or one naming only the fields, never their values.
            raise _without_inputs(error) from None

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


def _without_inputs(error: ValidationError) -> Exception:
    """The typed error a validator raised, else a ``ConfigurationError`` naming the fields but not their values."""
    details = error.errors(include_input=False, include_url=False)
    for detail in details:
        cause = (detail.get("ctx") or {}).get("error")
        if isinstance(cause, GatewayError):
            return cause
    problems = "; ".join(f"{'.'.join(map(str, d['loc'])) or 'arguments'}: {d['msg']}" for d in details)
    return ConfigurationError(f"AzureGatewayLLM: invalid argument(s): {problems}. Fix the field(s) named.")


_ALIASES = frozenset({*_ENGINE_ALIASES, *_MAX_TOKENS_ALIASES, "endpoint"})
