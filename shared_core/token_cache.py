"""Entra bearer tokens cached in memory and fetched once however many threads or tasks ask for them at once.

:class:`TokenCache` knows nothing about Azure: it is given a sync ``fetch`` and, optionally, an async
``afetch`` that each return a :class:`CachedToken`. Threads share one ``threading.Lock``; tasks share one
``asyncio.Lock`` per event loop, because an ``asyncio.Lock`` binds to the first loop that waits on it and
notebooks start a new loop with every ``asyncio.run``. A thread and a task that both find the token stale
may each fetch once. A refresh after a 401 replaces only the token the caller was served: when several calls
get a 401 for the same token at once, one fetches and the others use its token. Locks are replaced in a forked
child (one held by another thread at the fork would stay held there forever). :class:`EntraTokenAuth` puts an
azure-identity credential behind a cache; it never imports ``azure.identity`` itself (``shared_core.auth``
builds the credentials).
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Generator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol, TypeGuard

from shared_core.errors import AuthenticationError

__all__ = [
    "DEFAULT_REFRESH_MARGIN",
    "AccessTokenLike",
    "AsyncTokenCredential",
    "CachedToken",
    "EntraTokenAuth",
    "SyncTokenCredential",
    "TokenCache",
    "bearer_header",
    "safe_cause_text",
]

DEFAULT_REFRESH_MARGIN = 300.0
"""Seconds before expiry at which a cached token counts as stale (azure-identity uses the same 5 minutes)."""
# Azure error texts should never carry a token, but a JWT is cheap to recognise and costly to leak.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_MAX_CAUSE_CHARS = 1500


@dataclass(frozen=True, slots=True)
class CachedToken:
    """A bearer token and when it expires.

    Attributes:
        value: The token itself; never shown by ``repr``.
        expires_on: Expiry as seconds since the epoch.
    """

    value: str = field(repr=False)
    expires_on: float


# Given the token a caller saw (or was refused with), the cached token it may use instead of fetching.
_Reuse = Callable[[CachedToken | None], CachedToken | None]


class TokenCache:
    """Holds one token and refreshes it when it is within ``refresh_margin`` seconds of expiry.

    Args:
        fetch: Gets a new token; called from the calling thread (sync path) or a worker thread (async path
            without ``afetch``). Its exceptions propagate unchanged.
        afetch: Gets a new token without blocking the event loop. When ``None`` the async path runs
            ``fetch`` in a worker thread.
        refresh_margin: Seconds before expiry at which the token is fetched anew.
    """

    def __init__(
        self,
        fetch: Callable[[], CachedToken],
        afetch: Callable[[], Awaitable[CachedToken]] | None = None,
        *,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
    ) -> None:
        if refresh_margin < 0:
            raise ValueError(f"refresh_margin must be >= 0, got {refresh_margin}")
        self._fetch = fetch
        self._afetch = afetch
        self.refresh_margin = refresh_margin
        self._token: CachedToken | None = None
        self._lock = threading.Lock()
        self._guard = threading.Lock()
        self._loop_locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        # The token this thread or task was last handed: a 401 rejects that one, not whatever is current.
        self._served: ContextVar[CachedToken | None] = ContextVar(f"served_token_{id(self)}", default=None)
        self.fetch_count = 0
        """How many fetches this cache has started (for diagnostics and tests)."""
        _CACHES.add(self)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._guard = threading.Lock()
        self._loop_locks = {}

    def __repr__(self) -> str:
        expires = self._token.expires_on if self._token is not None else None
        return f"TokenCache(expires_on={expires}, refresh_margin={self.refresh_margin})"

    @property
    def expires_on(self) -> float | None:
        """Expiry of the cached token (seconds since the epoch), or ``None`` when nothing is cached."""
        return self._token.expires_on if self._token is not None else None

    def _fresh(self, token: CachedToken | None) -> TypeGuard[CachedToken]:
        return token is not None and token.expires_on - time.time() > self.refresh_margin

    def invalidate(self) -> None:
        """Forget the cached token, so that the next call fetches a new one."""
        self._token = None

    # -- the rules, shared by the sync and async paths ------------------------------------------------------

    def _usable_after_wait(self, seen: CachedToken | None) -> CachedToken | None:
        # A token fetched by whoever held the lock while we waited is good enough unless it has expired:
        # a token whose whole lifetime is inside the margin must not cost one fetch per waiter.
        token = self._token
        if token is None:
            return None
        if self._fresh(token) or (token is not seen and token.expires_on > time.time()):
            return token
        return None

    def _not_rejected(self, rejected: CachedToken | None) -> CachedToken | None:
        # Another thread or task already replaced the token Azure rejected: theirs is the new one.
        current = self._token
        return current if current is not None and current is not rejected else None

    def _rejected(self) -> CachedToken | None:
        return self._served.get() or self._token

    def _fetching(self, before_fetch: Callable[[], None] | None) -> None:
        if before_fetch is not None:
            before_fetch()
        self.fetch_count += 1

    def _serve(self, token: CachedToken) -> str:
        self._served.set(token)
        return token.value

    def _store(self, token: CachedToken) -> CachedToken:
        self._token = token
        return token

    # -- sync ---------------------------------------------------------------------------------------------

    def get(self) -> str:
        """The cached token, fetched first if missing or stale; blocks while another thread fetches.

        Returns:
            The token value.
        """
        seen = self._token
        return self._serve(seen if self._fresh(seen) else self._obtain(self._usable_after_wait, seen))

    def refresh(self, before_fetch: Callable[[], None] | None = None) -> str:
        """Replace the token this thread was served (Azure rejected it), unless another thread already has.

        Args:
            before_fetch: Called under the lock just before a fetch actually happens (not when skipped).

        Returns:
            The new token value.
        """
        return self._serve(self._obtain(self._not_rejected, self._rejected(), before_fetch))

    def _obtain(
        self, reuse: _Reuse, seen: CachedToken | None, before_fetch: Callable[[], None] | None = None
    ) -> CachedToken:
        with self._lock:
            if (token := reuse(seen)) is not None:
                return token
            self._fetching(before_fetch)
            return self._store(self._fetch())

    # -- async --------------------------------------------------------------------------------------------

    def _loop_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._guard:
            lock = self._loop_locks.get(loop)
            if lock is None:
                # Drop locks of ended loops, so a notebook's many asyncio.run calls do not pile them up.
                for dead in [other for other in self._loop_locks if other.is_closed()]:
                    del self._loop_locks[dead]
                lock = asyncio.Lock()
                self._loop_locks[loop] = lock
            return lock

    async def aget(self) -> str:
        """The cached token, fetched first if missing or stale; never blocks the event loop.

        Returns:
            The token value.
        """
        seen = self._token
        return self._serve(seen if self._fresh(seen) else await self._aobtain(self._usable_after_wait, seen))

    async def arefresh(self, before_fetch: Callable[[], None] | None = None) -> str:
        """Async :meth:`refresh`: replace the token this task was served unless another task already has.

        Returns:
            The new token value.
        """
        return self._serve(await self._aobtain(self._not_rejected, self._rejected(), before_fetch))

    async def _aobtain(
        self, reuse: _Reuse, seen: CachedToken | None, before_fetch: Callable[[], None] | None = None
    ) -> CachedToken:
        async with self._loop_lock():
            if (token := reuse(seen)) is not None:
                return token
            if self._afetch is None:  # no async credential: the sync path, on a worker thread
                return await asyncio.to_thread(self._obtain, reuse, seen, before_fetch)
            self._fetching(before_fetch)
            return self._store(await self._afetch())


_CACHES: weakref.WeakSet[TokenCache] = weakref.WeakSet()


def _new_locks_after_fork() -> None:
    for cache in list(_CACHES):
        cache._after_fork()  # pyright: ignore[reportPrivateUsage]


os.register_at_fork(after_in_child=_new_locks_after_fork)


class AccessTokenLike(Protocol):
    """What ``get_token`` returns (``azure.core.credentials.AccessToken`` fits)."""

    @property
    def token(self) -> str: ...

    @property
    def expires_on(self) -> int: ...


class SyncTokenCredential(Protocol):
    """The part of ``azure.core.credentials.TokenCredential`` this module uses."""

    def get_token(self, *scopes: str) -> AccessTokenLike:
        """Get a token for ``scopes``."""
        ...


class AsyncTokenCredential(Protocol):
    """The part of ``azure.core.credentials_async.AsyncTokenCredential`` this module uses."""

    async def get_token(self, *scopes: str) -> AccessTokenLike:
        """Get a token for ``scopes``."""
        ...

    async def close(self) -> None:
        """Close the credential's transport."""
        ...


