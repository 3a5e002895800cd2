"""What every benchmark client adapter shares: the target, the adapter interface, and the least work a raw client does.

Each adapter imports its library lazily (only the worker process that measures it pays that import).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_CONNECTIONS", "Adapter", "Target", "headers", "httpx_limits", "sse_payloads", "text_of"]

# Same pool limits as the gateway's shared clients: the defaults of httpx and httpx-aiohttp (100 connections)
# would cap the in-flight scenario at half its 200 concurrent calls, and a baseline must not be handicapped.
MAX_CONNECTIONS = 1000
_MAX_KEEPALIVE = 200


@dataclass(frozen=True, slots=True)
class Target:
    """Where and what to send.

    Attributes:
        endpoint: ``http://127.0.0.1:<port>`` of the benchmark server.
        api_key: The server's key.
        api_version: The ``api-version`` every client sends.
        deployment: The deployment answered at once.
        held_deployment: The deployment the server holds (the in-flight scenario).
        body: The gateway's non-streaming request body (the raw baselines send it verbatim).
        stream_body: The gateway's streaming request body.
    """

    endpoint: str
    api_key: str
    api_version: str
    deployment: str
    held_deployment: str
    body: bytes
    stream_body: bytes

    def url(self, deployment: str) -> str:
        """The classic chat route for ``deployment``."""
        return f"{self.endpoint}/openai/deployments/{deployment}/chat/completions?api-version={self.api_version}"


class Adapter:
    """One client library. Subclasses set ``name``/``label``/``modules`` and override what they support.

    ``setup`` builds the sync client once; ``construct`` builds a fresh one (timed); ``call`` makes one
    non-streaming call; ``stream`` reads one whole stream; ``asetup``/``acall`` do the async side for the
    held deployment, inside the running loop (the worker never closes it: its process is disposable).
    """

    name = ""
    label = ""
    modules: tuple[str, ...] = ()
    sync = True
    asynchronous = True

    def setup(self, target: Target) -> None:
        """Build the sync client."""

    def construct(self, target: Target) -> object:
        """Build and return a fresh client or model (timed by the worker)."""
        raise NotImplementedError

    def call(self) -> None:
        """One non-streaming call, result read."""
        raise NotImplementedError

    def stream(self) -> None:
        """One streamed call, every chunk read."""
        raise NotImplementedError

    async def asetup(self, target: Target) -> None:
        """Build the async client on the running loop."""

    async def acall(self) -> None:
        """One async non-streaming call against the held deployment."""
        raise NotImplementedError


def headers(target: Target, *, stream: bool) -> dict[str, str]:
    accept = "text/event-stream" if stream else "application/json"
    return {"api-key": target.api_key, "content-type": "application/json", "accept": accept}


def text_of(payload: Any) -> object:
    choices = payload.get("choices")
    if choices:
        return choices[0].get("delta", choices[0].get("message", {})).get("content")
    return None


def sse_payloads(chunks: Iterator[bytes]) -> Iterator[Any]:
    """The least SSE handling a client can do: split on blank lines, ``json.loads`` each ``data:``."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        *events, buffer = buffer.split(b"\n\n")
        for event in events:
            if event.startswith(b"data: ") and event != b"data: [DONE]":
                yield json.loads(event[6:])


def httpx_limits() -> Any:
    import httpx

    return httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=_MAX_KEEPALIVE)
