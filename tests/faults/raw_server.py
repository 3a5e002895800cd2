"""A loopback HTTP/1.1 server that answers byte by byte as a test scripts it: hangs, trickles, stalled bodies.

The emulator answers in Azure's shapes at full speed or after a delay; some faults are below that level (a body
that trickles one byte every half second, an error body that stops halfway, a server that never answers). A
script is called with the request number (0-based, across connections) and the request's bytes, and yields
bytes to send and floats to sleep; returning closes the connection unless the script ends with :data:`KEEP`.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType

__all__ = ["KEEP", "RawServer", "Step", "hang", "json_error", "sse_head", "trickle_json"]

KEEP = b""
"""A script's last item when the connection should stay open for the next request (keep-alive)."""

Step = bytes | float
Script = Callable[[int, bytes], Iterable[Step]]


def json_error(status: int, reason: str, *, headers: str = "") -> bytes:
    """A complete JSON error response in Azure's body shape."""
    body = json.dumps({"error": {"code": str(status), "message": reason}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n{headers}\r\n"
    )
    return head.encode() + body


def trickle_json(body: bytes, every: float) -> Iterator[Step]:
    """A 200 whose JSON body arrives one byte every ``every`` seconds."""
    yield f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n".encode()
    for byte in body:
        yield every
        yield bytes([byte])


def sse_head() -> bytes:
    """The status line and headers of a chunked event stream."""
    return b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def hang(seconds: float = 30.0) -> Iterator[Step]:
    """Read the request and say nothing (until the server stops)."""
    yield seconds


class RawServer:
    """Serve ``script`` on 127.0.0.1 from background threads until :meth:`stop` (or the ``with`` block ends)."""

    def __init__(self, script: Script) -> None:
        self._script = script
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._count = 0
        self._conns: list[socket.socket] = []
        self.connections = 0

    def __enter__(self) -> RawServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def requests(self) -> int:
        """Requests received so far."""
        return self._count

    def stop(self) -> None:
        """Stop accepting and drop every connection."""
        self._stopped.set()
        self._listener.close()
        with self._lock:
            for conn in self._conns:
                conn.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read_request(self, conn: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            body += chunk
        return head + b"\r\n\r\n" + body

    def _serve(self, conn: socket.socket) -> None:
        try:
            while not self._stopped.is_set():
                request = self._read_request(conn)
                if request is None:
                    return
                with self._lock:
                    number, self._count = self._count, self._count + 1
                keep = False
                for step in self._script(number, request):
                    keep = step == KEEP
                    if isinstance(step, int | float) and not isinstance(step, bool):
                        if self._stopped.wait(step):
                            return
                    elif isinstance(step, bytes) and step:
                        conn.sendall(step)
                if not keep:
                    return
        except OSError:
            return
        finally:
            conn.close()
