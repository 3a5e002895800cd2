"""Hypothesis strategies for JSON: arbitrary values, wire-shaped objects, mutations of real Azure payloads.

Mutations are the faults a proxy, a truncating gateway or a changed API version produce: a key dropped, a
value nulled, a value of another type, a string, list or object cut short, a value wrapped in a list.
"""

from __future__ import annotations

import json
import string
from collections.abc import Sequence

from hypothesis import strategies as st

from shared_core.messages import JsonValue

__all__ = [
    "WIRE_KEYS",
    "any_text",
    "json_text",
    "json_values",
    "mutated",
    "mutated_text",
    "wire_objects",
]

# Keys both decoders look for, so that generated objects reach past the first `isinstance` check.
WIRE_KEYS: tuple[str, ...] = (
    "id",
    "object",
    "created",
    "created_at",
    "model",
    "system_fingerprint",
    "choices",
    "index",
    "delta",
    "message",
    "role",
    "content",
    "refusal",
    "tool_calls",
    "function",
    "name",
    "arguments",
    "call_id",
    "type",
    "finish_reason",
    "usage",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
    "cached_tokens",
    "reasoning_tokens",
    "prompt_filter_results",
    "prompt_annotations",
    "prompt_index",
    "content_filter_results",
    "content_filter_result",
    "filtered",
    "severity",
    "detected",
    "error",
    "code",
    "output",
    "output_index",
    "item",
    "response",
    "status",
    "incomplete_details",
    "reason",
    "summary",
    "text",
    "encrypted_content",
    "content_filters",
    "source_type",
    "input_tokens",
    "output_tokens",
    "input_tokens_details",
    "output_tokens_details",
    "sequence_number",
    "obfuscation",
    "annotations",
    "logprobs",
)

any_text = st.text(st.characters(exclude_categories=()), max_size=40)
"""Any Python text, lone surrogates included (what ``errors='surrogateescape'`` decoding can hand over)."""

_keys = st.sampled_from(WIRE_KEYS) | st.text(max_size=8)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["", "stop", "tool_calls", "content_filter", "length", "completed", "function_call", "high"])
)

json_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=5),
    max_leaves=16,
)
"""Arbitrary JSON values (NaN and infinities included: Python's json reads and writes them)."""

wire_objects = st.dictionaries(_keys, json_values, max_size=4)
"""JSON objects whose keys are mostly ones the decoders read."""

json_text = st.builds(json.dumps, json_values)
"""Arbitrary JSON values as text."""


def _paths(value: JsonValue, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.extend(_paths(child, (*prefix, index)))
    return out


def _cut(value: JsonValue, keep: int) -> JsonValue:
    if isinstance(value, str):
        return value[:keep]
    if isinstance(value, list):
        return value[:keep]
    if isinstance(value, dict):
        return dict(list(value.items())[:keep])
    return str(value)


class _Drop:
    """Marks a node to remove rather than replace."""


_DROP = _Drop()


def _replace(value: JsonValue, path: Sequence[str | int], new: JsonValue | _Drop) -> JsonValue:
    """A copy of ``value`` with the node at ``path`` replaced (or removed, when ``new`` is ``_DROP``)."""
    if not path:
        return None if isinstance(new, _Drop) else new
    head, rest = path[0], path[1:]
    if isinstance(value, dict) and isinstance(head, str):
        copy = dict(value)
        if not rest and isinstance(new, _Drop):
            del copy[head]
        else:
            copy[head] = _replace(value[head], rest, new)
        return copy
    if isinstance(value, list) and isinstance(head, int):
        items = list(value)
        if not rest and isinstance(new, _Drop):
            del items[head]
        else:
            items[head] = _replace(value[head], rest, new)
        return items
    return value


def _get(value: JsonValue, path: Sequence[str | int]) -> JsonValue:
    for step in path:
        match value, step:
            case dict(), str():
                value = value[step]
            case list(), int():
                value = value[step]
            case _:
                pass
    return value


@st.composite
def mutated(draw: st.DrawFn, value: JsonValue, max_mutations: int = 4) -> JsonValue:
    """``value`` after one to ``max_mutations`` mutations at random places."""
    for _ in range(draw(st.integers(min_value=1, max_value=max_mutations))):
        path = draw(st.sampled_from(_paths(value)))
        node = _get(value, path)
        op = draw(st.sampled_from(["drop", "null", "retype", "cut", "wrap", "empty"]))
        if op == "drop":
            value = _replace(value, path, _DROP)
        elif op == "null":
            value = _replace(value, path, None)
        elif op == "retype":
            value = _replace(value, path, draw(json_values))
        elif op == "cut":
            value = _replace(value, path, _cut(node, draw(st.integers(min_value=0, max_value=6))))
        elif op == "wrap":
            value = _replace(value, path, [node])
        else:
            value = _replace(value, path, draw(st.sampled_from(["", [], {}, 0, False])))
    return value


@st.composite
def mutated_text(draw: st.DrawFn, value: JsonValue) -> str:
    """``value`` as wire text: mutated, or truncated mid-text, or with a junk byte's worth of noise."""
    how = draw(st.sampled_from(["mutate", "truncate", "noise", "as_is"]))
    if how == "mutate":
        return json.dumps(draw(mutated(value)))
    text = json.dumps(value)
    if how == "truncate":
        return text[: draw(st.integers(min_value=0, max_value=max(len(text) - 1, 0)))]
    if how == "noise":
        at = draw(st.integers(min_value=0, max_value=len(text)))
        return text[:at] + draw(st.sampled_from([*string.punctuation, "\x00", "\ufffd", "\ud800"])) + text[at:]
    return text
