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

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import cast
from urllib.parse import SplitResult, urlsplit

from pydantic import SecretStr

from shared_core.config_file import endpoint_table, read_config_file
from shared_core.costs import ModelPrice, PriceTable, parse_prices
from shared_core.deployments import DeploymentMap, validate_deployment_name
from shared_core.errors import ConfigurationError

__all__ = [
    "DEFAULT_API_VERSION",
    "ENV_VARS",
    "ROUTING_STRATEGIES",
    "DeploymentConfig",
    "EndpointConfig",
    "GatewayConfig",
    "load_config",
]

DEFAULT_API_VERSION = "2024-10-21"

# Config field -> environment variables, first set wins (the Azure names win over LangChain's OPENAI_API_VERSION).
ENV_VARS: Mapping[str, tuple[str, ...]] = {
    "endpoint": ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_BASE_URL"),
    "api_key": ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_KEY", "OPENAI_API_KEY"),
    "azure_ad_token": ("AZURE_OPENAI_AD_TOKEN",),
    "api_version": ("AZURE_OPENAI_API_VERSION", "OPENAI_API_VERSION"),
    "use_managed_identity": ("AZURE_USE_MANAGED_IDENTITY",),
    "use_default_credential": ("AZURE_USE_DEFAULT_CREDENTIAL",),
    "managed_identity_client_id": ("AZURE_MANAGED_IDENTITY_CLIENT_ID",),
    "default_deployment": ("AZURE_OPENAI_DEFAULT_DEPLOYMENT",),
    "default_model": ("AZURE_OPENAI_DEFAULT_MODEL",),
    "max_tokens": ("AZURE_OPENAI_MAX_OUTPUT_TOKENS",),
    "temperature": ("AZURE_OPENAI_TEMPERATURE",),
    "health_store": ("AZURE_GATEWAY_REDIS_URL",),
    "deadline": ("AZURE_OPENAI_DEADLINE",),
    "max_cooldown": ("AZURE_OPENAI_MAX_COOLDOWN",),
}
CONFIG_FILE_ENV = "AZURE_GATEWAY_CONFIG"
ROUTING_STRATEGIES = ("priority", "least_latency", "weighted_round_robin")

