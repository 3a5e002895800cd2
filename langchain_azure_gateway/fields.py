"""``AzureChatOpenAI``'s fields, aliases and attribute names on ``AzureGatewayChatModel``, with the same effect.

Every field of the installed ``langchain_openai.AzureChatOpenAI`` is accepted under its own name and aliases.
Each one either has the anchor's effect on the request and the result, or, where it cannot (the openai SDK's
own client objects, socket options), raises :class:`UnsupportedFieldError` saying why and what to use instead.
``tests/dropin/test_langchain_fields.py`` enumerates the anchor's fields and checks each one.

Unknown keyword arguments go to ``model_kwargs`` (top-level request fields) with a warning, as ``ChatOpenAI``
does; the warning names the nearest field when the argument looks like a misspelt one.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, Self

from langchain_core.language_models import BaseChatModel
from pydantic import AliasChoices, ConfigDict, Field, SecretStr, model_validator

from shared_core import ConfigurationError
from shared_core.integration import SETTINGS, EndpointItem, FrameworkFields, PriceItem, ReasoningEffort

__all__ = ["CONFIG_FIELDS", "AzureChatOpenAIFields", "UnsupportedFieldError"]

# How the fields configure the gateway: every setting of ``shared_core.config.SETTINGS`` is copied from the field
# of the same name (or the renamed one) when given, unless a reason below says why not.
CONFIG_FIELDS = FrameworkFields(
    renamed={"default_deployment": "deployment", "default_model": "model"},
    not_copied={
        "max_tokens": "a request setting here (base_settings sends it with every call), as in AzureChatOpenAI",
        "temperature": "a request setting here (base_settings sends it with every call), as in AzureChatOpenAI",
        "max_cooldown": "no AzureChatOpenAI counterpart: the config file or AZURE_OPENAI_MAX_COOLDOWN sets it",
        "health_store": "passed as Gateway(health=...): the field also takes a redis client or a HealthStore",
    },
)

# The openai SDK's client objects: we send with our own HTTP layer (shared pools, one retry loop).
_SDK_CLIENT_FIELDS = ("client", "async_client", "root_client", "root_async_client")
_DEPLOYMENT_URL = re.compile(r"^(?P<endpoint>.+?)/openai/deployments/(?P<deployment>[^/?#]+)/?$")


class UnsupportedFieldError(ConfigurationError):
    """An ``AzureChatOpenAI`` field this class cannot honour with the same effect; the message says why and what
    to use instead."""


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


def _chunk_timeout() -> float | None:
    # AzureChatOpenAI's default: 120 s between stream chunks, overridable by this variable ("0" disables).
    raw = os.environ.get("LANGCHAIN_OPENAI_STREAM_CHUNK_TIMEOUT_S")
    try:
        value = float(raw) if raw else 120.0
    except ValueError:
        value = 120.0
    return value if value > 0 else None


class AzureChatOpenAIFields(BaseChatModel):
    """The fields of ``AzureGatewayChatModel``: ``AzureChatOpenAI``'s (same names, aliases and effect) and ours."""

    # defer_build: the validator is built when the first model is, not at import (and never for this base class).
    model_config = ConfigDict(
        populate_by_name=True, arbitrary_types_allowed=True, protected_namespaces=(), defer_build=True
    )

    # -- where and who ------------------------------------------------------------------------------------
    endpoint: str | None = Field(
        default_factory=_env(*SETTINGS["endpoint"].env),
        validation_alias=AliasChoices("endpoint", "azure_endpoint"),
    )
    """``https://<resource>.openai.azure.com`` (a trailing ``/openai/v1`` selects the GA v1 routes)."""
    openai_api_base: str | None = Field(default=None, validation_alias=AliasChoices("openai_api_base", "base_url"))
    """The openai SDK's ``base_url``: ``https://<resource>.openai.azure.com/openai/deployments/<deployment>``
    (endpoint and deployment in one URL) or ``.../openai/v1``. Checked as ``AzureChatOpenAI`` checks it."""
    validate_base_url: bool = True
    """Check ``base_url`` as ``AzureChatOpenAI`` does (it must contain ``/openai``, and not come with a deployment)."""
    api_key: SecretStr | None = Field(
        default_factory=_env_secret(*SETTINGS["api_key"].env),
        validation_alias=AliasChoices("api_key", "openai_api_key"),
    )
    """Azure OpenAI key; never serialized (``lc_secrets``). ``OPENAI_API_KEY`` is the last fallback."""
    azure_ad_token: SecretStr | None = Field(default_factory=_env_secret(*SETTINGS["azure_ad_token"].env))
    """A ready Entra token (never refreshed; prefer a token provider or managed identity)."""
    azure_ad_token_provider: Callable[[], str] | None = Field(default=None, exclude=True)
    """``() -> str`` Entra token source; run off the event loop in async calls."""
    azure_ad_async_token_provider: Callable[[], Awaitable[str]] | None = Field(default=None, exclude=True)
    """``async () -> str`` Entra token source; with it alone, sync calls still work."""
    api_version: str | None = Field(
        default_factory=_env(*SETTINGS["api_version"].env),
        validation_alias=AliasChoices("api_version", "openai_api_version"),
    )
    """The Azure api-version (``v1`` for the GA routes)."""
    openai_api_type: str | None = Field(default_factory=lambda: os.environ.get("OPENAI_API_TYPE", "azure"))
    """Legacy (openai<1); has no effect, as in ``AzureChatOpenAI``."""
    openai_organization: str | None = Field(
        default_factory=_env("OPENAI_ORG_ID", "OPENAI_ORGANIZATION"),
        validation_alias=AliasChoices("openai_organization", "organization"),
    )
    """Sent as the ``OpenAI-Organization`` header, as the openai SDK does (Azure ignores it)."""
    use_managed_identity: bool | None = None
    managed_identity_client_id: str | None = None
    use_default_credential: bool | None = None
    token_scope: str | None = None
    deployment: str | None = Field(
        default=None, validation_alias=AliasChoices("deployment", "azure_deployment", "deployment_name")
    )
    """The default deployment."""
    model: str | None = Field(default=None, validation_alias=AliasChoices("model", "model_name"))
    """The model behind the default deployment (rules, tracing, price); a per-call ``model=`` goes via the map."""
    model_version: str = ""
    """Appended to the model Azure reports (``gpt-4o-2024-05-13``), in ``response_metadata["model_name"]``, the
    LangSmith model name and the price lookup, as ``AzureChatOpenAI`` does."""
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

    # -- sampling and output --------------------------------------------------------------------------------
    max_tokens: int | None = Field(default=None, validation_alias=AliasChoices("max_tokens", "max_completion_tokens"))
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    n: int | None = None
    """Choices to generate (Chat Completions); the first is the answer, as with ``AzureChatOpenAI``."""
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logprobs: bool | None = None
    """Return log probabilities (``response_metadata["logprobs"]``)."""
    top_logprobs: int | None = None
    logit_bias: dict[int, int] | None = None
    reasoning_effort: ReasoningEffort | None = None
    """Any string (``none``, ``minimal`` ... ``xhigh``): Azure judges values this package does not know."""
    reasoning: dict[str, Any] | None = None
    """The Responses ``reasoning`` object (``{"effort": "low", "summary": "auto"}``); selects the Responses API
    unless ``use_responses_api=False``, as in ``AzureChatOpenAI``."""
    verbosity: str | None = None
    service_tier: str | None = None
    stop: list[str] | None = Field(default=None, validation_alias=AliasChoices("stop", "stop_sequences"))
    extra_body: dict[str, Any] | None = None
    """Extra top-level JSON fields, merged into every request body."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra top-level request fields, sent as given (unknown keyword arguments land here, with a warning)."""
    disabled_params: dict[str, Any] | None = None
    """Parameters ``with_structured_output`` must not send (``{"parallel_tool_calls": None}`` unless the model is
    ``gpt-4o``), as in ``AzureChatOpenAI``."""

    # -- Responses API --------------------------------------------------------------------------------------
    use_responses_api: bool | None = None
    """Use the Responses API; ``None`` decides as ``AzureChatOpenAI`` does (Responses-only fields select it)."""
    use_previous_response_id: bool = False
    """Send only the messages after the last answer, with its id as ``previous_response_id`` (Responses)."""
    store: bool | None = None
    include: list[str] | None = None
    truncation: str | None = None
    context_management: list[dict[str, Any]] | None = None
    prompt_cache_options: dict[str, Any] | None = None

    # -- HTTP ----------------------------------------------------------------------------------------------
    default_headers: dict[str, str] | None = None
    """Headers sent with every request (an APIM subscription key ...); never replace the credential."""
    default_query: dict[str, Any] | None = None
    """Query parameters sent with every request; ``api-version`` stays the configured one."""
    include_response_headers: bool = False
    """Put the HTTP response headers in ``response_metadata["headers"]`` (never a credential or cookie)."""
    timeout: float | None = Field(default=None, validation_alias=AliasChoices("timeout", "request_timeout"))
    stream_chunk_timeout: float | None = Field(default_factory=_chunk_timeout)
    """Seconds to wait for each stream chunk (``LANGCHAIN_OPENAI_STREAM_CHUNK_TIMEOUT_S``, 120 by default)."""
    max_retries: int | None = None
    deadline: float | None = None
    """Seconds the whole call may take (60 by default): every attempt, retry wait, failover and body read, a
    stream's included. Each attempt gets ``min(timeout, time left)``; ``max_retries`` bounds the count."""
    proxy: str | None = Field(
        default_factory=_env("OPENAI_PROXY"), validation_alias=AliasChoices("proxy", "openai_proxy")
    )
    http_client: Any = Field(default=None, exclude=True)
    """An ``httpx.Client`` for sync calls instead of the shared pool."""
    http_async_client: Any = Field(default=None, exclude=True)
    """An ``httpx.AsyncClient`` for async calls instead of the shared pool."""
    http_socket_options: Any = Field(default=None, exclude=True)
    """Not supported (refused when given): the shared pools own their sockets."""
    client: Any = Field(default=None, exclude=True)
    """Not supported (refused when given): the openai SDK's client objects are not used."""
    async_client: Any = Field(default=None, exclude=True)
    """Not supported (refused when given)."""
    root_client: Any = Field(default=None, exclude=True)
    """Not supported (refused when given)."""
    root_async_client: Any = Field(default=None, exclude=True)
    """Not supported (refused when given)."""

    # -- streaming, tokens, ours ------------------------------------------------------------------------------
    streaming: bool = False
    """Stream by default (``invoke`` then streams and folds)."""
    stream_usage: bool | None = None
    """Usage on streams; always asked of Azure, left out of the chunks only when ``False``."""
    tiktoken_model_name: str | None = None
    """The model whose tokenizer ``get_num_tokens`` uses (else the model, else the deployment)."""
    debug: bool | None = None
    raw_debug: bool | None = None
    config_file: str | None = None
    repair: bool = True
    """Repair histories Azure would reject (dangling tool calls); off raises instead."""
    event_sink: Any = Field(default=None, exclude=True)
    """An ``EventSink`` for the gateway's debug events, per-call summaries included (logging at DEBUG by
    default, without the summaries unless ``debug`` is on)."""
    health_store: Any = Field(default=None, exclude=True, repr=False)
    """Fleet mode: a Redis URL (``rediss://...``), a ``redis.Redis`` client or a ``HealthStore`` that every
    process shares; by default the config's ``health_store`` (``AZURE_GATEWAY_REDIS_URL``), else in-process.
    Never serialized (the URL may hold a password)."""

    # -- validation -----------------------------------------------------------------------------------------

    def __init__(self, **data: Any) -> None:
        """Refuse the openai SDK's client objects before pydantic runs (its wrapping would hide the error type)."""
        for name in (*_SDK_CLIENT_FIELDS, "http_socket_options"):
            if data.get(name) is not None:
                raise UnsupportedFieldError(
                    f"{name} is not supported: requests go through this package's own HTTP layer (shared pools, "
                    "one retry and failover loop), not the openai SDK",
                    fix="pass an httpx client as http_client / http_async_client, or drop the argument",
                )
        super().__init__(**data)

    @model_validator(mode="before")
    @classmethod
    def _unknown_kwargs_to_model_kwargs(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        known = _known_names(cls)
        extra: dict[str, Any] = dict(values.get("model_kwargs") or {})
        for name in [n for n in values if n not in known]:
            if name in extra:
                raise ConfigurationError(f"{name!r} was given twice (as an argument and in model_kwargs)")
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            warnings.warn(
                f"{name!r} is not a field of AzureGatewayChatModel; it was moved to model_kwargs and is sent as a "
                f"top-level request field{hint}",
                UserWarning,
                stacklevel=4,
            )
            extra[name] = values.pop(name)
        misplaced = sorted(k for k in extra if k in known)
        if misplaced:
            warnings.warn(
                f"{misplaced} should be given as fields, not in model_kwargs; they were moved",
                UserWarning,
                stacklevel=4,
            )
            for name in misplaced:
                values[name] = extra.pop(name)
        if extra or "model_kwargs" in values:
            values = {**values, "model_kwargs": extra}
        return values

    @model_validator(mode="after")
    def _check_anchor_fields(self) -> Self:
        if self.n is not None and self.n < 1:
            raise ConfigurationError("n must be at least 1", fix="pass n=1 or more")
        if self.n is not None and self.n > 1 and self.streaming:
            raise ConfigurationError("n must be 1 when streaming", fix="drop n or streaming=True")
        if self.disabled_params is None and self.model != "gpt-4o":
            self.disabled_params = {"parallel_tool_calls": None}
        if self.openai_api_base and self.validate_base_url:
            self._apply_base_url(self.openai_api_base)
        return self

    def _apply_base_url(self, base_url: str) -> None:
        if "/openai" not in base_url:
            raise ConfigurationError(
                f"base_url {base_url!r} has no /openai path",
                fix="give the resource as azure_endpoint='https://<resource>.openai.azure.com' (as AzureChatOpenAI "
                "requires since openai 1.0)",
            )
        if self.deployment and "openai_api_base" in self.model_fields_set:
            raise ConfigurationError(
                "azure_deployment and base_url were both given",
                fix="give azure_endpoint with azure_deployment, or base_url="
                "'https://<resource>.openai.azure.com/openai/deployments/<deployment>' alone",
            )
        match = _DEPLOYMENT_URL.match(base_url)
        if match is not None:
            self.endpoint, self.deployment = match.group("endpoint"), match.group("deployment")
        else:
            self.endpoint = base_url

    # -- AzureChatOpenAI's attribute names ----------------------------------------------------------------------

    @property
    def model_name(self) -> str | None:
        """``AzureChatOpenAI.model_name``: the model given (``model`` / ``model_name``)."""
        return self.model

    @property
    def deployment_name(self) -> str | None:
        """``AzureChatOpenAI.deployment_name``: the default deployment (``azure_deployment``)."""
        return self.deployment

    @property
    def azure_endpoint(self) -> str | None:
        """``AzureChatOpenAI.azure_endpoint``: the endpoint."""
        return self.endpoint

    @property
    def openai_api_key(self) -> SecretStr | None:
        """``AzureChatOpenAI.openai_api_key``: the key (a ``SecretStr``)."""
        return self.api_key

    @property
    def openai_api_version(self) -> str | None:
        """``AzureChatOpenAI.openai_api_version``: the api-version."""
        return self.api_version

    @property
    def request_timeout(self) -> float | None:
        """``AzureChatOpenAI.request_timeout``: the per-request timeout in seconds."""
        return self.timeout

    @property
    def openai_proxy(self) -> str | None:
        """``AzureChatOpenAI.openai_proxy``: the proxy URL."""
        return self.proxy


@functools.cache
def _known_names(cls: type[AzureChatOpenAIFields]) -> frozenset[str]:
    names: set[str] = set()
    for name, info in cls.model_fields.items():
        names.add(name)
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(choice for choice in alias.choices if isinstance(choice, str))
        elif isinstance(alias, str):
            names.add(alias)
    return frozenset(names)
