"""The README's first command, ``python -m demo``, as a fresh machine runs it: no Azure variables set.

Each test runs the demo in a subprocess with every ``AZURE_*`` / managed-identity variable removed, and reads
what it printed. The Azure-mode test stands an emulator in for "your resource" by exporting its variables,
which is what a user with a real resource does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping

import pytest

from azure_openai_emulator import AzureEmulator
from tests.support.recordings import REPO_ROOT

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

_CREDENTIAL_PREFIXES = ("AZURE_", "IDENTITY_", "MSI_", "OPENAI_")


def _clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CREDENTIAL_PREFIXES)}
    env.update(extra or {})
    return env


def _run_demo(env: Mapping[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "demo", *args],
        env=dict(env),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done, time.perf_counter() - started


def _cost_rows(out: str) -> dict[str, tuple[int, float]]:
    """deployment -> (calls, USD) from the printed cost table."""
    rows: dict[str, tuple[int, float]] = {}
    for match in re.finditer(r"^\s+(\S+)\s+(\d+)\s+\d+\s+\d+\s+\d+\s+(\d+\.\d{6})$", out, flags=re.MULTILINE):
        rows[match.group(1)] = (int(match.group(2)), float(match.group(3)))
    return rows


def test_demo_runs_offline_against_two_emulated_regions() -> None:
    done, elapsed = _run_demo(_clean_env())
    out = done.stdout

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "mode: emulator" in out
    assert "> You said: What does deployment failover do for an Azure OpenAI app?" in out  # the chain, streamed
    assert "tool call: get_weather({'city': 'Paris'}) -> 18 C and sunny in Paris" in out
    assert "> The tool returned: 18 C and sunny in Paris" in out  # the tool's result reached the model
    assert "'repairs': [['call_demo_lost', 'get_weather']], 'actions': ['inserted_missing_result']" in out
    assert "> You said: Never mind. Say hello in five words." in out  # the repaired history was answered
    assert "The Eiffel Tower is in Paris and is 330 metres tall." in out  # the query engine's context
    assert "tool call: get_weather({'city': 'Rome'}) -> 18 C and sunny in Rome" in out  # the LlamaIndex agent
    failovers = out.count("failover: eastus/gpt-4o-mini-ptu -> swedencentral/gpt-4o-mini, at once, no wait")
    assert failovers == 2, "one LangChain and one LlamaIndex call, each moved off the throttled region"
    assert "RateLimitError (HTTP 429, Retry-After 30 s)" in out
    assert out.count("answered by swedencentral/gpt-4o-mini; cost 0.0000") == 2
    rows = _cost_rows(out)
    assert rows["eastus/gpt-4o-mini-ptu"] == (7, 0.0), "PTU calls cost nothing per call"
    sweden_calls, sweden_usd = rows["swedencentral/gpt-4o-mini"]
    assert sweden_calls == 2 and sweden_usd > 0
    assert rows["TOTAL"] == (9, sweden_usd)
    assert elapsed < 30, f"the demo took {elapsed:.1f} s"


def test_demo_with_azure_variables_uses_that_endpoint_and_fails_over_to_it() -> None:
    key = "stand-in-resource-key"
    with AzureEmulator(api_key=key) as resource:
        done, _ = _run_demo(_clean_env(resource.env()))
        received = resource.request_count

    out = done.stdout
    assert done.returncode == 0, done.stderr
    assert "mode: azure" in out and f"endpoint {resource.endpoint}" in out
    assert "deployment gpt-4o-mini (rule: default" in out
    assert "unreachable/gpt-4o-mini: ConnectionFailedError (no answer) -> fail over to yours/gpt-4o-mini" in out
    assert out.count("failover: unreachable/gpt-4o-mini -> yours/gpt-4o-mini") == 2
    # A stream names its deployment, not its region; with one deployment name in both regions, only the
    # non-streamed LlamaIndex call can say which region answered.
    assert "answered by yours/gpt-4o-mini; cost 0.0000" in out
    assert received == 9, "every step's calls reached the configured endpoint"
    assert key not in out
    assert _cost_rows(out)["TOTAL"][0] == 9


def test_demo_emulator_flag_ignores_the_configured_endpoint() -> None:
    done, _ = _run_demo(_clean_env({"AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9"}), "--emulator")
    assert done.returncode == 0, done.stderr
    assert "mode: emulator" in done.stdout


def test_demo_malformed_configuration_exits_2_naming_the_variable() -> None:
    done, _ = _run_demo(_clean_env({"AZURE_OPENAI_TEMPERATURE": "hot"}))
    assert done.returncode == 2
    assert "AZURE_OPENAI_TEMPERATURE" in done.stderr and "doctor" in done.stderr
