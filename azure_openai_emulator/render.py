"""How the emulator turns a decided :data:`~azure_openai_emulator.script.Outcome` into Azure's HTTP answer.

Routing (which Azure operation a path addresses) and rendering (status, headers, body or stream, dropped
connections) live here; the server decides *what* to answer, this module decides *how it looks on the wire*.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import socket
import struct
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import assert_never

from aiohttp import web

from azure_openai_emulator import content, shapes
from azure_openai_emulator import error_bodies as errors
from azure_openai_emulator.completion import Completion, DeploymentInfo, Usage
from azure_openai_emulator.script import (
    ApiShape,
    BadGateway,
    ConnectionReset,
    HttpError,
    Outcome,
    PromptFiltered,
    RecordedRequest,
    Reply,
    Unparsable,
)
from shared_core.messages import JsonValue

__all__ = [
    "OMIT_CONTENT_TYPE",
    "Exchange",
    "Route",
    "json_headers",
    "new_request_id",
    "parse_json",
    "render",
    "respond",
    "route_of",
    "strip_headers",
    "unknown_deployment",
]

OMIT_CONTENT_TYPE = "x-azure-emulator-omit-content-type"
_CLASSIC_CHAT = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/chat/completions$")
_ALPHANUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True, slots=True)
class Route:
    """The Azure operation a request addresses.

    Attributes:
        api: ``chat`` or ``responses``.
        deployment: From the classic path; ``None`` on routes that name it in the body's ``model``.
        v1: The GA ``/openai/v1`` surface.
        api_version: The ``api-version`` query value (``v1`` when the v1 route got none).
    """

    api: ApiShape
    deployment: str | None
    v1: bool
    api_version: str


@dataclass(frozen=True, slots=True)
class Exchange:
    """A routed, authenticated request for a known deployment, on its way to an answer.

    Attributes:
        request: The aiohttp request (for streaming and dropping the connection).
        rec: The request as recorded.
        route: Its route.
        info: The deployment it addresses.
        headers_for: Base plus deployment headers for an answer of this many tokens (counts rate limits).
    """

    request: web.Request
    rec: RecordedRequest
    route: Route
    info: DeploymentInfo
    headers_for: Callable[[int], dict[str, str]]


def route_of(method: str, path: str, query: Mapping[str, str]) -> Route | None:
    """Which Azure operation a request addresses, or ``None`` for Azure's 404 "Resource not found"."""
    version = query.get("api-version")
    if method != "POST":
        return None
    if match := _CLASSIC_CHAT.match(path):
        return Route("chat", match["deployment"], False, version) if version else None
    if path == "/openai/responses":
        return Route("responses", None, False, version) if version else None
    if path in ("/openai/v1/chat/completions", "/openai/v1/responses"):
        api: ApiShape = "chat" if path.endswith("/chat/completions") else "responses"
        return Route(api, None, True, version or "v1")
    return None


def new_request_id() -> str:
    """A fresh ``apim-request-id`` / ``x-request-id`` value."""
    return str(uuid.uuid4())


def parse_json(raw: bytes) -> JsonValue:
    """The body as JSON, or ``None`` when empty or not JSON."""
    if not raw:
        return None
    try:
        value: JsonValue = json.loads(raw)
    except ValueError:
        return None
    return value


def respond(status: int, body: bytes, headers: Mapping[str, str]) -> web.Response:
    """A complete response."""
    return web.Response(status=status, body=body, headers=dict(headers))


def json_headers(region: str) -> dict[str, str]:
    """Azure's base headers with a JSON Content-Type (answers given before a deployment is resolved)."""
    return errors.base_headers(new_request_id(), region) | {"content-type": "application/json"}


def unknown_deployment(route: Route, name: str, region: str) -> web.Response:
    """Azure's answer for a deployment the resource does not have: 404 on classic routes, 400 on v1."""
    base = errors.base_headers(new_request_id(), region)
    if route.v1:
        headers = base | {"content-type": "application/json; charset=utf-8", "request-context": "appId="}
        return respond(400, errors.unknown_model_error(name), headers)
    # Azure sends this 404 without a Content-Type (recorded); clients must parse the JSON regardless.
    return respond(404, errors.deployment_not_found_error(), base | {OMIT_CONTENT_TYPE: "1"})


