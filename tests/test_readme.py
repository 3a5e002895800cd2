"""README.md, executed: every Python block runs against the emulator, every TOML block loads, every command checks.

Python blocks run in order, each in a fresh namespace, with the ``AZURE_OPENAI_*`` variables pointing at one
in-process emulator (blocks that start their own emulators use those). A block whose first line is
``# needs: azure`` is skipped: it needs a real resource. The configuration table is checked against the
configuration code, the test references in "Differences" against the test files, and the doctor's sample
output against a real doctor run.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from azure_openai_emulator import AzureEmulator, parse_fault
from shared_core import load_config
from shared_core.config import CONFIG_FILE_ENV, ENV_VARS, FILE_KEYS
from shared_core.config_file import DEPLOYMENT_KEYS, ENDPOINT_KEYS
from shared_core.doctor import main as doctor_main
from tests.support.recordings import REPO_ROOT

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

README = REPO_ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)
KEY = "readme-key"
SETUP_DEMO = "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[all]' && python -m demo"
SETUP_TESTS = "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[dev]' && python -m pytest"

# What each Python block must print, keyed by a phrase that identifies the block. A new block must be added
# here, so that nothing in the README runs without its output being checked.
EXPECTED_OUTPUT = {
    "chain.stream": ("You said: Say hello to Ada.", "'name': 'get_weather', 'args': {'city': 'Paris'}", "'amount'"),
    "SummaryIndex": ("You said: Say hello.", "The Eiffel Tower is 330 metres tall.", "TOTAL"),
    "gateway = Gateway()": ("You said: Say hello", "You said: Count to five", "CallCost("),
    "faults=throttled": ("swedencentral\n", "swedencentral/gpt-4o-mini"),
    "emulator.script(": ("Hello! 2",),
    "use_providers(provider)": ("chat gpt-4o-mini", " USD"),
}


def blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(TEXT) if lang == language]


PYTHON = blocks("python")


def _needs_azure(block: str) -> bool:
    return block.lstrip().startswith("# needs: azure")


@pytest.fixture(scope="module")
def emulator() -> Iterator[AzureEmulator]:
    with AzureEmulator(api_key=KEY) as running:
        yield running


@pytest.fixture
def azure_env(emulator: AzureEmulator, monkeypatch: pytest.MonkeyPatch) -> AzureEmulator:
    for name in [n for n in os.environ if n.startswith(("AZURE_", "OPENAI_", "IDENTITY_"))]:
        monkeypatch.delenv(name)
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    emulator.reset()
    return emulator


# -- the commands --------------------------------------------------------------------------------------------


def test_readme_first_command_runs_the_demo_and_the_second_is_ci() -> None:
    commands = [line for block in blocks("bash") for line in block.splitlines()]
    assert commands[:2] == [SETUP_DEMO, SETUP_TESTS]
    assert TEXT.index(SETUP_DEMO) < TEXT.index("## Install")  # both near the top
    assert (REPO_ROOT / "demo" / "__main__.py").is_file()
    assert "python -m pytest" in (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_commands_name_existing_tests_and_valid_faults() -> None:
    lines = [line for block in blocks("bash") for line in block.splitlines()]
    for line in lines:
        for path in re.findall(r"\btests/\S+\.py", line):
            assert (REPO_ROOT / path).is_file(), path
        for spec in re.findall(r"--fault (\S+)", line):
            assert parse_fault(spec).kind
    assert any("--record-mode=rewrite" in line for line in lines)


# -- the Python examples -------------------------------------------------------------------------------------


def test_readme_python_blocks_each_have_expected_output() -> None:
    runnable = [b for b in PYTHON if not _needs_azure(b)]
    assert len(runnable) >= 5
    for block in runnable:
        assert [key for key in EXPECTED_OUTPUT if key in block], f"register this block:\n{block[:200]}"


@pytest.mark.parametrize("block", PYTHON, ids=[f"block{i}" for i in range(len(PYTHON))])
def test_readme_python_block_runs_against_the_emulator(
    block: str, azure_env: AzureEmulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    if _needs_azure(block):
        pytest.skip("needs a real Azure resource")
    namespace: dict[str, object] = {"__name__": "readme"}
    exec(compile(block, str(README), "exec"), namespace)
    printed = capsys.readouterr().out
    for key, expected in EXPECTED_OUTPUT.items():
        if key in block:
            for text in expected:
                assert text in printed, f"{text!r} not printed by the block with {key!r}"
    if "AzureEmulator(" not in block:
        assert azure_env.request_count > 0, "the block reached the endpoint the AZURE_OPENAI_* variables name"


# -- configuration -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(len(blocks("toml"))))
def test_readme_toml_block_loads(index: int, tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(blocks("toml")[index], encoding="utf-8")
    config = load_config(config_file=path, env={"AZURE_OPENAI_API_KEY": "placeholder-value"})
    assert config.default_deployment
    if config.endpoints:
        assert [e.name for e in config.endpoints] == ["eastus", "swedencentral"]
        assert config.sources["routing"].startswith("file ") and config.prices["gpt-4o"].output_per_million == 10
        assert [d.ptu for d in config.endpoints[0].deployments] == [True, False]


def test_readme_configuration_table_names_every_variable_and_key() -> None:
    section = TEXT[TEXT.index("## Configuration") : TEXT.index("## Authentication")]
    variables = {v for names in ENV_VARS.values() for v in names} | {CONFIG_FILE_ENV}
    missing = [v for v in sorted(variables) if f"`{v}`" not in section]
    missing += [k for k in sorted(FILE_KEYS) if f"`{k}`" not in section]
    missing += [k for k in sorted(ENDPOINT_KEYS | DEPLOYMENT_KEYS) if f"`{k}`" not in section]
    assert missing == []


def test_readme_install_table_names_every_extra() -> None:
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    section = TEXT[TEXT.index("## Install") : TEXT.index("## LangChain")]
    assert [e for e in extras if e != "dev" and e not in section] == []


# -- references ----------------------------------------------------------------------------------------------


def test_readme_differences_cite_tests_that_exist() -> None:
    section = TEXT[TEXT.index("## Differences from") :]
    cited = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", section)
    assert len(cited) >= 12
    for path, name in cited:
        source = (REPO_ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"^(async )?def {name}\(", source, flags=re.MULTILINE), f"{path}::{name}"


def test_readme_relative_links_point_at_files() -> None:
    links = [link for link in re.findall(r"\]\(([^)#:]+)\)", TEXT) if not link.startswith("http")]
    assert "cassettes/README.md" in links and "docs/emulator.md" in links
    assert [link for link in links if not (REPO_ROOT / link).exists()] == []


def test_readme_doctor_sample_matches_a_doctor_run(
    azure_env: AzureEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = next(b for b in blocks("console") if b.startswith("$ python -m shared_core doctor"))
    assert doctor_main([]) == 0
    run = capsys.readouterr().out.splitlines()
    shown = sample.splitlines()[1:]
    assert [line[:20] for line in shown if line.startswith("[")] == [line[:20] for line in run if line.startswith("[")]
    credential = next(line for line in shown if "] credential" in line)
    assert credential in run
    assert shown[-1] == run[-1]
