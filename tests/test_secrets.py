"""Canary credentials never leave the request headers: not in logs, reprs, errors, their chains, or events.

Three gateways carry canaries (an API key, a static Entra token, and managed identity tokens issued by the
loopback identity endpoint), with debug and raw debug on and every logger at DEBUG. Each one runs successful
calls, a repaired conversation and failures of several classes in all four modes; then every text the package
produced is searched for the canaries. The server's own record proves the canaries were really sent, so the
search cannot pass by never having used them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import pytest

from shared_core import (
    ChatRequest,
    DebugEvent,
    Gateway,
    GatewayError,
    ListSink,
    LoggingSink,
    Message,
    RetryPolicy,
    StreamEvent,
    Timeouts,
    ToolCallPart,
    ToolSpec,
    load_config,
)
from tests.support.azure_server import (
    AzureTestServer,
    BadGateway,
    ConnectionReset,
    DeploymentInfo,
    HttpError,
    Outcome,
    PromptFiltered,
    Reply,
    Unparsable,
)
from tests.support.identity_server import IdentityServer

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

CANARY_KEY = "canary-key-5d1e8a7c0f3b4d2a9e6c"
CANARY_TOKEN = "canary-token-b8e2f1a4c9d7e3f0a6b5"
CANARY_MI_PREFIX = "canary-mi-token-93c1f7"
CANARIES = (CANARY_KEY, CANARY_TOKEN, CANARY_MI_PREFIX)
# The identity endpoint numbers its tokens; a forced refresh (after the scripted 401) moves to the next one.
ACCEPTED_TOKENS = frozenset({CANARY_TOKEN, *(f"{CANARY_MI_PREFIX}-{n}" for n in range(1, 20))})
DEPLOYMENT = "gpt-4o-mini"
Mode = Literal["complete", "stream", "acomplete", "astream"]
MODES: tuple[Mode, ...] = ("complete", "stream", "acomplete", "astream")
Credential = Literal["api_key", "azure_ad_token", "managed_identity"]

DANGLING = ChatRequest(
    (
        Message.user("weather?"),
        Message.assistant(tool_calls=(ToolCallPart("call_secret1", "get_weather", '{"city": "Oslo"}'),)),
        Message.user("ok"),
    ),
    tools=(ToolSpec("get_weather"),),
)
PLAIN = ChatRequest((Message.system("be brief"), Message.user("hello")))

# Each failure class once, each outcome consumed by one call (retries: 1 extra attempt at most).
# The slow first byte is 15x the read timeout (0.1 s): on a loaded machine a client thread that is not scheduled
# until the byte has arrived reads it without waiting, so a delay near the timeout turned the failure into a success.
SLOW_FIRST_BYTE = 1.5
STREAM_ONLY = "stream cut"
FAILURES: tuple[tuple[str, tuple[Outcome, ...]], ...] = (
    ("rate limit beyond deadline", (HttpError(429, retry_after=30, retry_after_headers="retry-after-ms"),)),
    ("unauthorized", (HttpError(401),)),
    ("deployment not found", (HttpError(404),)),
    ("html bad gateway", (BadGateway(), BadGateway())),
    ("connection reset", (ConnectionReset(), ConnectionReset())),
    ("prompt filtered", (PromptFiltered(),)),
    ("completion filtered", (Reply("one two three", filter_after=1),)),
    ("unparsable body", (Unparsable(),)),
    (STREAM_ONLY, (Reply("alpha beta gamma", cut_after=3),)),
    (
        "slow first byte",
        (Reply("late", first_byte_delay=SLOW_FIRST_BYTE), Reply("late", first_byte_delay=SLOW_FIRST_BYTE)),
    ),
)


ERROR_KINDS = (
    "RateLimitError",
    "AuthenticationError",
    "DeploymentNotFoundError",
    "ServerError",
    "ConnectionFailedError",
    "ContentFilterError",
    "InvalidResponseError",
    "StreamInterruptedError",
    "RequestTimeoutError",
)


class TeeSink:
    """Keeps every event and also writes it through the logging sink, as a debugging user would."""

    def __init__(self) -> None:
        self.kept = ListSink()
        self.logged = LoggingSink()

    def emit(self, event: DebugEvent) -> None:
        self.kept.emit(event)
        self.logged.emit(event)


@dataclass
class Evidence:
    """Every text the package produced during a scenario."""

    texts: list[str] = field(default_factory=lambda: [])
    errors: list[BaseException] = field(default_factory=lambda: [])

    def add(self, *values: object) -> None:
        for value in values:
            self.texts.extend((repr(value), str(value)))

    def add_error(self, error: BaseException) -> None:
        self.errors.append(error)
        self.texts.append("".join(traceback.format_exception(error)))
        seen: set[int] = set()
        current: BaseException | None = error
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            self.add(current, current.args, vars(current) if hasattr(current, "__dict__") else None)
            if isinstance(current, GatewayError):
                self.add(current.message, current.context())
            current = current.__cause__ or current.__context__

    def leaks(self) -> list[str]:
        return [f"{canary} in: {text[:300]}" for text in self.texts for canary in CANARIES if canary in text]


async def _drain(events: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in events]


def run(gateway: Gateway, request: ChatRequest, mode: Mode) -> object:
    match mode:
        case "complete":
            return gateway.complete(request)
        case "acomplete":
            return asyncio.run(gateway.acomplete(request))
        case "stream":
            return list(gateway.stream(request))
        case "astream":
            return asyncio.run(_drain(gateway.astream(request)))


@pytest.fixture(scope="module")
def server() -> Iterator[AzureTestServer]:
    with AzureTestServer(
        api_key=CANARY_KEY,
        bearer_tokens=ACCEPTED_TOKENS,
        deployments={DEPLOYMENT: DeploymentInfo()},
    ) as srv:
        yield srv


@pytest.fixture
def identity(monkeypatch: pytest.MonkeyPatch) -> Iterator[IdentityServer]:
    with IdentityServer(token_lifetime=3600, token_prefix=CANARY_MI_PREFIX) as srv:
        srv.install(monkeypatch)
        yield srv


def make_gateway(server: AzureTestServer, credential: Credential, sink: TeeSink) -> Gateway:
    secret: dict[Credential, dict[str, object]] = {
        "api_key": {"api_key": CANARY_KEY},
        "azure_ad_token": {"azure_ad_token": CANARY_TOKEN},
        "managed_identity": {"use_managed_identity": True},
    }
    config = load_config(
        env={},
        endpoint=server.endpoint,
        default_deployment=DEPLOYMENT,
        debug=True,
        raw_debug=True,
        **secret[credential],  # type: ignore[arg-type]
    )
    return Gateway(
        config,
        event_sink=sink,
        retry_policy=RetryPolicy(max_retries=1, base_delay=0.01, max_delay=0.02, deadline=5.0),
        timeouts=Timeouts(read=0.1, chunk=0.1),
    )


def exercise(server: AzureTestServer, gateway: Gateway, evidence: Evidence) -> None:
    """Successes, a repair and every failure, in every mode; results and errors go to ``evidence``."""
    for mode in MODES:
        evidence.add(run(gateway, PLAIN, mode), run(gateway, DANGLING, mode))
        for name, outcomes in FAILURES:
            if name == STREAM_ONLY and not mode.endswith("stream"):
                continue
            server.reset()
            server.script(*outcomes)
            try:
                evidence.add(run(gateway, PLAIN, mode))
            except GatewayError as error:
                evidence.add_error(error)
    evidence.add(gateway, gateway.config, gateway.auth, gateway.auth.describe(), gateway.config.describe())
    evidence.add(gateway.prepare(PLAIN, stream=False), gateway.prepare(PLAIN, stream=True))


def collect_logs_and_events(caplog: pytest.LogCaptureFixture, sink: TeeSink, evidence: Evidence) -> None:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        evidence.texts.append(formatter.format(record))
        evidence.add(record.args, record.exc_info)
    evidence.texts.append(caplog.text)
    for event in sink.kept.events:
        evidence.add(event)
        evidence.texts.append(json.dumps(event.data, default=str))


def sent_credentials(server: AzureTestServer) -> set[str]:
    return {r.headers.get("api-key") or r.headers.get("authorization", "") for r in server.requests}


@pytest.mark.parametrize("credential", ["api_key", "azure_ad_token", "managed_identity"])
def test_secrets_canaries_never_leave_the_headers(
    server: AzureTestServer,
    identity: IdentityServer,
    caplog: pytest.LogCaptureFixture,
    credential: Credential,
) -> None:
    caplog.set_level(logging.DEBUG)
    sink = TeeSink()
    evidence = Evidence()
    gateway = make_gateway(server, credential, sink)
    server.reset()
    exercise(server, gateway, evidence)
    collect_logs_and_events(caplog, sink, evidence)

    expected = {
        "api_key": CANARY_KEY,
        "azure_ad_token": f"Bearer {CANARY_TOKEN}",
        "managed_identity": f"Bearer {CANARY_MI_PREFIX}-",
    }[credential]
    sent = sent_credentials(server)
    assert sent and all(s.startswith(expected) for s in sent), "the canary must really have been sent"
    # A stream cut is no failure for a non-streamed call; a 401 is none for managed identity (refresh, retry).
    refreshed = len(MODES) if credential == "managed_identity" else 0
    assert len(evidence.errors) == len(MODES) * len(FAILURES) - 2 - refreshed, "every failure scenario must fail"
    kinds = {type(e).__name__ for e in evidence.errors}
    assert kinds >= set(ERROR_KINDS) - ({"AuthenticationError"} if refreshed else set())
    names = {e.name for e in sink.kept.events}
    assert {
        "llm:request:raw",
        "llm:response:raw",
        "provider:tool_sequence_repaired",
        "provider:attempt_failed",
    } <= names
    assert any(r.name == "shared_core.events" for r in caplog.records), "debug logging must have been captured"
    assert evidence.leaks() == []


def test_secrets_refreshed_token_never_leaks(
    server: AzureTestServer, identity: IdentityServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sink = TeeSink()
    evidence = Evidence()
    gateway = make_gateway(server, "managed_identity", sink)
    server.reset()
    server.bearer_tokens = {f"{CANARY_MI_PREFIX}-2"}  # the first token is refused: one refresh, one retry
    try:
        evidence.add(run(gateway, PLAIN, "complete"))
        server.bearer_tokens = {"not-the-canary"}
        runs: list[Callable[[], object]] = [
            lambda: run(gateway, PLAIN, "complete"),
            lambda: run(gateway, PLAIN, "astream"),
        ]
        for attempt in runs:
            try:
                attempt()
            except GatewayError as error:
                evidence.add_error(error)
    finally:
        server.bearer_tokens = set(ACCEPTED_TOKENS)
    collect_logs_and_events(caplog, sink, evidence)

    assert identity.request_count >= 3
    assert len(evidence.errors) == 2
    assert evidence.leaks() == []
