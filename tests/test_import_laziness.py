"""What importing a package loads, and what it leaves for first use (issue 18: import time).

The pipeline (``shared_core.gateway``: transport, auth, codecs, failover, fleet, telemetry) is imported when a
model builds its gateway, not when a framework package is imported; the framework packages' pydantic validators
are built with the first model. The import-time figures themselves are in ``benchmarks/imports.py``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

import shared_core

ROOT = Path(__file__).resolve().parents[1]

# Loaded by the gateway and only by it: none may be imported before a model builds its gateway.
PIPELINE = (
    "shared_core.gateway",
    "shared_core.transport.http",
    "shared_core.transport.failover",
    "shared_core.auth",
    "shared_core.token_cache",
    "shared_core.fleet",
    "shared_core.transport.redis_health",
    "shared_core.wire.chat_completions",
    "shared_core.wire.responses",
    "shared_core.stream_folder",
    "shared_core.telemetry",
    "shared_core.events",
)


def _run(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it leaves its findings in ``out``, printed as JSON."""
    script = f"import json, sys\nout = {{}}\n{code}\nprint(json.dumps(out))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _loaded_after(statement: str, then: str = "") -> dict[str, object]:
    return _run(
        f"{statement}\n"
        f"out['pipeline'] = [m for m in {PIPELINE!r} if m in sys.modules]\n"
        "out['core'] = sorted(m for m in sys.modules if m.startswith('shared_core'))\n"
        f"{then}"
    )


def test_import_laziness_core_root_loads_no_submodule() -> None:
    out = _loaded_after("import shared_core")
    assert out["core"] == ["shared_core", "shared_core.version"]


@pytest.mark.parametrize(
    ("package", "model_module", "model", "build"),
    [
        pytest.param(
            "langchain_azure_gateway",
            "chat_model",
            "AzureGatewayChatModel",
            "AzureGatewayChatModel(azure_endpoint='https://r.openai.azure.com', api_key='k', azure_deployment='d')",
            id="langchain",
        ),
        pytest.param(
            "llamaindex_azure_gateway",
            "llm",
            "AzureGatewayLLM",
            "AzureGatewayLLM(azure_endpoint='https://r.openai.azure.com', api_key='k', engine='d')",
            id="llamaindex",
        ),
    ],
)
def test_import_laziness_framework_package_defers_the_pipeline_to_the_first_model(
    package: str, model_module: str, model: str, build: str
) -> None:
    out = _loaded_after(
        f"import {package}",
        then=(
            # The model class is loaded by `import X`, so the benchmark's `import X` is the cost a user pays.
            f"out['model_loaded'] = '{package}.{model_module}' in sys.modules\n"
            f"from {package} import {model}\n"
            f"out['validator_built_at_import'] = {model}.__pydantic_complete__\n"
            f"{build}.gateway\n"
            f"out['validator_built_after'] = {model}.__pydantic_complete__\n"
            f"out['pipeline_after'] = [m for m in {PIPELINE!r} if m in sys.modules]\n"
        ),
    )
    assert out["pipeline"] == []
    assert out["model_loaded"] is True
    assert out["validator_built_at_import"] is False
    assert out["validator_built_after"] is True
    assert {"shared_core.gateway", "shared_core.transport.http"} <= set(out["pipeline_after"])  # type: ignore[arg-type]


def test_import_laziness_pipeline_names_real_modules() -> None:
    # A renamed module must fail here rather than pass the "not loaded" checks above for want of a name.
    assert [m for m in PIPELINE if importlib.util.find_spec(m) is None] == []


def test_import_laziness_every_public_name_resolves_to_its_defining_object() -> None:
    for name in shared_core.__all__:
        value = getattr(shared_core, name)
        module = importlib.import_module(shared_core._MODULE_OF[name])
        assert value is getattr(module, name), name
    assert set(shared_core.__all__) <= set(dir(shared_core))
    assert set(shared_core._MODULE_OF) == set(shared_core.__all__)


def test_import_laziness_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        _ = shared_core.NoSuchName  # type: ignore[attr-defined]
    with pytest.raises(ImportError, match="NoSuchName"):
        exec("from shared_core import NoSuchName", {})


# Loaded only for what needs them: a config file (tomllib), structured output's JSON and pydantic parsers, and
# langchain_core's tool base class (an annotation in the LangChain package).
ON_DEMAND = (
    "tomllib",
    "langchain_core.tools.base",
    "langchain_core.output_parsers.json",
    "langchain_core.output_parsers.pydantic",
)


@pytest.mark.parametrize(
    ("floor", "package"),
    [
        pytest.param("langchain_core.language_models.chat_models", "langchain_azure_gateway", id="langchain"),
        pytest.param("llama_index.core.llms.function_calling", "llamaindex_azure_gateway", id="llamaindex"),
    ],
)
def test_import_laziness_package_loads_no_on_demand_module_its_floor_does_not(floor: str, package: str) -> None:
    out = _run(
        f"import {floor}\n"
        f"before = set(sys.modules)\n"
        f"import {package}\n"
        f"out['added'] = sorted(m for m in {ON_DEMAND!r} if m in sys.modules and m not in before)\n"
    )
    assert out["added"] == []
