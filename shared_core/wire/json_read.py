"""Reading Azure's JSON: one stream record parsed, and typed values read from parsed fields.

``json.loads`` on a ``str`` runs three Python frames and two whitespace regular expressions around the C
scanner; on a stream of a few hundred small records that is about a sixth of the parse. :func:`load_record`
scans a record that is one JSON value from its first character to its last (every record Azure sends)
directly; anything else (surrounding whitespace, extra data, a byte-order mark, no value at all) goes to
``json.loads``, so the value returned and the error raised are exactly ``json.loads``' own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.scanner import make_scanner
from typing import Any, cast

from shared_core.messages import JsonValue

__all__ = ["json_int", "json_str", "kept", "load_record"]

# What ``json.loads`` scans with: a default decoder's scanner (the C one where ``_json`` is built).
_scan = cast(Callable[[str, int], tuple[JsonValue, int]], make_scanner(cast(Any, json.JSONDecoder())))


def load_record(data: str) -> JsonValue:
    """``json.loads(data)``, faster for a record that is exactly one JSON value.

    Raises:
        ValueError: As ``json.loads`` raises it (``json.JSONDecodeError``, or an integer too long to convert).
        RecursionError: The value is nested deeper than the parser goes.
    """
    try:
        value, end = _scan(data, 0)
    except StopIteration:  # no value at the first character: json.loads says why (or skips the whitespace)
        return json.loads(data)
    if end != len(data):
        return json.loads(data)
    return value


def json_str(value: JsonValue) -> str | None:
    """A non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None


def json_int(value: JsonValue) -> int | None:
    """An integer (not a boolean), else ``None``."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def kept(value: JsonValue) -> bool:
    """Whether a field carries anything: ``null``, ``[]`` and ``{}`` do not (and are not kept as details)."""
    return value is not None and value not in ([], {})
