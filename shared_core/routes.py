"""Routes from configuration: which deployments may answer a requested model, where they live, and how to sign in.

A route is the list of :class:`RouteTarget` s one call may use, each a
:class:`~shared_core.transport.strategies.RouteCandidate` (for health, strategies and costs) plus what the
pipeline needs to reach it (endpoint URL, credential, api-version). Three shapes:

* **Named endpoints** (``[[endpoints]]``): every deployment whose base model equals the resolved model, or whose
  name equals the resolved deployment, in every endpoint (region). A candidate's priority is its endpoint's
  priority plus its own. The top-level endpoint is used only when no named endpoint has a matching deployment.
* **One endpoint** (no ``endpoints``): the configured endpoint and the resolved deployment, as before.
* **Gateway mode** (``gateway_url``): one target, the OpenAI-compatible gateway, which routes to Azure itself.

Credentials: an endpoint that sets any credential field uses only its own (a key on the top level must not win
over an endpoint's managed identity by the usual precedence); one that sets none shares the top-level provider,
or gets its own from the top-level fields when its token scope differs (an AI Foundry host). Each provider is
built once, when the table is built, except the top-level one when every named endpoint has its own: then the
top-level endpoint only serves models no named endpoint has, so its credential is resolved (and a missing one
reported) when a route first falls back to it.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import SecretStr

from shared_core.auth import AuthProvider, resolve_auth, scope_for_endpoint
from shared_core.config import DEFAULT_API_VERSION, EndpointConfig, GatewayConfig
from shared_core.deployments import ResolvedDeployment
from shared_core.errors import ConfigurationError
from shared_core.transport.health import deployment_key
from shared_core.transport.strategies import RouteCandidate

__all__ = ["GATEWAY_ENDPOINT_NAME", "GatewayKeyAuth", "RouteTable", "RouteTarget"]

GATEWAY_ENDPOINT_NAME = "gateway"
_STATIC_KINDS = frozenset({"api_key", "azure_ad_token", "gateway_key"})


@dataclass(frozen=True, slots=True)
class RouteTarget:
    """One deployment a call may be sent to, with everything needed to reach it.

    Attributes:
        candidate: Key, names, base model, priority, weight and PTU flag (what routing and costs read).
        endpoint_url: ``scheme://host[:port]`` of the Azure endpoint, or the gateway's base URL in gateway mode.
        auth: The endpoint's credential.
        api_version: The endpoint's api-version (``v1`` in gateway mode, and for the Responses API when the user
            set none: the default 2024-10-21 predates the Responses API, and the GA ``/openai/v1/responses``
            route needs no api-version; a version the user chose is kept, and a too-old one is reported by the
            encoder).
        scope: The Entra scope, for token credentials (``None`` for keys and static tokens).
        via_gateway: The target is an OpenAI-compatible gateway, not Azure.
    """

    candidate: RouteCandidate
    endpoint_url: str
    auth: AuthProvider
    api_version: str
    scope: str | None
    via_gateway: bool = False

    @property
    def named_endpoint(self) -> str | None:
        """The endpoint's name in the configuration (``None`` for the single top-level endpoint)."""
        return self.candidate.endpoint or None


class GatewayKeyAuth:
    """Credentials for an OpenAI-compatible gateway (TensorWall's shape): ``X-API-Key``, and optionally the Azure
    endpoint and key for the gateway to use (``X-Azure-Endpoint`` / ``X-Azure-API-Key``).

    Only a gateway target holds this provider, and the transport never follows redirects, so the Azure key can
    reach the configured gateway and no other host.

    Args:
        gateway_key: The gateway's key; ``None`` sends no ``X-API-Key``.
        azure_endpoint: Forwarded as ``X-Azure-Endpoint`` when ``azure_api_key`` is forwarded too.
        azure_api_key: Forwarded as ``X-Azure-API-Key`` (only when the user asked to forward credentials).
    """

    kind: str = "gateway_key"

    def __init__(
        self,
        gateway_key: SecretStr | None,
        *,
        azure_endpoint: str | None = None,
        azure_api_key: SecretStr | None = None,
    ) -> None:
        self._key = gateway_key
        self._forward = (azure_endpoint, azure_api_key) if azure_endpoint and azure_api_key else None
        forwarded = "; Azure endpoint and key forwarded" if self._forward else ""
        self.reason = ("gateway_key set" if gateway_key else "no gateway_key set") + forwarded

    def headers(self) -> dict[str, str]:
        """The gateway headers, fresh dict on each call."""
        out: dict[str, str] = {}
        if self._key is not None:
            out["X-API-Key"] = self._key.get_secret_value()
        if self._forward is not None:
            endpoint, key = self._forward
            out["X-Azure-Endpoint"] = str(endpoint)
            out["X-Azure-API-Key"] = key.get_secret_value() if key else ""
        return out

    async def aheaders(self) -> dict[str, str]:
        """The gateway headers (no I/O)."""
        return self.headers()

    def force_refresh(self) -> None:
        """Nothing to refresh: a static key cannot be renewed."""

    async def aforce_refresh(self) -> None:
        """Nothing to refresh: a static key cannot be renewed."""

    def describe(self) -> str:
        """Description without any key."""
        return f"gateway_key (header X-API-Key; {self.reason})"

    def __repr__(self) -> str:
        return f"GatewayKeyAuth(reason={self.reason!r})"


