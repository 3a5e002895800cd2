"""``python -m shared_core.emulator``: see :mod:`shared_core.emulator.cli`."""

from __future__ import annotations

from shared_core.emulator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
