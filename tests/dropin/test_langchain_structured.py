"""``with_structured_output``'s default method and fallback, against ``AzureChatOpenAI``.

Evidence: both classes, same arguments, same emulator; the method each chose shows in the request it sent
(``response_format`` or a forced tool), and the fallback's warning is captured.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic.v1 import BaseModel as BaseModelV1

from azure_openai_emulator import AzureEmulator
from tests.dropin.langchain_pairs import emulator, pair, sent_by

__all__ = ["emulator"]

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


class City(BaseModel):
    """A city."""

    name: str


class CityV1(BaseModelV1):
    """A city (pydantic v1)."""

    name: str


def _method_sent(emulator: AzureEmulator, model: Any, schema: type) -> tuple[str, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runnable = model.with_structured_output(schema, include_raw=True)
    (request,) = sent_by(emulator, lambda: runnable.invoke("Paris"))
    body = request.json
    method = "function_calling" if "tools" in body else str(body.get("response_format", {}).get("type"))
    return method, [str(w.message) for w in caught if "function_calling" in str(w.message)]


@pytest.mark.parametrize(
    ("arguments", "schema", "expected"),
    [
        ({}, City, "json_schema"),
        ({"model": "gpt-4o"}, City, "json_schema"),
        ({"model": "gpt-4"}, City, "function_calling"),
        ({"model": "gpt-35-turbo"}, City, "function_calling"),
        ({"model": "gpt-3.5-turbo"}, City, "function_calling"),
        ({"model": "gpt-4-turbo"}, City, "function_calling"),
        ({}, CityV1, "function_calling"),
    ],
)
def test_default_method_and_fallback_match_the_anchor(
    emulator: AzureEmulator, arguments: dict[str, Any], schema: type, expected: str
) -> None:
    anchor, ours = pair(emulator, **arguments)
    theirs, their_warnings = _method_sent(emulator, anchor, schema)
    mine, my_warnings = _method_sent(emulator, ours, schema)
    assert theirs == mine == expected
    assert bool(their_warnings) == bool(my_warnings) == (expected == "function_calling")


def test_old_api_version_falls_back_to_function_calling_where_the_anchor_sends_json_schema(
    emulator: AzureEmulator,
) -> None:
    # Azure refuses response_format json_schema before 2024-08-01-preview (400); the emulator does not check it.
    anchor, ours = pair(emulator, api_version="2024-06-01")
    mine, my_warnings = _method_sent(emulator, ours, City)
    theirs, their_warnings = _method_sent(emulator, anchor, City)
    assert (theirs, their_warnings) == ("json_schema", [])
    assert mine == "function_calling" and "2024-06-01" in my_warnings[0]
