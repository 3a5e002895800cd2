"""``python -m azure_openai_emulator``: see :mod:`azure_openai_emulator.cli`."""

from __future__ import annotations

from azure_openai_emulator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
