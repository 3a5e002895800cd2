"""Pydantic objects with a known validated state, built without running validation, and the check behind it.

Both framework packages build their hot result objects (LangChain's ``AIMessage``/``ChatGeneration``/``ChatResult``
per call and ``ChatGenerationChunk`` per stream chunk; LlamaIndex's ``TextBlock``/``ChatMessage``/``ChatResponse``)
from values that are valid by construction. Validation is most of what those objects cost, so where the state
validation would give is known, :func:`direct_model` sets exactly that state: ``__dict__``, fields set, extras and
private state. Each package compares its direct builders with the validated objects at import
(:func:`same_model_state`) and uses validation instead when the installed framework gives anything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["direct_model", "same_model_state"]

M = TypeVar("M", bound=BaseModel)

_new = object.__new__
# pydantic's slots, set through their descriptors (no attribute lookup on the instance's type).
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def direct_model(cls: type[M], values: dict[str, Any], fields_set: set[str], extra: dict[str, Any] | None = None) -> M:
    """An instance of ``cls`` whose state is ``values`` (every field, in declaration order), as validation sets it.

    ``fields_set`` is what validation would record as given; ``extra`` is ``{}`` for a model that allows extras
    (``None`` otherwise). Nothing is checked here: only use it behind a :func:`same_model_state` check.
    """
    instance: M = _new(cls)
    _set_dict(instance, values)
    _set_fields_set(instance, fields_set)
    _set_extra(instance, extra)
    _set_private(instance, None)
    return instance


def _typed(values: Mapping[str, Any]) -> list[tuple[str, type, Any]]:
    return [(key, type(value), value) for key, value in values.items()]


def same_model_state(built: BaseModel, validated: BaseModel) -> bool:
    """Whether two models have the same type and state: each value of the same type, fields set, extras, private."""
    return (
        type(built) is type(validated)
        and _typed(built.__dict__) == _typed(validated.__dict__)
        and built.__pydantic_fields_set__ == validated.__pydantic_fields_set__
        and built.__pydantic_extra__ == validated.__pydantic_extra__
        and built.__pydantic_private__ == validated.__pydantic_private__
    )
