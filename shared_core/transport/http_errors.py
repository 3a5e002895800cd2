"""Transport exceptions to the error tree: one context manager that every HTTP path (sync, async, body reads) uses.

httpx, httpcore and aiohttp raise their own exceptions; the caller sees a :class:`RequestTimeoutError`, a
:class:`ConnectionFailedError` (with ``connected`` saying whether a connection was ever made) or a
:class:`ConfigurationError` for a client that can no longer send. A failure at the call's deadline (an
``asyncio.timeout`` that fired, a timeout cut to the time left, a socket the watchdog shut down) is the
deadline's error, saying where the call was when it passed.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from types import TracebackType

import httpx

from shared_core.errors import ConfigurationError, ConnectionFailedError, GatewayError, RequestTimeoutError
from shared_core.transport.retry import deadline_passed, time_left

__all__ = ["SENDING", "Translated", "at_deadline", "translate", "within"]

SENDING: tuple[type[Exception], ...] = (httpx.HTTPError, RuntimeError)
"""What sending may raise: httpx's errors, and RuntimeError from a closed client or event loop."""


def _aiohttp_connection_failure(exc: Exception) -> bool:
    # httpx-aiohttp maps every aiohttp ClientConnectionError (a reset, a server that hung up) to
    # httpx.ConnectTimeout; only aiohttp's own timeout errors are timeouts.
    cause = exc.__cause__
    return cause is not None and type(cause).__module__.startswith("aiohttp.") and not isinstance(cause, TimeoutError)


def _never_connected(exc: BaseException) -> bool:
    """Whether the connection was never made (refused, DNS): httpx's ConnectError, aiohttp's connector errors."""
    aiohttp = sys.modules.get("aiohttp")  # imported only with the [async] extra, by the async transport
    kinds = (httpx.ConnectError, ConnectionRefusedError, *(() if aiohttp is None else (aiohttp.ClientConnectorError,)))
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, kinds):
            return True
        current = current.__cause__ or current.__context__
    return False


def translate(exc: Exception) -> GatewayError:
    """The error a transport exception stands for; re-raises ``exc`` when it is none of ours to translate."""
    aiohttp_failure = isinstance(exc, httpx.TimeoutException) and _aiohttp_connection_failure(exc)
    shown = exc.__cause__ if aiohttp_failure else exc
    if isinstance(exc, httpx.TimeoutException) and shown is exc:
        kind = type(exc).__name__.replace("Timeout", " timeout").strip().lower()
        return RequestTimeoutError(
            f"the request timed out ({kind}); raise the timeout, or check the network path to Azure"
        )
    if isinstance(exc, httpx.HTTPError):
        return ConnectionFailedError(
            f"the connection failed ({type(shown).__name__}: {shown}); check the endpoint URL, DNS, proxy and firewall",
            connected=not _never_connected(exc),
        )
    if isinstance(exc, RuntimeError) and "event loop is closed" in str(exc).lower():
        return ConfigurationError(
            "the async_http_client you passed is bound to an event loop that has closed (each asyncio.run, as in "
            "a notebook cell, starts a new loop; an httpx.AsyncClient keeps the loop it first ran on)",
            fix="create the AsyncClient inside the loop that uses it (and pass a new one per asyncio.run), or pass "
            "none: the shared clients are kept per event loop",
        )
    if isinstance(exc, RuntimeError) and "closed" in str(exc):
        return ConfigurationError(
            f"the HTTP client cannot send: {exc}",
            fix="do not close an http_client you passed in while the model still uses it, or pass none",
        )
    raise exc


def at_deadline(deadline: float | None) -> Callable[[Exception], bool] | None:
    """Whether a failure is the deadline's doing: a timeout that ends at the deadline (the attempt's timeouts were
    cut to fit it). ``None`` without a deadline."""
    if deadline is None:
        return None
    return lambda exc: isinstance(exc, httpx.TimeoutException) and time_left(deadline) <= 0.01


class Translated:
    """Every path's one translation of transport exceptions, as a ``with`` block: the call's deadline (an
    ``asyncio.timeout`` that fired, or a failure ``cut`` lays at the deadline) as its error saying ``when``, the
    rest of ``catch`` by :func:`translate`. A class, not a generator context manager: it runs on every call."""

    __slots__ = ("catch", "cut", "when")

    def __init__(
        self,
        when: str,
        catch: tuple[type[Exception], ...] = (httpx.HTTPError,),
        *,
        cut: Callable[[Exception], bool] | None = None,
    ) -> None:
        self.when, self.catch, self.cut = when, catch, cut

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is None:
            return
        if isinstance(exc, TimeoutError):
            raise deadline_passed(self.when) from None
        if isinstance(exc, self.catch):
            raise (deadline_passed(self.when) if self.cut is not None and self.cut(exc) else translate(exc)) from exc


def within(deadline: float | None) -> asyncio.Timeout:
    """An ``asyncio.timeout`` that fires at the call's deadline (never without one)."""
    return asyncio.timeout(None if deadline is None else max(0.0, time_left(deadline)))
