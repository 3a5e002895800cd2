"""The strict JSON schema of a pydantic class, as ``AzureChatOpenAI`` sends it for ``json_schema`` output.

``AzureChatOpenAI`` hands a pydantic class to the openai SDK, which sends ``model_json_schema()`` made strict:
every object gets ``additionalProperties: false`` and all its properties ``required``; ``$defs`` are made
strict too; a single ``allOf`` is inlined; a ``null`` default is dropped; a ``$ref`` with siblings is resolved
(openai-python, ``openai/lib/_pydantic.py``, ``to_strict_json_schema``; Apache-2.0). The same rules are applied
here so that the two classes send the same schema, without importing the SDK at run time.
"""

from __future__ import annotations

from typing import Any, cast

from pydantic import BaseModel

__all__ = ["strict_json_schema"]


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema, made strict as the openai SDK makes it."""
    schema = model.model_json_schema()
    return _strict(schema, root=schema)


def _strict(node: Any, *, root: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise TypeError(f"expected a JSON schema object, got {node!r}")
    schema = cast(dict[str, Any], node)
    for key in ("$defs", "definitions"):
        defs = schema.get(key)
        if isinstance(defs, dict):
            for sub in cast(dict[str, Any], defs).values():
                _strict(sub, root=root)
    if schema.get("type") == "object" and "additionalProperties" not in schema:
        schema["additionalProperties"] = False
    properties = schema.get("properties")
    if isinstance(properties, dict):
        props = cast(dict[str, Any], properties)
        schema["required"] = list(props)
        schema["properties"] = {key: _strict(value, root=root) for key, value in props.items()}
    items = schema.get("items")
    if isinstance(items, dict):
        schema["items"] = _strict(items, root=root)
    any_of = schema.get("anyOf")
    if isinstance(any_of, list):
        schema["anyOf"] = [_strict(variant, root=root) for variant in cast(list[Any], any_of)]
    all_of = schema.get("allOf")
    if isinstance(all_of, list):
        entries = cast(list[Any], all_of)
        if len(entries) == 1:
            schema.update(_strict(entries[0], root=root))
            schema.pop("allOf")
        else:
            schema["allOf"] = [_strict(entry, root=root) for entry in entries]
    if "default" in schema and schema["default"] is None:
        schema.pop("default")
    ref = schema.get("$ref")
    if isinstance(ref, str) and len(schema) > 1:
        schema.update({**_resolve(root, ref), **schema})
        schema.pop("$ref")
        return _strict(schema, root=root)
    return schema


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"unexpected $ref {ref!r}: only local references (#/...) are supported")
    resolved: Any = root
    for key in ref[2:].split("/"):
        resolved = resolved[key]
    if not isinstance(resolved, dict):
        raise ValueError(f"$ref {ref!r} does not point at a schema object")
    return cast(dict[str, Any], resolved)