async def render(ex: Exchange, outcome: Outcome) -> web.StreamResponse:
    """Answer ``ex`` with ``outcome``, in Azure's shapes for the route."""
    match outcome:
        case Reply():
            return await _render_reply(ex, outcome)
        case PromptFiltered(filter=verdict):
            headers = ex.headers_for(0) | {"content-type": "application/json"}
            if ex.route.api == "chat":
                return respond(400, errors.chat_prompt_filter_error(verdict), headers)
            return respond(400, errors.responses_prompt_filter_error(), headers)
        case HttpError():
            return _http_error(outcome, ex.route, ex.headers_for(0))
        case BadGateway():
            headers = {"content-type": "text/html", "server": "Microsoft-Azure-Application-Gateway/v2"}
            return respond(502, errors.bad_gateway_html(), headers)
        case ConnectionReset(rst=rst):
            return _drop_connection(ex.request, rst=rst)
        case Unparsable(body=body):
            stream = ex.rec.stream
            ctype = "text/event-stream; charset=utf-8" if stream else "application/json"
            garbage = body or (b'data: {"choices": [{"delta": \n\n' if stream else b'{"id": "chatcmpl-')
            return respond(
                200, garbage, errors.base_headers(new_request_id(), ex.info.region) | {"content-type": ctype}
            )
        case _:
            assert_never(outcome)


async def _render_reply(ex: Exchange, reply: Reply) -> web.StreamResponse:
    refusal = content.audio_refusal(ex.route.api, ex.rec.json, ex.info.model)
    if refusal is not None:
        return respond(400, refusal, ex.headers_for(0) | {"content-type": "application/json"})
    completion = _completion(reply, ex)
    chat, rec = ex.route.api == "chat", ex.rec
    headers = ex.headers_for(completion.usage.total_tokens)
    headers |= errors.success_headers(ex.route.api, stream=rec.stream, trace_id=new_request_id())
    if not rec.stream:
        if chat:
            return respond(200, shapes.compact(shapes.chat_body(completion)), headers)
        return respond(200, shapes.pretty(shapes.responses_body(completion, rec.json)), headers)
    if chat:
        options = rec.json.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        frames = shapes.chat_stream(completion, include_usage=include_usage)
    else:
        frames = shapes.responses_stream(completion, rec.json)
    return await _stream(ex.request, frames, headers, reply)


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


def _completion(reply: Reply, ex: Exchange) -> Completion:
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
    response_id = _random_id("chatcmpl-", 29) if chat else "resp_" + uuid.uuid4().hex + uuid.uuid4().hex[:18]
    created = int(time.time())
    extras = content.content_extras(
        ex.route.api,
        rec.json,
        text="".join(pieces),
        response_id=response_id,
        created=created,
        reasoning=reply.reasoning,
        choices=reply.choices,
    )
    return Completion(
        response_id=response_id,
        created=created,
        model=info.model if chat else rec.deployment or "",
        system_fingerprint=info.system_fingerprint,
        text_pieces=pieces,
        tool_calls=calls,
        argument_pieces=reply.argument_pieces,
        pack_tool_calls=reply.pack_tool_calls,
        usage=usage,
        finish_reason=finish,
        filtered=filtered,
        extras=extras,
    )


def _error_body(status: int, route: Route, retry_seconds: int, request_id: str) -> bytes:
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


def _http_error(error: HttpError, route: Route, headers: dict[str, str]) -> web.Response:
    retry = error.retry_after
    seconds = max(1, math.ceil(retry)) if retry is not None else 10
    headers = headers | {"content-type": "application/json"}
    body = error.body or _error_body(error.status, route, seconds, headers["apim-request-id"])
    if error.status == 404 and error.body is None:
        headers[OMIT_CONTENT_TYPE] = "1"  # as the recorded DeploymentNotFound
    if retry is not None:
        kinds = error.retry_after_headers
        for kind in (kinds,) if isinstance(kinds, str) else kinds:
            headers[kind] = str(seconds) if kind == "retry-after" else str(round(retry * 1000))
    return respond(error.status, body, headers)


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


async def strip_headers(_request: web.Request, response: web.StreamResponse) -> None:
    """aiohttp adds Server and a default Content-Type; Azure sends no Server header, and its
    DeploymentNotFound 404 has no Content-Type."""
    if response.headers.get("server", "").startswith("Python"):
        del response.headers["server"]
    if response.headers.pop(OMIT_CONTENT_TYPE, None) is not None:
        response.headers.pop("content-type", None)
