"""Structured output through Azure's ``json_schema`` response format, where the model and api-version allow it.

Elsewhere (older api-versions, models without structured outputs) LlamaIndex's function-calling program is used
instead, with the tool call forced.
"""

from __future__ import annotations

import re
from typing import TypeVar

from llama_index.core.base.llms.types import ChatResponse
from pydantic import BaseModel

from llamaindex_azure_gateway.errors import ModelRefusalError
from shared_core import ModelProfile

__all__ = ["JSON_SCHEMA_API_VERSION", "json_schema_allowed", "parse_structured_response"]

JSON_SCHEMA_API_VERSION = "2024-08-01-preview"
"""The first Chat Completions api-version that accepts ``response_format: json_schema``."""

_DATED = re.compile(r"^\d{4}-\d{2}-\d{2}")
Model = TypeVar("Model", bound=BaseModel)


def json_schema_allowed(profile: ModelProfile, api_version: str, *, responses_api: bool) -> bool:
    """Whether a request may ask for ``json_schema`` output.

    The Responses API exists only on api-versions that accept it; on Chat Completions it arrived with
    2024-08-01-preview, and ``v1`` / ``latest`` / ``preview`` are newer than any dated version.
    """
    if not profile.supports_json_schema:
        return False
    if responses_api or not _DATED.match(api_version):
        return True
    return api_version[:10] >= JSON_SCHEMA_API_VERSION[:10]


def parse_structured_response(output_cls: type[Model], response: ChatResponse) -> Model:
    """Validate the answer of a ``json_schema`` request into ``output_cls``.

    Raises:
        ModelRefusalError: The model refused (the refusal is quoted; also a ``ValueError``).
        ValueError: The answer does not match the schema (pydantic's ``ValidationError``).
    """
    raw = response.raw if isinstance(response.raw, dict) else {}
    refusal = raw.get("refusal")
    if refusal:
        raise ModelRefusalError(
            f"the model refused to produce a {output_cls.__name__}: {refusal}",
            refusal=str(refusal),
            output_type=output_cls.__name__,
        )
    return output_cls.model_validate_json(response.message.content or "")
