"""Gateway configuration: keyword arguments > config file > environment variables > defaults.

Every value remembers where it came from (``sources``), so errors and the doctor can say "from env
AZURE_OPENAI_TEMPERATURE" or "from file gateway.toml key 'temperature'". Secrets are pydantic ``SecretStr``:
masked in ``repr``, ``str``, logs and every dump.

``OPENAI_API_KEY`` is read as the very last fallback for ``api_key``, as ``AzureChatOpenAI`` does (llama-index's
Azure README configures Azure with it): after ``AZURE_OPENAI_API_KEY`` / ``AZURE_OPENAI_KEY``, and the credential
chain (:mod:`shared_core.auth`) ranks it below every Azure credential variable, so it never wins over one.

No generation setting has a default: ``temperature`` and ``max_tokens`` (file keys ``default_temperature`` /
``default_max_tokens`` too) are sent only when set somewhere, as the anchors send nothing by default.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, cast

from pydantic import SecretStr

from shared_core.config_file import endpoint_table, read_config_file
from shared_core.config_values import (
    ROUTING_STRATEGIES,
    check_api_version,
    check_routing,
    normalise_endpoint,
    normalise_gateway_url,
    parse_bool,
    parse_health_store,
    parse_number,
    parse_prices,
    parse_secret,
    parse_str_map,
)
from shared_core.costs import ModelPrice, PriceTable
from shared_core.deployments import DeploymentMap, validate_deployment_name
from shared_core.errors import ConfigurationError

__all__ = [
    "DEFAULT_API_VERSION",
    "ENV_VARS",
    "FILE_KEYS",
    "ROUTING_STRATEGIES",
    "SETTINGS",
    "DeploymentConfig",
    "EndpointConfig",
    "FrameworkFields",
    "GatewayConfig",
    "Setting",
    "load_config",
]

DEFAULT_API_VERSION = "2024-10-21"

CONFIG_FILE_ENV = "AZURE_GATEWAY_CONFIG"


@dataclass(frozen=True, slots=True)
class DeploymentConfig:
    """One deployment on a named endpoint.

    Attributes:
        name: The deployment name in the Azure portal.
        model: The base model behind it (decides parameter rules and price).
        priority: Lower is tried first by priority routing.
        weight: Share for weighted routing.
        ptu: Provisioned throughput (zero marginal cost).
    """

    name: str
    model: str | None = None
    priority: int = 0
    weight: float = 1.0
    ptu: bool = False


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    """A named Azure OpenAI endpoint (a region), with its own credentials and deployments.

    Credential fields left ``None`` inherit the top-level configuration.
    """

    name: str
    endpoint: str
    api_key: SecretStr | None = None
    azure_ad_token: SecretStr | None = None
    use_managed_identity: bool | None = None
    managed_identity_client_id: str | None = None
    use_default_credential: bool | None = None
    api_version: str | None = None
    priority: int = 0
    deployments: tuple[DeploymentConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """The resolved configuration. Build it with :func:`load_config`.

    Attributes:
        endpoint: ``https://<resource>.openai.azure.com`` (no path).
        api_key: Azure OpenAI key (``api-key`` header).
        azure_ad_token: A ready Entra token (never refreshed).
        api_version: ``2024-10-21`` by default; ``v1`` selects the GA ``/openai/v1`` routes.
        use_managed_identity: Use a managed identity (system-assigned, or user-assigned by client id).
        managed_identity_client_id: Client id of a user-assigned identity.
        use_default_credential: Use azure-identity's DefaultAzureCredential.
        token_scope: Override the Entra scope.
        default_deployment: Deployment used when a request names no mapped model.
        default_model: Model assumed when a request names none.
        deployment_mapping: Model name -> deployment name.
        deployment_models: Deployment name -> base model, for deployments whose name says nothing.
        max_tokens: Output token limit for requests that set none (opt-in; unset sends none).
        temperature: Temperature for requests that set none (opt-in; unset sends none; dropped for reasoning
            models).
        timeout: Seconds for one HTTP attempt's read.
        max_retries: Retries after the first attempt.
        deadline: Seconds the whole call may take: attempts, waits, body reads (each gets min(timeout, left)).
        max_cooldown: Longest cooldown a 429's ``Retry-After`` may put on a deployment.
        debug: Emit request/response summary events.
        raw_debug: Also emit full request/response bodies (never credentials).
        endpoints: Named endpoints (regions) for multi-deployment routing.
        routing: How a route's deployments are ordered: ``priority`` (failover by priority number),
            ``least_latency`` (fastest time to first byte) or ``weighted_round_robin``.
        prices: Price overrides by base model (USD per 1M tokens) over the shipped table.
        gateway_url: Base URL of an OpenAI-compatible gateway in front of Azure (``https://gw.example.com/v1``);
            when set, every request goes there as ``POST {gateway_url}/chat/completions`` with model
            ``azure/<deployment>``, and nothing is sent to Azure directly.
        gateway_key: The gateway's key, sent as ``X-API-Key``.
        forward_azure_credentials: Also send the Azure endpoint and key to the gateway (``X-Azure-Endpoint``,
            ``X-Azure-API-Key``), for gateways that call Azure with the caller's credentials. Off by default.
        health_store: Fleet mode: a ``redis://``, ``rediss://`` (TLS) or ``unix://`` URL of the Redis that every
            process shares deployment health and quota through (``AZURE_GATEWAY_REDIS_URL``); unset keeps health
            in the process. A secret: the URL may hold a password.
        config_file: The file that was read, if any.
        sources: Field name -> where its value came from (``kwarg``, ``file ... key ...``, ``env VAR``, ``default``).
    """

    endpoint: str | None = None
    api_key: SecretStr | None = None
    azure_ad_token: SecretStr | None = None
    api_version: str = DEFAULT_API_VERSION
    use_managed_identity: bool = False
    managed_identity_client_id: str | None = None
    use_default_credential: bool = False
    token_scope: str | None = None
    default_deployment: str | None = None
    default_model: str | None = None
    deployment_mapping: Mapping[str, str] = field(default_factory=lambda: {})
    deployment_models: Mapping[str, str] = field(default_factory=lambda: {})
    max_tokens: int | None = None
    temperature: float | None = None
    timeout: float = 60.0
    max_retries: int = 2
    deadline: float = 60.0
    max_cooldown: float = 3600.0
    debug: bool = False
    raw_debug: bool = False
    endpoints: tuple[EndpointConfig, ...] = ()
    routing: str = "priority"
    prices: Mapping[str, ModelPrice] = field(default_factory=lambda: {})
    gateway_url: str | None = None
    gateway_key: SecretStr | None = None
    forward_azure_credentials: bool = False
    health_store: SecretStr | None = None
    config_file: str | None = None
    sources: Mapping[str, str] = field(default_factory=lambda: {}, compare=False)

    def deployment_map(self) -> DeploymentMap:
        """The deployment map this configuration describes."""
        models = dict(self.deployment_models)
        for endpoint in self.endpoints:
            for dep in endpoint.deployments:
                if dep.model:
                    models.setdefault(dep.name, dep.model)
        return DeploymentMap(
            mapping=self.deployment_mapping,
            default_deployment=self.default_deployment,
            default_model=self.default_model,
            deployment_models=models,
        )

    def price_table(self) -> PriceTable:
        """The shipped price table with this configuration's ``prices`` put over it."""
        table = PriceTable.default()
        return table.with_overrides(self.prices) if self.prices else table

    def describe(self) -> dict[str, str]:
        """Each set value with its source, secrets masked; for printing and the doctor."""
        out: dict[str, str] = {}
        for f in fields(self):
            if f.name in {"sources", "endpoints", "prices"}:
                continue
            value: object = getattr(self, f.name)
            if value is None or value == {}:
                continue
            shown = "**********" if isinstance(value, SecretStr) else str(value)
            out[f.name] = f"{shown}  ({self.sources.get(f.name, 'default')})"
        for endpoint in self.endpoints:
            deps = ", ".join(d.name for d in endpoint.deployments)
            out[f"endpoints.{endpoint.name}"] = f"{endpoint.endpoint} [{deps}]"
        if self.prices:
            out["prices"] = f"{', '.join(sorted(self.prices))}  ({self.sources.get('prices', 'default')})"
        return out


def _endpoint_from_table(table: Mapping[str, object], where: str) -> EndpointConfig:
    name = str(table.get("name", ""))
    if not name:
        raise ConfigurationError("an endpoint needs a 'name'", source=where)
    raw_url = table.get("endpoint", table.get("azure_endpoint"))
    if raw_url is None:
        raise ConfigurationError(f"endpoint '{name}' has no 'endpoint' URL", source=where)
    url, _ = normalise_endpoint(raw_url, f"{where} endpoint '{name}'")
    deployments: list[DeploymentConfig] = []
    for j, dep in enumerate(cast(list[Mapping[str, object]], table.get("deployments", []))):
        dep_where = f"{where} endpoint '{name}' deployments[{j}]"
        dep_name = validate_deployment_name(str(dep.get("name", "")), dep_where)
        model = dep.get("model")
        deployments.append(
            DeploymentConfig(
                name=dep_name,
                model=str(model) if model is not None else None,
                priority=int(parse_number(dep.get("priority", 0), dep_where, lo=-1e6, hi=1e6, integer=True)),
                weight=parse_number(dep.get("weight", 1.0), dep_where, lo=0.0, hi=1e6, integer=False),
                ptu=parse_bool(dep.get("ptu", False), dep_where),
            )
        )
    key, token = table.get("api_key"), table.get("azure_ad_token")
    use_mi, use_dc = table.get("use_managed_identity"), table.get("use_default_credential")
    version = table.get("api_version")
    client_id = table.get("managed_identity_client_id")
    return EndpointConfig(
        name=name,
        endpoint=url,
        api_key=parse_secret(key, where) if key is not None else None,
        azure_ad_token=parse_secret(token, where) if token is not None else None,
        use_managed_identity=parse_bool(use_mi, where) if use_mi is not None else None,
        managed_identity_client_id=str(client_id) if client_id is not None else None,
        use_default_credential=parse_bool(use_dc, where) if use_dc is not None else None,
        api_version=check_api_version(version, where) if version is not None else None,
        priority=int(parse_number(table.get("priority", 0), where, lo=-1e6, hi=1e6, integer=True)),
        deployments=tuple(deployments),
    )


def _endpoints(raw: object, source: str) -> tuple[EndpointConfig, ...]:
    if not isinstance(raw, list | tuple):
        raise ConfigurationError("'endpoints' must be a list", source=source)
    out: list[EndpointConfig] = []
    for i, item in enumerate(list(cast(list[object] | tuple[object, ...], raw))):
        if isinstance(item, EndpointConfig | Mapping):  # objects and tables: one validation path
            out.append(_endpoint_from_table(endpoint_table(cast(object, item), f"{source}[{i}]"), f"{source}[{i}]"))
        else:
            raise ConfigurationError("each endpoint must be a table or EndpointConfig", source=f"{source}[{i}]")
    names = [e.name for e in out]
    if len(set(names)) != len(names):
        raise ConfigurationError(
            f"endpoint names repeat: {names}", source=source, fix="give each endpoint its own name"
        )
    return tuple(out)


Parser = Callable[[object, str], object]


@dataclass(frozen=True, slots=True)
class Setting:
    """How one :class:`GatewayConfig` field is read; :data:`SETTINGS` holds one per field, and the environment
    map, the config-file keys, the keyword arguments :func:`load_config` accepts and the framework packages'
    copy step (:class:`FrameworkFields`) are all derived from it.

    Attributes:
        parse: ``(raw, source) -> value`` (raises :class:`ConfigurationError` naming ``source``); ``None`` means
            "not set".
        env: Environment variables, the first one set wins.
        file_keys: Config-file keys; the first is the field's own name or the documented one, the others aliases.
        secret: The value is a ``SecretStr``: masked in every repr and dump, never serialized by a framework package.
        no_env: Why the setting has no environment variable (required when ``env`` is empty).
    """

    parse: Parser
    env: tuple[str, ...] = ()
    file_keys: tuple[str, ...] = ()
    secret: bool = False
    no_env: str = ""


def _text(raw: object, source: str) -> str | None:
    return None if raw is None or raw == "" else str(raw)


def _number(lo: float, hi: float, *, integer: bool = False) -> Parser:
    def parse(raw: object, source: str) -> object:
        value = parse_number(raw, source, lo=lo, hi=hi, integer=integer)
        return int(value) if integer else value

    return parse


def _deployment(raw: object, source: str) -> str | None:
    return validate_deployment_name(str(raw).removeprefix("azure/"), source) if raw else None


def _setting(
    name: str, parse: Parser, *env: str, keys: tuple[str, ...] = (), secret: bool = False, no_env: str = ""
) -> tuple[str, Setting]:
    return name, Setting(parse, env=env, file_keys=keys or (name,), secret=secret, no_env=no_env)


_TABLE = "a table, not one value: give it in the config file or as an argument"
_ARGUMENT = "as in the anchors (AzureChatOpenAI, llama-index AzureOpenAI), an argument or file key only"
_GATEWAY = "a gateway in front of Azure is set up in the config file or in code, not per process"

SETTINGS: Mapping[str, Setting] = dict(
    [
        _setting(
            "endpoint",
            lambda raw, source: normalise_endpoint(raw, source)[0],
            "AZURE_OPENAI_ENDPOINT",
            "AZURE_OPENAI_BASE_URL",
            keys=("azure_endpoint", "endpoint"),
        ),
        _setting("api_key", parse_secret, "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_KEY", "OPENAI_API_KEY", secret=True),
        _setting("azure_ad_token", parse_secret, "AZURE_OPENAI_AD_TOKEN", secret=True),
        # The Azure name wins over LangChain's OPENAI_API_VERSION.
        _setting("api_version", check_api_version, "AZURE_OPENAI_API_VERSION", "OPENAI_API_VERSION"),
        _setting("use_managed_identity", parse_bool, "AZURE_USE_MANAGED_IDENTITY"),
        _setting("managed_identity_client_id", _text, "AZURE_MANAGED_IDENTITY_CLIENT_ID"),
        _setting("use_default_credential", parse_bool, "AZURE_USE_DEFAULT_CREDENTIAL"),
        _setting("token_scope", _text, no_env="rarely changed (sovereign clouds): a file key or argument"),
        _setting("default_deployment", _deployment, "AZURE_OPENAI_DEFAULT_DEPLOYMENT"),
        _setting("default_model", _text, "AZURE_OPENAI_DEFAULT_MODEL"),
        _setting("deployment_mapping", lambda r, s: parse_str_map(r, s, deployments_are="values"), no_env=_TABLE),
        _setting("deployment_models", lambda r, s: parse_str_map(r, s, deployments_are="keys"), no_env=_TABLE),
        _setting(
            "max_tokens",
            _number(1, 10_000_000, integer=True),
            "AZURE_OPENAI_MAX_OUTPUT_TOKENS",
            keys=("max_tokens", "default_max_tokens"),
        ),
        _setting(
            "temperature", _number(0.0, 2.0), "AZURE_OPENAI_TEMPERATURE", keys=("temperature", "default_temperature")
        ),
        _setting("timeout", _number(0.001, 86_400), no_env=_ARGUMENT),
        _setting("max_retries", _number(0, 100, integer=True), no_env=_ARGUMENT),
        _setting("deadline", _number(0.001, 86_400), "AZURE_OPENAI_DEADLINE"),
        _setting("max_cooldown", _number(0.001, 86_400), "AZURE_OPENAI_MAX_COOLDOWN"),
        _setting("debug", parse_bool, no_env="debug events go to the event sink given in code; a file key too"),
        _setting(
            "raw_debug",
            parse_bool,
            no_env="full bodies are opted into in code or in the file, never by a stray variable",
        ),
        _setting("endpoints", _endpoints, no_env=_TABLE),
        _setting("routing", check_routing, keys=("routing", "strategy"), no_env="orders the endpoints, a table"),
        _setting("prices", parse_prices, no_env=_TABLE),
        _setting("gateway_url", normalise_gateway_url, no_env=_GATEWAY),
        _setting("gateway_key", parse_secret, secret=True, no_env=_GATEWAY),
        _setting("forward_azure_credentials", parse_bool, no_env=_GATEWAY),
        _setting("health_store", parse_health_store, "AZURE_GATEWAY_REDIS_URL", secret=True),
    ]
)
"""Every configuration setting, described once, in :class:`GatewayConfig`'s field order."""

# Derived: config field -> environment variables, and config-file key -> config field.
ENV_VARS: Mapping[str, tuple[str, ...]] = {name: s.env for name, s in SETTINGS.items() if s.env}
FILE_KEYS: Mapping[str, str] = {key: name for name, s in SETTINGS.items() for key in s.file_keys}

_FIELDS = tuple(SETTINGS)


def _convert(name: str, raw: object, source: str) -> object:
    return SETTINGS[name].parse(raw, source)


@dataclass(frozen=True, slots=True)
class FrameworkFields:
    """How a framework class's fields configure the gateway, so that its copy step is derived from
    :data:`SETTINGS` instead of listing every setting (a new setting needs a field, or a reason here).

    Attributes:
        renamed: Setting -> the class's field, where the names differ (``default_deployment`` -> ``engine``).
        not_copied: Setting -> why the class passes no field of that name to :func:`load_config` (it has none, or
            uses it otherwise); ``tests/test_config_settings.py`` requires a reason for every setting left out.
    """

    renamed: Mapping[str, str] = field(default_factory=lambda: {})
    not_copied: Mapping[str, str] = field(default_factory=lambda: {})

    def copied(self) -> dict[str, str]:
        """Setting -> the class's field, for every setting the class copies."""
        return {name: self.renamed.get(name, name) for name in SETTINGS if name not in self.not_copied}

    def config_kwargs(self, model: object, *, given: Collection[str] | None = None) -> dict[str, Any]:
        """The :func:`load_config` keyword arguments a framework object's fields give.

        A field counts when it is in ``given`` (pydantic's ``model_fields_set``: a field left to its default lets
        the config file and the environment decide) and not ``None``; without ``given``, when it is not ``None``,
        ``False`` or an empty mapping (the unset defaults of a class whose flags default to ``False``).
        """
        out: dict[str, Any] = {}
        for name, attr in self.copied().items():
            value: object = getattr(model, attr)
            if given is not None:
                unset = attr not in given or value is None
            else:
                unset = value is None or value is False or (isinstance(value, Mapping) and not value)
            if not unset:
                out[name] = value
        return out


def load_config(
    *,
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    **kwargs: object,
) -> GatewayConfig:
    """Resolve the configuration from keyword arguments > config file > environment > defaults.

    Args:
        config_file: A TOML file; defaults to ``$AZURE_GATEWAY_CONFIG`` when set.
        env: The environment to read (``os.environ`` by default); tests pass their own.
        **kwargs: Any :class:`GatewayConfig` field. ``None`` means "not given".

    Raises:
        ConfigurationError: A value is malformed or a key unknown; the message names its source and the fix.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    for key in kwargs:
        if key not in _FIELDS:
            from shared_core.config_file import unknown_key_error  # noqa: PLC0415 - error path only

            raise unknown_key_error(key, frozenset(_FIELDS), "keyword arguments")
    path = config_file or environ.get(CONFIG_FILE_ENV) or None
    file_values = read_config_file(path, environ, FILE_KEYS) if path else {}
    chosen: dict[str, object] = {}
    sources: dict[str, str] = {}
    for name in _FIELDS:
        raw, source = _pick(name, kwargs, file_values, environ)
        if source is None:
            continue
        value = _convert(name, raw, source)
        if value is not None:
            chosen[name], sources[name] = value, source
    _apply_v1_base_url(chosen, sources, kwargs, file_values, environ)
    return GatewayConfig(
        **chosen,  # pyright: ignore[reportArgumentType]
        config_file=str(path) if path else None,
        sources=sources,
    )


def _pick(
    name: str,
    kwargs: Mapping[str, object],
    file_values: Mapping[str, tuple[object, str]],
    env: Mapping[str, str],
) -> tuple[object, str | None]:
    if kwargs.get(name) is not None:
        return kwargs[name], f"kwarg '{name}'"
    if name in file_values:
        return file_values[name]
    for var in ENV_VARS.get(name, ()):
        if var in env and env[var].strip() != "":
            return env[var], f"env {var}"
    return None, None


def _apply_v1_base_url(
    chosen: dict[str, object],
    sources: dict[str, str],
    kwargs: Mapping[str, object],
    file_values: Mapping[str, tuple[object, str]],
    env: Mapping[str, str],
) -> None:
    """An endpoint given as ``.../openai/v1`` (the openai SDK's base_url) selects the v1 routes by default."""
    raw, source = _pick("endpoint", kwargs, file_values, env)
    if source is None or "api_version" in sources:
        return
    if normalise_endpoint(raw, source)[1]:
        chosen["api_version"], sources["api_version"] = "v1", f"{source} (URL ends in /openai/v1)"
