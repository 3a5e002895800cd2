"""Closing an async client when the event loop that owns it shuts down.

``asyncio.run`` (and pytest-asyncio, and ``asyncio.Runner``) close every suspended async generator of the loop
before closing it; a generator suspended in a ``try/finally`` is the one hook the loop offers. Without it, each
notebook ``asyncio.run`` would leave an open aiohttp session behind ("Unclosed client session") and its sockets.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Protocol

__all__ = ["AsyncClosable", "close_with_running_loop"]


class AsyncClosable(Protocol):
    """Anything with ``aclose()`` (an ``httpx.AsyncClient``)."""

    async def aclose(self) -> None:
        """Close it."""
        ...


async def _close_at_loop_shutdown(client: AsyncClosable) -> AsyncGenerator[None]:
    try:
        yield
    finally:
        # The loop is shutting down: nobody is left to report a failed close to.
        with contextlib.suppress(Exception):
            await client.aclose()


def close_with_running_loop(client: AsyncClosable) -> AsyncGenerator[None]:
    """Arrange for ``client`` to be closed when the running loop shuts down.

    The generator is started here, synchronously, up to its ``yield``; the caller keeps it alive (the loop only
    holds it weakly).
    """
    closer = _close_at_loop_shutdown(client)
    with contextlib.suppress(StopIteration):
        closer.__anext__().send(None)
    return closer
