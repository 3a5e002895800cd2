"""The committed notebooks: a clean run's outputs, no secret in them, and only the public API in their code.

Executing them is CI's separate step (``python -m pytest --nbmake notebooks/``); this file reads the saved
JSON only, so ``python -m pytest`` never runs a notebook. Refresh the outputs with
``python notebooks/refresh_outputs.py``.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support.cassettes import KNOWN_SECRETS, secrets_from_env
from tests.support.recordings import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = (
    "01_langchain_quickstart",
    "02_llamaindex_quickstart",
    "03_failover_and_costs",
    "04_agents_and_tools",
    "05_fleet_and_observability",
)

# Credential-shaped text, as the cassette scan defines it, plus the hosts of real Azure resources.
_SECRET_SHAPES: Mapping[str, re.Pattern[str]] = {
    "secret header": re.compile(r"(?i)['\"]?(api-key|authorization|ocp-apim-subscription-key)['\"]?\s*[:=]\s*\S"),
    "bearer token": re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"),
    "JWT-shaped value": re.compile(r"\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*"),
    "sk- key": re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),
    "Azure resource host": re.compile(
        r"(?i)\b(?:[a-z0-9-]+\.)+(?:openai\.azure\.(?:com|us|cn)|cognitiveservices\.azure\.(?:com|us|cn)"
        r"|services\.ai\.azure\.com|azure-api\.net)\b"
    ),
}
# Example hosts the notebooks' prose may name; nothing answers there.
_EXAMPLE_HOSTS = ("example-resource.openai.azure.com", "my-resource.openai.azure.com")
_PUBLIC_PACKAGES = (
    "shared_core",
    "azure_openai_emulator",
    "shared_core.fleet",
    "shared_core.telemetry",
    "langchain_azure_gateway",
    "llamaindex_azure_gateway",
)


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _code_cells(notebook: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def _text(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def _output_texts(notebook: Mapping[str, Any]) -> Iterator[str]:
    for cell in _code_cells(notebook):
        for output in cell["outputs"]:
            if "text" in output:
                yield _text(output["text"])
            for value in output.get("data", {}).values():
                yield value if isinstance(value, str) else json.dumps(value)
            yield from output.get("traceback", [])


def secret_findings(text: str, env_secrets: Mapping[str, str]) -> list[str]:
    """The rules ``text`` breaks (names only, never the value)."""
    found = [rule for rule, pattern in _SECRET_SHAPES.items() if _breaks(pattern, text)]
    found += ["known test secret" for secret in KNOWN_SECRETS if secret in text]
    found += [f"value of ${name}" for name, value in env_secrets.items() if value in text]
    return found


def _breaks(pattern: re.Pattern[str], text: str) -> bool:
    return any(match.group(0).lower() not in _EXAMPLE_HOSTS for match in pattern.finditer(text))


def test_notebooks_are_the_expected_four() -> None:
    assert [path.stem for path in NOTEBOOKS] == list(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_carries_outputs_of_one_clean_run(path: Path) -> None:
    cells = _code_cells(_load(path))
    counts = [cell["execution_count"] for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), "run top to bottom once, from a fresh kernel"
    errors = [o for cell in cells for o in cell["outputs"] if o["output_type"] == "error"]
    assert errors == []
    printed = "".join(_output_texts(_load(path)))
    assert "the emulator" in printed or "eastus" in printed, "outputs come from the emulator, not a real resource"
    assert sum(1 for cell in cells if cell["outputs"]) >= len(cells) - 1  # only the clean-up cell is silent


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_outputs_and_code_hold_no_credentials(path: Path) -> None:
    notebook = _load(path)
    sources = [_text(cell["source"]) for cell in notebook["cells"]]
    findings = [f for text in [*_output_texts(notebook), *sources] for f in secret_findings(text, secrets_from_env())]
    assert findings == []


@pytest.mark.parametrize(
    "planted",
    [
        "api-key: 0123456789abcdef0123456789abcdef",
        "Authorization: Bearer abcdefghijklmnop",
        "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTYifQ.c2lnbmF0dXJl",
        "https://contoso-prod.openai.azure.com/openai/deployments/x",
        "key=test-key",
    ],
)
def test_notebook_secret_scan_flags_a_planted_credential(planted: str) -> None:
    assert secret_findings(f"some output\n{planted}\n", {}) != []
    assert secret_findings("You said: hello from https://example-resource.openai.azure.com", {}) == []


def test_notebook_secret_scan_flags_the_value_of_a_credential_env_var() -> None:
    assert secret_findings("printed 9f8e7d6c5b4a", {"AZURE_OPENAI_API_KEY": "9f8e7d6c5b4a"}) == [
        "value of $AZURE_OPENAI_API_KEY"
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_code_uses_only_the_public_api(path: Path) -> None:
    code = "\n".join(_text(cell["source"]) for cell in _code_cells(_load(path)))
    tree = compile(code, str(path), "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    ours = [
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in {*_PUBLIC_PACKAGES}
    ]
    assert ours and all(module in _PUBLIC_PACKAGES for module in ours), ours
    private = re.findall(r"\.\s*_[a-z]\w*", code)
    assert private == []
    assert 'os.environ.get("AZURE_OPENAI_ENDPOINT")' in code, "runs against the emulator when Azure is not configured"