def _norm(model: str) -> str:
    return model.strip().lower().removeprefix("azure/")


def _has_own_credentials(endpoint: EndpointConfig) -> bool:
    fields = (
        endpoint.api_key,
        endpoint.azure_ad_token,
        endpoint.use_managed_identity,
        endpoint.managed_identity_client_id,
        endpoint.use_default_credential,
    )
    return any(value is not None for value in fields)


def _api_version_chosen(config: GatewayConfig) -> bool:
    # A config built directly (not by load_config) has no sources: any non-default value was chosen.
    return "api_version" in config.sources or config.api_version != DEFAULT_API_VERSION


def _scope_or_none(auth: AuthProvider, scope: str) -> str | None:
    return None if auth.kind in _STATIC_KINDS else scope


class RouteTable:
    """Builds (once) and caches the route of each resolved deployment.

    Args:
        config: The resolved configuration.
        auth: An explicit provider from the caller; used for the top-level endpoint and every endpoint that sets
            no credential of its own.
        token_provider: ``() -> str`` bearer token source, for the top-level credential.
        async_token_provider: ``async () -> str`` bearer token source, for the top-level credential.
        api: ``chat`` or ``responses``: the API the routes are for (it decides the default api-version).

    Raises:
        ConfigurationError: No endpoint, gateway or named endpoint is configured, or a credential is missing.
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        auth: AuthProvider | None = None,
        token_provider: Callable[[], str] | None = None,
        async_token_provider: Callable[[], Awaitable[str]] | None = None,
        api: str = "chat",
    ) -> None:
        self._config = config
        self._api = api
        self._explicit = auth
        self._providers = (token_provider, async_token_provider)
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str | None], tuple[RouteTarget, ...]] = {}
        self._endpoint_auth: dict[str, AuthProvider] = {}
        self.gateway_target: RouteTarget | None = None
        self.top_auth: AuthProvider | None = None
        if config.gateway_url:
            self.primary_auth: AuthProvider = self._gateway_auth()
            return
        if not config.endpoint and not config.endpoints:
            raise ConfigurationError(
                "no Azure OpenAI endpoint is configured",
                fix="set AZURE_OPENAI_ENDPOINT=https://<resource>.openai.azure.com, or pass endpoint=..., "
                "or configure [[endpoints]] or gateway_url",
            )
        if not config.endpoints or any(not _has_own_credentials(e) for e in config.endpoints):
            self.top_auth = auth or self._resolve_top(config.endpoint or config.endpoints[0].endpoint)
        elif config.endpoint:
            # AZURE_OPENAI_ENDPOINT is often set in the environment with no credential beside it; with every
            # named endpoint signing in on its own, that must not fail the gateway before any route needs it.
            self.top_auth = auth
        for endpoint in config.endpoints:
            self._endpoint_auth[endpoint.name] = self._auth_for(endpoint)
        self.primary_auth = self.top_auth or self._endpoint_auth[config.endpoints[0].name]

    # -- credentials -------------------------------------------------------------------------------------------

    def _resolve_top(self, endpoint: str) -> AuthProvider:
        c = self._config
        return resolve_auth(
            endpoint=endpoint,
            api_key=c.api_key,
            azure_ad_token=c.azure_ad_token,
            use_managed_identity=c.use_managed_identity,
            managed_identity_client_id=c.managed_identity_client_id,
            use_default_credential=c.use_default_credential,
            token_provider=self._providers[0],
            async_token_provider=self._providers[1],
            scope=c.token_scope,
            sources=c.sources,
        )

    def _fallback_auth(self, endpoint: str) -> AuthProvider:
        top = self.top_auth
        if top is None:
            with self._lock:
                top = self.top_auth
                if top is None:
                    top = self.top_auth = self._resolve_top(endpoint)
        return top

    def _auth_for(self, endpoint: EndpointConfig) -> AuthProvider:
        if not _has_own_credentials(endpoint):
            top_scope = scope_for_endpoint(self._config.endpoint or endpoint.endpoint, self._config.token_scope)
            same_scope = scope_for_endpoint(endpoint.endpoint, self._config.token_scope) == top_scope
            if self._explicit is not None or (self.top_auth is not None and same_scope):
                assert self.top_auth is not None
                return self.top_auth
            return self._resolve_top(endpoint.endpoint)
        where = f"endpoint '{endpoint.name}'"
        return resolve_auth(
            endpoint=endpoint.endpoint,
            api_key=endpoint.api_key,
            azure_ad_token=endpoint.azure_ad_token,
            use_managed_identity=bool(endpoint.use_managed_identity),
            managed_identity_client_id=endpoint.managed_identity_client_id,
            use_default_credential=bool(endpoint.use_default_credential),
            scope=self._config.token_scope,
            sources={name: where for name in ("api_key", "azure_ad_token", "use_managed_identity")}
            | {"managed_identity_client_id": where, "use_default_credential": where},
        )

    def _gateway_auth(self) -> AuthProvider:
        c = self._config
        if not c.forward_azure_credentials:
            return GatewayKeyAuth(c.gateway_key)
        if not c.endpoint or c.api_key is None:
            raise ConfigurationError(
                "forward_azure_credentials needs the Azure endpoint and api_key to forward",
                source=c.sources.get("forward_azure_credentials"),
                fix="set endpoint and api_key, or turn forward_azure_credentials off",
            )
        return GatewayKeyAuth(c.gateway_key, azure_endpoint=c.endpoint, azure_api_key=c.api_key)

    # -- routes ------------------------------------------------------------------------------------------------

    def _version(self, api_version: str, *, chosen: bool) -> str:
        # The default api-version (2024-10-21) predates the Responses API: unless the user chose one, Responses
        # calls go to the GA /openai/v1/responses route, which needs none.
        return "v1" if self._api == "responses" and not chosen else api_version

    def targets(self, resolved: ResolvedDeployment) -> tuple[RouteTarget, ...]:
        """The deployments that may answer ``resolved``, in configuration order (strategies reorder them).

        Raises:
            ConfigurationError: Named endpoints are configured, none has a matching deployment, and there is no
                top-level endpoint to fall back to, or no credential for the top-level endpoint it falls back to.
        """
        cache_key = (resolved.deployment, resolved.model)
        found = self._cache.get(cache_key)
        if found is None:
            found = self._build(resolved)
            with self._lock:
                self._cache[cache_key] = found
        return found

    def _build(self, resolved: ResolvedDeployment) -> tuple[RouteTarget, ...]:
        c = self._config
        if c.gateway_url:
            candidate = RouteCandidate(
                deployment_key(GATEWAY_ENDPOINT_NAME, resolved.deployment),
                GATEWAY_ENDPOINT_NAME,
                resolved.deployment,
                resolved.model,
            )
            return (RouteTarget(candidate, c.gateway_url, self.primary_auth, "v1", None, via_gateway=True),)
        out: list[RouteTarget] = []
        for endpoint in c.endpoints:
            auth = self._endpoint_auth[endpoint.name]
            scope = _scope_or_none(auth, scope_for_endpoint(endpoint.endpoint, c.token_scope))
            for dep in endpoint.deployments:
                by_model = dep.model is not None and resolved.model is not None
                if dep.name != resolved.deployment and not (
                    by_model and _norm(str(dep.model)) == _norm(str(resolved.model))
                ):
                    continue
                candidate = RouteCandidate.of(
                    endpoint.name,
                    dep.name,
                    model=dep.model or resolved.model,
                    priority=endpoint.priority + dep.priority,
                    weight=dep.weight,
                    ptu=dep.ptu,
                )
                chosen = endpoint.api_version is not None or _api_version_chosen(c)
                version = self._version(endpoint.api_version or c.api_version, chosen=chosen)
                out.append(RouteTarget(candidate, endpoint.endpoint, auth, version, scope))
        if out:
            return tuple(out)
        if c.endpoint:
            top = self._fallback_auth(c.endpoint)
            candidate = RouteCandidate(resolved.deployment, "", resolved.deployment, resolved.model)
            scope = _scope_or_none(top, scope_for_endpoint(c.endpoint, c.token_scope))
            version = self._version(c.api_version, chosen=_api_version_chosen(c))
            return (RouteTarget(candidate, c.endpoint, top, version, scope),)
        known = ", ".join(
            f"{e.name}/{d.name} ({d.model or 'model not set'})" for e in c.endpoints for d in e.deployments
        )
        raise ConfigurationError(
            f"no configured deployment serves {resolved.requested or resolved.deployment!r} "
            f"(deployment {resolved.deployment!r}, model {resolved.model!r}); configured: {known or 'none'}",
            fix="add a deployment with that name or base model to an [[endpoints]] entry, or set a top-level endpoint",
        )
