"""The Python examples in ``docs/emulator.md`` run as written (each against its own in-process emulator)."""

from __future__ import annotations

import re

import pytest

from tests.support.recordings import REPO_ROOT

DOC = REPO_ROOT / "docs" / "emulator.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_emulator_docs_have_python_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_emulator_docs_example_runs(block: str, capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {"__name__": "emulator_docs"}
    exec(compile(block, str(DOC), "exec"), namespace)
    for name, value in list(namespace.items()):
        if name.startswith("test_") and callable(value):
            value()
    printed = capsys.readouterr().out
    if "print(" in block:
        assert "You said: Hello" in printed
