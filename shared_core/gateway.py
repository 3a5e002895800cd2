"""The pipeline: neutral request → repair → wire encode → route (failover, retries) → HTTP → decode → result.

This is the only module that knows the whole flow; each step is one call into the module that owns it: deployments from
:mod:`shared_core.routes`, the call's plan and its encoded requests from :mod:`shared_core.call_plan`, the one retry
loop of :mod:`~shared_core.transport.failover` (a route of one deployment or several), the HTTP exchange from
:mod:`~shared_core.transport.http`, prices from :mod:`shared_core.costs`.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any, TypeVar, cast

from shared_core.auth import AuthProvider
from shared_core.call_plan import Api, Call, Plan, encode_call, request_summary, response_summary
from shared_core.config import GatewayConfig, load_config
from shared_core.content_filter import completion_filter_error
from shared_core.costs import CallCost, CostTracker, cost_of
from shared_core.deployments import DeploymentMap
from shared_core.errors import GatewayError, InvalidResponseError
from shared_core.events import DebugEvent, EventSink, LoggingSink
from shared_core.fleet import health_store_for
from shared_core.messages import JsonValue
from shared_core.repair import REPAIR_EVENT, ToolSequenceRepair, check_conversation, repair_conversation
from shared_core.request import ChatRequest
from shared_core.result import ChatResult, StreamEvent, public_headers
from shared_core.routes import RouteTable, RouteTarget
from shared_core.stream_folder import StreamFolder, adrive, drive
from shared_core.telemetry import traced_acall, traced_astream, traced_call, traced_stream
from shared_core.transport import http
from shared_core.transport.error_map import error_from_response, request_id
from shared_core.transport.failover import FailoverHooks, arun_route, run_route
from shared_core.transport.health import HealthPolicy, HealthStore, InMemoryHealthStore, failure_kind_of
from shared_core.transport.quota import estimate_tokens
from shared_core.transport.retry import RetryPolicy
from shared_core.transport.strategies import RouteCandidate, RoutingStrategy, strategy_for
from shared_core.wire import chat_completions, responses

__all__ = ["Gateway"]

T = TypeVar("T")
R = TypeVar("R", http.HttpResponse, http.StreamingResponse)


class Gateway:
    """Runs neutral chat requests against Azure OpenAI, sync and async, streaming and not.

    Building one is cheap (no network, no client construction): HTTP clients are shared per process, and
    credentials fetch tokens on first use. With ``endpoints`` configured, a model spans every deployment of its
    base model in every region, ordered by ``routing``, failing over as :mod:`shared_core.transport.failover`
    describes; with ``gateway_url``, requests go to an OpenAI-compatible gateway instead of Azure.

    Events: attempt, retry, failover, repair, parameter and outcome events always go to the sink (they are
    rare and say what happened to the call). The per-call summaries (``llm:request:debug``,
    ``llm:response:debug``, the latter with the call's cost) go only when ``debug`` or ``raw_debug`` is on or
    an ``event_sink`` was passed; the full bodies (``llm:*:raw``) only with ``raw_debug``.

    Args:
        config: A resolved configuration; when omitted, ``config_kwargs`` (and the file and environment) are used.
        api: ``chat`` (Chat Completions) or ``responses`` (Responses API).
        auth: An auth provider to use instead of the configured chain (for every endpoint without its own).
        token_provider: ``() -> str`` bearer token source (LangChain's ``azure_ad_token_provider``).
        async_token_provider: ``async () -> str`` bearer token source.
        http_client: An ``httpx.Client`` to use for sync calls instead of the shared one.
        async_http_client: An ``httpx.AsyncClient`` to use for async calls instead of the shared one.
        event_sink: Receives debug events; logging at DEBUG by default.
        retry_policy: Retries and deadline; from the config's ``max_retries`` and ``deadline`` by default.
        repair: Repair the conversation before sending (on by default); off raises on a broken history.
        timeouts: Connect, read and per-chunk timeouts; read and chunk default to the config's ``timeout``.
        proxy: A proxy URL for the shared clients.
        verify: TLS verification (``False`` or a CA bundle path).
        config_file: A TOML config file (else ``$AZURE_GATEWAY_CONFIG``), when ``config`` is not given.
        health: A :class:`HealthStore`, ``redis.Redis`` client or Redis URL (fleet mode); default: the config's
            ``health_store``, else a new in-process store (one store given to several gateways shares what they learn).
        strategy: Orders a route's deployments; from the config's ``routing`` by default.
        costs: Receives the cost of every call; a new tracker by default (``gateway.costs``).
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
        health: HealthStore | str | object | None = None,
        strategy: RoutingStrategy | None = None,
        costs: CostTracker | None = None,
        **config_kwargs: object,
    ) -> None:
        kwargs = cast(dict[str, Any], config_kwargs)
        self.config = config if config is not None else load_config(config_file=config_file, **kwargs)
        self.routes = RouteTable(
            self.config, auth=auth, token_provider=token_provider, async_token_provider=async_token_provider, api=api
        )
        first = self.config.endpoints[0].endpoint if self.config.endpoints else ""
        self.endpoint: str = self.config.gateway_url or self.config.endpoint or first
        self.api: Api = api
        self.auth: AuthProvider = self.routes.primary_auth
        self.deployments: DeploymentMap = self.config.deployment_map()
        self.repair = repair
        self.sink: EventSink = event_sink or LoggingSink()
        self._summaries = self.config.debug or self.config.raw_debug or event_sink is not None
        self.retry_policy = retry_policy or RetryPolicy(
            max_retries=self.config.max_retries, deadline=self.config.deadline
        )
        self.timeouts = timeouts or http.Timeouts(read=self.config.timeout, chunk=self.config.timeout)
        self.health: HealthStore = _health_store(health, self.config, self.sink)
        self.strategy: RoutingStrategy = strategy or strategy_for(self.config.routing)
        self.prices = self.config.price_table()
        self.costs = costs or CostTracker()
        self._client_keys: dict[str, http.ClientKey] = {}
        self._auths: dict[str, AuthProvider] = {}  # by candidate key: each endpoint has one credential
        self._hooks: dict[bool, FailoverHooks] = {}  # for a route of several deployments, and of one
        self._proxy, self._verify = proxy, verify
        self._http_client, self._async_http_client = http_client, async_http_client

    def __repr__(self) -> str:
        return (
            f"Gateway(endpoint={self.endpoint!r}, api={self.api!r}, auth={self.auth.describe()!r}, "
            f"routing={self.strategy.name!r})"
        )

    # -- preparation (pure apart from events) ------------------------------------------------------------

    def prepare(self, request: ChatRequest, *, stream: bool) -> Call:
        """Resolve, repair, fill defaults and encode a request for its route's first deployment; no I/O.

        Public for tests and the doctor.
        """
        plan = self._plan(request, stream=stream)
        return self._call_for(plan, plan.candidates[0])

    def _plan(self, request: ChatRequest, *, stream: bool) -> Plan:
        resolved = self.deployments.resolve(request.model)
        repaired, repairs = self._repaired(request)
        targets = self.routes.targets(resolved)
        for target in targets:
            self._auths.setdefault(target.candidate.key, target.auth)
        candidates = (targets[0].candidate,) if len(targets) == 1 else tuple(t.candidate for t in targets)
        plan = Plan(resolved, repaired, repairs, stream, targets, candidates)
        first = plan.calls[candidates[0].key] = self._encode(plan, targets[0])
        if self._summaries:
            self.sink.emit(DebugEvent("llm:request:debug", request_summary(plan, first, self.strategy.name)))
        if self.config.raw_debug:
            body = dict(first.encoded.body)
            self.sink.emit(DebugEvent("llm:request:raw", {"path": first.encoded.path, "body": body}))
        return plan

    def _repaired(self, request: ChatRequest) -> tuple[ChatRequest, tuple[ToolSequenceRepair, ...]]:
        if not self.repair:
            check_conversation(request.messages)
            return request, ()
        outcome = repair_conversation(request.messages)
        if not outcome.changed:
            return request, ()
        self.sink.emit(DebugEvent(REPAIR_EVENT, outcome.event_payload()))
        return replace(request, messages=outcome.messages), outcome.repairs

    def _encode(self, plan: Plan, route: RouteTarget) -> Call:
        return encode_call(plan, route, api=self.api, config=self.config, sink=self.sink)

    def _call_for(self, plan: Plan, candidate: RouteCandidate) -> Call:
        call = plan.calls.get(candidate.key)
        if call is None:
            route = next(t for t in plan.targets if t.candidate.key == candidate.key)
            call = plan.calls[candidate.key] = self._encode(plan, route)
        return call

    # -- errors, results and costs -------------------------------------------------------------------------

    def _error(self, call: Call, status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
        return error_from_response(status, headers, body, call.ctx)

    def _decode(self, call: Call, response: http.HttpResponse) -> ChatResult:
        rid = request_id(response.headers)
        try:
            payload: JsonValue = json.loads(response.body)
        except (ValueError, RecursionError):
            snippet = response.body[:200].decode("utf-8", "replace")
            raise InvalidResponseError(
                f"Azure answered {response.status} with a body that is not JSON: {snippet!r}; "
                "a proxy between you and Azure may have answered instead",
                deployment=call.target.deployment,
                endpoint=call.route.endpoint_url,
                status=response.status,
                request_id=rid,
            ) from None
        if self.config.raw_debug:
            data: dict[str, JsonValue] = {
                "deployment": call.target.deployment,
                "status": response.status,
                "body": payload,
            }
            self.sink.emit(DebugEvent("llm:response:raw", data))
        codec = chat_completions if self.api == "chat" else responses
        result, filtered = self._settle(
            call,
            codec.decode_response(payload),
            latency=response.elapsed,
            deployment=call.target.deployment,
            request_id=rid,
            headers=public_headers(response.headers),
        )
        if filtered is not None:
            raise filtered
        return result

    def _price(self, call: Call, result: ChatResult) -> CallCost:
        candidate = call.route.candidate
        model = candidate.model
        configured = (model is not None and model != candidate.deployment) or (
            candidate.deployment in self.deployments.deployment_models
        )
        if not configured:
            # A deployment named like its model ("gpt-4o-mini") was never told its base model: the versioned
            # name Azure reports is the better guess. A configured base model always wins.
            model = result.model or model
        return cost_of(
            result.usage,
            deployment=candidate.deployment,
            model=model,
            ptu=candidate.ptu,
            prices=self.prices,
            endpoint=call.route.named_endpoint,
        )

    def _settle(
        self,
        call: Call,
        result: ChatResult,
        *,
        latency: float,
        deployment: str | None,
        request_id: str | None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[ChatResult, GatewayError | None]:
        """Price and record the result, emit its summary, and build the completion filter error (not raised)."""
        cost = self._price(call, result)
        self.costs.record(cost)
        # What only the transport knows and the cost, in one copy: each ChatResult copy costs about 25,000
        # instructions (20 frozen fields).
        result = replace(
            result,
            deployment=deployment,
            request_id=request_id,
            cost=cost,
            repairs=call.repairs,
            response_headers=result.response_headers if headers is None else headers,
        )
        filtered = completion_filter_error(
            result, deployment=call.target.deployment, endpoint=call.route.endpoint_url, request_id=result.request_id
        )
        if self._summaries:
            self.sink.emit(DebugEvent("llm:response:debug", response_summary(call, result, cost, latency)))
        return result, filtered

    # -- sending -------------------------------------------------------------------------------------------

    def _client_key(self, route: RouteTarget) -> http.ClientKey:
        key = self._client_keys.get(route.endpoint_url)
        if key is None:
            key = http.ClientKey(route.endpoint_url, self._proxy, self._verify, self.timeouts)
            self._client_keys[route.endpoint_url] = key
        return key

    def _sync_sender(self, route: RouteTarget) -> http.SyncSender:
        return self._http_client or http.SHARED_CLIENTS.sync_pooled(self._client_key(route))

    def _async_sender(self, route: RouteTarget) -> http.AsyncSender:
        return self._async_http_client or http.SHARED_CLIENTS.async_pooled(self._client_key(route))

    def _checked(self, call: Call, response: R) -> R:
        """A response of 300 or more is an error (a stream's error body was read by the transport)."""
        if response.status >= 300:
            body = response.body if isinstance(response, http.HttpResponse) else response.error_body
            raise self._error(call, response.status, response.headers, body)
        return response

    def _send(self, plan: Plan, candidate: RouteCandidate, send: Callable[..., R]) -> R:
        """One attempt: ``send`` (``http.send`` or ``http.stream``) to the candidate, an error status raised."""
        call = self._call_for(plan, candidate)
        with _Located(call):
            sender, auth = self._sync_sender(call.route), call.route.auth.headers()
            response = send(sender, call.http_request, self.timeouts, auth, deadline=plan.deadline_at)
        return self._checked(call, response)

    async def _asend(self, plan: Plan, candidate: RouteCandidate, send: Callable[..., Awaitable[R]]) -> R:
        """Async :meth:`_send` (``http.asend`` or ``http.astream``)."""
        call = self._call_for(plan, candidate)
        with _Located(call):
            sender, auth = self._async_sender(call.route), await call.route.auth.aheaders()
            response = await send(sender, call.http_request, self.timeouts, auth, deadline=plan.deadline_at)
        return self._checked(call, response)

    # -- routing -------------------------------------------------------------------------------------------

    def _failover_hooks(self, several: bool) -> FailoverHooks:
        """The loop's hooks, built once per gateway and kind of route (again if a setting they hold was replaced).

        A route of one keeps no health across calls (nowhere else to go: a cooldown or an open circuit would only
        delay or refuse the next call): its store lives for the call (``store=None``), for the waits Azure asks.
        """
        store = self.health if several else None
        hooks = self._hooks.get(several)
        if (
            hooks is None
            or hooks.sink is not self.sink
            or hooks.policy is not self.retry_policy
            or hooks.store is not store
            or hooks.strategy is not self.strategy
        ):
            auths = self._auths
            hooks = self._hooks[several] = FailoverHooks(
                policy=self.retry_policy,
                sink=self.sink,
                store=store,
                strategy=self.strategy,
                credential_kind=lambda c: auths[c.key].kind,
                refresh=lambda c: auths[c.key].force_refresh(),
                arefresh=lambda c: auths[c.key].aforce_refresh(),
            )
        return hooks

    def _route(self, plan: Plan) -> tuple[FailoverHooks, int | None]:
        """The prologue of the attempts: the deadline's clock starts; the hooks, and the request's estimated tokens
        for a route of several (the deployments it would not fit go last)."""
        deadline = self.retry_policy.deadline
        plan.deadline_at = None if deadline is None else time.monotonic() + deadline
        if len(plan.candidates) == 1:
            return self._failover_hooks(False), None
        body = self._call_for(plan, plan.candidates[0]).http_request.body
        return self._failover_hooks(True), estimate_tokens(
            len(body), plan.request.settings.max_tokens or self.config.max_tokens
        )

    def _run(
        self, plan: Plan, attempt: Callable[[RouteCandidate], T], latency: Callable[[T], float | None]
    ) -> tuple[Call, T]:
        hooks, tokens = self._route(plan)
        winner, result = run_route(plan.candidates, attempt, hooks, latency=latency, tokens=tokens)
        return self._call_for(plan, winner), result

    async def _arun(
        self, plan: Plan, attempt: Callable[[RouteCandidate], Awaitable[T]], latency: Callable[[T], float | None]
    ) -> tuple[Call, T]:
        hooks, tokens = self._route(plan)
        winner, result = await arun_route(plan.candidates, attempt, hooks, latency=latency, tokens=tokens)
        return self._call_for(plan, winner), result

    def _broken(self, plan: Plan, call: Call) -> Callable[[GatewayError], None]:
        """What a stream that broke after its first event records: a failure, for a route of several."""

        def record(error: GatewayError) -> None:
            if len(plan.candidates) > 1:
                message = f"stream broke: {error.message}"
                self.health.record_failure(call.route.candidate.key, failure_kind_of(error), None, message=message)

        return record

    def _folder(self, call: Call, opened: http.StreamingResponse) -> StreamFolder:
        return StreamFolder(
            api=self.api,
            deployment=call.target.deployment,
            endpoint=call.route.endpoint_url,
            endpoint_name=call.route.named_endpoint or call.route.endpoint_url,
            opened=opened,
            sink=self.sink,
            raw_debug=self.config.raw_debug,
            finish=lambda result, latency: self._settle(
                call, result, latency=latency, deployment=result.deployment, request_id=result.request_id
            ),
            repairs=call.repairs,
        )

    # -- the four calls --------------------------------------------------------------------------------------

    @traced_call
    def complete(self, request: ChatRequest) -> ChatResult:
        """Send a request and return the whole result (with its cost).

        Raises:
            GatewayError: A subclass saying what failed (see ``shared_core.errors``).
        """
        plan = self._plan(request, stream=False)
        call, response = self._run(plan, lambda c: self._send(plan, c, http.send), _elapsed)
        return self._decode(call, response)

    @traced_acall
    async def acomplete(self, request: ChatRequest) -> ChatResult:
        """Async :meth:`complete`."""
        plan = self._plan(request, stream=False)
        call, response = await self._arun(plan, lambda c: self._asend(plan, c, http.asend), _elapsed)
        return self._decode(call, response)

    @traced_stream
    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        """Send a request and yield its events as they arrive; nothing is retried after the first one.

        The first event is a :class:`~shared_core.result.ResponseMetadata` naming the deployment and endpoint
        that answered and Azure's request id; the last, once the stream has ended, is one carrying its ``cost``
        (also when a completion content-filter error follows it).

        Raises:
            StreamInterruptedError: The stream broke; ``partial`` holds everything received.
            ContentFilterError: The filter stopped the answer; ``partial`` holds what came before.
        """
        plan = self._plan(request, stream=True)
        call, opened = self._run(plan, lambda c: self._send(plan, c, http.stream), _to_headers)
        yield from drive(self._folder(call, opened), opened, self._broken(plan, call))

    @traced_astream
    async def astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Async :meth:`stream`."""
        plan = self._plan(request, stream=True)
        call, opened = await self._arun(plan, lambda c: self._asend(plan, c, http.astream), _to_headers)
        # A consumer that stops early closes this generator: the inner one closes (releases the stream) now.
        async with contextlib.aclosing(adrive(self._folder(call, opened), opened, self._broken(plan, call))) as events:
            async for event in events:
                yield event


class _Located:
    """Around an attempt: every error names the deployment and endpoint (a class: it runs on every call).

    Transport and token errors are raised below the layer that knows the deployment; every error the caller sees
    names it (and the endpoint), as those raised from a response do.
    """

    __slots__ = ("call",)

    def __init__(self, call: Call) -> None:
        self.call = call

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if isinstance(exc, GatewayError):
            if exc.deployment is None:
                exc.deployment = self.call.target.deployment
            if exc.endpoint is None:
                exc.endpoint = self.call.route.endpoint_url


def _health_store(health: HealthStore | str | object | None, config: GatewayConfig, sink: EventSink) -> HealthStore:
    if health is not None or config.health_store:
        return health_store_for(health, config.health_store, sink=sink, max_cooldown=config.max_cooldown)
    return InMemoryHealthStore(HealthPolicy(max_cooldown=config.max_cooldown))


def _elapsed(response: http.HttpResponse) -> float:
    # The whole response time: http.send reads the body before returning, so time to first byte is not kept.
    return response.elapsed


def _to_headers(opened: http.StreamingResponse) -> float:
    return opened.elapsed_to_headers
