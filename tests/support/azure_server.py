"""A loopback Azure OpenAI server for tests and benchmarks, answering in the shapes real Azure sends.

It serves the classic route (``POST /openai/deployments/{d}/chat/completions?api-version=…``), the GA v1 routes
(``POST /openai/v1/chat/completions`` and ``/openai/v1/responses``, ``model`` = deployment) and the preview
Responses route (``POST /openai/responses?api-version=…``), checks ``api-key`` / ``Authorization: Bearer``,
and answers each request from a script of outcomes, falling back to a deterministic responder::

    with AzureTestServer(api_key="test-key", deployments={"gpt-4o-mini": DeploymentInfo()}) as server:
        server.script(HttpError(429, retry_after=0.2), Reply("Hello!", chunks=3))
        ... point the client at server.endpoint ...
        assert server.request_count == 2

Every request is recorded (:class:`RecordedRequest`). aiohttp runs on its own event loop in a background
thread, so sync and async clients alike can hold hundreds of requests open against it. Standalone, for a
separate benchmark process: ``python -m tests.support.azure_server --port 0 --print-endpoint``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import re
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import assert_never
from urllib.parse import parse_qsl

from aiohttp import web

from shared_core.messages import JsonValue
from tests.support import azure_errors as errors
from tests.support import azure_shapes as shapes
from tests.support.azure_script import (
    ApiShape,
    BadGateway,
    ConnectionReset,
    HttpError,
    Outcome,
    PromptFiltered,
    RecordedRequest,
    Reply,
    Responder,
    Unparsable,
    as_responder,
    deterministic_responder,
)
from tests.support.azure_shapes import Completion, DeploymentInfo, FilterVerdict, ToolCall, Usage

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

_OMIT_CONTENT_TYPE = "x-azure-test-server-omit-content-type"
_CLASSIC_CHAT = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/chat/completions$")
_ALPHANUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True, slots=True)
class _Route:
    api: ApiShape
    deployment: str | None
    v1: bool
    api_version: str


@dataclass(frozen=True, slots=True)
class _Exchange:
    """A routed, authenticated request for a known deployment, on its way to an answer."""

    request: web.Request
    rec: RecordedRequest
    route: _Route
    info: DeploymentInfo


def _route(method: str, path: str, query: Mapping[str, str]) -> _Route | None:
    """Which Azure operation a request addresses, or ``None`` for Azure's 404 "Resource not found"."""
    version = query.get("api-version")
    if method != "POST":
        return None
    if match := _CLASSIC_CHAT.match(path):
        return _Route("chat", match["deployment"], False, version) if version else None
    if path == "/openai/responses":
        return _Route("responses", None, False, version) if version else None
    if path in ("/openai/v1/chat/completions", "/openai/v1/responses"):
        api: ApiShape = "chat" if path.endswith("/chat/completions") else "responses"
        return _Route(api, None, True, version or "v1")
    return None


def _random_id(prefix: str, length: int) -> str:
    raw = uuid.uuid4().int
    chars: list[str] = []
    for _ in range(length):
        raw, digit = divmod(raw, len(_ALPHANUM))
        chars.append(_ALPHANUM[digit])
        raw = raw or uuid.uuid4().int
    return prefix + "".join(chars)


def _word_pieces(text: str) -> tuple[str, ...]:
    pieces = re.findall(r"\s*\S+", text)
    rest = text[len("".join(pieces)) :]
    return (*pieces, rest) if rest else tuple(pieces)


def _estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _forced_tool(body: Mapping[str, JsonValue]) -> bool:
    # Azure answers finish_reason "stop" (not "tool_calls") when tool_choice names the function (recorded).
    return isinstance(body.get("tool_choice"), dict)


