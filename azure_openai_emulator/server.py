"""The emulator's HTTP server: Azure OpenAI's routes on loopback, answered from a script, faults and a responder.

It serves the classic route (``POST /openai/deployments/{d}/chat/completions?api-version=…``), the GA v1 routes
(``POST /openai/v1/chat/completions`` and ``/openai/v1/responses``, ``model`` = deployment), the preview
Responses route (``POST /openai/responses?api-version=…``) and, with a managed identity, an App Service style
token endpoint (``GET /msi/token``). Each request is answered, in order, by:

1. Azure's checks: an unknown path is 404 "Resource not found", a missing or wrong ``api-key`` /
   ``Authorization: Bearer`` is 401, an unknown deployment is 404 ``DeploymentNotFound`` (400
   ``unknown_model`` on v1);
2. the script: outcomes queued with :meth:`AzureEmulator.script`, exactly as given;
3. the deployment's model rules (a reasoning model rejects ``temperature``: 400 ``unsupported_value``),
   else the responder's answer, both then passed through the fault rules (429, 5xx, cut streams, latency,
   content filter).

aiohttp runs on its own event loop in a background thread, so sync and async clients alike can hold
hundreds of requests open against it. Every request is recorded (:class:`RecordedRequest`) and logged on the
``azure_openai_emulator`` logger with its deployment, status, outcome, faults and latency (never a key or a
token; the ``extra`` field ``emulator`` carries the same as a dict).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import parse_qsl

from aiohttp import web

from azure_openai_emulator import error_bodies as errors
from azure_openai_emulator.completion import DeploymentInfo
from azure_openai_emulator.faults import FaultPlan, FaultRule
from azure_openai_emulator.identity import IDENTITY_PATH, ManagedIdentity, TokenIssuer
from azure_openai_emulator.model_rules import reject_parameters
from azure_openai_emulator.quota import QuotaVerdict, TokenBuckets, request_cost
from azure_openai_emulator.render import (
    Exchange,
    Route,
    json_headers,
    new_request_id,
    parse_json,
    render,
    respond,
    route_of,
    strip_headers,
    unknown_deployment,
)
from azure_openai_emulator.responder import deterministic_responder
from azure_openai_emulator.script import HttpError, Outcome, RecordedRequest, Responder, as_responder

__all__ = ["AzureEmulator"]

logger = logging.getLogger("azure_openai_emulator")


@dataclass(slots=True)
class _Trace:
    """What one request turned into, for its log line (filled in while answering)."""

    outcome: str = "failed"
    faults: tuple[str, ...] = field(default_factory=tuple)


class AzureEmulator:
    """An Azure OpenAI resource on loopback; use it as a context manager (or :meth:`start` / :meth:`stop`).

    Args:
        api_key: The ``api-key`` accepted; ``None`` accepts none.
        bearer_tokens: Entra tokens accepted in ``Authorization: Bearer``; mutable later via ``bearer_tokens``.
            With no key, no tokens and no managed identity, authentication is not checked.
        deployments: Deployment name to what it reports; default one ``gpt-4o-mini`` deployment.
        default: The responder used when the script is empty (or a fixed outcome).
        port: TCP port on 127.0.0.1; 0 picks a free one.
        faults: Fault rules (or a ready :class:`FaultPlan`) applied to the responder's answers.
        managed_identity: Serve a managed-identity token endpoint (``True`` for the default settings) and
            accept its tokens.
        model_rules: Reject parameters the deployment's model does not take, as Azure does.
    """

    def __init__(
        self,
        *,
        api_key: str | None = "test-key",
        bearer_tokens: Iterable[str] = (),
        deployments: Mapping[str, DeploymentInfo] | None = None,
        default: Responder | Outcome = deterministic_responder,
        port: int = 0,
        faults: FaultPlan | Iterable[FaultRule] = (),
        managed_identity: ManagedIdentity | bool = False,
        model_rules: bool = True,
    ) -> None:
        self.api_key = api_key
        self.bearer_tokens: set[str] = set(bearer_tokens)
        self.deployments: dict[str, DeploymentInfo] = dict(deployments or {"gpt-4o-mini": DeploymentInfo()})
        self.faults = faults if isinstance(faults, FaultPlan) else FaultPlan(faults)
        identity = ManagedIdentity() if managed_identity is True else managed_identity or None
        self.identity: TokenIssuer | None = TokenIssuer(identity) if identity else None
        self.model_rules = model_rules
        self._default: Responder = as_responder(default)
        self._port = port
        self._lock = threading.Lock()
        self._queue: deque[Outcome] = deque()
        self._queues: dict[str, deque[Outcome]] = {}
        self._requests: list[RecordedRequest] = []
        self._used: dict[str, tuple[int, int]] = {}
        self.quota = TokenBuckets()
        self._in_flight = 0
        self._max_in_flight = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.endpoint = ""

    def __repr__(self) -> str:
        return f"AzureEmulator(endpoint={self.endpoint!r}, deployments={sorted(self.deployments)})"

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
        """How many HTTP requests arrived (every attempt counts, refused ones too; token requests do not)."""
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
        """Forget recorded requests, scripted outcomes, rate-limit and fault counters, the in-flight maximum."""
        with self._lock:
            self._requests.clear()
            self._queue.clear()
            self._queues.clear()
            self._used.clear()
            self._max_in_flight = self._in_flight
        self.faults.reset()
        self.quota.reset()

    # ------------------------------------------------------------------------------------ addresses

    @property
    def identity_endpoint(self) -> str | None:
        """The token endpoint URL for ``IDENTITY_ENDPOINT``, when a managed identity is served."""
        return self.endpoint + IDENTITY_PATH if self.identity is not None and self.endpoint else None

    def env(self) -> dict[str, str]:
        """Environment variables that point this package (and the openai SDK) at the emulator.

        ``AZURE_OPENAI_ENDPOINT`` and ``AZURE_OPENAI_DEFAULT_DEPLOYMENT`` (the first deployment), then the
        credential: with a managed identity, ``IDENTITY_ENDPOINT`` / ``IDENTITY_HEADER`` and
        ``AZURE_USE_MANAGED_IDENTITY=true``; else ``AZURE_OPENAI_API_KEY`` when a key is set.
        """
        if not self.endpoint:
            raise RuntimeError("the emulator is not started; call start() first")
        out = {"AZURE_OPENAI_ENDPOINT": self.endpoint}
        out["AZURE_OPENAI_DEFAULT_DEPLOYMENT"] = next(iter(self.deployments))
        if self.identity is not None and self.identity_endpoint is not None:
            out["IDENTITY_ENDPOINT"] = self.identity_endpoint
            out["IDENTITY_HEADER"] = self.identity.identity.header
            out["AZURE_USE_MANAGED_IDENTITY"] = "true"
        elif self.api_key:
            out["AZURE_OPENAI_API_KEY"] = self.api_key
        return out

    # ------------------------------------------------------------------------------------ lifecycle

    def start(self) -> AzureEmulator:
        """Bind 127.0.0.1 and serve from a background thread; returns once accepting connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        self.endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
        loop = self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(loop, sock, ready), daemon=True, name="azure-emu")
        self._thread.start()
        ready.wait()
        if self._runner is None:
            self._thread.join()
            self._loop = self._thread = None
            raise RuntimeError("the Azure OpenAI emulator failed to start; see the thread's traceback above")
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

    def __enter__(self) -> AzureEmulator:
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
            app.on_response_prepare.append(strip_headers)
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
        headers = {k.lower(): v for k, v in request.headers.items()}
        if self.identity is not None and request.method == "GET" and path == IDENTITY_PATH:
            status, body = self.identity.issue(query, headers)
            _log_token_request(status, query)
            return respond(status, body, {"content-type": "application/json"})
        body_json = parse_json(raw)
        route = route_of(request.method, path, query)
        json_body = body_json if isinstance(body_json, dict) else {}
        model = json_body.get("model")
        deployment = route.deployment if route and route.deployment else (model if isinstance(model, str) else None)
        rec = RecordedRequest(
            method=request.method,
            path=path,
            query=query,
            headers=headers,
            body=body_json,
            api=route.api if route else None,
            deployment=deployment if route else None,
            stream=json_body.get("stream") is True,
            received_at=time.monotonic(),
        )
        with self._lock:
            self._requests.append(rec)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        trace = _Trace()
        response: web.StreamResponse | None = None
        try:
            response = await self._answer(request, rec, route, trace)
            return response
        finally:
            with self._lock:
                self._in_flight -= 1
            _log_request(rec, response, trace)

    async def _answer(
        self, request: web.Request, rec: RecordedRequest, route: Route | None, trace: _Trace
    ) -> web.StreamResponse:
        # Azure checks the path before the key, and the key before the deployment.
        region = next(iter(self.deployments.values()), DeploymentInfo()).region
        if route is None:
            trace.outcome = "no_such_route"
            return respond(404, errors.resource_not_found_error(), json_headers(region))
        denied = self._check_auth(rec.headers)
        if denied is not None:
            trace.outcome = "unauthorized"
            return respond(401, errors.unauthorized_error(bearer=denied), json_headers(region))
        info = self.deployments.get(rec.deployment or "")
        if info is None or rec.deployment is None:
            trace.outcome = "unknown_deployment"
            return unknown_deployment(route, rec.deployment or "", region)
        verdict = (
            self.quota.take(rec.deployment, request_cost(rec), info.tokens_per_minute, info.renewal_period)
            if (info.enforce_quota)
            else None
        )
        if verdict is not None and not verdict.admitted:
            outcome: Outcome = HttpError(
                429, retry_after=verdict.wait, retry_after_headers=("retry-after-ms", "retry-after")
            )
            trace.faults = ("quota",)
        else:
            outcome = self._next_outcome(rec, info, trace)
        trace.outcome = type(outcome).__name__
        if outcome.first_byte_delay:
            await asyncio.sleep(outcome.first_byte_delay)
        exchange = Exchange(
            request, rec, route, info, lambda tokens: self._routed_headers(rec, route, info, tokens, verdict)
        )
        return await render(exchange, outcome)

    def _check_auth(self, headers: Mapping[str, str]) -> bool | None:
        """``None`` when allowed; else whether the caller tried a bearer token (it picks the 401 message)."""
        if self.api_key is None and not self.bearer_tokens and self.identity is None:
            return None
        if self.api_key is not None and headers.get("api-key") == self.api_key:
            return None
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and (
            token in self.bearer_tokens or (self.identity is not None and self.identity.accepts(token))
        ):
            return None
        return "api-key" not in headers and bool(scheme)

    def _next_outcome(self, rec: RecordedRequest, info: DeploymentInfo, trace: _Trace) -> Outcome:
        with self._lock:
            own = self._queues.get(rec.deployment or "")
            if own:
                return own.popleft()
            if self._queue:
                return self._queue.popleft()
        rejection = reject_parameters(rec.api or "chat", rec.json, info.model) if self.model_rules else None
        if rejection is not None:
            body = errors.unsupported_parameter_error(rejection.param, rejection.message, code=rejection.code)
            base: Outcome = HttpError(400, body=body)
        else:
            base = self._default(rec)
        outcome, fired = self.faults.apply(rec, base)
        trace.faults = fired
        return outcome

    def _routed_headers(
        self, rec: RecordedRequest, route: Route, info: DeploymentInfo, tokens: int, verdict: QuotaVerdict | None = None
    ) -> dict[str, str]:
        """Base plus deployment headers, counting this request against the deployment's rate limits."""
        name = rec.deployment or ""
        with self._lock:
            used_requests, used_tokens = self._used.get(name, (0, 0))
            self._used[name] = (used_requests + 1, used_tokens + tokens)
        remaining = (
            max(0, info.requests_per_minute - used_requests - 1),
            max(0, info.tokens_per_minute - used_tokens - tokens),
        )
        # The v1 chat route echoes x-ms-client-request-id, "Not-Set" when the client sent none (recorded).
        client_id = rec.headers.get("x-ms-client-request-id", "Not-Set") if route.v1 else None
        # The Responses front end sends token limits only on a finished, non-streamed answer (recorded).
        token_headers = route.api == "chat" or (tokens > 0 and not rec.stream)
        routed = errors.deployment_headers(
            route.api, name, info, remaining=remaining, client_request_id=client_id, token_headers=token_headers
        )
        if route.api == "responses":
            routed["x-request-id"] = new_request_id()
        if verdict is not None:
            routed |= verdict.headers()
        return errors.base_headers(new_request_id(), info.region) | routed


