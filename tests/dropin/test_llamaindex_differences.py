"""Each row of the README table "Differences from llama-index AzureOpenAI" is pinned: the difference it names
still occurs (so the table never lists one that is gone), and every row names the test that shows it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from azure_openai_emulator import AzureEmulator, DeploymentInfo
from tests.dropin.llamaindex_support import API_KEY, TABLE_TITLE, Difference, documented_differences, memo
from tests.dropin.test_llamaindex_calls import matrix_differences
from tests.dropin.test_llamaindex_fields import FIELD_CASES, TAGS, TOKEN, run_field_case
from tests.dropin.test_llamaindex_replay import REPLAYED, replay_differences
from tests.dropin.test_llamaindex_results import metadata_differences

# The first id of each row, and where it shows: (kind, what); kinds: chat / responses / unset (a call-matrix
# scenario on that API, or without model=), field (a field case), replay (a recording), metadata (a model).
PINS: dict[str, tuple[str, str]] = {
    "body.model:omitted": ("chat", "chat"),
    "body.stream:omitted": ("chat", "chat"),
    "body.null-omitted": ("responses", "chat"),
    "body.tools:omitted": ("responses", "chat"),
    "body.stream_options:added": ("chat", "stream_chat"),
    "header.accept": ("chat", "stream_chat"),
    "result.stream.empty-chunks": ("chat", "stream_chat"),
    "result.raw:type": ("chat", "chat"),
    "result.additional_kwargs.finish_reason:added": ("chat", "chat"),
    "result.additional_kwargs.prompt_tokens:added": ("responses", "chat"),
    "result.message.additional_kwargs.tool_calls": ("responses", "chat_with_tools"),
    "result.stream.last": ("responses", "stream_structured_predict"),
    "body.input:differs": ("responses", "complete"),
    "body.tools:differs": ("responses", "chat_with_tools"),
    "body.temperature:added": ("responses", "structured_predict"),
    "body.max_tokens:omitted": ("field", "max_tokens"),
    "body.messages:differs": ("field", "reasoning_effort"),
    "body.include:differs": ("field", "reasoning_options"),
    "header.api-key": ("field", "use_azure_ad"),
    "strict-schema:body.tools:differs": ("field", "strict (optional parameter)"),
    "replay.outcome": ("replay", "test_refusal__azure-openai_responses_gpt_4o_mini"),
    "result.stream.final.text": ("replay", "test_max_tokens__azure-openai_responses_gpt_4o_mini"),
    "result.text": (
        "replay",
        "with_tools__strict__azure-openai_responses_gpt_4o_mini__async.yaml#1",
    ),
    "model-unset:body.response_format:added": ("unset", "structured_predict"),
    "metadata.context_window": ("metadata", "gpt-35-turbo"),
    "metadata.is_function_calling_model": ("metadata", "o1-mini"),
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[AzureEmulator]:
    deployments = {"gpt-4o-mini": DeploymentInfo(), "o3-mini": DeploymentInfo(model="o3-mini-2025-01-31")}
    with AzureEmulator(api_key=API_KEY, bearer_tokens=[TOKEN], deployments=deployments) as running:
        yield running


def reproduce(emulator: AzureEmulator, kind: str, what: str) -> list[Difference]:
    """Run what a pin names and return every difference found."""
    if kind in ("chat", "responses", "unset"):
        return matrix_differences(emulator, kind, what)
    if kind == "field":
        _, responses, kwargs, scenario = next(c for c in FIELD_CASES if c[0] == what)
        tag = TAGS.get(what, "")
        return memo(("field", what), lambda: run_field_case(emulator, responses, kwargs, scenario, tag))
    if kind == "replay":
        return [d for i in REPLAYED if what in i.name for d in replay_differences(i)]
    assert kind == "metadata", kind
    return metadata_differences(what)


def first_ids() -> list[str]:
    """The first id of each README row, in table order."""
    seen: list[str] = []
    for row in documented_differences().values():
        if row.row[0] not in seen:
            seen.append(row.row[0])
    return seen


@pytest.mark.parametrize("ident", first_ids())
def test_llamaindex_difference_still_occurs(emulator: AzureEmulator, ident: str) -> None:
    kind, what = PINS[ident]
    assert ident in {d.id for d in reproduce(emulator, kind, what)}


def test_llamaindex_every_table_row_is_pinned_by_its_named_test() -> None:
    rows = documented_differences()
    assert rows, f"no rows under {TABLE_TITLE!r}"
    assert set(first_ids()) == set(PINS)
    for ident in first_ids():
        expected = f"tests/dropin/test_llamaindex_differences.py::test_llamaindex_difference_still_occurs[{ident}]"
        assert rows[ident].test == expected
        assert rows[ident].anchor and rows[ident].ours
