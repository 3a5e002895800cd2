"""The pipeline: neutral request → repair → wire encode → retry loop → HTTP → decode → neutral result.

This is the only module that knows the whole flow; each step is a call into the module that owns it.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

from shared_core.auth import AuthProvider, resolve_auth, scope_for_endpoint
from shared_core.config import GatewayConfig, load_config
from shared_core.deployments import DeploymentMap, ResolvedDeployment
from shared_core.errors import (
    ConfigurationError,
    ConnectionFailedError,
    GatewayError,
    InvalidResponseError,
    RequestTimeoutError,
    StreamInterruptedError,
)
from shared_core.events import DebugEvent, EventSink, LoggingSink
from shared_core.messages import JsonValue
from shared_core.repair import REPAIR_EVENT, check_conversation, repair_conversation
from shared_core.request import ChatRequest, GenerationSettings
from shared_core.result import ChatResult, StreamAccumulator, StreamEvent
from shared_core.transport import http
from shared_core.transport.error_map import RequestContext, error_from_response, request_id
from shared_core.transport.retry import RetryPolicy
from shared_core.transport.router import AttemptHooks, arun_attempts, run_attempts
from shared_core.transport.sse import SSEParser, SSERecord
from shared_core.wire import chat_completions, responses
from shared_core.wire.content_filter import completion_filter_error, prompt_filter_error
from shared_core.wire.envelope import EncodedRequest

__all__ = ["Gateway"]

Api = Literal["chat", "responses"]
_USER_AGENT = "azure-openai-gateway/0.1"


@dataclass(frozen=True, slots=True)
class _Call:
    """One prepared call: where it goes, what it sends, and the context for its errors."""

    target: ResolvedDeployment
    encoded: EncodedRequest
    http_request: http.HttpRequest
    ctx: RequestContext
    started: float


class Gateway:
    """Runs neutral chat requests against Azure OpenAI, sync and async, streaming and not.

    Building one is cheap (no network, no client construction): HTTP clients are shared per process, and
    credentials fetch tokens on first use.

    Args:
        config: A resolved configuration; when omitted, ``config_kwargs`` (and the file and environment) are used.
        api: ``chat`` (Chat Completions) or ``responses`` (Responses API).
        auth: An auth provider to use instead of the configured chain.
        token_provider: ``() -> str`` bearer token source (LangChain's ``azure_ad_token_provider``).
        async_token_provider: ``async () -> str`` bearer token source.
        http_client: An ``httpx.Client`` to use for sync calls instead of the shared one.
        async_http_client: An ``httpx.AsyncClient`` to use for async calls instead of the shared one.
        event_sink: Receives debug events; logging at DEBUG by default.
        retry_policy: Retries and deadline; from the config's ``max_retries`` by default.
        repair: Repair the conversation before sending (on by default); off raises on a broken history.
        timeouts: Connect, read and per-chunk timeouts; read and chunk default to the config's ``timeout``.
        proxy: A proxy URL for the shared clients.
        verify: TLS verification (``False`` or a CA bundle path).
        config_file: A TOML config file (else ``$AZURE_GATEWAY_CONFIG``), when ``config`` is not given.
        **config_kwargs: Any :class:`GatewayConfig` field, with the precedence of :func:`load_config`.
    """

    def __init__(
        self,
        config: GatewayConfig | None = None,
        *,
        api: Api = "chat",
        auth: AuthProvider | None = None,
        token_provider: Callable[[], str] | None = None,
        async_token_provider: Callable[[], Awaitable[str]] | None = None,
        http_client: http.SyncClient | None = None,
        async_http_client: http.AsyncClient | None = None,
        event_sink: EventSink | None = None,
        retry_policy: RetryPolicy | None = None,
        repair: bool = True,
        timeouts: http.Timeouts | None = None,
        proxy: str | None = None,
        verify: bool | str = True,
        config_file: str | None = None,
        **config_kwargs: object,
    ) -> None:
        self.config = (
            config
            if config is not None
            else load_config(config_file=config_file, **cast(dict[str, Any], config_kwargs))
        )
        if not self.config.endpoint:
            raise ConfigurationError(
                "no Azure OpenAI endpoint is configured",
                fix="set AZURE_OPENAI_ENDPOINT=https://<resource>.openai.azure.com, or pass endpoint=...",
            )
        self.endpoint: str = self.config.endpoint
        self.api: Api = api
        self.auth: AuthProvider = auth or resolve_auth(
            endpoint=self.endpoint,
            api_key=self.config.api_key,
            azure_ad_token=self.config.azure_ad_token,
            use_managed_identity=self.config.use_managed_identity,
            managed_identity_client_id=self.config.managed_identity_client_id,
            use_default_credential=self.config.use_default_credential,
            token_provider=token_provider,
            async_token_provider=async_token_provider,
            scope=self.config.token_scope,
            sources=self.config.sources,
        )
        self.deployments: DeploymentMap = self.config.deployment_map()
        self.repair = repair
        self.sink: EventSink = event_sink or LoggingSink()
        self.retry_policy = retry_policy or RetryPolicy(max_retries=self.config.max_retries)
        self.timeouts = timeouts or http.Timeouts(read=self.config.timeout, chunk=self.config.timeout)
        self._client_key = http.ClientKey(self.endpoint, proxy, verify, self.timeouts)
        self._http_client = http_client
        self._async_http_client = async_http_client
        self._scope = scope_for_endpoint(self.endpoint, self.config.token_scope)

    def __repr__(self) -> str:
        return f"Gateway(endpoint={self.endpoint!r}, api={self.api!r}, auth={self.auth.describe()!r})"

    # -- preparation (pure apart from events) ------------------------------------------------------------

    def prepare(self, request: ChatRequest, *, stream: bool) -> _Call:
        """Resolve, repair, fill defaults and encode a request; no I/O. Public for tests and the doctor."""
        target = self.deployments.resolve(request.model)
        request = self._repaired(request)
        request = replace(request, settings=self._with_defaults(request, target))
        codec = chat_completions if self.api == "chat" else responses
        encoded = codec.encode_request(request, target, api_version=self.config.api_version, stream=stream)
        for warning in encoded.warnings:
            self.sink.emit(
                DebugEvent("provider:parameter_adjusted", {"deployment": target.deployment, "warning": warning})
            )
        body = json.dumps(encoded.body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        headers = {"content-type": "application/json", "accept": "application/json", "user-agent": _USER_AGENT}
        if stream:
            headers["accept"] = "text/event-stream"
        version = encoded.query.get("api-version")
        ctx = RequestContext(
            deployment=target.deployment,
            endpoint=self.endpoint,
            api_version=version or self.config.api_version,
            model=target.model,
            credential=f"{self.auth.kind} ({self.auth.reason})",
            scope=self._scope if self.auth.kind not in {"api_key", "azure_ad_token"} else None,
            deployment_rule=target.rule,
        )
        call = _Call(
            target, encoded, http.HttpRequest(self.endpoint + encoded.path, encoded.query, body, headers), ctx, 0.0
        )
        self._emit_request(call, request)
        return call

    def _repaired(self, request: ChatRequest) -> ChatRequest:
        if not self.repair:
            check_conversation(request.messages)
            return request
        outcome = repair_conversation(request.messages)
        if not outcome.changed:
            return request
        self.sink.emit(DebugEvent(REPAIR_EVENT, outcome.event_payload()))
        return replace(request, messages=outcome.messages)

    def _with_defaults(self, request: ChatRequest, target: ResolvedDeployment) -> GenerationSettings:
        settings = request.settings
        if settings.max_tokens is None:
            settings = replace(settings, max_tokens=self.config.max_tokens)
        temperature_set_by_user = "temperature" in self.config.sources
        if settings.temperature is None and (target.profile.accepts_temperature or temperature_set_by_user):
            settings = replace(settings, temperature=self.config.temperature)
        return settings

    def _emit_request(self, call: _Call, request: ChatRequest) -> None:
        summary: dict[str, JsonValue] = {
            "deployment": call.target.deployment,
            "model": call.target.model,
            "rule": call.target.rule,
            "api": call.encoded.api,
            "path": call.encoded.path,
            "stream": call.encoded.stream,
            "message_count": len(request.messages),
            "tool_count": len(request.tools),
        }
        self.sink.emit(DebugEvent("llm:request:debug", summary))
        if self.config.raw_debug:
            self.sink.emit(DebugEvent("llm:request:raw", {"path": call.encoded.path, "body": dict(call.encoded.body)}))

    # -- errors and results ------------------------------------------------------------------------------

    def _error(self, call: _Call, status: int, headers: dict[str, str] | object, body: bytes) -> GatewayError:
        hdrs: dict[str, str] = dict(headers) if isinstance(headers, dict) else {}  # pyright: ignore[reportUnknownArgumentType]
        payload: JsonValue = None
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        filtered = prompt_filter_error(
            payload,
            deployment=call.target.deployment,
            endpoint=self.endpoint,
            status=status,
            code="content_filter",
            request_id=request_id(hdrs),
        )
        if filtered is not None:
            return filtered
        return error_from_response(status, hdrs, body, call.ctx)

    def _decode(self, call: _Call, response: http.HttpResponse) -> ChatResult:
        rid = request_id(response.headers)
        try:
            payload: JsonValue = json.loads(response.body)
        except ValueError:
            snippet = response.body[:200].decode("utf-8", "replace")
            raise InvalidResponseError(
                f"Azure answered {response.status} with a body that is not JSON: {snippet!r}; "
                "a proxy between you and Azure may have answered instead",
                deployment=call.target.deployment,
                endpoint=self.endpoint,
                status=response.status,
                request_id=rid,
            ) from None
        if self.config.raw_debug:
            self.sink.emit(
                DebugEvent(
                    "llm:response:raw",
                    {"deployment": call.target.deployment, "status": response.status, "body": payload},
                )
            )
        codec = chat_completions if self.api == "chat" else responses
        result = codec.decode_response(payload).with_transport(deployment=call.target.deployment, request_id=rid)
        return self._finish(call, result, latency=response.elapsed)

    def _finish(self, call: _Call, result: ChatResult, *, latency: float) -> ChatResult:
        filtered = completion_filter_error(
            result, deployment=call.target.deployment, endpoint=self.endpoint, request_id=result.request_id
        )
        usage = result.usage
        self.sink.emit(
            DebugEvent(
                "llm:response:debug",
                {
                    "deployment": call.target.deployment,
                    "model": result.model,
                    "request_id": result.request_id,
                    "finish_reason": result.finish_reason,
                    "latency": round(latency, 4),
                    "input_tokens": usage.input_tokens if usage else None,
                    "output_tokens": usage.output_tokens if usage else None,
                    "tool_calls": len(result.tool_calls) + len(result.invalid_tool_calls),
                },
            )
        )
        if filtered is not None:
            raise filtered
        return result

    def _locate(self, call: _Call, error: GatewayError) -> None:
        # Transport and token errors are raised below the layer that knows the deployment; every error the
        # caller sees names it (and the endpoint), as those raised from a response do.
        if error.deployment is None:
            error.deployment = call.target.deployment
        if error.endpoint is None:
            error.endpoint = self.endpoint

    def _hooks(self, deployment: str) -> AttemptHooks:
        return AttemptHooks(
            policy=self.retry_policy,
            sink=self.sink,
            deployment=deployment,
            credential_kind=self.auth.kind,
            refresh=self.auth.force_refresh,
            arefresh=self.auth.aforce_refresh,
        )

    def _sync_client(self) -> http.SyncClient:
        return self._http_client or http.SHARED_CLIENTS.sync_client(self._client_key)

    def _async_client(self) -> http.AsyncClient:
        return self._async_http_client or http.SHARED_CLIENTS.async_client(self._client_key)

    # -- non-streaming -----------------------------------------------------------------------------------

    def complete(self, request: ChatRequest) -> ChatResult:
        """Send a request and return the whole result.

        Raises:
            GatewayError: A subclass saying what failed (see ``shared_core.errors``).
        """
        call = self.prepare(request, stream=False)
        client = self._sync_client()

        def attempt() -> http.HttpResponse:
            try:
                req = replace(call.http_request, headers={**call.http_request.headers, **self.auth.headers()})
                response = http.send(client, req, self.timeouts)
            except GatewayError as error:
                self._locate(call, error)
                raise
            if response.status >= 300:
                raise self._error(call, response.status, dict(response.headers), response.body)
            return response

        return self._decode(call, run_attempts(attempt, self._hooks(call.target.deployment)))

    async def acomplete(self, request: ChatRequest) -> ChatResult:
        """Async :meth:`complete`."""
        call = self.prepare(request, stream=False)
        client = self._async_client()

        async def attempt() -> http.HttpResponse:
            try:
                auth_headers = await self.auth.aheaders()
                req = replace(call.http_request, headers={**call.http_request.headers, **auth_headers})
                response = await http.asend(client, req, self.timeouts)
            except GatewayError as error:
                self._locate(call, error)
                raise
            if response.status >= 300:
                raise self._error(call, response.status, dict(response.headers), response.body)
            return response

        return self._decode(call, await arun_attempts(attempt, self._hooks(call.target.deployment)))

    # -- streaming ---------------------------------------------------------------------------------------

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        """Send a request and yield its events as they arrive; nothing is retried after the first one.

        Raises:
            StreamInterruptedError: The stream broke; ``partial`` holds everything received.
            ContentFilterError: The filter stopped the answer; ``partial`` holds what came before.
        """
        call = self.prepare(request, stream=True)
        client = self._sync_client()

        def attempt() -> http.StreamingResponse:
            try:
                req = replace(call.http_request, headers={**call.http_request.headers, **self.auth.headers()})
                opened = http.stream(client, req, self.timeouts)
            except GatewayError as error:
                self._locate(call, error)
                raise
            if opened.status >= 300:
                body = opened.read()
                opened.close()
                raise self._error(call, opened.status, dict(opened.headers), body)
            return opened

        opened = run_attempts(attempt, self._hooks(call.target.deployment))
        folder = _StreamFolder(self, call, opened)
        try:
            for chunk in opened.iter_bytes():
                yield from folder.feed(chunk)
                if folder.done:
                    break
        except GatewayError as error:
            raise folder.interrupted(error) from error
        finally:
            opened.close()
        yield from folder.close()
        folder.finish()

    async def astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Async :meth:`stream`."""
        call = self.prepare(request, stream=True)
        client = self._async_client()

        async def attempt() -> http.StreamingResponse:
            try:
                auth_headers = await self.auth.aheaders()
                req = replace(call.http_request, headers={**call.http_request.headers, **auth_headers})
                opened = await http.astream(client, req, self.timeouts)
            except GatewayError as error:
                self._locate(call, error)
                raise
            if opened.status >= 300:
                body = await opened.aread()
                await opened.aclose()
                raise self._error(call, opened.status, dict(opened.headers), body)
            return opened

        opened = await arun_attempts(attempt, self._hooks(call.target.deployment))
        folder = _StreamFolder(self, call, opened)
        try:
            async for chunk in opened.aiter_bytes():
                for event in folder.feed(chunk):
                    yield event
                if folder.done:
                    break
        except GatewayError as error:
            raise folder.interrupted(error) from error
        finally:
            await opened.aclose()
        for event in folder.close():
            yield event
        folder.finish()


class _StreamFolder:
    """SSE bytes → events, folded as they pass, so a break or a filter can report everything received."""

    __slots__ = ("_call", "_decoder", "_gateway", "_parser", "_raw", "_request_id", "_started", "accumulator")

    def __init__(self, gateway: Gateway, call: _Call, opened: http.StreamingResponse) -> None:
        self._gateway = gateway
        self._call = call
        self._parser = SSEParser()
        self._decoder = (
            chat_completions.ChatStreamDecoder() if gateway.api == "chat" else responses.ResponsesStreamDecoder()
        )
        self._request_id = request_id(opened.headers)
        self._started = time.perf_counter() - opened.elapsed_to_headers
        self.accumulator = StreamAccumulator()
        # The raw events are kept only when raw debug is on: the per-chunk path stays a parse and a fold.
        self._raw: list[JsonValue] | None = [] if gateway.config.raw_debug else None

    @property
    def done(self) -> bool:
        return self._decoder.done

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        return self._decode(self._parser.feed(chunk))

    def _decode(self, records: list[SSERecord]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for record in records:
            if self._raw is not None:
                self._raw.append({"event": record.event, "data": record.data})
            for event in self._decoder.decode(record.event, record.data):
                self.accumulator.add(event)
                out.append(event)
        return out

    def partial(self) -> ChatResult:
        return self.accumulator.result(deployment=self._call.target.deployment, request_id=self._request_id)

    def interrupted(self, error: GatewayError) -> GatewayError:
        if isinstance(error, ConnectionFailedError | RequestTimeoutError | InvalidResponseError):
            received = len(self.accumulator.text)
            return StreamInterruptedError(
                f"the stream broke after {self.accumulator.events_seen} events ({received} characters of text): "
                f"{error.message}; the partial answer is in .partial",
                partial=self.partial(),
                deployment=self._call.target.deployment,
                endpoint=self._gateway.endpoint,
                request_id=self._request_id,
            )
        return error

    def close(self) -> list[StreamEvent]:
        out = [] if self._decoder.done else self._decode(self._parser.close())
        if not self._decoder.done:
            raise (
                StreamInterruptedError(
                    "the stream ended without its terminal event ([DONE] or response.completed); "
                    "the partial answer is in .partial",
                    partial=self.partial(),
                    deployment=self._call.target.deployment,
                    endpoint=self._gateway.endpoint,
                    request_id=self._request_id,
                )
            )
        return out

    def finish(self) -> None:
        if self._raw is not None:
            data: dict[str, JsonValue] = {
                "deployment": self._call.target.deployment,
                "status": 200,
                "events": self._raw,
            }
            self._gateway.sink.emit(DebugEvent("llm:response:raw", data))
        latency = time.perf_counter() - self._started
        self._gateway._finish(self._call, self.partial(), latency=latency)  # pyright: ignore[reportPrivateUsage]
