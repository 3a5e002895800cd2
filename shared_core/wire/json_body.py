"""A request body to bytes, or a typed error naming the value that cannot be sent, before anything is sent.

``json.dumps`` lets ``NaN`` and ``Infinity`` through as tokens no JSON parser accepts (Azure answers 400), and
raises ``TypeError`` (a set, an object), ``RecursionError`` (a structure nested past the interpreter's limit)
or, at the UTF-8 step, ``UnicodeEncodeError`` (a lone surrogate, as a bad decode or a cut emoji leaves). Each
becomes a :class:`ConversationError` (a value inside a message) or a :class:`ConfigurationError` (tools,
settings, ``extra_body``) whose message names the field by its path in the body. The search for the culprit
runs only after a failure: the fast path is one ``json.dumps``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from typing import cast

from shared_core.errors import ConfigurationError, ConversationError, GatewayError
from shared_core.messages import JsonValue

__all__ = ["MAX_DEPTH", "encode_body", "wrong_types_are_typed"]

MAX_DEPTH = 200
"""Deepest nesting reported as too deep when ``json.dumps`` ran out of recursion (real schemas stay under 20)."""
_MESSAGE_KEYS = frozenset({"messages", "input"})
# One encoder, not json.dumps with options (which builds a JSONEncoder per call: about 8,000 instructions).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_body(body: Mapping[str, JsonValue]) -> bytes:
    """The body as compact UTF-8 JSON.

    Raises:
        ConversationError: A message holds a value that cannot be sent.
        ConfigurationError: A tool schema, a setting or ``extra_body`` holds one.
    """
    try:
        return _ENCODER.encode(body).encode("utf-8")
    except (ValueError, TypeError, RecursionError) as exc:  # UnicodeEncodeError is a ValueError
        raise _bad_value(body, exc) from None


@contextmanager
def wrong_types_are_typed() -> Generator[None]:
    """Around a codec: a value of the wrong type (frameworks' types are not enforced at run time) is typed."""
    try:
        yield
    except (TypeError, AttributeError, AssertionError, RecursionError) as exc:
        raise ConversationError(
            f"the request cannot be encoded ({type(exc).__name__}: {exc}); check the types of message contents, "
            "tool schemas and settings (text must be str, schemas JSON objects)"
        ) from exc


def _problem(value: object) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value!r} is not a JSON number (JSON has no NaN or Infinity); send null or a finite number"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (
                f"the text holds a lone surrogate {value[exc.start : exc.end]!r} at character {exc.start}, which "
                "UTF-8 cannot carry (a bad decode or a cut emoji); decode with errors='replace' or remove it"
            )
        return None
    if value is None or isinstance(value, bool | int | float | dict | list | tuple):
        return None
    return f"a {type(value).__name__} is not a JSON value; convert it to a string, number, list or object"


def _find(body: Mapping[str, JsonValue]) -> tuple[str, str]:
    """(path, problem) of the first value that cannot be sent; iterative, so depth cannot break it."""
    stack: list[tuple[str, object, int]] = [("", body, 0)]
    while stack:
        path, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return path, f"it is nested more than {MAX_DEPTH} levels deep; flatten it"
        problem = _problem(value)
        if problem is not None:
            return path, problem
        if isinstance(value, dict):
            items = cast(dict[object, object], value)
            for key, child in reversed(list(items.items())):
                if not isinstance(key, str):
                    return path, f"the key {key!r} is not a string; JSON object keys are strings"
                stack.append((f"{path}.{key}" if path else key, child, depth + 1))
        elif isinstance(value, list | tuple):
            children = list(cast(list[object] | tuple[object, ...], value))
            for index in reversed(range(len(children))):
                stack.append((f"{path}[{index}]", children[index], depth + 1))
    return "", "it cannot be encoded as JSON"


def _bad_value(body: Mapping[str, JsonValue], exc: Exception) -> GatewayError:
    path, problem = _find(body)
    shown = path if len(path) <= 120 else f"{path[:60]}...{path[-40:]}"
    text = f"the request cannot be sent: {shown or 'the body'}: {problem} ({type(exc).__name__})"
    if path.split("[", 1)[0].split(".", 1)[0] in _MESSAGE_KEYS:
        return ConversationError(text)
    return ConfigurationError(text)
