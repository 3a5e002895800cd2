"""One call's plan: the request resolved, repaired and routed once, then encoded for each deployment it goes to.

The gateway's four calls share this prologue: :class:`Plan` holds what is decided once per call (the resolved
deployment, the repaired request, the route), and :func:`encode_call` turns it into a :class:`Call` for one
route target (the wire body for that deployment's model and api-version, the URL, the headers) the first time the
route tries that target. Pure apart from the parameter-adjustment events the encoders report. The call's two
summaries (``llm:request:debug``, ``llm:response:debug``) are built here too.

Both records are plain (not frozen) dataclasses: nothing changes them after they are built, and each field of a
frozen one costs about 1,300 instructions to set, several thousand per call for nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

from shared_core.config import GatewayConfig
from shared_core.costs import CallCost
from shared_core.deployments import ResolvedDeployment, profile_for
from shared_core.events import DebugEvent, EventSink
from shared_core.messages import JsonValue
from shared_core.repair import ToolSequenceRepair
from shared_core.request import ChatRequest, GenerationSettings
from shared_core.result import ChatResult
from shared_core.routes import RouteTarget
from shared_core.transport import http
from shared_core.transport.error_map import RequestContext
from shared_core.transport.strategies import RouteCandidate
from shared_core.version import __version__
from shared_core.wire import chat_completions, responses
from shared_core.wire.envelope import EncodedRequest
from shared_core.wire.json_body import encode_body, wrong_types_are_typed

__all__ = ["Api", "Call", "Plan", "encode_call", "request_summary", "response_summary"]

Api = Literal["chat", "responses"]
_USER_AGENT = f"azure-openai-gateway/{'.'.join(__version__.split('.')[:2])}"  # major.minor, as recorded
_V1_PREFIX = "/openai/v1"
_NO_QUERY: Mapping[str, str] = MappingProxyType({})


@dataclass(slots=True)
class Call:
    """One prepared request to one deployment: where it goes, what it sends, and the context for its errors."""

    target: ResolvedDeployment
    route: RouteTarget
    encoded: EncodedRequest
    http_request: http.HttpRequest
    repairs: tuple[ToolSequenceRepair, ...] = ()

    @property
    def ctx(self) -> RequestContext:
        """What the transport knew about the request, for error messages (built only when one needs it)."""
        route, target = self.route, self.target
        return RequestContext(
            deployment=target.deployment,
            endpoint=route.endpoint_url,
            api_version=None if route.via_gateway else self.encoded.query.get("api-version") or route.api_version,
            model=target.model,
            credential=f"{route.auth.kind} ({route.auth.reason})",
            scope=route.scope,
            deployment_rule=target.rule,
        )


@dataclass(slots=True)
class Plan:
    """One call: resolved, repaired and routed once; each route target is encoded on first use (``calls``)."""

    resolved: ResolvedDeployment
    request: ChatRequest
    repairs: tuple[ToolSequenceRepair, ...]
    stream: bool
    targets: tuple[RouteTarget, ...]
    candidates: tuple[RouteCandidate, ...]
    calls: dict[str, Call] = field(default_factory=dict[str, Call])
    deadline_at: float | None = None  # monotonic time by which the whole call ends; set when its attempts start


def _with_defaults(settings: GenerationSettings, config: GatewayConfig) -> GenerationSettings:
    # One replace at most (none when nothing changes): dataclasses.replace costs a few µs, on every call.
    changes: dict[str, object] = {}
    if settings.max_tokens is None and config.max_tokens is not None:
        changes["max_tokens"] = config.max_tokens
    if settings.temperature is None and config.temperature is not None:
        changes["temperature"] = config.temperature
    return replace(settings, **changes) if changes else settings


def _target(plan: Plan, route: RouteTarget) -> ResolvedDeployment:
    resolved, candidate = plan.resolved, route.candidate
    if (candidate.deployment, candidate.model) == (resolved.deployment, resolved.model):
        return resolved
    return replace(
        resolved, deployment=candidate.deployment, model=candidate.model, profile=profile_for(candidate.model)
    )


def encode_call(plan: Plan, route: RouteTarget, *, api: Api, config: GatewayConfig, sink: EventSink) -> Call:
    """The request of ``plan`` for one route target: body, URL and headers (parameter adjustments go to ``sink``).

    Raises:
        ConversationError: A message holds a value of the wrong type, or one JSON cannot carry.
        ConfigurationError: A tool schema, a setting or ``extra_body`` holds one.
    """
    target, request = _target(plan, route), plan.request
    settings = _with_defaults(request.settings, config)
    if settings is not request.settings:
        request = replace(request, settings=settings)
    codec = chat_completions if api == "chat" else responses
    # A gateway in TensorWall's shape routes on "azure/<deployment>" and speaks the OpenAI (v1) shape.
    wire_target = replace(target, deployment=f"azure/{target.deployment}") if route.via_gateway else target
    with wrong_types_are_typed():
        encoded = codec.encode_request(request, wire_target, api_version=route.api_version, stream=plan.stream)
    for warning in encoded.warnings:
        data: dict[str, JsonValue] = {"deployment": target.deployment, "warning": warning}
        sink.emit(DebugEvent("provider:parameter_adjusted", data))
    accept = "text/event-stream" if plan.stream else "application/json"
    headers = {"content-type": "application/json", "accept": accept, "user-agent": _USER_AGENT}
    path, query = encoded.path, encoded.query
    if route.via_gateway:
        path, query = path.removeprefix(_V1_PREFIX), _NO_QUERY
    if settings.extra_headers or settings.extra_query:
        headers, query = settings.with_extras(headers, query)
    request_out = http.HttpRequest(route.endpoint_url + path, query, encode_body(encoded.body), headers)
    return Call(target, route, encoded, request_out, plan.repairs)


def request_summary(plan: Plan, first: Call, routing: str) -> dict[str, JsonValue]:
    """The ``llm:request:debug`` event's data: where the call goes first, and what it carries."""
    summary: dict[str, JsonValue] = {
        "deployment": first.target.deployment,
        "model": first.target.model,
        "rule": first.target.rule,
        "api": first.encoded.api,
        "path": first.encoded.path,
        "stream": plan.stream,
        "message_count": len(plan.request.messages),
        "tool_count": len(plan.request.tools),
    }
    if len(plan.targets) > 1:
        summary["route"] = [t.candidate.key for t in plan.targets]
        summary["routing"] = routing
    return summary


def response_summary(call: Call, result: ChatResult, cost: CallCost, latency: float) -> dict[str, JsonValue]:
    """The ``llm:response:debug`` event's data: who answered, the usage, the latency and the cost."""
    usage = result.usage
    priced: dict[str, JsonValue] = {
        "amount": cost.amount,
        "currency": cost.currency,
        "model": cost.model,
        "priced_as": cost.priced_as,
        "reason": cost.reason,
    }
    return {
        "deployment": call.target.deployment,
        "endpoint": call.route.named_endpoint,
        "model": result.model,
        "request_id": result.request_id,
        "finish_reason": result.finish_reason,
        "latency": round(latency, 4),
        "input_tokens": usage.input_tokens if usage else None,
        "output_tokens": usage.output_tokens if usage else None,
        "tool_calls": len(result.tool_calls) + len(result.invalid_tool_calls),
        "cost": priced,
    }
