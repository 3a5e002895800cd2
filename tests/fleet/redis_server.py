"""A private, real Redis server for the fleet tests (and the fleet load run): started on a free loopback port
(pytest-socket lets tests reach 127.0.0.1 only, not unix sockets), with no persistence and its files in a
temporary directory, stopped (or killed and restarted on the same port) on demand.

No mock: Debian's ``redis-server`` (``.ci/run`` installs it). When it cannot be found or started, tests skip
with a message locally and fail under CI (``CI`` set), so a missing server never passes silently.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["RedisServer", "redis_unavailable"]


def redis_unavailable() -> str | None:
    """Why no Redis server can be started here, or ``None`` when one can."""
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (apt-get install redis-server; .ci/run does it)"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "the redis client is not installed (pip install 'azure-openai-gateway[redis]')"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One ``redis-server`` process on loopback; :meth:`kill` and :meth:`start` again keep the same URL."""

    def __init__(self, directory: str | None = None) -> None:
        self._own_dir = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="azgw-redis-"))
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        """Start the server and wait until it answers PING (a few seconds at most)."""
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            try:
                if redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5).ping():
                    return self
            except (redis.exceptions.RedisError, OSError):
                time.sleep(0.02)
        raise RuntimeError("redis-server did not answer PING within 10 s")

    def client(self) -> object:
        """A plain client, for the tests' own reads (INFO, keys)."""
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2.0)

    def kill(self) -> None:
        """SIGKILL: connections drop, new ones are refused, nothing is saved."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Kill the server and remove its directory (when this object made it)."""
        self.kill()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def skip_or_fail(reason: str) -> None:
    """Skip locally; fail under CI, where a Redis server must be there."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"fleet tests need a Redis server under CI: {reason}")
    pytest.skip(f"no Redis server: {reason}")
