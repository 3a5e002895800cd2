"""One emulator in its own process for the whole package: forked workers must not inherit its server thread."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.process.workers import KEY


@pytest.fixture(scope="package")
def endpoint() -> Iterator[str]:
    """The endpoint of an emulator running in a child process (killed at the end)."""
    command = [sys.executable, "-m", "tests.support.azure_server", "--port", "0", "--print-endpoint", "--api-key", KEY]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline().strip()
        assert line.startswith("http://127.0.0.1:"), f"the emulator did not start: {line!r}"
        yield line
    finally:
        server.kill()
        server.wait(timeout=10)