def _auth_kind(headers: Mapping[str, str]) -> str:
    if "api-key" in headers:
        return "api-key"
    scheme = headers.get("authorization", "").partition(" ")[0].lower()
    return scheme or "none"


def _log_request(rec: RecordedRequest, response: web.StreamResponse | None, trace: _Trace) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    dropped = response is None or trace.outcome == "ConnectionReset"
    status = 0 if dropped or response is None else response.status
    fields: dict[str, object] = {
        "method": rec.method,
        "path": rec.path,
        "api": rec.api,
        "deployment": rec.deployment,
        "stream": rec.stream,
        "status": status,
        "outcome": trace.outcome,
        "faults": list(trace.faults),
        "auth": _auth_kind(rec.headers),
        "ms": round((time.monotonic() - rec.received_at) * 1000, 1),
        "request_id": response.headers.get("apim-request-id") if response is not None else None,
    }
    faults = f" faults={','.join(trace.faults)}" if trace.faults else ""
    logger.info(
        "%s %s -> %s %s deployment=%s auth=%s ms=%.1f%s",
        rec.method,
        rec.path,
        status or "dropped",
        trace.outcome,
        rec.deployment,
        fields["auth"],
        fields["ms"],
        faults,
        extra={"emulator": fields},
    )


def _log_token_request(status: int, query: Mapping[str, str]) -> None:
    fields: dict[str, object] = {"method": "GET", "path": IDENTITY_PATH, "status": status, "outcome": "token"}
    fields["resource"] = query.get("resource")
    logger.info("GET %s -> %s token resource=%s", IDENTITY_PATH, status, fields["resource"], extra={"emulator": fields})
