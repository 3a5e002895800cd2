"""A lean, fixed-response Azure OpenAI server for the benchmark, meant to run in its own process.

Every answer is computed once at start-up, in the exact shapes of ``azure_openai_emulator.shapes`` (which were
copied from recorded Azure traffic): a non-streamed ``chat.completion`` body and a stream of ``--chunks`` text
chunks framed as Azure frames them (the ``choices: []`` prompt-filter chunk first, a role chunk, the text
chunks, the finish chunk, the usage chunk, ``data: [DONE]``), with Azure's response headers. Each request then
costs the server a header check, one body read and one write per chunk, so the client's CPU is what the
benchmark sees. It runs in another process so that its CPU never counts against a client.

Deployments whose name starts with ``held`` hold each answer for ``--hold-ms`` before answering: that is the
"in flight" scenario, where hundreds of requests wait on the server at once as they do on a real model.

Standalone::

    python -m benchmarks.server --port 0 --print-endpoint --api-key bench-key --chunks 100 --hold-ms 250

It prints ``http://127.0.0.1:<port>`` on its first line once it listens, and stops on SIGTERM/SIGINT, or,
with ``--stop-on-stdin-eof``, when its standard input closes (so it never outlives the benchmark that started it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import sys
from dataclasses import dataclass

from aiohttp import web

from azure_openai_emulator import error_bodies as azure_errors
from azure_openai_emulator import shapes as azure_shapes

__all__ = ["BenchServerConfig", "FixedResponses", "build_app", "main"]

_CREATED = 1_763_000_000
_RESPONSE_ID = "chatcmpl-BenchFixedResponse0000000000000"
_REQUEST_ID = "7c9e1f0a-5b1d-4f6e-9a52-3f0d2b8e4c11"
_INFO = azure_shapes.DeploymentInfo()


@dataclass(frozen=True, slots=True)
class BenchServerConfig:
    """What the server answers.

    Attributes:
        api_key: The ``api-key`` (or bearer token) every request must carry.
        chunks: Text chunks per stream (the stream has four framing chunks more, plus ``[DONE]``).
        hold_ms: How long deployments named ``held…`` wait before answering.
        chunk_gap_ms: Pause between stream chunks (0 writes them back to back).
        answer_words: Answer this many words (in ``chunks`` pieces when streamed); 0 keeps the short answer
            and one ``wordN`` per chunk.
    """

    api_key: str = "bench-key"
    chunks: int = 100
    hold_ms: float = 250.0
    chunk_gap_ms: float = 0.0
    answer_words: int = 0


class FixedResponses:
    """The precomputed bodies and headers, per deployment name (headers name the deployment)."""

    __slots__ = ("_headers", "body", "events")

    def __init__(self, chunks: int, answer_words: int = 0) -> None:
        answer = "Hello! How can I assist you today?"
        words = tuple(f"word{i} " for i in range(chunks))
        if answer_words:
            answer = answer_text(answer_words)
            words = split_pieces(answer, chunks)
        streamed = azure_shapes.Completion(
            response_id=_RESPONSE_ID,
            created=_CREATED,
            model=_INFO.model,
            system_fingerprint=_INFO.system_fingerprint,
            text_pieces=words,
            usage=azure_shapes.Usage(prompt_tokens=9, completion_tokens=chunks),
        )
        whole = azure_shapes.Completion(
            response_id=_RESPONSE_ID,
            created=_CREATED,
            model=_INFO.model,
            system_fingerprint=_INFO.system_fingerprint,
            text_pieces=(answer,),
            usage=azure_shapes.Usage(prompt_tokens=9, completion_tokens=len(words) if answer_words else 9),
        )
        self.body: bytes = azure_shapes.compact(azure_shapes.chat_body(whole))
        self.events: tuple[bytes, ...] = tuple(azure_shapes.chat_stream(streamed, include_usage=True))
        self._headers: dict[tuple[str, bool], dict[str, str]] = {}

    def headers(self, deployment: str, *, stream: bool) -> dict[str, str]:
        """Azure's success headers for ``deployment`` (computed once per name)."""
        key = (deployment, stream)
        found = self._headers.get(key)
        if found is None:
            found = (
                azure_errors.base_headers(_REQUEST_ID, _INFO.region)
                | azure_errors.deployment_headers(
                    "chat", deployment, _INFO, remaining=(299, 29_000), client_request_id=None
                )
                | azure_errors.success_headers("chat", stream=stream, trace_id=_REQUEST_ID)
            )
            self._headers[key] = found
        return found

    @property
    def data_events(self) -> int:
        """``data:`` chunks carrying JSON in a stream (``[DONE]`` not counted)."""
        return len(self.events) - 1


