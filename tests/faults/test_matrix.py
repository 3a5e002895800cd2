"""The fault matrix's table (``tests/faults/__init__.py``) and its test modules name the same tests."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import tests.faults

_ROW = re.compile(r"^\s*→ (\w+)::(\w+)\s*$")
_SCENARIO = re.compile(r"^(\d\d)\. ")


def _table() -> list[tuple[str, str]]:
    doc = tests.faults.__doc__ or ""
    return [(m.group(1), m.group(2)) for line in doc.splitlines() if (m := _ROW.match(line))]


def _defined() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in sorted(Path(tests.faults.__file__).parent.glob("test_*.py")):
        if path.stem == "test_matrix":
            continue
        module = importlib.import_module(f"tests.faults.{path.stem}")
        found |= {
            (path.stem, name)
            for name, fn in inspect.getmembers(module, inspect.isfunction)
            if name.startswith("test_") and fn.__module__ == module.__name__
        }
    return found


def test_matrix_table_names_every_fault_test_and_only_those() -> None:
    table = _table()
    assert len(table) == len(set(table)), "a test is listed twice"
    assert set(table) == _defined()


def test_matrix_table_has_every_scenario_of_the_issue() -> None:
    numbers = [m.group(1) for line in (tests.faults.__doc__ or "").splitlines() if (m := _SCENARIO.match(line))]
    assert numbers == [f"{n:02d}" for n in range(1, 24)], "23 scenarios, in the issue's order"
