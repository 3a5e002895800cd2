"""Release readiness, as far as it can be read from the source tree: one version, the metadata a registry shows.

Evidence: ``pyproject.toml``, ``CHANGELOG.md``, ``LICENSE`` and the packages as they are on disk. Building the
sdist and wheel, ``twine check`` and running the installed wheel from outside the tree are CI's last step
(``.ci/run``, with ``.ci/wheel_smoke.py``), since they need a fresh virtual environment.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from typing import Any

import pytest

import shared_core
from tests.support.recordings import REPO_ROOT

PYPROJECT: dict[str, Any] = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT: dict[str, Any] = PYPROJECT["project"]
WHEEL_PACKAGES: list[str] = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]


def test_release_version_is_written_once() -> None:
    assert "version" not in PROJECT and PROJECT["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "shared_core/version.py"
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?", shared_core.__version__)
    hits = [
        path.relative_to(REPO_ROOT).as_posix()
        for package in WHEEL_PACKAGES
        for path in (REPO_ROOT / package).rglob("*.py")
        if shared_core.__version__ in path.read_text(encoding="utf-8")
    ]
    assert hits == ["shared_core/version.py"]


def test_release_installed_metadata_matches_the_version() -> None:
    try:
        installed = importlib.metadata.version("azure-openai-gateway")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the distribution is not installed (run from an editable install or the wheel)")
    assert installed == shared_core.__version__


def test_release_changelog_starts_with_this_version() -> None:
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    first = re.search(r"^## \[([^\]]+)\]", changelog, flags=re.MULTILINE)
    assert first is not None and first.group(1) == shared_core.__version__


def test_release_metadata_has_license_urls_and_classifiers() -> None:
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    assert (REPO_ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert {"Homepage", "Repository", "Issues", "Changelog"} <= set(PROJECT["urls"])
    assert all(url.startswith("https://") for url in PROJECT["urls"].values())
    classifiers = set(PROJECT["classifiers"])
    assert {"Typing :: Typed", "Framework :: Jupyter", "Programming Language :: Python :: 3 :: Only"} <= classifiers
    lowest = PROJECT["requires-python"].removeprefix(">=")
    versions = sorted(c.rsplit(":: ", 1)[1] for c in classifiers if re.fullmatch(r".*Python :: 3\.\d+", c))
    assert versions[0] == lowest == "3.11"


def test_release_every_package_in_the_wheel_is_typed() -> None:
    top_level = sorted(
        p.parent.name for p in REPO_ROOT.glob("*/__init__.py") if p.parent.name not in {"tests", "demo", "benchmarks"}
    )
    assert sorted(WHEEL_PACKAGES) == top_level
    assert all((REPO_ROOT / package / "py.typed").is_file() for package in WHEEL_PACKAGES)


def test_release_notebooks_extra_brings_what_the_notebooks_need() -> None:
    names = {re.split(r"[<>=\[]", req)[0] for req in PROJECT["optional-dependencies"]["notebooks"]}
    assert {"jupyterlab", "ipykernel", "matplotlib", "langgraph", "azure-openai-gateway"} <= names


def test_release_ci_installs_the_wheel_not_the_checkout() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    step = ci[ci.index("== wheel") :]
    assert "python -m build" in step and "twine check --strict" in step
    assert '"${wheel}[all]"' in step and "pip install -e" not in step and "pip install -qq -e" not in step
    assert "wheel_smoke.py" in step and (REPO_ROOT / ".ci" / "wheel_smoke.py").is_file()
    assert "python -m demo" in step
