"""Re-run the notebooks from a clean kernel and save them with their outputs: ``python notebooks/refresh_outputs.py``.

The committed outputs must come from the emulator, never from a real resource: every ``AZURE_*``, ``OPENAI_*``
and managed-identity variable is removed from the kernel's environment first. Timing metadata is not
recorded and consecutive stream outputs are merged, so a re-run changes only what the cells printed.
``tests/test_notebooks.py`` checks the result (clean run, no secrets); CI executes the notebooks with
``python -m pytest --nbmake notebooks/``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
_DROPPED = ("AZURE_", "OPENAI_", "IDENTITY_", "MSI_")


def _coalesce(outputs: list[nbformat.NotebookNode]) -> list[nbformat.NotebookNode]:
    merged: list[nbformat.NotebookNode] = []
    for out in outputs:
        last = merged[-1] if merged else None
        if last is not None and out.output_type == last.output_type == "stream" and out.name == last.name:
            last.text += out.text
        else:
            merged.append(out)
    return merged


def refresh(path: Path) -> None:
    """Execute one notebook in its directory and write it back with its outputs."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", record_timing=False, resources={"metadata": {"path": str(HERE)}}
    )
    client.execute()
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = _coalesce(cell.outputs)
    nbformat.validate(notebook)
    nbformat.write(notebook, path)


def main(names: list[str]) -> int:
    """Refresh the named notebooks (all of them by default)."""
    for name in list(os.environ):
        if name.startswith(_DROPPED):
            del os.environ[name]
    paths = [Path(n) for n in names] or sorted(HERE.glob("*.ipynb"))
    for path in paths:
        refresh(path)
        print(f"refreshed {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
