"""``python -m azure_openai_emulator`` as a user runs it: a subprocess, its export line, a request, a faults file."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.recordings import REPO_ROOT

USER = [{"role": "user", "content": "What is 4200 + 42?"}]


@contextmanager
def emulator_process(*args: str) -> Iterator[tuple[dict[str, str], subprocess.Popen[str]]]:
    """Start the emulator; yield the variables of its export line and the process (stopped afterwards)."""
    command = [sys.executable, "-m", "azure_openai_emulator", "--port", "0", "--print-endpoint", *args]
    proc = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        words = shlex.split(line)
        assert words[0] == "export", line
        yield dict(word.split("=", 1) for word in words[1:]), proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_emulator_cli_prints_an_export_line_and_answers(tmp_path: Path) -> None:
    faults = tmp_path / "faults.toml"
    faults.write_text('[[fault]]\nkind = "rate_limit"\ndeployment = "gpt-4o-mini"\nevery = 2\nretry_after = 4\n')
    args = [
        "--api-key",
        "cli-key-77",
        "--deployment",
        "gpt-4o-mini=gpt-4o-mini-2024-07-18",
        "--deployment",
        "big=gpt-4o",
    ]
    with emulator_process(*args, "--faults", str(faults), "--log-format", "json") as (env, proc):
        endpoint = env["AZURE_OPENAI_ENDPOINT"]
        assert endpoint.startswith("http://127.0.0.1:")
        assert env == {
            "AZURE_OPENAI_ENDPOINT": endpoint,
            "AZURE_OPENAI_DEFAULT_DEPLOYMENT": "gpt-4o-mini",
            "AZURE_OPENAI_API_KEY": "cli-key-77",
        }
        url = f"{endpoint}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"
        headers = {"api-key": env["AZURE_OPENAI_API_KEY"]}
        first = httpx.post(url, json={"messages": USER}, headers=headers)
        second = httpx.post(url, json={"messages": USER}, headers=headers)
        other = httpx.post(url.replace("gpt-4o-mini/", "big/"), json={"messages": USER}, headers=headers)
    assert first.json()["choices"][0]["message"]["content"] == "You said: What is 4200 + 42?"
    assert first.json()["model"] == "gpt-4o-mini-2024-07-18"
    assert (second.status_code, second.headers["retry-after"]) == (429, "4")
    assert other.status_code == 200 and other.json()["model"] == "gpt-4o"
    assert proc.stderr is not None
    logs = [json.loads(line) for line in proc.stderr.read().splitlines() if line.startswith("{")]
    assert [(entry["status"], entry["deployment"], entry["faults"]) for entry in logs] == [
        (200, "gpt-4o-mini", []),
        (429, "gpt-4o-mini", ["rate_limit"]),
        (200, "big", []),
    ]
    assert "cli-key-77" not in json.dumps(logs)


def test_emulator_cli_managed_identity_exports_the_identity_endpoint() -> None:
    with emulator_process("--managed-identity", "--identity-header", "hdr-1", "--quiet") as (env, _proc):
        assert env["IDENTITY_ENDPOINT"] == env["AZURE_OPENAI_ENDPOINT"] + "/msi/token"
        assert (env["IDENTITY_HEADER"], env["AZURE_USE_MANAGED_IDENTITY"]) == ("hdr-1", "true")
        assert "AZURE_OPENAI_API_KEY" not in env
        params = {"api-version": "2019-08-01", "resource": "https://cognitiveservices.azure.com"}
        token = httpx.get(env["IDENTITY_ENDPOINT"], params=params, headers={"X-IDENTITY-HEADER": "hdr-1"}).json()
        answer = httpx.post(
            env["AZURE_OPENAI_ENDPOINT"] + "/openai/v1/chat/completions",
            json={"model": env["AZURE_OPENAI_DEFAULT_DEPLOYMENT"], "messages": USER},
            headers={"authorization": f"Bearer {token['access_token']}"},
        )
    assert answer.status_code == 200


def test_emulator_cli_rejects_a_bad_fault_flag() -> None:
    command = [sys.executable, "-m", "azure_openai_emulator", "--fault", "kind=rate_limit,every=zero"]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert "every='zero' is not a number" in done.stderr and done.stdout == ""
