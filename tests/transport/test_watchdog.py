"""The watchdog bounds blocking reads by wall clock: it shuts a socket down when its deadline passes, never after
it was disarmed, and on time even when an earlier deadline is armed after a later one (the thread sleeps until
the earliest deadline it knows, and is woken only for an earlier one).

Real sockets (``socket.socketpair``): a blocked ``recv`` returns end of file when the socket is shut down.
"""

from __future__ import annotations

import socket
import time

from shared_core.transport.watchdog import Watchdog


def _blocked_read_ends_after(sock: socket.socket) -> float:
    started = time.monotonic()
    sock.settimeout(5.0)
    assert sock.recv(1) == b"", "the shutdown makes the pending read see end of file"
    return time.monotonic() - started


def test_watchdog_shuts_a_socket_down_at_its_deadline() -> None:
    watchdog = Watchdog()
    ours, theirs = socket.socketpair()
    with ours, theirs:
        armed = watchdog.arm(ours, time.monotonic() + 0.2)
        waited = _blocked_read_ends_after(ours)
        assert watchdog.disarm(armed) is True and armed.fired
    assert 0.15 <= waited < 4.0


def test_watchdog_never_fires_once_disarmed() -> None:
    watchdog = Watchdog()
    ours, theirs = socket.socketpair()
    with ours, theirs:
        armed = watchdog.arm(ours, time.monotonic() + 0.1)
        assert watchdog.disarm(armed) is False
        time.sleep(0.3)
        theirs.sendall(b"x")
        assert ours.recv(1) == b"x", "the socket still works: it was not shut down"
    assert not armed.fired and armed.sock is None, "a disarmed entry lets its socket go"


def test_watchdog_fires_an_earlier_deadline_armed_after_a_later_one_on_time() -> None:
    watchdog = Watchdog()
    late_ours, late_theirs = socket.socketpair()
    ours, theirs = socket.socketpair()
    with late_ours, late_theirs, ours, theirs:
        late = watchdog.arm(late_ours, time.monotonic() + 30.0)
        time.sleep(0.05)  # the thread is asleep until the late deadline
        early = watchdog.arm(ours, time.monotonic() + 0.2)
        waited = _blocked_read_ends_after(ours)
        assert early.fired and not late.fired
        assert watchdog.disarm(late) is False
    assert waited < 4.0, "the earlier deadline woke the thread"


def test_watchdog_keeps_many_disarmed_entries_from_piling_up() -> None:
    watchdog = Watchdog()
    ours, theirs = socket.socketpair()
    with ours, theirs:
        for _ in range(5000):  # calls that each arm a 60 s deadline and finish in time
            watchdog.disarm(watchdog.arm(ours, time.monotonic() + 60.0))
        armed = watchdog.arm(ours, time.monotonic() + 0.1)
        waited = _blocked_read_ends_after(ours)
        assert armed.fired
    assert waited < 4.0
    assert len(watchdog._heap) <= 2048  # pyright: ignore[reportPrivateUsage]
