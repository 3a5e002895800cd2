"""A wall-clock bound on blocking socket reads: the sync half of "the deadline bounds the whole call".

httpx's sync read timeout applies to each ``recv``: a body trickling one byte every half second never trips it,
and a stream's reads go on for as long as the server keeps sending. The async path bounds its reads with
``asyncio.timeout``; a blocked thread has no such hook, so one daemon thread per process keeps the armed
deadlines in a heap and, when one passes while its read is still going, shuts the socket down. The read then
ends at once (end of file), and the caller, seeing :attr:`Armed.fired`, reports the deadline instead of a
broken connection.

Disarming and firing take the same lock, so a socket whose read finished in time (and whose connection went
back to the pool for another request) is never shut down late. The thread and its lock are per process:
after ``os.fork`` the child starts with an empty heap and starts its own thread on first use.

Every call with a deadline arms and disarms once, so both are cheap: a plain lock (the condition's, taken
without the condition's Python-level wrapper), and no wake-up of the thread unless the new deadline comes
before the one it sleeps until (calls arm deadlines in the order they start, so it is seldom woken). A disarmed
entry stays in the heap, without its socket, until it reaches the top; the heap is compacted when disarmed
entries outnumber armed ones by far.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import os
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["WATCHDOG", "Armed", "Watchdog"]

# Above this many entries, a heap made mostly of disarmed ones is rebuilt with the armed ones only.
_COMPACT_AT = 1024


@dataclass(slots=True)
class Armed:
    """One armed deadline.

    Attributes:
        at: ``time.monotonic()`` value at which the socket is shut down.
        sock: The socket whose reads it bounds (dropped once disarmed).
        active: Still armed (cleared by :meth:`Watchdog.disarm`).
        fired: The deadline passed first and the socket was shut down.
    """

    at: float
    sock: socket.socket | None = field(repr=False)
    active: bool = True
    fired: bool = False


class Watchdog:
    """Shuts sockets down when their deadline passes; one daemon thread, started on first use."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        # Also the after-fork hook: the parent's thread does not exist in the child, and its lock may have
        # been held at the instant of the fork.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._heap: list[tuple[float, int, Armed]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._wake_at = math.inf  # when the thread wakes up next by itself (it sleeps until the heap's top)
        self._active = 0

    def arm(self, sock: socket.socket, at: float) -> Armed:
        """Shut ``sock`` down at ``at`` (monotonic seconds) unless disarmed first."""
        armed = Armed(at, sock)
        with self._lock:
            if len(self._heap) > _COMPACT_AT and len(self._heap) > 4 * self._active:
                self._heap = [entry for entry in self._heap if entry[2].active]
                heapq.heapify(self._heap)
            heapq.heappush(self._heap, (at, next(self._order), armed))
            self._active += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="azure-gateway-deadline", daemon=True)
                self._thread.start()
            elif at < self._wake_at:
                self._cond.notify()
        return armed

    def arm_stream(self, extensions: Mapping[str, object], at: float | None) -> Armed | None:
        """Arm for the socket under an httpx response (its ``extensions``), when there is one and ``at`` is set.

        A user's client on another transport (a mock, a proxy) has no socket there: its reads keep only their
        per-read timeout.
        """
        if at is None:
            return None
        get = getattr(extensions.get("network_stream"), "get_extra_info", None)
        sock = get("socket") if callable(get) else None
        return self.arm(sock, at) if isinstance(sock, socket.socket) else None

    def disarm(self, armed: Armed | None) -> bool:
        """Disarm; returns whether the deadline had already fired."""
        if armed is None:
            return False
        with self._lock:
            if armed.active:
                armed.active = False
                armed.sock = None
                self._active -= 1
            return armed.fired

    def _run(self) -> None:
        cond = self._cond
        while True:
            with cond:
                while self._heap and not self._heap[0][2].active:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake_at = math.inf
                    cond.wait()
                    continue
                at, _, armed = self._heap[0]
                left = at - time.monotonic()
                if left > 0:
                    self._wake_at = at
                    cond.wait(left)
                    continue
                heapq.heappop(self._heap)
                self._fire(armed)

    def _fire(self, armed: Armed) -> None:
        sock, armed.sock = armed.sock, None
        armed.active = False
        armed.fired = True
        self._active -= 1
        # socket.socket.shutdown, not SSLSocket.shutdown: the latter drops the TLS object under the reading
        # thread's feet; the raw shutdown makes the pending read see end of file.
        if sock is not None:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


WATCHDOG = Watchdog()
