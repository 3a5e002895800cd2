"""The emulator's user-facing features: fault rules, the managed-identity endpoint, model rules, the responder's
habits, request logs and the environment it hands out. Wire shapes are in ``test_azure_server*.py``."""

from __future__ import annotations

import importlib
import json
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from azure.identity import ManagedIdentityCredential

from azure_openai_emulator import (
    AzureEmulator,
    DeploymentInfo,
    FaultPlan,
    FaultRule,
    FaultSpecError,
    ManagedIdentity,
    RecordedRequest,
    Reply,
    decide_answer,
    load_faults,
    parse_fault,
)
from shared_core import MissingExtraError
from tests.support import recordings
from tests.support.identity_server import MANAGED_IDENTITY_ENV_VARS

V1_CHAT = "/openai/v1/chat/completions"
V1_RESPONSES = "/openai/v1/responses"
GPT5 = DeploymentInfo(model="gpt-5-mini-2025-08-07", system_fingerprint=None)
USER = [{"role": "user", "content": "What is 4200 + 42?"}]


@pytest.fixture(scope="module")
def emulator() -> Iterator[AzureEmulator]:
    deployments = {"gpt-4o-mini": DeploymentInfo(), "gpt-5-mini": GPT5}
    with AzureEmulator(api_key="test-key", deployments=deployments, managed_identity=True) as emu:
        yield emu


@pytest.fixture(autouse=True)
def fresh(emulator: AzureEmulator) -> None:
    emulator.reset()
    emulator.faults = FaultPlan()


@pytest.fixture
def client(emulator: AzureEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.endpoint, headers={"api-key": "test-key"}, timeout=5) as c:
        yield c


def chat(client: httpx.Client, deployment: str = "gpt-4o-mini", **body: Any) -> httpx.Response:
    return client.post(V1_CHAT, json={"model": deployment, "messages": USER, **body})


def request_for(body: dict[str, Any], *, deployment: str = "gpt-4o-mini", stream: bool = False) -> RecordedRequest:
    return RecordedRequest("POST", V1_CHAT, {}, {}, body, api="chat", deployment=deployment, stream=stream)


# ------------------------------------------------------------------------------------------ fault rules


def test_parse_fault_reads_key_value_pairs_and_a_bare_kind() -> None:
    rule = parse_fault("kind=rate_limit, deployment=east, every=2, retry_after=1.5, retry_after_header=retry-after-ms")
    assert rule == FaultRule(
        "rate_limit", deployment="east", every=2, retry_after=1.5, retry_after_header="retry-after-ms"
    )
    assert parse_fault("reset") == FaultRule("reset")


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("kind=meltdown", "unknown fault kind 'meltdown'"),
        ("kind=rate_limit,probability=2", "probability 2.0 is not between 0 and 1"),
        ("kind=rate_limit,every=0", "every=0 must be 1 or more"),
        ("kind=rate_limit,every=2,probability=0.5", "probability or every, not both"),
        ("kind=server_error,status=404", "status 404 is not a 5xx"),
        ("kind=latency,seconds=soon", "seconds='soon' is not a number"),
        ("kind=latency,colour=red", "unknown key(s) ['colour']"),
        ("deployment=east", "a fault needs a 'kind'"),
    ],
)
def test_parse_fault_rejects_what_it_cannot_use(spec: str, said: str) -> None:
    with pytest.raises(FaultSpecError, match="--fault") as caught:
        parse_fault(spec)
    assert said in str(caught.value)


def test_load_faults_reads_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "faults.toml"
    toml.write_text('[[fault]]\nkind = "latency"\nseconds = 0.2\n[[fault]]\nkind = "reset"\nprobability = 0.1\n')
    assert load_faults(toml) == (FaultRule("latency", seconds=0.2), FaultRule("reset", probability=0.1))
    as_json = tmp_path / "faults.json"
    as_json.write_text(json.dumps([{"kind": "server_error", "status": 503, "deployment": "east"}]))
    assert load_faults(as_json) == (FaultRule("server_error", status=503, deployment="east"),)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[fault]]\nkind = "rate_limit"\n[[fault]]\nkind = "nope"\n')
    with pytest.raises(FaultSpecError, match=r"bad.toml fault\[1\]: unknown fault kind 'nope'"):
        load_faults(bad)


