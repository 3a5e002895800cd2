"""The loopback Azure server for tests: :class:`azure_openai_emulator.AzureEmulator` under its old name.

``python -m tests.support.azure_server --port 0 --print-endpoint`` still prints the bare endpoint on its first
line (for a parent process); users run ``python -m azure_openai_emulator`` instead.
"""

from __future__ import annotations

import argparse
import contextlib
import threading

from azure_openai_emulator import AzureEmulator as AzureTestServer
from azure_openai_emulator import (
    BadGateway,
    ConnectionReset,
    DeploymentInfo,
    FilterVerdict,
    HttpError,
    Outcome,
    PromptFiltered,
    RecordedRequest,
    Reply,
    Responder,
    ToolCall,
    Unparsable,
    Usage,
    deterministic_responder,
)

__all__ = [
    "AzureTestServer",
    "BadGateway",
    "ConnectionReset",
    "DeploymentInfo",
    "FilterVerdict",
    "HttpError",
    "Outcome",
    "PromptFiltered",
    "RecordedRequest",
    "Reply",
    "Responder",
    "ToolCall",
    "Unparsable",
    "Usage",
    "deterministic_responder",
]


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted; ``--print-endpoint`` prints the bare endpoint first."""
    parser = argparse.ArgumentParser(description="Loopback Azure OpenAI server (tests)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--deployment", action="append", default=[], help="name=model")
    parser.add_argument("--print-endpoint", action="store_true")
    args = parser.parse_args(argv)
    deployments = {
        name: DeploymentInfo(model=model or name) for name, _, model in (d.partition("=") for d in args.deployment)
    } or None
    server = AzureTestServer(api_key=args.api_key or None, deployments=deployments, port=args.port).start()
    if args.print_endpoint:
        print(server.endpoint, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    server.stop()


if __name__ == "__main__":
    main()
