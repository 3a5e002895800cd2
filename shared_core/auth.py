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
import functools
import importlib.util
import logging
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Generic, Protocol, TypeVar
from urllib.parse import urlsplit

from pydantic import SecretStr

from shared_core.auth_choice import Choice, CredentialOptions, choose_credential
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
_T = TypeVar("_T")

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


class _ProviderPath(Generic[_T]):
    """The provider one path (sync or async) calls, named for its errors.

    As a ``with``, it turns the provider's exception into an :class:`AuthenticationError` naming the provider
    (an :class:`AuthenticationError` passes as is); :meth:`header` checks what the provider returned.
    """

    __slots__ = ("call", "kind", "which")

    def __init__(self, which: str, call: Callable[[], _T], kind: str) -> None:
        self.which, self.call, self.kind = which, call, kind

    def __enter__(self) -> Callable[[], _T]:
        return self.call

    def __exit__(self, _type: type[BaseException] | None, exc: BaseException | None, _tb: TracebackType | None) -> None:
        if isinstance(exc, Exception) and not isinstance(exc, AuthenticationError):
            message = f"the {self.which} token provider failed: {safe_cause_text(exc)}"
            raise AuthenticationError(message, credential=self.kind) from exc

    def header(self, token: object) -> dict[str, str]:
        """``Authorization: Bearer <token>``; raises :class:`AuthenticationError` when ``token`` is not a token."""
        if not isinstance(token, str) or not token:
            raise AuthenticationError(
                f"the {self.which} token provider returned {type(token).__name__ if token else 'an empty value'}, "
                "not a token string",
                credential=self.kind,
            )
        return bearer_header(token)


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
        self.reason = reason
        self._provider = provider
        self._async_provider = async_provider
        # Each path calls its own kind of provider when given, else the other kind off the caller's thread (sync)
        # or event loop (async).
        self._sync: _ProviderPath[str]
        if provider is not None:
            self._sync = _ProviderPath("sync", provider, self.kind)
        elif async_provider is not None:
            self._sync = _ProviderPath("async", functools.partial(_run_in_fresh_loop, async_provider), self.kind)
        else:
            raise ConfigurationError("TokenProviderAuth needs a token provider, sync or async")
        self._async: _ProviderPath[Awaitable[str]] = (
            _ProviderPath("async", async_provider, self.kind)
            if async_provider is not None
            else _ProviderPath("sync", functools.partial(asyncio.to_thread, self._sync.call), self.kind)
        )

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

    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer <token>`` from the sync provider, else the async one on a worker thread.

        Returns:
            One header.

        Raises:
            AuthenticationError: The provider raised or returned no token.
        """
        with self._sync as call:
            return self._sync.header(call())

    async def aheaders(self) -> dict[str, str]:
        """``Authorization: Bearer <token>`` from the async provider, else the sync one on a worker thread.

        Returns:
            One header.

        Raises:
            AuthenticationError: The provider raised or returned no token.
        """
        with self._async as call:
            return self._async.header(await call())

    def force_refresh(self) -> None:
        """No-op: the provider decides when its token is renewed."""

    async def aforce_refresh(self) -> None:
        """No-op: the provider decides when its token is renewed."""


# -- building the chosen credential (:mod:`shared_core.auth_choice` chooses) -------------------------------

_MI_HINT = (
    "check that this resource has a managed identity (and the client_id, if user-assigned) and that it holds "
    "the 'Cognitive Services OpenAI User' role on the Azure OpenAI resource"
)
_DAC_HINT = "run 'az login', or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, or use an API key"


def _aio_available() -> bool:
    # azure.identity.aio imports without aiohttp but fails on the first request; check up front.
    return importlib.util.find_spec("aiohttp") is not None


def _managed_identity(options: CredentialOptions, scope: str, reason: str) -> AuthProvider:
    client_id = options.managed_identity_client_id
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


def _default_credential(options: CredentialOptions, scope: str, reason: str) -> AuthProvider:
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


def _api_key(options: CredentialOptions, scope: str, reason: str) -> AuthProvider:
    assert options.api_key is not None
    return ApiKeyAuth(options.api_key, reason=reason)


def _azure_ad_token(options: CredentialOptions, scope: str, reason: str) -> AuthProvider:
    assert options.azure_ad_token is not None
    return StaticTokenAuth(options.azure_ad_token, reason=reason)


def _token_provider(options: CredentialOptions, scope: str, reason: str) -> AuthProvider:
    return TokenProviderAuth(options.token_provider, options.async_token_provider, reason=reason)


# One builder per kind of :data:`~shared_core.auth_choice.AUTH_ORDER`.
_BUILDERS: Mapping[str, Callable[[CredentialOptions, str, str], AuthProvider]] = {
    "api_key": _api_key,
    "azure_ad_token": _azure_ad_token,
    "token_provider": _token_provider,
    "managed_identity": _managed_identity,
    "default_credential": _default_credential,
}


def _built(choice: Choice, options: CredentialOptions, scope: str) -> AuthProvider:
    provider = _BUILDERS[choice.kind](options, scope, choice.reason)
    logger.debug(
        "auth: using %s because %s; configured but ignored: %s", provider.describe(), choice.reason, choice.ignored
    )
    return provider


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

    The source decides first: a credential given in code (kwargs, token providers) beats one from the config file,
    which beats one from the environment; ``OPENAI_API_KEY`` comes last of all. Within one source the first
    configured of API key > Azure AD token > token provider(s) > managed identity > DefaultAzureCredential wins
    (:mod:`shared_core.auth_choice`). A DEBUG line on ``shared_core.auth`` names the winner, why, and those ignored.

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
    options = CredentialOptions(
        api_key=api_key,
        azure_ad_token=azure_ad_token,
        token_provider=token_provider,
        async_token_provider=async_token_provider,
        use_managed_identity=use_managed_identity,
        managed_identity_client_id=managed_identity_client_id,
        use_default_credential=use_default_credential,
    )
    return _built(choose_credential(options, sources or {}), options, scope_for_endpoint(endpoint, scope))