_ANSWER = (
    "pack a warm waterproof jacket because September weather in the Norwegian mountains changes fast and rain "
    "often arrives with strong wind bring sturdy broken in boots with good grip for wet rock and roots and carry "
    "a light insulating layer for cold evenings near the fjords"
)


def answer_text(words: int) -> str:
    """A deterministic answer of ``words`` words (the realistic workload's 64)."""
    vocabulary = _ANSWER.split(" ")
    return " ".join(vocabulary[i % len(vocabulary)] for i in range(words)) + "."


def split_pieces(text: str, pieces: int) -> tuple[str, ...]:
    """``text`` in ``pieces`` consecutive slices of near-equal length (sub-word pieces, as tokens are)."""
    bounds = [round(i * len(text) / pieces) for i in range(pieces + 1)]
    return tuple(text[a:b] for a, b in itertools.pairwise(bounds))


def _is_stream(body: bytes) -> bool:
    # Every client here serializes with json.dumps, compact or default separators; a full parse per request
    # would only add server CPU.
    return b'"stream":true' in body or b'"stream": true' in body


def _deployment(request: web.Request, body: bytes) -> str:
    name = request.match_info.get("deployment")
    if name:
        return name
    with contextlib.suppress(ValueError, AttributeError):
        model = json.loads(body).get("model")
        if isinstance(model, str):
            return model
    return "unknown"


def build_app(config: BenchServerConfig) -> web.Application:
    """The aiohttp application: classic and v1 chat routes, fixed answers."""
    fixed = FixedResponses(config.chunks, config.answer_words)
    bearer = f"Bearer {config.api_key}"
    hold = config.hold_ms / 1000.0
    gap = config.chunk_gap_ms / 1000.0

    async def chat(request: web.Request) -> web.StreamResponse:
        headers = request.headers
        if headers.get("api-key") != config.api_key and headers.get("authorization") != bearer:
            return web.Response(status=401, body=azure_errors.unauthorized_error(bearer=False))
        body = await request.read()
        deployment = _deployment(request, body)
        if hold and deployment.startswith("held"):
            await asyncio.sleep(hold)
        if not _is_stream(body):
            return web.Response(body=fixed.body, headers=fixed.headers(deployment, stream=False))
        response = web.StreamResponse(headers=fixed.headers(deployment, stream=True))
        await response.prepare(request)
        for event in fixed.events:
            await response.write(event)
            if gap:
                await asyncio.sleep(gap)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/openai/deployments/{deployment}/chat/completions", chat)
    app.router.add_post("/openai/v1/chat/completions", chat)
    return app


async def _serve(config: BenchServerConfig, port: int, print_endpoint: bool, watch_stdin: bool) -> None:
    # The in-flight scenario ends by cancelling the calls still open; aiohttp logs each as a lost connection.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    runner = web.AppRunner(build_app(config), access_log=None, handle_signals=False)
    await runner.setup()
    # The default backlog (128) drops SYNs when 200 clients connect at once, and a dropped SYN costs a
    # one-second retransmit that would show up as client latency.
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=2048)
    await site.start()
    server = site._server  # pyright: ignore[reportPrivateUsage]
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    if print_endpoint:
        print(f"http://127.0.0.1:{bound}", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if watch_stdin:
        fd = sys.stdin.fileno()
        loop.add_reader(fd, lambda: None if os.read(fd, 1024) else stop.set())
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Command line: serve until standard input closes or a signal arrives."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--print-endpoint", action="store_true")
    parser.add_argument("--stop-on-stdin-eof", action="store_true", help="stop when standard input closes")
    defaults = BenchServerConfig()
    parser.add_argument("--api-key", default=defaults.api_key)
    parser.add_argument("--chunks", type=int, default=defaults.chunks)
    parser.add_argument("--hold-ms", type=float, default=defaults.hold_ms)
    parser.add_argument("--chunk-gap-ms", type=float, default=defaults.chunk_gap_ms)
    parser.add_argument("--answer-words", type=int, default=defaults.answer_words)
    args = parser.parse_args(argv)
    config = BenchServerConfig(args.api_key, args.chunks, args.hold_ms, args.chunk_gap_ms, args.answer_words)
    asyncio.run(_serve(config, args.port, args.print_endpoint, args.stop_on_stdin_eof))


if __name__ == "__main__":
    main()
