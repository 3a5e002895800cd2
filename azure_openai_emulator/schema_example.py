"""A minimal JSON value valid against a JSON schema: what the emulator fills tool arguments and answers with.

Pure and deterministic: the same schema always gives the same value, so tests can compare answers.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared_core.messages import JsonValue

__all__ = ["schema_instance"]

_MAX_DEPTH = 8


def _resolve(schema: Mapping[str, JsonValue], root: JsonValue) -> Mapping[str, JsonValue]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: JsonValue = root
    for key in ref[2:].split("/"):
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def schema_instance(schema: JsonValue, *, root: JsonValue = None, depth: int = 0) -> JsonValue:
    """A minimal JSON value valid against ``schema``: every property filled, first enum value, bounds kept.

    Handles ``type`` (one or a list), ``enum``, ``const``, ``default``, ``anyOf``/``oneOf``/``allOf`` (first
    branch), local ``$ref`` (``#/$defs/…``), nested objects and arrays (``minItems``, at least one item).
    """
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None if depth > _MAX_DEPTH else "example"
    top = root if root is not None else schema
    node = _resolve(schema, top)
    for key in ("const", "default"):
        if key in node:
            return node[key]
    enum = node.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf", "allOf"):
        branches = node.get(key)
        if isinstance(branches, list) and branches:
            return schema_instance(branches[0], root=top, depth=depth + 1)
    kind = node.get("type", "object" if "properties" in node else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    return _typed_instance(node, kind, top, depth)


def _typed_instance(schema: Mapping[str, JsonValue], kind: JsonValue, root: JsonValue, depth: int) -> JsonValue:
    match kind:
        case "object":
            props = schema.get("properties")
            props = props if isinstance(props, dict) else {}
            return {name: schema_instance(sub, root=root, depth=depth + 1) for name, sub in props.items()}
        case "array":
            low = schema.get("minItems")
            count = max(1, low if isinstance(low, int) else 1)
            return [schema_instance(schema.get("items", {}), root=root, depth=depth + 1) for _ in range(count)]
        case "integer" | "number":
            value = _number(schema)
            return int(value) if kind == "integer" else float(value)
        case "boolean":
            return True
        case "null":
            return None
        case _:
            return _string(schema)


def _bound(schema: Mapping[str, JsonValue], key: str) -> float | None:
    value = schema.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _number(schema: Mapping[str, JsonValue]) -> float:
    low, low_open = _bound(schema, "minimum"), _bound(schema, "exclusiveMinimum")
    high, high_open = _bound(schema, "maximum"), _bound(schema, "exclusiveMaximum")
    value = low if low is not None else (low_open + 1 if low_open is not None else 0.0)
    if high is not None and value > high:
        value = high
    if high_open is not None and value >= high_open:
        value = high_open - 1
    return value


_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def _string(schema: Mapping[str, JsonValue]) -> str:
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt]
    low, high = schema.get("minLength"), schema.get("maxLength")
    text = "example"
    if isinstance(low, int) and low > len(text):
        text = text * (low // len(text) + 1)
    return text[:high] if isinstance(high, int) else text
