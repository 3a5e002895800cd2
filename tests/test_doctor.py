"""The doctor against the emulator: each step it reports, and each misconfiguration it explains with a fix."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from azure_openai_emulator import AzureEmulator, DeploymentInfo, FaultPlan, FaultRule
from shared_core.__main__ import main as shared_core_main
from shared_core.doctor import DoctorOptions, DoctorReport, Finding, run_doctor
from tests.support.identity_server import MANAGED_IDENTITY_ENV_VARS

KEY = "doctor-test-key-4f2a9c"
GPT5 = DeploymentInfo(model="gpt-5-mini-2025-08-07", system_fingerprint=None)


@pytest.fixture(scope="module")
def emulator() -> Iterator[AzureEmulator]:
    deployments = {"gpt-4o-mini": DeploymentInfo(), "prod-chat": GPT5}
    with AzureEmulator(api_key=KEY, deployments=deployments, managed_identity=True) as emu:
        yield emu


@pytest.fixture(autouse=True)
def fresh(emulator: AzureEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator.reset()
    emulator.faults = FaultPlan()
    for name in MANAGED_IDENTITY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def env_for(emulator: AzureEmulator, **extra: str) -> dict[str, str]:
    env = {"AZURE_OPENAI_ENDPOINT": emulator.endpoint, "AZURE_OPENAI_API_KEY": KEY}
    env["AZURE_OPENAI_DEFAULT_DEPLOYMENT"] = "gpt-4o-mini"
    return {k: v for k, v in (env | extra).items() if v}


def steps(report: DoctorReport) -> list[tuple[str, bool]]:
    return [(f.step, f.ok) for f in report.findings]


def only(report: DoctorReport, step: str) -> Finding:
    found = [f for f in report.findings if f.step == step]
    assert len(found) == 1, report.render()
    return found[0]


def test_doctor_reports_every_step_and_sends_one_request(emulator: AzureEmulator) -> None:
    echoed: list[str] = []
    report = run_doctor(env=env_for(emulator), echo=echoed.append)
    assert steps(report) == [
        ("configuration", True),
        ("endpoint", True),
        ("credential", True),
        ("deployment", True),
        ("request", True),
    ]
    assert report.ok and report.summary() == "All 5 checks passed."
    assert echoed == [f.render() for f in report.findings]
    config = only(report, "configuration")
    assert f"endpoint = {emulator.endpoint}  (env AZURE_OPENAI_ENDPOINT)" in config.details
    assert "api_key = **********  (env AZURE_OPENAI_API_KEY)" in config.details
    assert "chosen because api_key set by env AZURE_OPENAI_API_KEY" in only(report, "credential").summary
    assert "deployment 'gpt-4o-mini' (rule default" in only(report, "deployment").summary
    request = only(report, "request")
    assert "answered in" in request.summary and "model gpt-4o-mini-2024-07-18" in request.summary
    assert request.details == ("answer: 'You said: Reply with the word OK.'",)
    assert emulator.request_count == 1 and emulator.requests[0].headers["api-key"] == KEY
    assert KEY not in report.render()


def test_doctor_resolves_each_mapped_model_and_tries_each_deployment_once(emulator: AzureEmulator) -> None:
    report = run_doctor(DoctorOptions(models=("gpt-4o-mini", "fast")), env=env_for(emulator))
    resolutions = [f.summary for f in report.findings if f.step == "deployment"]
    assert resolutions == [
        "model 'gpt-4o-mini' -> deployment 'gpt-4o-mini' (rule default; model gpt-4o-mini; profile gpt-4o-mini)",
        "model 'fast' -> deployment 'gpt-4o-mini' (rule default; model fast; profile unknown)",
        "the default model -> deployment 'gpt-4o-mini' (rule default; model gpt-4o-mini; profile gpt-4o-mini)",
    ]
    assert [f.step for f in report.findings].count("request") == 1
    assert emulator.request_count == 1


def test_doctor_no_send_sends_nothing(emulator: AzureEmulator) -> None:
    report = run_doctor(DoctorOptions(send=False), env=env_for(emulator))
    assert report.ok and "request" not in [f.step for f in report.findings]
    assert emulator.request_count == 0


def test_doctor_no_endpoint_says_what_to_set() -> None:
    report = run_doctor(env={})
    assert steps(report) == [("configuration", True), ("endpoint", False)]
    failure = only(report, "endpoint").summary
    assert "no Azure OpenAI endpoint is configured" in failure
    assert "AZURE_OPENAI_ENDPOINT=https://<resource>.openai.azure.com" in failure
    assert "python -m azure_openai_emulator" in failure


@pytest.mark.parametrize(
    ("endpoint", "said"),
    [
        ("my-resource.openai.azure.com", "is not a URL"),
        ("http://my-resource.openai.azure.com", "uses plain http"),
        ("https://my-resource.openai.azure.com/openai/deployments/gpt-4o", "has an unexpected path"),
    ],
)
def test_doctor_bad_endpoint_url_names_its_source_and_fix(endpoint: str, said: str) -> None:
    report = run_doctor(env={"AZURE_OPENAI_ENDPOINT": endpoint, "AZURE_OPENAI_API_KEY": KEY})
    assert steps(report) == [("configuration", False)]
    failure = report.findings[0].summary
    assert said in failure and "(from env AZURE_OPENAI_ENDPOINT)" in failure and "Fix:" in failure


def test_doctor_unreachable_endpoint_is_a_connection_error(emulator: AzureEmulator) -> None:
    with AzureEmulator() as gone:
        closed = gone.endpoint
    report = run_doctor(env=env_for(emulator, AZURE_OPENAI_ENDPOINT=closed))
    assert steps(report)[-1] == ("request", False)
    assert "ConnectionFailedError" in only(report, "request").summary


def test_doctor_wrong_key_is_an_authentication_error_with_its_fix(emulator: AzureEmulator) -> None:
    wrong = "wrong-key-0d9e8f7a"
    report = run_doctor(env=env_for(emulator, AZURE_OPENAI_API_KEY=wrong))
    failure = only(report, "request").summary
    assert failure.startswith("gpt-4o-mini: AuthenticationError:") and "status=401" in failure
    assert "key" in failure.lower()
    assert wrong not in report.render() and not report.ok


def test_doctor_no_credential_fails_at_the_credential_step(emulator: AzureEmulator) -> None:
    report = run_doctor(env=env_for(emulator, AZURE_OPENAI_API_KEY=""))
    assert steps(report)[-1] == ("credential", False)
    assert "Fix: set AZURE_OPENAI_API_KEY" in only(report, "credential").summary
    assert emulator.request_count == 0


@pytest.mark.parametrize(("api_version", "status"), [("2024-10-21", 404), ("v1", 400)])
def test_doctor_unknown_deployment_is_deployment_not_found(
    emulator: AzureEmulator, api_version: str, status: int
) -> None:
    env = env_for(emulator, AZURE_OPENAI_DEFAULT_DEPLOYMENT="gpt-4o-mini-typo", AZURE_OPENAI_API_VERSION=api_version)
    failure = only(run_doctor(env=env), "request").summary
    assert failure.startswith("gpt-4o-mini-typo: DeploymentNotFoundError:") and f"status={status}" in failure


def test_doctor_managed_identity_through_the_emulator_token_endpoint(
    emulator: AzureEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert emulator.identity is not None and emulator.identity_endpoint is not None
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", emulator.identity.identity.header)
    report = run_doctor(env=env_for(emulator, AZURE_OPENAI_API_KEY="", AZURE_USE_MANAGED_IDENTITY="true"))
    assert report.ok, report.render()
    credential = only(report, "credential").summary
    assert credential.startswith("managed_identity (system-assigned; scope https://cognitiveservices.azure.com")
    token = only(report, "token").summary
    assert "acquired in" in token and "expires at" in token and "(in 60 min)" in token
    (issued,) = emulator.identity.issued_tokens()[-1:]
    assert emulator.requests[0].headers["authorization"] == f"Bearer {issued}"
    assert issued not in report.render()


def test_doctor_managed_identity_with_a_wrong_identity_header_fails_at_the_token(
    emulator: AzureEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert emulator.identity_endpoint is not None
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-header")
    report = run_doctor(env=env_for(emulator, AZURE_OPENAI_API_KEY="", AZURE_USE_MANAGED_IDENTITY="true"))
    assert steps(report)[-1] == ("token", False)
    assert "managed_identity could not get a token" in only(report, "token").summary
    assert emulator.request_count == 0


@pytest.mark.parametrize(("value", "said"), [("hot", "'hot' is not a number"), ("3", "3.0 is out of range")])
def test_doctor_bad_temperature_value_names_its_source(emulator: AzureEmulator, value: str, said: str) -> None:
    report = run_doctor(env=env_for(emulator, AZURE_OPENAI_TEMPERATURE=value))
    assert steps(report) == [("configuration", False)]
    failure = report.findings[0].summary
    assert said in failure and "(from env AZURE_OPENAI_TEMPERATURE)" in failure and "Fix:" in failure


def test_doctor_temperature_rejected_by_a_reasoning_deployment_points_at_the_setting(emulator: AzureEmulator) -> None:
    env = env_for(emulator, AZURE_OPENAI_DEFAULT_DEPLOYMENT="prod-chat", AZURE_OPENAI_TEMPERATURE="0.2")
    report = run_doctor(env=env)
    note = only(report, "deployment").details
    assert note and "model 'prod-chat' is not one the gateway knows" in note[0]
    failure = only(report, "request").summary
    assert failure.startswith("prod-chat: UnsupportedParameterError:") and "'temperature'" in failure
    assert "'temperature' comes from env AZURE_OPENAI_TEMPERATURE; unset it" in failure
    assert emulator.requests[0].json["temperature"] == 0.2
    # The fix the doctor names works: with the model named, the gateway leaves temperature out.
    fixed = run_doctor(env=env | {"AZURE_OPENAI_DEFAULT_MODEL": "gpt-5-mini"})
    assert fixed.ok, fixed.render()
    assert "temperature" not in emulator.requests[-1].json


def test_doctor_reports_a_throttled_deployment_without_retrying(emulator: AzureEmulator) -> None:
    emulator.faults = FaultPlan([FaultRule("rate_limit", retry_after=7)])
    failure = only(run_doctor(env=env_for(emulator)), "request").summary
    assert failure.startswith("gpt-4o-mini: RateLimitError:") and "retry_after=7" in failure
    assert emulator.request_count == 1


def test_doctor_checks_each_named_endpoint_on_its_own(emulator: AzureEmulator, tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        f"""
[[endpoints]]
name = "eastus"
endpoint = "{emulator.endpoint}"
api_key = "{KEY}"
deployments = [{{ name = "gpt-4o-mini", model = "gpt-4o-mini" }}]
[[endpoints]]
name = "westus"
endpoint = "{emulator.endpoint}"
api_key = "west-wrong-key"
deployments = [{{ name = "gpt-4o-mini", model = "gpt-4o-mini" }}]
""",
        encoding="utf-8",
    )
    report = run_doctor(DoctorOptions(config_file=str(config)), env={})
    requests = [f for f in report.findings if f.step == "request"]
    assert [(f.summary.split(":")[0], f.ok) for f in requests] == [("'eastus'", True), ("'westus'", False)]
    assert "AuthenticationError" in requests[1].summary
    assert "chosen because api_key set by endpoint 'eastus'" in report.render()
    assert "west-wrong-key" not in report.render() and KEY not in report.render()


def test_doctor_subcommand_exit_status(
    emulator: AzureEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in env_for(emulator).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AZURE_GATEWAY_CONFIG", raising=False)
    assert shared_core_main(["doctor", "--no-send"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Azure OpenAI gateway doctor\n") and out.rstrip().endswith("All 4 checks passed.")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "wrong")
    assert shared_core_main(["doctor"]) == 1
    assert "1 of 5 checks failed." in capsys.readouterr().out


def test_main_job_is_still_the_default_command(
    emulator: AzureEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in env_for(emulator).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AZURE_GATEWAY_CONFIG", raising=False)
    assert shared_core_main(["--no-stream", "--prompt", "hello there"]) == 0
    assert "You said: hello there" in capsys.readouterr().out
    assert emulator.request_count == 1


def fake_jwt(exp: float) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part({'exp': int(exp), 'aud': 'https://cognitiveservices.azure.com'})}.sig"


def test_doctor_static_token_shows_its_expiry_and_fails_when_expired(emulator: AzureEmulator) -> None:
    fresh_token, old_token = fake_jwt(time.time() + 1800), fake_jwt(time.time() - 60)
    emulator.bearer_tokens |= {fresh_token, old_token}
    report = run_doctor(env=env_for(emulator, AZURE_OPENAI_API_KEY="", AZURE_OPENAI_AD_TOKEN=fresh_token))
    assert report.ok, report.render()
    assert "static token, never refreshed; expires at" in only(report, "token").summary
    assert "(in 30 min)" in only(report, "token").summary and fresh_token not in report.render()
    expired = run_doctor(env=env_for(emulator, AZURE_OPENAI_API_KEY="", AZURE_OPENAI_AD_TOKEN=old_token))
    assert steps(expired)[-1] == ("token", False)
    assert "the static token expired at" in only(expired, "token").summary
    assert emulator.request_count == 1
