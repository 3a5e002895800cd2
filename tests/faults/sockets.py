"""Counting this process's TCP connections to a loopback port, and a forwarder that counts new connections."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import urllib.parse
from types import TracebackType

import psutil

__all__ = ["CountingForwarder", "established", "port_of", "settle"]


def port_of(endpoint: str) -> int:
    """The port of a ``http://127.0.0.1:PORT`` endpoint."""
    port = urllib.parse.urlsplit(endpoint).port
    assert port is not None
    return port


def established(port: int) -> int:
    """This process's ESTABLISHED TCP connections to 127.0.0.1:``port``."""
    return sum(
        1
        for conn in psutil.Process().net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == port and conn.status == psutil.CONN_ESTABLISHED
    )


def settle(port: int, *, at_most: int = 0, seconds: float = 2.0) -> int:
    """The ESTABLISHED count once it has fallen to ``at_most`` (closes are not instant), or after ``seconds``."""
    give_up = time.monotonic() + seconds
    count = established(port)
    while count > at_most and time.monotonic() < give_up:
        time.sleep(0.02)
        count = established(port)
    return count


class CountingForwarder:
    """A loopback TCP forwarder to ``target`` that counts the connections clients open through it."""

    def __init__(self, target: str) -> None:
        self._target = ("127.0.0.1", port_of(target))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.connections = 0
        self._stopped = False

    def __enter__(self) -> CountingForwarder:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stopped = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(self._target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
