"""Secret canaries on every public path: an API key, an Entra (AD) token and a gateway key that must never leave
the request headers.

Every client the package offers (the gateway, LangChain's model and LlamaIndex's LLM, each with an API key, an
AD token, gateway mode forwarding the Azure key, and two failover regions) runs with debug and raw debug on and
every logger at DEBUG: answers in all four modes, a repaired history, and failures of every error class; then the
doctor (in-process and ``python -m shared_core doctor``), the CLI, the emulator's CLI log, cassettes recorded with
the project's scheme, and the notebooks (their code run with the canaries in the environment). Every text the
package produced is searched: log records (message, args and extras), ``repr``/``str`` of every object a caller
holds, exceptions with their ``__cause__`` chains and tracebacks, LangChain ``dumpd``/``dumps``, LlamaIndex
``to_dict``/``to_json``, debug events, cassettes (``tests/support/cassettes.scan_tree``) and notebook outputs.
The emulators' records prove each canary was really sent, so the search cannot pass by never having used them.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import io
import json
import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.load import dumpd, dumps
from langchain_core.messages import AIMessage, HumanMessage
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from pydantic import SecretStr
from vcr import VCR
from vcr.record_mode import RecordMode

from azure_openai_emulator.error_bodies import unsupported_parameter_error
from langchain_azure_gateway import AzureGatewayChatModel
from llamaindex_azure_gateway import AzureGatewayLLM
from shared_core import (
    ChatRequest,
    ConfigurationError,
    ConversationError,
    Gateway,
    GatewayError,
    ImagePart,
    ListSink,
    Message,
    Timeouts,
    ToolCallPart,
    UnsupportedContentError,
    errors,
    load_config,
)
from shared_core.doctor import DoctorOptions, run_doctor
from tests.faults.channels import MODES, STREAMS, Client, Mode, Seen, run
from tests.otel.capture import record_telemetry
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
from tests.support.cassettes import CASSETTE_ROOT, register_scheme, scan_tree, vcr_config

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

CANARY_KEY = "canary-apikey-4f7d9b2e61c3a8d0"
CANARY_TOKEN = "canary-adtoken-8e3b1c7a5d9f2e40"
CANARY_GATEWAY_KEY = "canary-gwkey-2a6c9e1f4b8d7035"
CANARIES = {"api key": CANARY_KEY, "AD token": CANARY_TOKEN, "gateway key": CANARY_GATEWAY_KEY}
DEPLOYMENT = "gpt-4o-mini"
REPO = Path(__file__).resolve().parents[1]
TIMEOUT, SLOW = 0.2, 0.35

# One failure per error class (max_retries is 0, so each outcome is one call); the second item lists the modes.
FAILURES: tuple[tuple[Outcome, tuple[Mode, ...]], ...] = (
    (HttpError(429, retry_after=120), MODES),
    (HttpError(401), MODES),
    (HttpError(404), MODES),
    (HttpError(404, body=b'{"error": {"code": "404", "message": "Resource not found"}}'), MODES),
    (BadGateway(), MODES),
    (ConnectionReset(), MODES),
    (PromptFiltered(), MODES),
    (Reply("one two three", filter_after=1), MODES),
    (Unparsable(), MODES),
    (Reply("alpha beta gamma", cut_after=3), STREAMS),
    (HttpError(400, body=b'{"error": {"code": "context_length_exceeded", "message": "too long"}}'), MODES),
    (HttpError(400, body=unsupported_parameter_error("top_p", "Unsupported parameter: 'top_p'.")), MODES),
    (HttpError(400, body=b'{"error": {"code": "invalid_value", "message": "bad input"}}'), MODES),
    (Reply("late", first_byte_delay=SLOW), ("complete", "astream")),
)
# Every class of the error tree but its bases (never raised themselves) and the missing-extra error (nothing here
# is missing).
ERROR_CLASSES = {name for name in errors.__all__ if name.endswith("Error")} - {
    "GatewayError",
    "TransientError",
    "MissingExtraError",
}


@dataclass
class Evidence:
    """Every text the package produced, each with where it came from."""

    texts: list[tuple[str, str]] = field(default_factory=lambda: [])
    errors: list[BaseException] = field(default_factory=lambda: [])

    def add(self, where: str, *values: object) -> None:
        for value in values:
            self.texts += [(where, repr(value)), (where, str(value))]

    def add_error(self, where: str, error: BaseException) -> None:
        self.errors.append(error)
        self.texts.append((where, "".join(traceback.format_exception(error))))
        current: BaseException | None = error
        while current is not None:
            self.add(where, current, current.args, getattr(current, "__dict__", None))
            current = current.__cause__ if current.__cause__ is not current else None

    def add_seen(self, where: str, seen: Seen) -> None:
        self.add(where, *seen.raw)
        if seen.error is not None:
            self.add_error(where, seen.error)

    def leaks(self) -> list[str]:
        return [
            f"{name} in {where}: {text[:200]}"
            for where, text in self.texts
            for name, canary in CANARIES.items()
            if canary in text
        ]


@contextlib.contextmanager
def capturing_every_log() -> Iterator[list[logging.LogRecord]]:
    """Every record of every logger, at DEBUG, whatever the loggers' own levels and propagation."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep(logging.DEBUG)
    root = logging.getLogger()
    loggers = [root, *(lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
        if lg is root or not lg.propagate:
            lg.addHandler(keep)
    try:
        yield records
    finally:
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled
            lg.removeHandler(keep)


@pytest.fixture
def every_log() -> Iterator[list[logging.LogRecord]]:
    with capturing_every_log() as records:
        yield records


def add_logs(evidence: Evidence, records: list[logging.LogRecord]) -> None:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in records:
        evidence.texts += [("log", formatter.format(record)), ("log record", repr(vars(record)))]


@pytest.fixture(scope="module")
def azure() -> Iterator[AzureTestServer]:
    with AzureTestServer(api_key=CANARY_KEY, bearer_tokens={CANARY_TOKEN}) as server:
        yield server


@pytest.fixture(scope="module")
def west() -> Iterator[AzureTestServer]:
    with AzureTestServer(api_key=CANARY_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def front() -> Iterator[AzureTestServer]:
    """An OpenAI-compatible gateway in front of Azure (its /openai/v1 takes ``azure/<deployment>``)."""
    with AzureTestServer(api_key=None, deployments={f"azure/{DEPLOYMENT}": DeploymentInfo()}) as server:
        yield server


@pytest.fixture
def servers(
    azure: AzureTestServer, west: AzureTestServer, front: AzureTestServer
) -> Iterator[dict[str, AzureTestServer]]:
    """Azure (two regions) and a gateway in front of it, nothing scripted or recorded."""
    named = {"azure": azure, "west": west, "front": front}
    for server in named.values():
        server.reset()
    yield named
    for server in named.values():
        server.reset()


@pytest.fixture
def debug_file(tmp_path: Path) -> Path:
    """A config file turning debug and raw debug on (LlamaIndex's LLM has no field for them)."""
    config = tmp_path / "debug.toml"
    config.write_text("debug = true\nraw_debug = true\n")
    return config


def set_canary_env(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The client's canary in the environment too (an env API key would win over a token given in code)."""
    for var in ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_KEY", "AZURE_OPENAI_AD_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    if name.endswith("-token"):
        monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", CANARY_TOKEN)
    else:
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", CANARY_KEY)


def _wiring(kind: str, endpoints: dict[str, str]) -> dict[str, Any]:
    """How a client reaches Azure: a key, a token, gateway mode (forwarding the key too), or two regions."""
    deployment = [{"name": DEPLOYMENT, "model": DEPLOYMENT}]
    regions: list[dict[str, Any]] = [
        {"name": name, "endpoint": endpoints[name], "api_key": CANARY_KEY, "priority": n, "deployments": deployment}
        for n, name in enumerate(("azure", "west"))
    ]
    mode: dict[str, Any] = {
        "gateway_url": endpoints["front"] + "/openai/v1",
        "gateway_key": SecretStr(CANARY_GATEWAY_KEY),
    }
    ways: dict[str, dict[str, Any]] = {
        "key": {"api_key": SecretStr(CANARY_KEY)},
        "token": {"azure_ad_token": SecretStr(CANARY_TOKEN)},
        "mode": mode | {"api_key": SecretStr(CANARY_KEY), "forward_azure_credentials": True},
        "failover": {"endpoints": regions},
    }
    return ways[kind]


def build_client(name: str, endpoints: dict[str, str], sink: ListSink, debug_file: Path) -> Client:
    """One client by name: ``<gateway|langchain|llamaindex>-<key|token|mode|failover>``."""
    channel, _, kind = name.partition("-")
    wiring: dict[str, Any] = {**_wiring(kind, endpoints), "max_retries": 1 if kind == "failover" else 0}
    if channel == "gateway":
        top = {} if kind == "failover" else {"endpoint": endpoints["azure"]}
        config = load_config(env={}, default_deployment=DEPLOYMENT, debug=True, raw_debug=True, **top, **wiring)
        return Gateway(config, event_sink=sink, timeouts=Timeouts(read=TIMEOUT, chunk=TIMEOUT))
    if channel == "langchain":
        return AzureGatewayChatModel(
            endpoint=endpoints["azure"], deployment=DEPLOYMENT, debug=True, raw_debug=True, timeout=TIMEOUT,
            event_sink=sink, **wiring,
        )  # fmt: skip
    return AzureGatewayLLM(
        engine=DEPLOYMENT, azure_endpoint=endpoints["azure"], config_file=str(debug_file), timeout=TIMEOUT,
        event_sink=sink, **wiring,
    )  # fmt: skip


CLIENTS = tuple(
    f"{channel}-{kind}"
    for channel in ("gateway", "langchain", "llamaindex")
    for kind in ("key", "token", "mode", "failover")
)


def repair_path(client: Client) -> object:
    """A history with a dangling tool call, in the client's own types (repaired before sending)."""
    if isinstance(client, Gateway):
        call = ToolCallPart("call_canary1", "get_weather", '{"city": "Oslo"}')
        history = (Message.user("weather?"), Message.assistant(tool_calls=(call,)), Message.user("ok"))
        return client.complete(ChatRequest(history))
    if isinstance(client, AzureGatewayChatModel):
        lost = AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Oslo"}, "id": "call_canary1"}])
        return client.invoke([HumanMessage("weather?"), lost, HumanMessage("ok")])
    lost_call = ToolCallBlock(tool_call_id="call_canary1", tool_name="get_weather", tool_kwargs={"city": "Oslo"})
    return client.chat(
        [
            ChatMessage(role=MessageRole.USER, content="weather?"),
            ChatMessage(role=MessageRole.ASSISTANT, blocks=[lost_call]),
            ChatMessage(role=MessageRole.USER, content="ok"),
        ]
    )


def add_client(evidence: Evidence, client: Client) -> None:
    """``repr``/``str`` of the client and of what a caller reaches from it; the frameworks' serializations."""
    gateway = client if isinstance(client, Gateway) else client.gateway
    public = {k: v for k, v in vars(gateway).items() if not k.startswith("_")}
    evidence.add("client", client, gateway, public, gateway.config.describe(), gateway.auth.describe())
    evidence.add("client", *public.values(), *gateway.config.endpoints, gateway.routes.primary_auth)
    evidence.add("prepared request", gateway.prepare(ChatRequest((Message.user("x"),)), stream=True))
    if isinstance(client, AzureGatewayChatModel):
        evidence.texts += [("dumps", dumps(client)), ("dumps", dumps(client, pretty=True))]
        evidence.add("dumpd", dumpd(client), client.model_dump(), client.model_dump_json())
        evidence.texts.append(("dumps", dumps(client.bind_tools([{"name": "f", "parameters": {}}]))))
    if isinstance(client, AzureGatewayLLM):
        evidence.texts += [("to_json", client.to_json()), ("to_json", client.model_dump_json())]
        evidence.add("to_dict", client.to_dict(), client.model_dump(), client.metadata)


def _credential(headers: dict[str, str]) -> str:
    return headers.get("api-key") or headers.get("authorization") or headers.get("x-api-key", "")


def exercise(client: Client, server: AzureTestServer, evidence: Evidence, *, typed: bool) -> list[str]:
    """Answers, a repair and every failure, in every mode; returns the credentials the server received."""
    sent: list[str] = []
    for mode in MODES:
        evidence.add_seen(f"answer ({mode})", seen := run(client, mode))
        assert seen.error is None, seen.error
        for outcome, modes in FAILURES:
            if mode not in modes:
                continue
            sent += [_credential(r.headers) for r in server.requests]
            server.reset()
            server.script(outcome)
            evidence.add_seen(f"{type(outcome).__name__} ({mode})", seen := run(client, mode))
            assert not typed or isinstance(seen.error, GatewayError), f"{outcome} must fail typed in {mode}"
    server.reset()
    evidence.add("repair", repair_path(client))
    return sent


@pytest.mark.parametrize("name", CLIENTS)
def test_canaries_never_leave_the_headers_on_any_call_path(  # noqa: PLR0917
    servers: dict[str, AzureTestServer],
    every_log: list[logging.LogRecord],
    debug_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    name: str,
) -> None:
    set_canary_env(monkeypatch, name)
    otel = record_telemetry(request, monkeypatch)  # spans, span events and metric attributes, content included
    sink, evidence = ListSink(), Evidence()
    azure, front = servers["azure"], servers["front"]
    endpoints = {name: server.endpoint for name, server in servers.items()}
    client = build_client(name, endpoints, sink, debug_file)
    kind = name.partition("-")[2]
    server = front if kind == "mode" else azure
    sent = exercise(client, server, evidence, typed=kind != "failover")
    if kind == "failover":  # every region failing: one error listing them all
        azure.script(HttpError(401))
        servers["west"].script(HttpError(503), HttpError(503))
        evidence.add_seen("all regions failed", seen := run(client, "complete"))
        assert isinstance(seen.error, GatewayError)
    add_client(evidence, client)
    if isinstance(client, Gateway) and kind != "failover":
        _add_gateway_only_errors(client, evidence)
    evidence.add("emulator", *servers.values(), *azure.requests, *front.requests, azure.faults)
    add_logs(evidence, every_log)
    for event in sink.events:
        evidence.texts += [("event", repr(event)), ("event", json.dumps(event.data, default=str))]
    evidence.texts += otel.texts()

    expected = {"token": f"Bearer {CANARY_TOKEN}", "mode": CANARY_GATEWAY_KEY}.get(kind, CANARY_KEY)
    if kind == "mode":  # the gateway's key, and the Azure key it was asked to forward
        assert front.requests and all(r.headers.get("x-azure-api-key") == CANARY_KEY for r in front.requests)
    assert sent and all(s == expected for s in sent), "the canary must really have been sent"
    assert {"llm:request:raw", "llm:response:raw", "provider:attempt_failed"} <= {e.name for e in sink.events}
    if kind == "failover":
        assert "provider:failover" in {e.name for e in sink.events}
    else:
        assert len(evidence.errors) >= 30, "every failure scenario must have failed"
    if name == "gateway-key":
        assert {type(e).__name__ for e in evidence.errors} >= ERROR_CLASSES, "every error class was exercised"
    assert every_log, "debug logging must have been captured"
    assert otel.span_count >= 30 and any(where == "metrics" for where, _ in otel.texts()), "telemetry recorded"
    assert evidence.leaks() == []


def _add_gateway_only_errors(gateway: Gateway, evidence: Evidence) -> None:
    """ConversationError (repair off), UnsupportedContentError and ConfigurationError (a closed client)."""
    broken = ChatRequest((Message.assistant(tool_calls=(ToolCallPart("call_x", "f", "{}"),)), Message.user("hi")))
    uncarried = ChatRequest((Message("assistant", (ImagePart("https://example.com/a.png"),)), Message.user("hi")))
    strict = Gateway(gateway.config, repair=False, event_sink=gateway.sink)
    closed = httpx.Client()
    closed.close()
    with_closed = Gateway(gateway.config, http_client=closed, event_sink=gateway.sink)
    with pytest.raises(ConversationError) as refused:
        strict.complete(broken)
    with pytest.raises(ConfigurationError) as closed_error:
        with_closed.complete(broken)
    with pytest.raises(UnsupportedContentError) as uncarried_error:
        gateway.complete(uncarried)
    evidence.add_error("content Azure cannot carry", uncarried_error.value)
    evidence.add_error("repair off", refused.value)
    evidence.add_error("closed client", closed_error.value)


# -- the doctor, the CLI and the emulator's log ---------------------------------------------------------------


def _python(args: list[str], env: dict[str, str], *, timeout: float = 60.0) -> str:
    done = subprocess.run(
        [sys.executable, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )
    return done.stdout + done.stderr


def _azure_env(azure: AzureTestServer, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "MSI_"))}
    return base | {"AZURE_OPENAI_ENDPOINT": azure.endpoint, "AZURE_OPENAI_DEFAULT_DEPLOYMENT": DEPLOYMENT} | extra


@pytest.mark.usefixtures("servers")
def test_canaries_never_leave_the_headers_in_doctor_and_cli(
    azure: AzureTestServer, front: AzureTestServer, every_log: list[logging.LogRecord], tmp_path: Path
) -> None:
    evidence = Evidence()
    with_key = _azure_env(azure, AZURE_OPENAI_API_KEY=CANARY_KEY)
    with_token = _azure_env(azure, AZURE_OPENAI_AD_TOKEN=CANARY_TOKEN)
    regions = tmp_path / "regions.toml"
    regions.write_text(
        f'gateway_key = "{CANARY_GATEWAY_KEY}"\n'
        f'[[endpoints]]\nname = "east"\nendpoint = "{azure.endpoint}"\napi_key = "{CANARY_KEY}"\n'
        f'deployments = [{{ name = "{DEPLOYMENT}", model = "{DEPLOYMENT}" }}]\n'
        f'[[endpoints]]\nname = "dead"\nendpoint = "http://127.0.0.1:9"\napi_key = "{CANARY_KEY}"\n'
        f'deployments = [{{ name = "{DEPLOYMENT}", model = "{DEPLOYMENT}" }}]\n'
    )
    reports = [
        run_doctor(DoctorOptions(timeout=5), env=with_key),
        run_doctor(DoctorOptions(timeout=5), env=with_token | {"AZURE_OPENAI_DEFAULT_DEPLOYMENT": "no-such-one"}),
        run_doctor(DoctorOptions(config_file=str(regions), timeout=5), env=_azure_env(azure)),
    ]
    evidence.add("doctor", *reports)
    evidence.texts += [("doctor", report.render()) for report in reports]
    assert [r.ok for r in reports] == [True, False, False], "a passing, a failing deployment, a dead region"
    outputs = {
        "doctor cli": _python(["-m", "shared_core", "doctor"], with_key),
        "chat cli": _python(["-m", "shared_core", "--prompt", "hello"], with_key),
        "chat cli (token, no stream)": _python(["-m", "shared_core", "--no-stream"], with_token),
    }
    evidence.texts += list(outputs.items())
    assert "All" in outputs["doctor cli"] and "You said: hello" in outputs["chat cli"]
    evidence.texts += _emulator_cli_log()
    add_logs(evidence, every_log)
    assert azure.request_count >= 5, "the canaries were sent"
    assert evidence.leaks() == []


def _emulator_cli_log() -> list[tuple[str, str]]:
    """The emulator CLI's request log (JSON lines on stderr) for answered and refused requests."""
    command = [sys.executable, "-m", "azure_openai_emulator", "--port", "0", "--api-key", CANARY_KEY]
    command += ["--log-format", "json", "--print-endpoint"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        # The first line is the "export ..." line to copy: it prints the emulator's own key, on purpose.
        export = process.stdout.readline()
        endpoint = export.split("AZURE_OPENAI_ENDPOINT=", 1)[1].split()[0]
        for key, kind in ((CANARY_KEY, "api_key"), (CANARY_TOKEN, "azure_ad_token")):
            config = load_config(env={}, endpoint=endpoint, default_deployment=DEPLOYMENT, **{kind: key})
            with contextlib.suppress(GatewayError):  # the token is refused: a 401 logged too
                Gateway(config).complete(ChatRequest((Message.user("hi"),)))
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    lines = [line for line in stderr.splitlines() if line.startswith("{")]
    assert len(lines) >= 2 and all("status" in json.loads(line) for line in lines), "request log lines"
    return [("emulator cli log", line) for line in lines]


# -- cassettes ---------------------------------------------------------------------------------------------------


def _record(cassettes: Path, name: str, gateway: Gateway) -> None:
    recorder = VCR(**vcr_config(), record_mode=RecordMode.ALL, cassette_library_dir=str(cassettes))
    register_scheme(recorder)
    request = ChatRequest((Message.user("hi"),))
    with recorder.use_cassette(f"{name}.yaml"):
        gateway.complete(request)
        list(gateway.stream(request))
        asyncio.run(gateway.acomplete(request))


@pytest.mark.usefixtures("servers")
def test_canaries_never_reach_a_cassette(azure: AzureTestServer, tmp_path: Path) -> None:
    for kind, key in (("api_key", CANARY_KEY), ("azure_ad_token", CANARY_TOKEN)):
        config = load_config(env={}, endpoint=azure.endpoint, default_deployment=DEPLOYMENT, **{kind: key})
        _record(tmp_path, kind, Gateway(config))

    assert len(list(tmp_path.glob("*.yaml"))) == 2 and azure.request_count == 6, "recorded for real"
    assert [str(f) for f in scan_tree(tmp_path, CANARIES)] == []
    assert [str(f) for f in scan_tree(CASSETTE_ROOT, CANARIES)] == [], "the committed cassettes"


@pytest.mark.usefixtures("servers")
def test_canaries_never_reach_a_cassette_in_gateway_mode(
    azure: AzureTestServer, front: AzureTestServer, tmp_path: Path
) -> None:
    config = load_config(
        env={},
        endpoint=azure.endpoint,
        api_key=CANARY_KEY,
        default_deployment=DEPLOYMENT,
        gateway_url=front.endpoint + "/openai/v1",
        gateway_key=CANARY_GATEWAY_KEY,
        forward_azure_credentials=True,
    )
    _record(tmp_path, "gateway_mode", Gateway(config))
    assert front.request_count == 3
    assert [str(f) for f in scan_tree(tmp_path, CANARIES)] == []


# -- notebooks ---------------------------------------------------------------------------------------------------


async def _run_notebook(path: Path) -> list[str]:
    """Each code cell's printed output (or traceback), run as Jupyter would: one namespace, top-level await."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    outputs: list[str] = []
    for number, cell in enumerate(json.loads(path.read_text())["cells"]):
        if cell["cell_type"] != "code":
            continue
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            try:
                code = compile(
                    "".join(cell["source"]), f"{path.name}[{number}]", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
                )
                result = eval(code, namespace)
                if inspect.iscoroutine(result):
                    await result
            except Exception:  # a failing cell's traceback is an output too
                printed.write(traceback.format_exc())
        outputs.append(printed.getvalue())
    return outputs


@dataclass(frozen=True, slots=True)
class NotebookRun:
    """What running the notebooks with the canaries produced."""

    outputs: dict[str, list[str]]
    committed: dict[str, str]
    logs: list[logging.LogRecord]
    api_keys_sent: set[str | None]


@pytest.fixture(scope="module")
def notebook_run(azure: AzureTestServer) -> NotebookRun:
    """Each notebook that takes its credentials from ``AZURE_OPENAI_*``, run once against the canary key.

    The others start their own emulators and never see a canary; their committed outputs are searched all the same.
    """
    azure.reset()
    outputs: dict[str, list[str]] = {}
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    with pytest.MonkeyPatch.context() as env, capturing_every_log() as logs:
        for name, value in _azure_env(azure, AZURE_OPENAI_API_KEY=CANARY_KEY).items():
            env.setenv(name, value)
        for path in notebooks:
            if "AZURE_OPENAI_ENDPOINT" in path.read_text():
                outputs[path.name] = asyncio.run(_run_notebook(path))
    committed = {
        path.name: json.dumps([c.get("outputs", []) for c in json.loads(path.read_text())["cells"]])
        for path in notebooks
    }
    sent = {r.headers.get("api-key") for r in azure.requests}
    azure.reset()
    return NotebookRun(outputs, committed, list(logs), sent)


def test_canaries_never_reach_notebook_outputs(notebook_run: NotebookRun) -> None:
    evidence = Evidence()
    for name, outputs in notebook_run.outputs.items():
        evidence.texts += [(f"{name} output", text) for text in outputs]  # a failing cell's traceback included
    evidence.texts += [(f"{name} committed", text) for name, text in notebook_run.committed.items()]
    add_logs(evidence, notebook_run.logs)

    assert len(notebook_run.outputs) >= 2, "the notebooks that read AZURE_OPENAI_* ran"
    failing = {name: [o for o in outputs if "Traceback" in o] for name, outputs in notebook_run.outputs.items()}
    assert {name: cells for name, cells in failing.items() if cells} == {}, "every cell ran, so every output exists"
    assert notebook_run.api_keys_sent == {CANARY_KEY}, "against the canary key"
    assert evidence.leaks() == []
