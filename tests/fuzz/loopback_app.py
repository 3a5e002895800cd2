"""A one-handler aiohttp app on 127.0.0.1, served from its own event loop in a background thread.

Small on purpose: the endpoint-safety tests need two servers (one that redirects, one that must never be
reached) and to see every request each of them received, headers included.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType

from aiohttp import web

__all__ = ["Handler", "LoopbackApp", "SeenRequest"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """One request as the server received it."""

    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes


class LoopbackApp:
    """Serve ``handler`` on a free loopback port; every request is recorded before the handler runs."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._lock = threading.Lock()
        self._seen: list[SeenRequest] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[SeenRequest]:
        """Every request received so far (a copy)."""
        with self._lock:
            return list(self._seen)

    async def _record(self, request: web.Request) -> web.StreamResponse:
        seen = SeenRequest(request.method, request.path_qs, dict(request.headers), await request.read())
        with self._lock:
            self._seen.append(seen)
        return await self._handler(request)

    def _serve(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._record)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.SockSite(runner, sock).start())
        self._runner = runner
        ready.set()
        loop.run_forever()
        loop.close()

    def __enter__(self) -> LoopbackApp:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(self._loop, sock, ready), daemon=True)
        self._thread.start()
        if not ready.wait(timeout=10):
            raise RuntimeError("the loopback app did not start")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is None or self._thread is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