def safe_cause_text(exc: BaseException) -> str:
    """``Type: message`` of an exception, with anything shaped like a JWT redacted and the length capped.

    Args:
        exc: The exception a credential raised.

    Returns:
        Text safe to put in an error message or a log record.
    """
    text = _JWT.sub("<redacted token>", f"{type(exc).__name__}: {exc}".strip())
    return text if len(text) <= _MAX_CAUSE_CHARS else text[:_MAX_CAUSE_CHARS] + " ..."


def bearer_header(token: str) -> dict[str, str]:
    """The ``Authorization: Bearer`` header for a token.

    Args:
        token: The bearer token.

    Returns:
        One header, as a fresh dict.
    """
    return {"Authorization": f"Bearer {token}"}


class EntraTokenAuth:
    """Bearer tokens from an azure-identity credential, cached and refreshed before they expire.

    Args:
        credential_factory: Builds the sync credential (``ManagedIdentityCredential``,
            ``DefaultAzureCredential`` ...); called once here and again by :meth:`force_refresh`, so that the
            credential's own token cache cannot hand back the token Azure just rejected.
        scope: The Entra scope to request, e.g. ``https://cognitiveservices.azure.com/.default``.
        kind: ``managed_identity`` or ``default_credential`` (or another label for a custom credential).
        async_credential_factory: Builds an ``azure.identity.aio`` credential for one fetch; it is closed
            right after. A fresh one per fetch keeps its aiohttp session on the loop that uses it, so the
            provider survives notebooks that call ``asyncio.run`` repeatedly. ``None``: the async path runs
            ``credential.get_token`` in a worker thread.
        refresh_margin: Seconds before expiry at which the token is fetched anew.
        reason: Why this credential was chosen.
        detail: Non-secret detail for :meth:`describe`, e.g. ``user-assigned, client_id=...``.
        hint: One sentence on how to fix a failure, appended to :class:`AuthenticationError` messages.
    """

    def __init__(
        self,
        credential_factory: Callable[[], SyncTokenCredential],
        *,
        scope: str,
        kind: str,
        async_credential_factory: Callable[[], AsyncTokenCredential] | None = None,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        reason: str = "",
        detail: str = "",
        hint: str = "",
    ) -> None:
        self.kind = kind
        self.reason = reason
        self.scope = scope
        self.detail = detail
        self.hint = hint
        self._credential_factory = credential_factory
        self._credential = credential_factory()
        self._renew_credential = False
        afetch = None if async_credential_factory is None else functools.partial(self._afetch, async_credential_factory)
        self._cache = TokenCache(self._fetch, afetch, refresh_margin=refresh_margin)

    def __repr__(self) -> str:
        return f"EntraTokenAuth(kind={self.kind!r}, scope={self.scope!r}, reason={self.reason!r})"

    def __str__(self) -> str:
        return repr(self)

    @property
    def cache(self) -> TokenCache:
        """The token cache (expiry, fetch count); never shows the token in its repr."""
        return self._cache

    def describe(self) -> str:
        """Description without the token.

        Returns:
            e.g. ``managed_identity (user-assigned, client_id=...; scope https://...)``.
        """
        inner = f"{self.detail}; scope {self.scope}" if self.detail else f"scope {self.scope}"
        return f"{self.kind} ({inner})"

    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer <token>``, fetching the token first if it is missing or stale.

        Returns:
            One header.

        Raises:
            AuthenticationError: The credential could not produce a token.
        """
        return bearer_header(self._cache.get())

    async def aheaders(self) -> dict[str, str]:
        """Async :meth:`headers`; never blocks the event loop.

        Returns:
            One header.

        Raises:
            AuthenticationError: The credential could not produce a token.
        """
        return bearer_header(await self._cache.aget())

    def force_refresh(self) -> None:
        """Fetch a new token now (after a 401), from a new credential; concurrent callers share one fetch.

        Raises:
            AuthenticationError: The credential could not produce a token.
        """
        self._cache.refresh(self._renew)

    async def aforce_refresh(self) -> None:
        """Async :meth:`force_refresh`.

        Raises:
            AuthenticationError: The credential could not produce a token.
        """
        await self._cache.arefresh(self._renew)

    def _renew(self) -> None:
        # Only when a refresh really fetches: concurrent 401s for one token make one fetch and one credential.
        self._renew_credential = True

    def _error(self, exc: BaseException) -> AuthenticationError:
        message = f"{self.describe()} could not get a token for scope {self.scope}: {safe_cause_text(exc)}"
        if self.hint:
            message = f"{message}. Fix: {self.hint}"
        return AuthenticationError(message, credential=self.kind, scope=self.scope)

    def _checked(self, token: AccessTokenLike) -> CachedToken:
        if not token.token:
            raise AuthenticationError(
                f"{self.describe()} returned an empty token", credential=self.kind, scope=self.scope
            )
        return CachedToken(token.token, float(token.expires_on))

    @contextmanager
    def _failures(self) -> Generator[None]:
        """Whatever the credential raises becomes an :class:`AuthenticationError` naming the credential and scope."""
        try:
            yield
        except Exception as exc:
            raise self._error(exc) from exc

    def _swap_credential(self) -> None:
        # Runs under the cache's thread lock, so the credential is swapped by one thread at a time.
        self._renew_credential = False
        old, self._credential = self._credential, self._credential_factory()
        close = getattr(old, "close", None)
        if old is not self._credential and callable(close):
            close()

    def _fetch(self) -> CachedToken:
        with self._failures():
            if self._renew_credential:
                self._swap_credential()
            token = self._credential.get_token(self.scope)
        return self._checked(token)

    async def _afetch(self, factory: Callable[[], AsyncTokenCredential]) -> CachedToken:
        with self._failures():
            credential = factory()  # one per fetch, so its aiohttp session is on the loop that uses it
            try:
                token = await credential.get_token(self.scope)
            finally:
                await credential.close()
        return self._checked(token)
