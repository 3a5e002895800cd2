"""Azure OpenAI credentials: API key, Entra token, token providers, managed identity, DefaultAzureCredential.

:func:`resolve_auth` picks one credential from the configured options (API key > Azure AD token > token
provider(s) > managed identity > DefaultAzureCredential) and returns an :class:`AuthProvider`, the only
thing the transport sees. Entra tokens are cached by :class:`~shared_core.token_cache.EntraTokenAuth` and
fetched once however many threads or tasks ask; the async path never blocks the event loop.
``azure.identity`` is imported only here, and only when a managed identity or DefaultAzureCredential is
built. No secret appears in a repr, a log record or an error.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol
from urllib.parse import urlsplit

from pydantic import SecretStr

from shared_core.errors import AuthenticationError, ConfigurationError, MissingExtraError
from shared_core.token_cache import (
    AsyncTokenCredential,
    EntraTokenAuth,
    SyncTokenCredential,
    bearer_header,
    safe_cause_text,
)

__all__ = [
    "AI_FOUNDRY_SCOPE",
    "DEFAULT_SCOPE",
    "ApiKeyAuth",
    "AsyncTokenCredential",
    "AuthProvider",
    "EntraTokenAuth",
    "StaticTokenAuth",
    "SyncTokenCredential",
    "TokenProviderAuth",
    "resolve_auth",
    "scope_for_endpoint",
]

logger = logging.getLogger("shared_core.auth")

DEFAULT_SCOPE = "https://cognitiveservices.azure.com/.default"
AI_FOUNDRY_SCOPE = "https://ai.azure.com/.default"
_AI_FOUNDRY_HOST_SUFFIX = ".services.ai.azure.com"


def scope_for_endpoint(endpoint: str | None, override: str | None = None) -> str:
    """The Entra scope to request tokens for.

    Args:
        endpoint: The Azure endpoint URL (``https://<resource>.openai.azure.com`` ...), or ``None``.
        override: A scope set explicitly by the caller; always wins.

    Returns:
        ``override`` when given; :data:`AI_FOUNDRY_SCOPE` for ``*.services.ai.azure.com`` endpoints;
        :data:`DEFAULT_SCOPE` otherwise.
    """
    if override:
        return override
    if endpoint:
        host = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}").hostname or ""
        if host.endswith(_AI_FOUNDRY_HOST_SUFFIX):
            return AI_FOUNDRY_SCOPE
    return DEFAULT_SCOPE


class AuthProvider(Protocol):
    """What the transport uses to authenticate a request.

    Attributes:
        kind: ``api_key``, ``azure_ad_token``, ``managed_identity``, ``default_credential`` or
            ``token_provider``.
        reason: Why this credential was chosen, e.g. ``api_key set by env AZURE_OPENAI_API_KEY``.
    """

    kind: str
    reason: str

    def headers(self) -> dict[str, str]:
        """Headers to add to a request; may fetch or refresh a token (blocking)."""
        ...

    async def aheaders(self) -> dict[str, str]:
        """Headers to add to a request; may fetch or refresh a token without blocking the event loop."""
        ...

    def force_refresh(self) -> None:
        """Drop the current token and fetch a new one; called once after a 401. No-op for static secrets."""
        ...

    async def aforce_refresh(self) -> None:
        """Async :meth:`force_refresh`."""
        ...

    def describe(self) -> str:
        """A one-line description for logs and errors; never contains a secret."""
        ...


class _StaticHeaders:
    """Shared behaviour of credentials that never change: same headers, refresh is a no-op."""

    kind: str
    reason: str
    _header: tuple[str, str]

    def headers(self) -> dict[str, str]:
        """The authentication header.

        Returns:
            One header, fresh dict on each call.
        """
        return dict((self._header,))

    async def aheaders(self) -> dict[str, str]:
        """The authentication header (no I/O).

        Returns:
            One header, fresh dict on each call.
        """
        return dict((self._header,))

    def force_refresh(self) -> None:
        """Nothing to refresh: a static secret cannot be renewed."""

    async def aforce_refresh(self) -> None:
        """Nothing to refresh: a static secret cannot be renewed."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, reason={self.reason!r})"

    def __str__(self) -> str:
        return repr(self)


def _secret(value: SecretStr | str) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class ApiKeyAuth(_StaticHeaders):
    """An Azure OpenAI API key, sent as ``api-key: <key>``.

    Args:
        api_key: The key.
        reason: Why this credential was chosen.
    """

    kind: str = "api_key"

    def __init__(self, api_key: SecretStr | str, *, reason: str = "api_key given") -> None:
        key = _secret(api_key)
        if not key.strip():
            raise ConfigurationError("api_key is empty", fix="set a non-empty key or choose another credential")
        self.reason = reason
        self._header = ("api-key", key)

    def describe(self) -> str:
        """Description without the key.

        Returns:
            ``api_key (header api-key)``.
        """
        return "api_key (header api-key)"


class StaticTokenAuth(_StaticHeaders):
    """A ready-made Entra token (``AZURE_OPENAI_AD_TOKEN``) sent as ``Authorization: Bearer``; not refreshed.

    Args:
        token: The bearer token.
        reason: Why this credential was chosen.
    """

    kind: str = "azure_ad_token"

    def __init__(self, token: SecretStr | str, *, reason: str = "azure_ad_token given") -> None:
        value = _secret(token)
        if not value.strip():
            raise ConfigurationError(
                "azure_ad_token is empty", fix="set a non-empty token or choose another credential"
            )
        self.reason = reason
        self._header = ("Authorization", f"Bearer {value}")

    def describe(self) -> str:
        """Description without the token.

        Returns:
            ``azure_ad_token (static bearer token, never refreshed)``.
        """
        return "azure_ad_token (static bearer token, never refreshed)"


def _run_in_fresh_loop(provider: Callable[[], Awaitable[str]]) -> str:
    async def call() -> str:
        return await provider()

    # A worker thread gets its own loop, so this works even when the caller's thread is running one.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="shared_core.auth") as pool:
        return pool.submit(asyncio.run, call()).result()


class TokenProviderAuth:
    """Bearer tokens from user callables (LangChain's ``azure_ad_token_provider`` and its async twin).

    The providers are called on every request and own their caching (``get_bearer_token_provider`` caches).
    The sync provider never runs on the event loop; an async-only provider also serves sync calls, run on a
    fresh loop in a worker thread.

    Args:
        provider: ``() -> str``.
        async_provider: ``() -> Awaitable[str]``.
        reason: Why this credential was chosen.

    Raises:
        ConfigurationError: Neither provider was given.
    """

    kind: str = "token_provider"

    def __init__(
        self,
        provider: Callable[[], str] | None = None,
        async_provider: Callable[[], Awaitable[str]] | None = None,
        *,
        reason: str = "token provider given",
    ) -> None:
        if provider is None and async_provider is None:
            raise ConfigurationError("TokenProviderAuth needs a token provider, sync or async")
        self.reason = reason
        self._provider = provider
        self._async_provider = async_provider

    def __repr__(self) -> str:
        return f"TokenProviderAuth(kind={self.kind!r}, reason={self.reason!r})"

    def __str__(self) -> str:
        return repr(self)

    def describe(self) -> str:
        """Description naming which providers are set.

        Returns:
            e.g. ``token_provider (sync and async)``.
        """
        which = [name for name, p in (("sync", self._provider), ("async", self._async_provider)) if p]
        return f"token_provider ({' and '.join(which)})"

    def _checked(self, token: object, which: str) -> dict[str, str]:
        if not isinstance(token, str) or not token:
            raise AuthenticationError(
                f"the {which} token provider returned {type(token).__name__ if token else 'an empty value'}, "
                "not a token string",
                credential=self.kind,
            )
        return bearer_header(token)

    def _failed(self, exc: Exception, which: str) -> AuthenticationError:
        return AuthenticationError(f"the {which} token provider failed: {safe_cause_text(exc)}", credential=self.kind)

    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer <token>`` from the sync provider, else the async one on a worker thread.

        Returns:
            One header.

        Raises:
            AuthenticationError: The provider raised or returned no token.
        """
        which = "sync" if self._provider is not None else "async"
        try:
            if self._provider is not None:
                token = self._provider()
            else:
                assert self._async_provider is not None
                token = _run_in_fresh_loop(self._async_provider)
        except AuthenticationError:
            raise
        except Exception as exc:
            raise self._failed(exc, which) from exc
        return self._checked(token, which)

    async def aheaders(self) -> dict[str, str]:
        """``Authorization: Bearer <token>`` from the async provider, else the sync one on a worker thread.

        Returns:
            One header.

        Raises:
            AuthenticationError: The provider raised or returned no token.
        """
        which = "async" if self._async_provider is not None else "sync"
        try:
            if self._async_provider is not None:
                token = await self._async_provider()
            else:
                assert self._provider is not None
                token = await asyncio.to_thread(self._provider)
        except AuthenticationError:
            raise
        except Exception as exc:
            raise self._failed(exc, which) from exc
        return self._checked(token, which)

    def force_refresh(self) -> None:
        """No-op: the provider decides when its token is renewed."""

    async def aforce_refresh(self) -> None:
        """No-op: the provider decides when its token is renewed."""


# -- choosing a credential --------------------------------------------------------------------------------

_LOOKED_FOR = (
    "No Azure OpenAI credential is configured. Looked for: kwargs api_key, azure_ad_token, token_provider, "
    "async_token_provider, use_managed_identity, managed_identity_client_id, use_default_credential; "
    "config-file keys api_key, azure_ad_token, use_managed_identity, managed_identity_client_id, "
    "use_default_credential; env vars AZURE_OPENAI_API_KEY, "
    "AZURE_OPENAI_KEY, AZURE_OPENAI_AD_TOKEN, AZURE_USE_MANAGED_IDENTITY, AZURE_USE_DEFAULT_CREDENTIAL, "
    "AZURE_MANAGED_IDENTITY_CLIENT_ID, and OPENAI_API_KEY as the last fallback"
)
_LOOKED_FOR_FIX = (
    "set AZURE_OPENAI_API_KEY, or use_managed_identity=True on Azure compute, "
    "or use_default_credential=True after 'az login'"
)
_MI_HINT = (
    "check that this resource has a managed identity (and the client_id, if user-assigned) and that it holds "
    "the 'Cognitive Services OpenAI User' role on the Azure OpenAI resource"
)
_DAC_HINT = "run 'az login', or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, or use an API key"


def _has_secret(value: SecretStr | None) -> bool:
    return value is not None and bool(value.get_secret_value().strip())


def _aio_available() -> bool:
    # azure.identity.aio imports without aiohttp but fails on the first request; check up front.
    return importlib.util.find_spec("aiohttp") is not None


def _managed_identity(scope: str, client_id: str | None, reason: str) -> EntraTokenAuth:
    try:
        from azure.identity import ManagedIdentityCredential  # noqa: PLC0415  (heavy; only when used)
    except ImportError as exc:
        raise MissingExtraError(feature="managed identity", extra="azure", module="azure-identity") from exc

    def factory() -> SyncTokenCredential:
        return ManagedIdentityCredential(client_id=client_id)

    try:
        return EntraTokenAuth(
            factory,
            scope=scope,
            kind="managed_identity",
            async_credential_factory=_async_managed_identity_factory(client_id),
            reason=reason,
            detail=f"user-assigned, client_id={client_id}" if client_id else "system-assigned",
            hint=_MI_HINT,
        )
    except ValueError as exc:  # e.g. workload identity env vars without a client id
        raise ConfigurationError(f"managed identity could not be set up: {exc}", source=reason) from exc


def _async_managed_identity_factory(client_id: str | None) -> Callable[[], AsyncTokenCredential] | None:
    if not _aio_available():
        return None
    try:
        from azure.identity.aio import (  # noqa: PLC0415
            ManagedIdentityCredential as AsyncManagedIdentityCredential,
        )
    except ImportError:
        return None

    def factory() -> AsyncTokenCredential:
        return AsyncManagedIdentityCredential(client_id=client_id)

    return factory


def _default_credential(scope: str, reason: str) -> EntraTokenAuth:
    try:
        from azure.identity import DefaultAzureCredential  # noqa: PLC0415
    except ImportError as exc:
        raise MissingExtraError(feature="DefaultAzureCredential", extra="azure", module="azure-identity") from exc
    # The async path runs this sync chain in a worker thread rather than building an aio chain: a long-lived
    # aio credential binds its aiohttp session to one event loop, and a fresh aio chain per fetch would walk
    # (and probe) every link again, while the sync chain remembers which link worked.
    return EntraTokenAuth(
        DefaultAzureCredential,
        scope=scope,
        kind="default_credential",
        reason=reason,
        detail="DefaultAzureCredential",
        hint=_DAC_HINT,
    )


_TIER_NAMES = ("given in code", "from the config file", "from the environment", "from OPENAI_API_KEY")


def _tier(source: str) -> int:
    """Where a credential came from, as a rank: code (kwargs) 0 > config file 1 > environment 2 > OPENAI_API_KEY 3."""
    if source.startswith("env OPENAI_API_KEY"):
        return 3
    if source.startswith("env "):
        return 2
    if source.startswith("file ") or source.startswith("endpoint "):
        return 1
    return 0


def _configured(
    *,
    origin: Mapping[str, str],
    api_key: SecretStr | None,
    azure_ad_token: SecretStr | None,
    providers: tuple[object | None, object | None],
    managed_identity: tuple[bool, str | None],
    use_default_credential: bool,
) -> list[tuple[str, str, int]]:
    """(kind, reason, tier) of every configured credential, highest priority first.

    An explicit credential beats an environment one of any kind: credentials are ranked first by where they came
    from (code > config file > environment > ``OPENAI_API_KEY``), then by the auth order within that source.
    """

    def set_by(*fields: str) -> tuple[str, int]:
        sources = [origin.get(name, f"kwarg {name!r}") for name in fields]
        reason = ", ".join(f"{name} set by {source}" for name, source in zip(fields, sources, strict=True))
        return reason, min(_tier(source) for source in sources)

    configured: list[tuple[str, tuple[str, int]]] = []
    if _has_secret(api_key):
        configured.append(("api_key", set_by("api_key")))
    if _has_secret(azure_ad_token):
        configured.append(("azure_ad_token", set_by("azure_ad_token")))
    provider_fields = [
        name
        for name, value in zip(("token_provider", "async_token_provider"), providers, strict=True)
        if value is not None
    ]
    if provider_fields:
        configured.append(("token_provider", set_by(*provider_fields)))
    use_mi, client_id = managed_identity
    if use_mi or client_id:
        fields = ["use_managed_identity"] if use_mi else []
        fields += ["managed_identity_client_id"] if client_id else []
        configured.append(("managed_identity", set_by(*fields)))
    if use_default_credential:
        configured.append(("default_credential", set_by("use_default_credential")))
    ranked = sorted(configured, key=lambda item: item[1][1])  # stable: the auth order within a source
    return [(kind, reason, tier) for kind, (reason, tier) in ranked]


def _why(configured: list[tuple[str, str, int]]) -> str:
    """The winner's reason, with why it beat the others (a source ranked higher, or the auth order)."""
    kind, reason, tier = configured[0]
    lower = [other for other in configured[1:] if other[2] > tier]
    if lower:
        return f"{reason} ({_TIER_NAMES[tier]}, which beats a credential {_TIER_NAMES[lower[0][2]]})"
    if len(configured) > 1:
        return f"{reason} ({kind} comes first in the auth order among credentials {_TIER_NAMES[tier]})"
    return reason


def resolve_auth(
    *,
    endpoint: str | None,
    api_key: SecretStr | None = None,
    azure_ad_token: SecretStr | None = None,
    use_managed_identity: bool = False,
    managed_identity_client_id: str | None = None,
    use_default_credential: bool = False,
    token_provider: Callable[[], str] | None = None,
    async_token_provider: Callable[[], Awaitable[str]] | None = None,
    scope: str | None = None,
    sources: Mapping[str, str] | None = None,
) -> AuthProvider:
    """Choose the credential for an endpoint.

    The source decides first: a credential given in code (kwargs, token providers) beats one from the config
    file, which beats one from the environment; ``OPENAI_API_KEY`` comes last of all. Within one source the
    first configured of API key > Azure AD token > token provider(s) > managed identity >
    DefaultAzureCredential wins.

    Logs one DEBUG line on ``shared_core.auth`` naming the winner, why, and what was configured but ignored.

    Args:
        endpoint: The Azure endpoint; decides the default scope (see :func:`scope_for_endpoint`).
        api_key: An Azure OpenAI key (empty counts as unset).
        azure_ad_token: A ready-made Entra token; never refreshed.
        use_managed_identity: Use the managed identity of the Azure compute this runs on.
        managed_identity_client_id: Client id of a user-assigned identity; implies ``use_managed_identity``.
        use_default_credential: Use azure-identity's ``DefaultAzureCredential`` chain.
        token_provider: ``() -> str`` returning a bearer token.
        async_token_provider: ``() -> Awaitable[str]`` returning a bearer token.
        scope: Entra scope override.
        sources: Field name -> where its value came from (``{"api_key": "env AZURE_OPENAI_API_KEY"}``);
            fields not listed are described as ``kwarg '<name>'``.

    Returns:
        The chosen :class:`AuthProvider`.

    Raises:
        ConfigurationError: Nothing is configured.
        MissingExtraError: Managed identity or DefaultAzureCredential was chosen without azure-identity.
    """
    configured = _configured(
        origin=dict(sources or {}),
        api_key=api_key,
        azure_ad_token=azure_ad_token,
        providers=(token_provider, async_token_provider),
        managed_identity=(use_managed_identity, managed_identity_client_id),
        use_default_credential=use_default_credential,
    )
    if not configured:
        raise ConfigurationError(_LOOKED_FOR, fix=_LOOKED_FOR_FIX)

    kind, reason = configured[0][0], _why(configured)
    chosen_scope = scope_for_endpoint(endpoint, scope)
    provider: AuthProvider
    if kind == "api_key":
        assert api_key is not None
        provider = ApiKeyAuth(api_key, reason=reason)
    elif kind == "azure_ad_token":
        assert azure_ad_token is not None
        provider = StaticTokenAuth(azure_ad_token, reason=reason)
    elif kind == "token_provider":
        provider = TokenProviderAuth(token_provider, async_token_provider, reason=reason)
    elif kind == "managed_identity":
        provider = _managed_identity(chosen_scope, managed_identity_client_id, reason)
    else:
        provider = _default_credential(chosen_scope, reason)

    ignored = "; ".join(f"{other} ({why})" for other, why, _ in configured[1:]) or "none"
    logger.debug("auth: using %s because %s; configured but ignored: %s", provider.describe(), reason, ignored)
    return provider