def test_fault_plan_every_nth_request_of_its_deployment() -> None:
    plan = FaultPlan([FaultRule("rate_limit", deployment="east", every=3)])
    east, west = request_for({}, deployment="east"), request_for({}, deployment="west")
    fired = [plan.apply(east, Reply("ok"))[1] for _ in range(6)]
    assert fired == [(), (), ("rate_limit",), (), (), ("rate_limit",)]
    assert all(plan.apply(west, Reply("ok"))[1] == () for _ in range(6))


def test_fault_plan_probability_is_seeded_and_bounded() -> None:
    def fired(seed: int, probability: float) -> list[bool]:
        plan = FaultPlan([FaultRule("reset", probability=probability)], seed=seed)
        return [bool(plan.apply(request_for({}), Reply("ok"))[1]) for _ in range(200)]

    assert fired(7, 0.3) == fired(7, 0.3)
    assert 30 <= sum(fired(7, 0.3)) <= 90
    assert not any(fired(1, 0.0)) and all(fired(1, 1.0))


def test_fault_plan_latency_adds_to_the_fault_that_decides() -> None:
    plan = FaultPlan([FaultRule("latency", seconds=0.25), FaultRule("server_error", status=503), FaultRule("reset")])
    outcome, fired = plan.apply(request_for({}), Reply("ok", first_byte_delay=0.1))
    assert fired == ("latency", "server_error")
    assert outcome.first_byte_delay == pytest.approx(0.35)


def test_fault_cut_stream_applies_to_streams_only(emulator: AzureEmulator, client: httpx.Client) -> None:
    emulator.faults = FaultPlan([FaultRule("cut_stream", after=2)])
    assert chat(client).status_code == 200
    with pytest.raises(httpx.RemoteProtocolError):
        chat(client, stream=True).read()


def test_fault_rate_limit_over_http_sends_retry_after(emulator: AzureEmulator, client: httpx.Client) -> None:
    emulator.faults = FaultPlan(
        [FaultRule("rate_limit", every=2, retry_after=2.5, retry_after_header="retry-after-ms")]
    )
    first, second = chat(client), chat(client)
    assert (first.status_code, second.status_code) == (200, 429)
    assert second.headers["retry-after-ms"] == "2500"
    assert second.json()["error"]["code"] == "429" and "retry after 3 seconds" in second.json()["error"]["message"]


def test_fault_latency_delays_the_answer(emulator: AzureEmulator, client: httpx.Client) -> None:
    emulator.faults = FaultPlan([FaultRule("latency", seconds=0.3, deployment="gpt-4o-mini")])
    started = time.monotonic()
    assert chat(client).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_fault_content_filters_the_completion_and_the_prompt(emulator: AzureEmulator, client: httpx.Client) -> None:
    emulator.faults = FaultPlan([FaultRule("content_filter", after=1, category="hate")])
    choice = chat(client).json()["choices"][0]
    assert choice["finish_reason"] == "content_filter"
    assert choice["content_filter_results"]["hate"] == {"filtered": True, "severity": "high"}
    assert choice["message"]["content"] == "You"
    emulator.faults = FaultPlan([FaultRule("prompt_filter", category="violence")])
    error = chat(client).json()["error"]
    assert error["code"] == "content_filter"
    assert error["innererror"]["content_filter_result"]["violence"]["filtered"] is True


def test_fault_server_error_and_bad_gateway(emulator: AzureEmulator, client: httpx.Client) -> None:
    emulator.faults = FaultPlan([FaultRule("server_error", status=503, every=2), FaultRule("bad_gateway", every=3)])
    statuses = [chat(client).status_code for _ in range(6)]
    assert statuses == [200, 503, 502, 503, 200, 503]


def test_scripted_outcomes_win_over_fault_rules(emulator: AzureEmulator, client: httpx.Client) -> None:
    emulator.faults = FaultPlan([FaultRule("reset")])
    emulator.script(Reply("scripted"))
    assert chat(client).json()["choices"][0]["message"]["content"] == "scripted"


# ------------------------------------------------------------------------------------------ managed identity


def token_request(
    client: httpx.Client, header: str, resource: str = "https://cognitiveservices.azure.com"
) -> httpx.Response:
    params = {"api-version": "2019-08-01", "resource": resource}
    return client.get("/msi/token", params=params, headers={"X-IDENTITY-HEADER": header})