class AzureTestServer:
    """The loopback Azure OpenAI server; use it as a context manager.

    Args:
        api_key: The ``api-key`` accepted; ``None`` accepts none.
        bearer_tokens: Entra tokens accepted in ``Authorization: Bearer``; mutable later via ``bearer_tokens``.
            With neither a key nor tokens, authentication is not checked.
        deployments: Deployment name to what it reports; default one ``gpt-4o-mini`` deployment.
        default: The responder used when the script is empty (or a fixed outcome).
        port: TCP port on 127.0.0.1; 0 picks a free one.
    """

    def __init__(
        self,
        *,
        api_key: str | None = "test-key",
        bearer_tokens: Iterable[str] = (),
        deployments: Mapping[str, DeploymentInfo] | None = None,
        default: Responder | Outcome = deterministic_responder,
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.bearer_tokens: set[str] = set(bearer_tokens)
        self.deployments: dict[str, DeploymentInfo] = dict(deployments or {"gpt-4o-mini": DeploymentInfo()})
        self._default: Responder = as_responder(default)
        self._port = port
        self._lock = threading.Lock()
        self._queue: deque[Outcome] = deque()
        self._queues: dict[str, deque[Outcome]] = {}
        self._requests: list[RecordedRequest] = []
        self._used: dict[str, tuple[int, int]] = {}
        self._in_flight = 0
        self._max_in_flight = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.endpoint = ""

    # ------------------------------------------------------------------------------------ scripting API

    def script(self, *outcomes: Outcome, deployment: str | None = None) -> None:
        """Queue outcomes, one per request, in order; ``deployment`` scopes them to requests for it.

        A deployment's own queue is consumed before the shared one; once both are empty, the default
        responder answers. Requests refused by routing or authentication consume nothing.
        """
        with self._lock:
            queue = self._queues.setdefault(deployment, deque()) if deployment else self._queue
            queue.extend(outcomes)

    def set_default(self, default: Responder | Outcome) -> None:
        """Replace the responder used when the script is empty (an outcome answers every request)."""
        self._default = as_responder(default)

    @property
    def pending(self) -> int:
        """Scripted outcomes not consumed yet."""
        with self._lock:
            return len(self._queue) + sum(len(q) for q in self._queues.values())

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since start or :meth:`reset`, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        """How many HTTP requests arrived (every attempt counts, refused ones too)."""
        with self._lock:
            return len(self._requests)

    @property
    def in_flight(self) -> int:
        """Requests being answered right now."""
        return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """The most requests answered at once since start or :meth:`reset`."""
        return self._max_in_flight

    def reset(self) -> None:
        """Forget recorded requests, scripted outcomes, rate-limit counters and the in-flight maximum."""
        with self._lock:
            self._requests.clear()
            self._queue.clear()
            self._queues.clear()
            self._used.clear()
            self._max_in_flight = self._in_flight

    # ------------------------------------------------------------------------------------ lifecycle

    def start(self) -> AzureTestServer:
        """Bind 127.0.0.1 and serve from a background thread; returns once accepting connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        self.endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
        loop = self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(loop, sock, ready), daemon=True, name="azure-test")
        self._thread.start()
        ready.wait()
        if self._runner is None:
            self._thread.join()
            self._loop = self._thread = None
            raise RuntimeError("the Azure test server failed to start; see the thread's traceback above")
        return self

    def stop(self) -> None:
        """Stop serving, dropping any connection still open, and join the thread."""
        loop, runner, thread = self._loop, self._runner, self._thread
        if loop is None or thread is None:
            return
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._loop = self._runner = self._thread = None

    def __enter__(self) -> AzureTestServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _serve(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        try:
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", self._handle)
            app.on_response_prepare.append(_strip_headers)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1, handle_signals=False)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.SockSite(runner, sock, backlog=1024).start())
            self._runner = runner
        except BaseException:
            sock.close()
            loop.close()
            raise
        finally:
            ready.set()
        loop.run_forever()
        loop.close()

    # ------------------------------------------------------------------------------------ request handling

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        path = re.sub("/{2,}", "/", request.path)
        query = dict(parse_qsl(request.query_string))
        body = _parse_json(raw)
        route = _route(request.method, path, query)
        json_body = body if isinstance(body, dict) else {}
        model = json_body.get("model")
        deployment = route.deployment if route and route.deployment else (model if isinstance(model, str) else None)
        recorded = RecordedRequest(
            method=request.method,
            path=path,
            query=query,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            api=route.api if route else None,
            deployment=deployment if route else None,
            stream=json_body.get("stream") is True,
            received_at=time.monotonic(),
        )
        with self._lock:
            self._requests.append(recorded)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            return await self._answer(request, recorded, route)
        finally:
            with self._lock:
                self._in_flight -= 1

    async def _answer(self, request: web.Request, rec: RecordedRequest, route: _Route | None) -> web.StreamResponse:
        # Azure checks the path before the key, and the key before the deployment.
        region = next(iter(self.deployments.values()), DeploymentInfo()).region
        if route is None:
            return _respond(404, errors.resource_not_found_error(), _json_headers(region))
        denied = self._check_auth(rec.headers)
        if denied is not None:
            return _respond(401, errors.unauthorized_error(bearer=denied), _json_headers(region))
        info = self.deployments.get(rec.deployment or "")
        if info is None or rec.deployment is None:
            return _unknown_deployment(route, rec.deployment or "", region)
        outcome = self._next_outcome(rec)
        if outcome.first_byte_delay:
            await asyncio.sleep(outcome.first_byte_delay)
        return await self._render(_Exchange(request, rec, route, info), outcome)

    def _check_auth(self, headers: Mapping[str, str]) -> bool | None:
        """``None`` when allowed; else whether the caller tried a bearer token (it picks the 401 message)."""
        if self.api_key is None and not self.bearer_tokens:
            return None
        if self.api_key is not None and headers.get("api-key") == self.api_key:
            return None
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token in self.bearer_tokens:
            return None
        return "api-key" not in headers and bool(scheme)

    def _next_outcome(self, rec: RecordedRequest) -> Outcome:
        with self._lock:
            own = self._queues.get(rec.deployment or "")
            if own:
                return own.popleft()
            if self._queue:
                return self._queue.popleft()
        return self._default(rec)

    def _routed_headers(self, ex: _Exchange, tokens: int) -> dict[str, str]:
        """Base plus deployment headers, counting this request against the deployment's rate limits."""
        name = ex.rec.deployment or ""
        with self._lock:
            used_requests, used_tokens = self._used.get(name, (0, 0))
            self._used[name] = (used_requests + 1, used_tokens + tokens)
        remaining = (
            max(0, ex.info.requests_per_minute - used_requests - 1),
            max(0, ex.info.tokens_per_minute - used_tokens - tokens),
        )
        # The v1 chat route echoes x-ms-client-request-id, "Not-Set" when the client sent none (recorded).
        client_id = ex.rec.headers.get("x-ms-client-request-id", "Not-Set") if ex.route.v1 else None
        # The Responses front end sends token limits only on a finished, non-streamed answer (recorded).
        token_headers = ex.route.api == "chat" or (tokens > 0 and not ex.rec.stream)
        routed = errors.deployment_headers(
            ex.route.api, name, ex.info, remaining=remaining, client_request_id=client_id, token_headers=token_headers
        )
        if ex.route.api == "responses":
            routed["x-request-id"] = _uuid()
        return errors.base_headers(_uuid(), ex.info.region) | routed

    async def _render(self, ex: _Exchange, outcome: Outcome) -> web.StreamResponse:
        match outcome:
            case Reply():
                return await self._render_reply(ex, outcome)
            case PromptFiltered(filter=verdict):
                headers = self._routed_headers(ex, 0) | {"content-type": "application/json"}
                if ex.route.api == "chat":
                    return _respond(400, errors.chat_prompt_filter_error(verdict), headers)
                return _respond(400, errors.responses_prompt_filter_error(), headers)
            case HttpError():
                return _http_error(outcome, ex.route, self._routed_headers(ex, 0))
            case BadGateway():
                headers = {"content-type": "text/html", "server": "Microsoft-Azure-Application-Gateway/v2"}
                return _respond(502, errors.bad_gateway_html(), headers)
            case ConnectionReset(rst=rst):
                return _drop_connection(ex.request, rst=rst)
            case Unparsable(body=body):
                stream = ex.rec.stream
                ctype = "text/event-stream; charset=utf-8" if stream else "application/json"
                garbage = body or (b'data: {"choices": [{"delta": \n\n' if stream else b'{"id": "chatcmpl-')
                return _respond(200, garbage, errors.base_headers(_uuid(), ex.info.region) | {"content-type": ctype})
            case _:
                assert_never(outcome)

    async def _render_reply(self, ex: _Exchange, reply: Reply) -> web.StreamResponse:
        completion = _completion(reply, ex)
        chat, rec = ex.route.api == "chat", ex.rec
        headers = self._routed_headers(ex, completion.usage.total_tokens)
        headers |= errors.success_headers(ex.route.api, stream=rec.stream, trace_id=_uuid())
        if not rec.stream:
            if chat:
                return _respond(200, shapes.compact(shapes.chat_body(completion)), headers)
            return _respond(200, shapes.pretty(shapes.responses_body(completion, rec.json)), headers)
        if chat:
            options = rec.json.get("stream_options")
            include_usage = isinstance(options, dict) and options.get("include_usage") is True
            frames = shapes.chat_stream(completion, include_usage=include_usage)
        else:
            frames = shapes.responses_stream(completion, rec.json)
        return await _stream(ex.request, frames, headers, reply)


def _uuid() -> str:
    return str(uuid.uuid4())


def _parse_json(raw: bytes) -> JsonValue:
    if not raw:
        return None
    try:
        value: JsonValue = json.loads(raw)
    except ValueError:
        return None
    return value


def _completion(reply: Reply, ex: _Exchange) -> Completion:
    """Decide everything about a reply: ids, stream pieces, filter cut, finish reason, usage."""
    rec, info = ex.rec, ex.info
    text = reply.text if reply.text is not None or reply.tool_calls else ""
    pieces: tuple[str, ...] = ()
    if text:
        pieces = shapes.split_text(text, reply.chunks) if reply.chunks else _word_pieces(text)
    filtered = reply.filter if reply.filter_after is not None else None
    if reply.filter_after is not None:
        pieces = pieces[: reply.filter_after]
    calls = tuple(replace(c, call_id=c.call_id or _random_id("call_", 24)) for c in reply.tool_calls)
    finish = reply.finish_reason or (
        "content_filter" if filtered else ("tool_calls" if calls and not _forced_tool(rec.json) else "stop")
    )
    produced = "".join(pieces) + "".join(c.name + c.arguments for c in calls)
    usage = reply.usage or Usage(
        prompt_tokens=_estimate_tokens(json.dumps(rec.json.get("messages", rec.json.get("input")))),
        completion_tokens=_estimate_tokens(produced),
    )
    chat = ex.route.api == "chat"
    return Completion(
        response_id=_random_id("chatcmpl-", 29) if chat else "resp_" + uuid.uuid4().hex + uuid.uuid4().hex[:18],
        created=int(time.time()),
        model=info.model if chat else rec.deployment or "",
        system_fingerprint=info.system_fingerprint,
        text_pieces=pieces,
        tool_calls=calls,
        argument_pieces=reply.argument_pieces,
        pack_tool_calls=reply.pack_tool_calls,
        usage=usage,
        finish_reason=finish,
        filtered=filtered,
    )


def _respond(status: int, body: bytes, headers: Mapping[str, str]) -> web.Response:
    return web.Response(status=status, body=body, headers=dict(headers))


def _json_headers(region: str) -> dict[str, str]:
    return errors.base_headers(_uuid(), region) | {"content-type": "application/json"}


def _unknown_deployment(route: _Route, name: str, region: str) -> web.Response:
    base = errors.base_headers(_uuid(), region)
    if route.v1:
        headers = base | {"content-type": "application/json; charset=utf-8", "request-context": "appId="}
        return _respond(400, errors.unknown_model_error(name), headers)
    # Azure sends this 404 without a Content-Type (recorded); clients must parse the JSON regardless.
    return _respond(404, errors.deployment_not_found_error(), base | {_OMIT_CONTENT_TYPE: "1"})


def _error_body(status: int, route: _Route, retry_seconds: int, request_id: str) -> bytes:
    match status:
        case 401:
            return errors.unauthorized_error(bearer=False)
        case 404:
            return errors.deployment_not_found_error()
        case 429:
            operation = "ChatCompletions_Create" if route.api == "chat" else "Responses_Create"
            return errors.rate_limit_error(operation, route.api_version, retry_seconds)
        case 500:
            return errors.server_error(request_id)
        case 503:
            return errors.service_unavailable_error()
        case _:
            return shapes.compact({"error": {"code": str(status), "message": f"HTTP {status}"}})


def _http_error(error: HttpError, route: _Route, headers: dict[str, str]) -> web.Response:
    retry = error.retry_after
    seconds = max(1, math.ceil(retry)) if retry is not None else 10
    headers = headers | {"content-type": "application/json"}
    body = error.body or _error_body(error.status, route, seconds, headers["apim-request-id"])
    if error.status == 404 and error.body is None:
        headers[_OMIT_CONTENT_TYPE] = "1"  # as the recorded DeploymentNotFound
    if retry is not None:
        kinds = error.retry_after_headers
        for kind in (kinds,) if isinstance(kinds, str) else kinds:
            headers[kind] = str(seconds) if kind == "retry-after" else str(round(retry * 1000))
    return _respond(error.status, body, headers)


async def _stream(
    request: web.Request, frames: list[bytes], headers: Mapping[str, str], reply: Reply
) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers=dict(headers))
    await response.prepare(request)
    try:
        for n, frame in enumerate(frames):
            if reply.cut_after is not None and n >= reply.cut_after:
                # A mid-stream drop: the chunked body never terminates, so clients see a protocol error.
                if request.transport is not None:
                    request.transport.close()
                return response
            if n and reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
            await response.write(frame)
        await response.write_eof()
    except ConnectionError:
        pass  # the client went away mid-stream; nothing to answer
    return response


def _drop_connection(request: web.Request, *, rst: bool) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if rst and sock is not None:
            # SO_LINGER 0 makes close() send RST: the client sees "connection reset by peer".
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response(status=200)


async def _strip_headers(_request: web.Request, response: web.StreamResponse) -> None:
    # aiohttp always adds Server and a default Content-Type; Azure sends no Server header, and its
    # DeploymentNotFound 404 has no Content-Type.
    if response.headers.get("server", "").startswith("Python"):
        del response.headers["server"]
    if response.headers.pop(_OMIT_CONTENT_TYPE, None) is not None:
        response.headers.pop("content-type", None)


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted; ``--print-endpoint`` prints the endpoint line first (for a parent process)."""
    parser = argparse.ArgumentParser(description="Loopback Azure OpenAI server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument(
        "--deployment", action="append", default=[], help="name=model, e.g. gpt-4o-mini=gpt-4o-mini-2024-07-18"
    )
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
