"""Import boundaries (DESIGN.md §4.1), the public surface (§4.7) and module size (§4.6), read from the source."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("shared_core", "langchain_azure_gateway", "llamaindex_azure_gateway")
FRAMEWORKS = ("langchain", "langchain_core", "langgraph", "llama_index")
EMULATOR = "azure_openai_emulator"


def source_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def imports_any(path: Path, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in imported_modules(path) if any(m == p or m.startswith(p + ".") for p in prefixes))


def test_architecture_core_never_imports_a_framework_or_openai() -> None:
    offenders = {rel(p): imports_any(p, (*FRAMEWORKS, "openai")) for p in source_files("shared_core")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_architecture_wire_and_transport_never_import_each_other() -> None:
    wire = {rel(p): imports_any(p, ("shared_core.transport",)) for p in (ROOT / "shared_core/wire").rglob("*.py")}
    transport = {rel(p): imports_any(p, ("shared_core.wire",)) for p in (ROOT / "shared_core/transport").rglob("*.py")}
    assert {k: v for k, v in {**wire, **transport}.items() if v} == {}


def test_architecture_only_transport_http_imports_httpx() -> None:
    allowed = {f"shared_core/transport/{name}.py" for name in ("http", "http_clients", "http_errors", "http_response")}
    users = {rel(p) for p in source_files("shared_core") if imports_any(p, ("httpx", "httpx_aiohttp"))}
    assert users <= allowed


def test_architecture_only_transport_http_imports_aiohttp() -> None:
    users = {rel(p) for p in source_files("shared_core") if imports_any(p, ("aiohttp",))}
    assert users <= {"shared_core/transport/http.py", "shared_core/transport/http_clients.py"}
    # the rule is live: the emulator, outside the core, does serve with aiohttp
    assert imports_any(ROOT / "azure_openai_emulator/server.py", ("aiohttp",))


def test_architecture_core_never_imports_the_emulator() -> None:
    # The emulator is a test double for Azure: it lives in its own package and the core holds none of it.
    users = {rel(p): imports_any(p, (EMULATOR,)) for p in source_files("shared_core")}
    assert {k: v for k, v in users.items() if v} == {}
    assert not (ROOT / "shared_core" / "emulator").exists()


def test_architecture_framework_packages_never_import_the_emulator() -> None:
    users = {rel(p): imports_any(p, (EMULATOR,)) for pkg in PACKAGES[1:] for p in source_files(pkg)}
    assert {k: v for k, v in users.items() if v} == {}


def test_architecture_emulator_is_independent_of_the_client_code() -> None:
    # The emulator stands in for Azure: it must not share the code it tests (wire, transport, gateway, config).
    allowed = ("shared_core.messages", "shared_core.extras")
    offenders: dict[str, list[str]] = {}
    for path in source_files(EMULATOR):
        used = [m for m in imports_any(path, ("shared_core",)) if m != "shared_core" and not m.startswith(allowed)]
        if used:
            offenders[rel(path)] = used
    assert offenders == {}


def test_architecture_only_auth_imports_azure_identity() -> None:
    users = {rel(p) for p in source_files("shared_core") if imports_any(p, ("azure.identity", "azure.core"))}
    assert all(Path(u).name.startswith(("auth", "token_cache")) for u in users), users


def test_architecture_framework_packages_use_only_the_root_and_the_integration_module() -> None:
    import shared_core
    import shared_core.integration

    allowed = {"shared_core", "shared_core.integration"}
    allowed |= {f"shared_core.{name}" for name in shared_core.__all__}
    allowed |= {f"shared_core.integration.{name}" for name in shared_core.integration.__all__}
    offenders: dict[str, list[str]] = {}
    for package in PACKAGES[1:]:
        for path in source_files(package):
            other = [m for m in imports_any(path, ("shared_core",)) if m not in allowed]
            if other:
                offenders[rel(path)] = other
    assert offenders == {}


def test_architecture_root_is_small_and_the_integration_module_serves_the_framework_packages() -> None:
    import shared_core
    from shared_core import integration

    assert len(shared_core.__all__) <= 50
    assert set(shared_core.__all__).isdisjoint(integration.__all__)
    assert list(integration.__all__) == sorted(integration.__all__, key=lambda n: (not n.isupper(), n))
    assert "framework packages" in (integration.__doc__ or "") and "minor version" in (integration.__doc__ or "")
    # every integration name is there because a framework package uses it
    used = {
        m.rsplit(".", 1)[1]
        for package in PACKAGES[1:]
        for path in source_files(package)
        for m in imports_any(path, ("shared_core.integration",))
        if m != "shared_core.integration"
    }
    assert set(integration.__all__) - used == set()


def test_architecture_framework_packages_never_import_each_other() -> None:
    lc = {rel(p) for p in source_files("langchain_azure_gateway") if imports_any(p, ("llama_index",))}
    li = {rel(p) for p in source_files("llamaindex_azure_gateway") if imports_any(p, ("langchain_core", "langchain"))}
    assert lc | li == set()


@pytest.mark.parametrize("package", [*PACKAGES, EMULATOR])
def test_architecture_all_is_sorted_and_matches_public_names(package: str) -> None:
    module = importlib.import_module(package)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n)) or exported == sorted(exported)
    assert len(set(exported)) == len(exported)
    tree = ast.parse((ROOT / package.replace(".", "/") / "__init__.py").read_text(encoding="utf-8"))
    bound: set[str] = set()
    # A name imported on first use (a module ``__getattr__``) is declared under ``if TYPE_CHECKING:`` for checkers.
    checking = [n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test).endswith("TYPE_CHECKING")]
    for node in [*tree.body, *(child for block in checking for child in block.body)]:
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            bound.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            bound.add(node.name)
    public = {name for name in bound if not name.startswith("_")}
    assert set(exported) == public
    for name in exported:
        assert hasattr(module, name), name


def test_architecture_submodule_all_entries_exist() -> None:
    missing: list[str] = []
    for path in [*source_files("shared_core"), *source_files(EMULATOR)]:
        if path.name in {"__init__.py", "__main__.py"}:
            continue
        name = rel(path).removesuffix(".py").replace("/", ".")
        module = importlib.import_module(name)
        for entry in getattr(module, "__all__", ()):
            if not hasattr(module, entry):
                missing.append(f"{name}.{entry}")
    assert missing == []


def test_architecture_files_stay_under_600_lines() -> None:
    files = [p for pkg in (*PACKAGES, EMULATOR, "tests", "benchmarks") for p in (ROOT / pkg).rglob("*.py")]
    big = {rel(p): n for p in files if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600}
    assert big == {}


def test_architecture_no_grab_bag_module_names() -> None:
    bad = [
        rel(p)
        for pkg in (*PACKAGES, EMULATOR)
        for p in source_files(pkg)
        if p.stem in {"utils", "helpers", "common", "misc"}
    ]
    assert bad == []


def test_architecture_importing_core_loads_no_heavy_dependency() -> None:
    code = (
        "import sys; from shared_core import *; "  # every public name, so the whole pipeline is loaded
        "heavy = [m for m in ('openai', 'azure.identity', 'langchain_core', 'llama_index.core',"
        " 'azure_openai_emulator')"
        " if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""


def test_architecture_source_files_stay_at_500_lines_or_fewer() -> None:
    """Issue 13 item 8: every source module 500 lines or fewer (tests and benchmarks: 600, above)."""
    files = [p for pkg in (*PACKAGES, EMULATOR) for p in source_files(pkg)]
    big = {rel(p): n for p in files if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert big == {}


def test_architecture_functions_stay_at_50_lines_or_fewer() -> None:
    """Issue 13 item 8: every function of the source packages 50 lines or fewer, signature and docstring included."""
    long: dict[str, int] = {}
    for pkg in (*PACKAGES, EMULATOR):
        for path in source_files(pkg):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > 50:
                        long[f"{rel(path)}:{node.lineno} {node.name}"] = length
    assert long == {}


def test_architecture_async_twins_stay_thin() -> None:
    """Issue 13 item 8: the async twins of ``shared_core`` (each ``aX`` beside its ``X``) under 150 body lines in all,
    counted as ``python -m benchmarks.code_shape`` counts them."""
    from benchmarks.code_shape import measure

    figures = measure(ROOT / "shared_core")
    assert isinstance(figures["twin_lines"], int)
    assert figures["twin_lines"] < 150, figures["twins"]