def test_identity_endpoint_issues_tokens_the_emulator_accepts(emulator: AzureEmulator, client: httpx.Client) -> None:
    response = token_request(client, ManagedIdentity().header)
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"access_token", "expires_on", "expires_in", "resource", "token_type", "client_id"}
    assert 3590 <= int(body["expires_on"]) - time.time() <= 3600
    del client.headers["api-key"]
    assert chat(client).status_code == 401
    client.headers["authorization"] = f"Bearer {body['access_token']}"
    assert chat(client).status_code == 200


def test_identity_endpoint_refuses_a_wrong_header_and_foreign_audiences(
    emulator: AzureEmulator, client: httpx.Client
) -> None:
    assert token_request(client, "guess").status_code == 401
    foreign = token_request(client, ManagedIdentity().header, resource="https://vault.azure.net").json()
    del client.headers["api-key"]
    refused = client.post(
        V1_CHAT,
        json={"model": "gpt-4o-mini", "messages": USER},
        headers={"authorization": f"Bearer {foreign['access_token']}"},
    )
    assert refused.status_code == 401 and "audience" in refused.json()["error"]["message"]


def test_identity_tokens_expire() -> None:
    with (
        AzureEmulator(api_key=None, managed_identity=ManagedIdentity(token_lifetime=0)) as short,
        httpx.Client(base_url=short.endpoint, timeout=5) as c,
    ):
        token = token_request(c, ManagedIdentity().header).json()["access_token"]
        answer = c.post(
            V1_CHAT, json={"model": "gpt-4o-mini", "messages": USER}, headers={"authorization": f"Bearer {token}"}
        )
    assert answer.status_code == 401


def test_identity_endpoint_serves_azure_identity(emulator: AzureEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in MANAGED_IDENTITY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.identity_endpoint or "")
    monkeypatch.setenv("IDENTITY_HEADER", ManagedIdentity().header)
    token = ManagedIdentityCredential().get_token("https://cognitiveservices.azure.com/.default")
    assert emulator.identity is not None and token.token in emulator.identity.issued_tokens()
    assert token.expires_on > time.time() + 3000


# ------------------------------------------------------------------------------------------ model rules


def test_model_rules_reject_max_tokens_on_a_reasoning_model_as_recorded(client: httpx.Client) -> None:
    real = next(
        i
        for p in recordings.recording_files()
        if p.stem.endswith("test_call_with_params__azure_gpt_5_mini")
        for i in recordings.load_recording_file(p)
        if i.status == 400
    )
    response = client.post(V1_CHAT, content=real.request_body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.content == real.response_body


@pytest.mark.parametrize(
    ("path", "body", "code", "message"),
    [
        (V1_CHAT, {"messages": USER, "temperature": 0.2}, "unsupported_value", "does not support 0.2 with this model"),
        (V1_CHAT, {"messages": USER, "top_p": 0.5}, "unsupported_value", "'top_p' does not support 0.5"),
        (V1_RESPONSES, {"input": "hi", "temperature": 0.2}, "unsupported_parameter", "'temperature' is not supported"),
    ],
)
def test_model_rules_reject_sampling_on_a_reasoning_model(
    client: httpx.Client, path: str, body: dict[str, Any], code: str, message: str
) -> None:
    response = client.post(path, json={"model": "gpt-5-mini", **body})
    error = response.json()["error"]
    assert (response.status_code, error["code"], error["type"]) == (400, code, "invalid_request_error")
    assert message in error["message"] and response.headers["x-ms-deployment-name"] == "gpt-5-mini"


def test_model_rules_accept_defaults_and_other_models(emulator: AzureEmulator, client: httpx.Client) -> None:
    assert chat(client, "gpt-5-mini", temperature=1, max_completion_tokens=50).status_code == 200
    assert chat(client, "gpt-4o-mini", temperature=0.2, max_tokens=50).status_code == 200
    emulator.model_rules = False
    try:
        assert chat(client, "gpt-5-mini", temperature=0.2).status_code == 200
    finally:
        emulator.model_rules = True


# ------------------------------------------------------------------------------------------ responder habits

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "unit": {"enum": ["c", "f"]}},
            "required": ["city", "days", "unit"],
        },
    },
}
CLOCK = {"type": "function", "function": {"name": "current_time", "parameters": {"type": "object", "properties": {}}}}


def test_responder_calls_the_tool_the_question_is_about_with_its_values() -> None:
    body = {
        "messages": [{"role": "user", "content": "What's the weather in 'Paris' for 3 days?"}],
        "tools": [CLOCK, WEATHER],
    }
    text, calls = decide_answer("chat", body)
    assert text is None and [c.name for c in calls] == ["get_weather"]
    arguments = json.loads(calls[0].arguments)
    assert arguments == {"city": "Paris", "days": 3, "unit": "c"}
    jsonschema.validate(arguments, WEATHER["function"]["parameters"])


