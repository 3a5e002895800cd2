"""Issue 13's size measures of ``shared_core``: async-twin lines, the longest function, the largest file.

Run: ``python -m benchmarks.code_shape [package_dir]`` (default ``shared_core``).

* **Async twins**: every function ``aX`` (or ``_aX``, or ``_async_X``) whose sync twin ``X`` (``_X``,
  ``_sync_X``) is defined in the same scope (module or class). A twin's lines are its body's non-blank lines,
  the docstring left out (the signature is not counted: it mirrors the sync one by design).
* **Longest function**: ``end_lineno - lineno + 1`` of every ``def``, its signature and docstring included.
* **Largest file**: lines of each ``.py`` file.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

Func = ast.FunctionDef | ast.AsyncFunctionDef


def _twin(name: str) -> str | None:
    """The sync twin's name for an async-twin name, or ``None`` when the name is not one."""
    prefix = "_" * (len(name) - len(name.lstrip("_")))
    bare = name[len(prefix) :]
    if bare.startswith("async_"):
        return f"{prefix}sync_{bare[len('async_') :]}"
    if bare.startswith("a") and len(bare) > 1:
        return prefix + bare[1:]
    return None


def _body_lines(func: Func, source: list[str]) -> int:
    body = func.body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        body = body[1:]
    if not body:
        return 0
    start, end = body[0].lineno, func.end_lineno or body[-1].lineno
    return sum(1 for line in source[start - 1 : end] if line.strip())


def _scopes(tree: ast.Module) -> list[list[Func]]:
    scopes: list[list[Func]] = [[n for n in tree.body if isinstance(n, Func)]]
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            scopes.append([n for n in node.body if isinstance(n, Func)])
    return scopes


def measure(root: Path) -> dict[str, object]:
    """The figures for every ``.py`` file under ``root``."""
    twins: list[tuple[str, int]] = []
    functions: list[tuple[str, int]] = []
    files: list[tuple[str, int]] = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        source = text.splitlines()
        rel = path.relative_to(root.parent).as_posix()
        files.append((rel, len(source)))
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, Func):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                functions.append((f"{rel}:{node.lineno} {node.name}", length))
        for scope in _scopes(tree):
            names = {f.name for f in scope}
            for func in scope:
                twin = _twin(func.name)
                if twin is not None and twin in names:
                    twins.append((f"{rel}:{func.lineno} {func.name}", _body_lines(func, source)))
    return {
        "twins": twins,
        "twin_lines": sum(n for _, n in twins),
        "longest_functions": sorted(functions, key=lambda f: -f[1])[:5],
        "largest_files": sorted(files, key=lambda f: -f[1])[:5],
    }


def main() -> None:
    """Print the figures."""
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "shared_core")
    figures = measure(root)
    twins = figures["twins"]
    assert isinstance(twins, list)
    for name, lines in twins:  # pyright: ignore[reportUnknownVariableType]
        print(f"  twin {lines:4d}  {name}")
    print(f"async twins: {len(twins)} functions, {figures['twin_lines']} body lines")  # pyright: ignore[reportUnknownArgumentType]
    print(f"longest functions: {figures['longest_functions']}")
    print(f"largest files: {figures['largest_files']}")


if __name__ == "__main__":
    main()