_API_VERSION = re.compile(r"^(v1|latest|preview|\d{4}-\d{2}-\d{2}(-preview)?)$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


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


def parse_bool(raw: object, source: str) -> bool:
    """Parse ``true``/``1``/``yes``/``on`` or ``false``/``0``/``no``/``off`` (any case); anything else is an error."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(f"{raw!r} is not a boolean", source=source, fix="use true/false, 1/0 or yes/no")


def _parse_number(raw: object, source: str, *, lo: float, hi: float, integer: bool) -> float:
    if isinstance(raw, bool):
        raise ConfigurationError(f"{raw!r} is not a number", source=source)
    try:
        value = int(str(raw)) if integer else float(str(raw))
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise ConfigurationError(
            f"{raw!r} is not {kind}", source=source, fix=f"use {kind} between {lo} and {hi}"
        ) from None
    if not (lo <= value <= hi) or math.isnan(value):
        raise ConfigurationError(f"{value} is out of range", source=source, fix=f"use a value between {lo} and {hi}")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# What httpx and aiohttp accept as a host: an ASCII name (IDN hosts go in punycode) or an IP literal. Only a
# bracketed IPv6 literal has a ':' in urlsplit's hostname; it may carry a zone id (fe80::1%eth0).
_HOST_NAME = re.compile(r"[a-z0-9._-]+")
_HOST_IPV6 = re.compile(r"[0-9a-f:.]+(%[\w.~-]+)?", re.ASCII)


def _shown(text: str) -> str:
    """The URL as an error message may show it: everything before the last ``@`` (a password, perhaps) masked."""
    head, at, tail = text.rpartition("@")
    if not at:
        return text
    scheme, sep, _ = head.partition("://")
    return f"{scheme}{sep}***@{tail}" if sep else f"***@{tail}"


def _split_url(text: str, what: str, source: str, fix: str) -> SplitResult:
    """Split a URL, refusing what the HTTP clients would refuse only at the first request.

    Raises:
        ConfigurationError: Unparsable (an unclosed ``[``, a bracketed non-IP, a host that NFKC changes into
            a delimiter), a port that is not a number in 0-65535, no http(s) scheme or host, a host that is
            not an ASCII name or IP literal, or any userinfo (``user:pw@``, even an empty ``:@``).
    """
    try:
        parts = urlsplit(text)
        _ = parts.port  # urlsplit parses the port only when asked, and raises then
    except ValueError as exc:
        # The parser's message quotes the netloc, which may hold a password.
        reason = str(exc) if "@" not in text else "malformed host or port"
        raise ConfigurationError(
            f"{what} {_shown(text)!r} is not a valid URL ({reason})", source=source, fix=fix
        ) from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"http", "https"} or not host:
        raise ConfigurationError(f"{what} {_shown(text)!r} is not a URL", source=source, fix=fix)
    if not (_HOST_IPV6 if ":" in host else _HOST_NAME).fullmatch(host):
        raise ConfigurationError(
            f"{what} {_shown(text)!r} has a host that is not a hostname or IP address",
            source=source,
            fix=f"{fix}; write an international domain name in its xn-- (punycode) form",
        )
    if "@" in parts.netloc:
        raise ConfigurationError(
            f"{what} {parts.scheme}://{parts.hostname} has credentials in the URL",
            source=source,
            fix="remove the user:password@ part; give keys in their own settings",
        )
    return parts


def normalise_endpoint(raw: object, source: str) -> tuple[str, bool]:
    """Check an endpoint URL and strip a trailing ``/openai`` or ``/openai/v1``.

    Returns:
        The ``scheme://host[:port]`` endpoint, and whether the URL named the GA ``/openai/v1`` surface.

    Raises:
        ConfigurationError: Not a URL (see :func:`_split_url`), a path other than ``/openai[/v1]``, a query or
            fragment, or plain ``http`` to a host that is not loopback (a key over plain http is readable on
            the network).
    """
    text = str(raw).strip()
    parts = _split_url(
        text, "endpoint", source, "use https://<resource>.openai.azure.com (from the Azure portal, Keys and Endpoint)"
    )
    host = parts.hostname or ""
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigurationError(
            f"endpoint {text!r} uses plain http",
            source=source,
            fix="use https://; plain http is allowed only for loopback (127.0.0.1, localhost, ::1)",
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(
            f"endpoint {parts.scheme}://{host} has a query or fragment in the URL",
            source=source,
            fix="give only scheme and host; put keys in AZURE_OPENAI_API_KEY",
        )
    path = parts.path.rstrip("/")
    is_v1 = path.endswith("/openai/v1")
    if path not in {"", "/openai", "/openai/v1"}:
        raise ConfigurationError(
            f"endpoint {text!r} has an unexpected path {path!r}",
            source=source,
            fix="give the resource URL only, e.g. https://<resource>.openai.azure.com",
        )
    return f"{parts.scheme}://{parts.netloc}", is_v1


def normalise_gateway_url(raw: object, source: str) -> str:
    """Check the base URL of an OpenAI-compatible gateway; a path (``/v1``) is kept, a trailing ``/`` dropped.

    Raises:
        ConfigurationError: Not a URL (see :func:`_split_url`), a query or fragment, or plain ``http`` to a
            host that is not loopback (the gateway key, and perhaps the Azure key, travel with every request).
    """
    text = str(raw).strip()
    parts = _split_url(text, "gateway_url", source, "use https://<gateway host>/v1")
    host = parts.hostname or ""
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigurationError(
            f"gateway_url {text!r} uses plain http",
            source=source,
            fix="use https://; plain http is allowed only for loopback (127.0.0.1, localhost, ::1)",
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(
            f"gateway_url {parts.scheme}://{host} has a query or fragment in the URL",
            source=source,
            fix="give scheme, host and path only; put the key in gateway_key",
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _check_routing(raw: object, source: str) -> str:
    text = str(raw).strip().lower().replace("-", "_")
    if text not in ROUTING_STRATEGIES:
        raise ConfigurationError(
            f"unknown routing strategy {raw!r}", source=source, fix=f"use one of {', '.join(ROUTING_STRATEGIES)}"
        )
    return text


def _prices(raw: object, source: str) -> dict[str, ModelPrice]:
    if isinstance(raw, PriceTable):
        return dict(raw.prices)
    if not isinstance(raw, Mapping):
        raise ConfigurationError("'prices' must be a table of model = {input, output, cached_input}", source=source)
    return parse_prices(cast(Mapping[str, object], raw), source=source)


def _check_api_version(raw: object, source: str) -> str:
    text = str(raw).strip()
    if not _API_VERSION.fullmatch(text):
        raise ConfigurationError(
            f"api-version {text!r} is not valid",
            source=source,
            fix="use a date like 2024-10-21 or 2025-04-01-preview, or v1 for the GA /openai/v1 routes",
        )
    return text


def _secret(raw: object, source: str) -> SecretStr | None:
    if isinstance(raw, SecretStr):
        return raw if raw.get_secret_value() else None
    if not isinstance(raw, str):
        raise ConfigurationError("a secret must be a string", source=source)
    return SecretStr(raw) if raw.strip() else None


def _health_store_url(raw: object, source: str) -> SecretStr | None:
    secret = _secret(raw, source)
    scheme = "" if secret is None else secret.get_secret_value().partition("://")[0].lower()
    if secret is not None and scheme not in ("redis", "rediss", "unix"):
        # The URL itself is not repeated: it may hold the Redis password.
        raise ConfigurationError(
            f"health_store must be a Redis URL; this one's scheme is {scheme[:10]!r}",
            source=source,
            fix="use redis://host:6379/0, rediss://:<access key>@<name>.redis.cache.windows.net:6380/0 or "
            "unix:///path/redis.sock",
        )
    return secret


def _str_map(raw: object, source: str, *, deployments_are: str) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise ConfigurationError("must be a table of name = name", source=source)
    out: dict[str, str] = {}
    for key, value in cast(Mapping[object, object], raw).items():
        if not isinstance(value, str) or not isinstance(key, str):
            raise ConfigurationError(f"entry {key!r} must map a name to a name", source=source)
        dep = value if deployments_are == "values" else key
        validate_deployment_name(dep, f"{source} entry {key!r}")
        out[key] = value
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
                priority=int(_parse_number(dep.get("priority", 0), dep_where, lo=-1e6, hi=1e6, integer=True)),
                weight=_parse_number(dep.get("weight", 1.0), dep_where, lo=0.0, hi=1e6, integer=False),
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
        api_key=_secret(key, where) if key is not None else None,
        azure_ad_token=_secret(token, where) if token is not None else None,
        use_managed_identity=parse_bool(use_mi, where) if use_mi is not None else None,
        managed_identity_client_id=str(client_id) if client_id is not None else None,
        use_default_credential=parse_bool(use_dc, where) if use_dc is not None else None,
        api_version=_check_api_version(version, where) if version is not None else None,
        priority=int(_parse_number(table.get("priority", 0), where, lo=-1e6, hi=1e6, integer=True)),
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


def _convert(name: str, raw: object, source: str) -> object:
    match name:
        case "endpoint":
            return normalise_endpoint(raw, source)[0]
        case "api_key" | "azure_ad_token" | "gateway_key":
            return _secret(raw, source)
        case "api_version":
            return _check_api_version(raw, source)
        case "use_managed_identity" | "use_default_credential" | "debug" | "raw_debug" | "forward_azure_credentials":
            return parse_bool(raw, source)
        case "temperature":
            return _parse_number(raw, source, lo=0.0, hi=2.0, integer=False)
        case "max_tokens":
            return int(_parse_number(raw, source, lo=1, hi=10_000_000, integer=True))
        case "max_retries":
            return int(_parse_number(raw, source, lo=0, hi=100, integer=True))
        case "timeout" | "deadline" | "max_cooldown":
            return _parse_number(raw, source, lo=0.001, hi=86_400, integer=False)
        case "default_deployment":
            return validate_deployment_name(str(raw).removeprefix("azure/"), source) if raw else None
        case "deployment_mapping":
            return _str_map(raw, source, deployments_are="values")
        case "deployment_models":
            return _str_map(raw, source, deployments_are="keys")
        case "endpoints":
            return _endpoints(raw, source)
        case "routing":
            return _check_routing(raw, source)
        case "prices":
            return _prices(raw, source)
        case "gateway_url":
            return normalise_gateway_url(raw, source)
        case "health_store":
            return _health_store_url(raw, source)
        case _:
            return None if raw is None or raw == "" else str(raw)


_FIELDS = tuple(f.name for f in fields(GatewayConfig) if f.name not in {"config_file", "sources"})


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
    file_values = read_config_file(path, environ) if path else {}
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
