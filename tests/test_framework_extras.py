"""Importing a framework package without its framework raises the ImportError that names the extra to install.

Run in fresh interpreters where the framework's top module is blocked (``sys.modules[name] = None`` makes every
import of it fail, as an uninstalled package does). The LangChain package imports langchain-core before the
core's data layer (benchmarks/README.md, import time) and checks the extra only when that import fails.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CASES = [
    ("langchain_azure_gateway", "langchain_core", "langchain-core", "langchain"),
    ("llamaindex_azure_gateway", "llama_index", "llama-index-core", "llamaindex"),
]


@pytest.mark.parametrize(("package", "blocked", "pypi", "extra"), CASES)
def test_framework_package_without_its_framework_names_the_extra(
    package: str, blocked: str, pypi: str, extra: str
) -> None:
    code = (
        "import sys\n"
        f"sys.modules[{blocked!r}] = None\n"
        "from shared_core import MissingExtraError\n"
        "try:\n"
        f"    import {package}\n"
        "except MissingExtraError as error:\n"
        "    print(type(error).__name__, isinstance(error, ImportError), error)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.startswith("MissingExtraError True "), out.stdout + out.stderr
    assert f"'{pypi}'" in out.stdout and f"pip install 'azure-openai-gateway[{extra}]'" in out.stdout


def test_framework_package_with_its_framework_imports_it_first() -> None:
    code = (
        "import sys\n"
        "import langchain_azure_gateway\n"
        "names = list(sys.modules)\n"
        "print(names.index('langchain_core.language_models.chat_models') < names.index('shared_core.config'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "True", out.stdout + out.stderr
