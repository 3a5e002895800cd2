"""Every convention name the telemetry module uses is the one ``opentelemetry-semantic-conventions`` defines."""

from __future__ import annotations

from types import ModuleType

import pytest
from opentelemetry.semconv._incubating.attributes import (
    azure_attributes,
    gen_ai_attributes,
    openai_attributes,
)
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.semconv.attributes import error_attributes, http_attributes, server_attributes

from shared_core import telemetry_content, telemetry_names

SOURCES: tuple[ModuleType, ...] = (
    gen_ai_attributes,
    openai_attributes,
    azure_attributes,
    server_attributes,
    error_attributes,
    http_attributes,
    gen_ai_metrics,
)
PREFIXES = ("GEN_AI_", "OPENAI_", "AZURE_", "SERVER_", "ERROR_", "HTTP_")


def convention_constants() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for module in (telemetry_names, telemetry_content):
        found += [(n, v) for n, v in vars(module).items() if n.startswith(PREFIXES) and isinstance(v, str)]
    return found


@pytest.mark.parametrize(("name", "value"), convention_constants())
def test_telemetry_name_is_the_conventions(name: str, value: str) -> None:
    defined = [getattr(m, name) for m in SOURCES if hasattr(m, name)]
    assert defined == [value], f"{name} must be defined once by the conventions, as {value!r}"


def test_telemetry_names_cover_what_the_issue_asks() -> None:
    names = {n for n, _ in convention_constants()}
    assert len(names) >= 30
    assert {"GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS", "GEN_AI_USAGE_REASONING_OUTPUT_TOKENS", "ERROR_TYPE"} <= names


def test_telemetry_enum_values_are_the_conventions() -> None:
    assert gen_ai_attributes.GenAiProviderNameValues.AZURE_AI_OPENAI.value == telemetry_names.PROVIDER_AZURE_OPENAI
    assert gen_ai_attributes.GenAiOperationNameValues.CHAT.value == telemetry_names.OPERATION_CHAT
    assert gen_ai_attributes.GenAiTokenTypeValues.INPUT.value == telemetry_names.TOKEN_INPUT
    assert gen_ai_attributes.GenAiTokenTypeValues.OUTPUT.value == telemetry_names.TOKEN_OUTPUT
    assert set(telemetry_names.API_TYPES.values()) == {v.value for v in openai_attributes.OpenaiApiTypeValues}