def test_responder_keeps_numbers_within_the_schema_bounds() -> None:
    n = {"type": "integer", "exclusiveMinimum": -1000, "exclusiveMaximum": 1000}
    bounded = {"type": "object", "properties": {"n": n}}
    tool = {"type": "function", "function": {"name": "magic_function", "parameters": bounded}}
    for said, expected in (("magic_function(3)? Use the tool.", 3), ("magic_function(5000)", -999)):
        _, calls = decide_answer("chat", {"messages": [{"role": "user", "content": said}], "tools": [tool]})
        assert json.loads(calls[0].arguments) == {"n": expected}


def test_responder_respects_tool_choice_none_and_unrelated_questions() -> None:
    asked = [{"role": "user", "content": "What's the weather in Paris?"}]
    assert decide_answer("chat", {"messages": asked, "tools": [WEATHER], "tool_choice": "none"})[1] == ()
    unrelated = [{"role": "user", "content": "Tell me a joke"}]
    assert decide_answer("chat", {"messages": unrelated, "tools": [WEATHER, CLOCK]}) == ("You said: Tell me a joke", ())


def test_responder_required_tool_choice_picks_the_relevant_tool() -> None:
    asked = [{"role": "user", "content": "what time is it"}]
    _, calls = decide_answer("chat", {"messages": asked, "tools": [WEATHER, CLOCK], "tool_choice": "required"})
    assert [c.name for c in calls] == ["current_time"]


def test_responder_json_mode_uses_the_keys_the_user_quotes() -> None:
    asked = [{"role": "user", "content": "Tell a joke as JSON with 'setup' and 'punchline'"}]
    text, _ = decide_answer("chat", {"messages": asked, "response_format": {"type": "json_object"}})
    assert set(json.loads(text or "")) == {"setup", "punchline"}


# ------------------------------------------------------------------------------------------ logs and env


def test_emulator_logs_each_request_without_secrets(
    emulator: AzureEmulator, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.faults = FaultPlan([FaultRule("rate_limit", every=2)])
    with caplog.at_level(logging.INFO, logger="azure_openai_emulator"):
        chat(client)
        chat(client)
        client.post(V1_CHAT, json={"model": "gpt-4o-mini", "messages": USER}, headers={"api-key": "secret-guess-99"})
    fields = [r.__dict__["emulator"] for r in caplog.records if r.name == "azure_openai_emulator"]
    assert [(f["status"], f["outcome"], f["faults"], f["auth"]) for f in fields] == [
        (200, "Reply", [], "api-key"),
        (429, "HttpError", ["rate_limit"], "api-key"),
        (401, "unauthorized", [], "api-key"),
    ]
    assert all(f["deployment"] == "gpt-4o-mini" and f["path"] == V1_CHAT for f in fields)
    assert "429 HttpError deployment=gpt-4o-mini" in caplog.records[1].getMessage()
    logged = caplog.text + json.dumps(fields)
    assert "test-key" not in logged and "secret-guess-99" not in logged


def test_emulator_env_points_clients_at_it(emulator: AzureEmulator) -> None:
    env = emulator.env()
    assert env == {
        "AZURE_OPENAI_ENDPOINT": emulator.endpoint,
        "AZURE_OPENAI_DEFAULT_DEPLOYMENT": "gpt-4o-mini",
        "IDENTITY_ENDPOINT": f"{emulator.endpoint}/msi/token",
        "IDENTITY_HEADER": ManagedIdentity().header,
        "AZURE_USE_MANAGED_IDENTITY": "true",
    }
    with AzureEmulator(api_key="k2", deployments={"east": DeploymentInfo()}) as keyed:
        assert keyed.env() == {
            "AZURE_OPENAI_ENDPOINT": keyed.endpoint,
            "AZURE_OPENAI_DEFAULT_DEPLOYMENT": "east",
            "AZURE_OPENAI_API_KEY": "k2",
        }


def test_emulator_without_aiohttp_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    monkeypatch.delitem(sys.modules, "azure_openai_emulator")
    with pytest.raises(MissingExtraError, match=r"\[emulator\]"):
        importlib.import_module("azure_openai_emulator")
