"""New TCP connections per 100 sequential streams: does a finished stream give its connection back?

A stream whose reader stops at ``[DONE]`` without reading the body's end cannot return its connection to the
pool: every stream then opens a new one (against Azure, a TLS handshake each, tens of ms). Target: at most 2 per
100 streams, sync and async (plain httpx streaming reuses one; the openai SDK opened 99 in the issue's probe).

    python -m benchmarks.stream_connections            # 100 streams each way
    python -m benchmarks.stream_connections --streams 500

The emulator runs on loopback behind a forwarder that counts the connections clients open through it. This is a
count, not a timing: it is the same on a loaded machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable

import httpx

from azure_openai_emulator import AzureEmulator
from shared_core import ChatRequest, Gateway, Message, TextDelta, load_config
from tests.faults.sockets import CountingForwarder

KEY = "bench-key"
DEPLOYMENT = "gpt-4o-mini"
TARGET = 2
REQUEST = ChatRequest(messages=(Message.user("count my connections"),))


def _gateway(endpoint: str) -> Gateway:
    return Gateway(load_config(env={}, endpoint=endpoint, api_key=KEY, default_deployment=DEPLOYMENT))


def gateway_sync(endpoint: str, streams: int) -> None:
    """``Gateway.stream`` read to its end, ``streams`` times."""
    gateway = _gateway(endpoint)
    for _ in range(streams):
        assert [e for e in gateway.stream(REQUEST) if isinstance(e, TextDelta)]


def gateway_async(endpoint: str, streams: int) -> None:
    """``Gateway.astream`` read to its end, ``streams`` times, on one event loop."""

    async def run() -> None:
        gateway = _gateway(endpoint)
        for _ in range(streams):
            assert [e async for e in gateway.astream(REQUEST) if isinstance(e, TextDelta)]

    asyncio.run(run())


def httpx_sync(endpoint: str, streams: int) -> None:
    """The reference: plain httpx streaming every line of the body."""
    url = f"{endpoint}/openai/deployments/{DEPLOYMENT}/chat/completions?api-version=2024-10-21"
    body = {"messages": [{"role": "user", "content": "count my connections"}], "stream": True}
    with httpx.Client() as client:
        for _ in range(streams):
            with client.stream("POST", url, json=body, headers={"api-key": KEY}) as response:
                assert "data: [DONE]" in list(response.iter_lines())


CLIENTS: dict[str, Callable[[str, int], None]] = {
    "gateway (sync)": gateway_sync,
    "gateway (async)": gateway_async,
    "httpx (sync, reference)": httpx_sync,
}


def main(argv: list[str] | None = None) -> None:
    """Print connections per ``--streams`` sequential streams for each client, and whether the target holds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    results: dict[str, int] = {}
    with AzureEmulator(api_key=KEY) as emulator:
        for name, run in CLIENTS.items():
            with CountingForwarder(emulator.endpoint) as forwarder:
                run(forwarder.endpoint, args.streams)
                results[name] = forwarder.connections
    if args.json:
        print(json.dumps({"streams": args.streams, "connections": results, "target": TARGET}))
        return
    print(f"new TCP connections per {args.streams} sequential streams (target: at most {TARGET})")
    for name, count in results.items():
        verdict = "" if "reference" in name else ("  pass" if count <= TARGET else "  FAIL")
        print(f"  {name:26s} {count:5d}{verdict}")


if __name__ == "__main__":
    main()
