"""No cassette may carry a secret: every file under ``cassettes/`` is scanned, and the scanner is shown to fire.

The scanner (``tests.support.cassettes.scan_tree``) flags secret headers, bearer tokens, JWT-shaped values,
``sk-`` keys, credential env var values, the suite's canaries, foreign Azure hosts and unrewritten request hosts;
each rule gets a bad cassette here, and a recording made with canary credentials is shown to hold neither.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from vcr import VCR
from vcr.record_mode import RecordMode

from shared_core import ChatRequest, Gateway, Message, load_config
from tests.support.azure_server import AzureTestServer
from tests.support.cassettes import (
    CASSETTE_HOST,
    CASSETTE_ROOT,
    KNOWN_SECRETS,
    LOOPBACK_API_KEY,
    SECRET_ENV_VARS,
    ReadableYamlSerializer,
    register_scheme,
    scan_cassette,
    scan_tree,
    vcr_config,
)

CANARY_KEY, CANARY_TOKEN = KNOWN_SECRETS[:2]


# ------------------------------------------------------------------------------------------ the repository


def test_cassettes_hold_no_secrets() -> None:
    assert any(CASSETTE_ROOT.rglob("*.yaml")), "no cassettes found; the scan would prove nothing"
    findings = scan_tree(CASSETTE_ROOT)
    assert not findings, "secrets in cassettes:\n" + "\n".join(map(str, findings))


# ------------------------------------------------------------------------------------------ the scanner fires


def _clean_cassette() -> dict[str, Any]:
    return {
        "version": 1,
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "uri": f"https://{CASSETTE_HOST}/openai/v1/responses",
                    "body": '{\n  "model": "gpt-4o-mini",\n  "input": "hi"\n}\n',
                    "headers": {"content-type": ["application/json"], "host": [CASSETTE_HOST]},
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {"apim-request-id": ["4f1c0b1e-0000-4000-8000-000000000000"]},
                    "body": {"string": '{"id":"resp_1","output":[]}'},
                },
            }
        ],
    }


def _write(tmp_path: Path, cassette: Mapping[str, Any]) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(ReadableYamlSerializer.serialize(cassette), encoding="utf-8")
    return path


Mutation = Callable[[dict[str, Any], dict[str, Any]], None]


def _body(text: str) -> Mutation:
    def put(_request: dict[str, Any], response: dict[str, Any]) -> None:
        response["body"]["string"] = text

    return put


def _header(side: str, name: str, value: str) -> Mutation:
    def put(request: dict[str, Any], response: dict[str, Any]) -> None:
        (request if side == "request" else response)["headers"][name] = [value]

    return put


def _uri(uri: str) -> Mutation:
    def put(request: dict[str, Any], _response: dict[str, Any]) -> None:
        request["uri"] = uri

    return put


_JWT = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2NvZ25pdGl2ZXNlcnZpY2VzIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
BAD_CASSETTES: dict[str, tuple[Mutation, str]] = {
    "api-key request header": (_header("request", "api-key", "0123456789abcdef"), "api-key header"),
    "authorization request header": (_header("request", "Authorization", "Basic dXNlcg=="), "authorization header"),
    "cookie request header": (_header("request", "Cookie", "session=1"), "cookie header"),
    "set-cookie response header": (_header("response", "Set-Cookie", "ARRAffinity=1; Path=/"), "set-cookie header"),
    "bearer token in a body": (_body('{"echo": "Bearer abcdefghijklmnop"}'), "bearer token"),
    "JWT in a body": (_body(f'{{"token": "{_JWT}"}}'), "JWT-shaped value"),
    "sk- key in a body": (_body('{"key": "sk-proj-abcdefghijklmnopqrstu"}'), "sk- key"),
    "canary in a body": (_body('{"note": "a Canary value"}'), "canary"),
    "loopback key in a body": (_body(f'{{"k": "{LOOPBACK_API_KEY}"}}'), "known test secret"),
    "canary key in a body": (_body('{"k": "CANARY-KEY-123"}'), "known test secret"),
    "real resource host in the URL": (
        _uri("https://contoso.openai.azure.com/openai/v1/responses"),
        "Azure resource host",
    ),
    "loopback host in the URL": (_uri("http://127.0.0.1:50123/openai/v1/responses"), "request host not rewritten"),
    "AI Foundry host in a header": (
        _header("response", "x-origin", "https://contoso.services.ai.azure.com/x"),
        "Azure resource host",
    ),
}


@pytest.mark.parametrize("case", BAD_CASSETTES)
def test_cassette_scan_flags_a_secret(case: str, tmp_path: Path) -> None:
    mutate, rule = BAD_CASSETTES[case]
    cassette = _clean_cassette()
    interaction = cassette["interactions"][0]
    mutate(interaction["request"], interaction["response"])

    findings = scan_cassette(_write(tmp_path, cassette), env_secrets={})

    assert rule in {f.rule for f in findings}, findings


@pytest.mark.parametrize("variable", SECRET_ENV_VARS)
def test_cassette_scan_flags_the_value_of_a_credential_env_var(
    variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = "Zq9" + os.urandom(12).hex()
    monkeypatch.setenv(variable, value)
    cassette = _clean_cassette()
    _body(f'{{"leaked": "{value}"}}')(cassette["interactions"][0]["request"], cassette["interactions"][0]["response"])
    _write(tmp_path, cassette)

    findings = scan_tree(tmp_path)

    assert [f.rule for f in findings] == [f"value of ${variable}"]
    assert value not in "\n".join(map(str, findings))  # the report never repeats the secret


def test_cassette_scan_flags_a_file_that_is_not_a_cassette(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("interactions: [\n", encoding="utf-8")

    assert [f.rule for f in scan_tree(tmp_path, env_secrets={})] == ["not a readable cassette"]


def test_cassette_scan_passes_a_clean_cassette(tmp_path: Path) -> None:
    assert scan_cassette(_write(tmp_path, _clean_cassette()), env_secrets={}) == []


# ------------------------------------------------------------------------------------------ recording scrubs


def test_cassette_recorded_with_canary_credentials_holds_neither(tmp_path: Path) -> None:
    vcr = VCR(record_mode=RecordMode.ONCE)
    register_scheme(vcr)
    path = tmp_path / "canaries.yaml"
    request = ChatRequest(messages=(Message.user("Hello?"),))
    with (
        AzureTestServer(api_key=CANARY_KEY, bearer_tokens={CANARY_TOKEN}) as server,
        httpx.Client() as client,
        vcr.use_cassette(str(path), **vcr_config()),
    ):
        base = {"env": {}, "endpoint": server.endpoint, "default_deployment": "gpt-4o-mini", "max_retries": 0}
        Gateway(load_config(**base, api_key=CANARY_KEY), http_client=client).complete(request)
        Gateway(load_config(**base), token_provider=lambda: CANARY_TOKEN, http_client=client).complete(request)
        sent = [r.headers for r in server.requests]

    assert sent[0]["api-key"] == CANARY_KEY and sent[1]["authorization"] == f"Bearer {CANARY_TOKEN}"
    text = path.read_text(encoding="utf-8")
    assert text.count("interactions") == 1 and text.count("- request:") == 2
    assert CANARY_KEY not in text and CANARY_TOKEN not in text
    assert scan_cassette(path, env_secrets={}) == []
