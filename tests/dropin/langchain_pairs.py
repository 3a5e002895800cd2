"""``AzureChatOpenAI`` (the oracle) and ``AzureGatewayChatModel`` built with the same arguments, side by side.

Both point at one loopback emulator; :func:`sent_by` runs a call and returns the requests it made, read from
the emulator's request log, so two calls can be compared with :func:`tests.dropin.support.request_differences`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from langchain_openai import AzureChatOpenAI

from azure_openai_emulator import AzureEmulator, DeploymentInfo, RecordedRequest
from langchain_azure_gateway import AzureGatewayChatModel
from tests.dropin.support import Difference, documented_rows, request_differences

HEADING = "Differences from AzureChatOpenAI"
KEY = "test-key"
TOKEN = "entra-token"
API_VERSION = "2025-03-01-preview"
DEPLOYMENTS = {
    "gpt-4o-mini": DeploymentInfo(),
    "gpt-4o": DeploymentInfo(model="gpt-4o-2024-11-20"),
    "gpt-5-mini": DeploymentInfo(model="gpt-5-mini-2025-08-07", system_fingerprint=None),
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[AzureEmulator]:
    with AzureEmulator(api_key=KEY, bearer_tokens=[TOKEN], deployments=DEPLOYMENTS) as server:
        yield server


def base_arguments(emulator: AzureEmulator, **overrides: Any) -> dict[str, Any]:
    """The arguments both classes get: endpoint, key, api-version and deployment, no retries."""
    arguments: dict[str, Any] = {
        "azure_endpoint": emulator.endpoint,
        "api_key": KEY,
        "api_version": API_VERSION,
        "azure_deployment": "gpt-4o-mini",
        "max_retries": 0,
    }
    arguments.update(overrides)
    return {k: v for k, v in arguments.items() if v is not None}


def pair(emulator: AzureEmulator, **overrides: Any) -> tuple[AzureChatOpenAI, AzureGatewayChatModel]:
    """The anchor and ours, built with the same arguments (warnings of either silenced here)."""
    arguments = base_arguments(emulator, **overrides)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        anchor = AzureChatOpenAI(**arguments)
        ours = AzureGatewayChatModel(**arguments)
    return anchor, ours


def sent_by(emulator: AzureEmulator, call: Callable[[], Any]) -> list[RecordedRequest]:
    """Run ``call`` and return the requests it made (in arrival order)."""
    before = emulator.request_count
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        call()
    return emulator.requests[before:]


def compare_calls(
    emulator: AzureEmulator, anchor_call: Callable[[], Any], ours_call: Callable[[], Any]
) -> list[Difference]:
    """What the anchor's call and ours sent, compared request by request."""
    anchor_sent = sent_by(emulator, anchor_call)
    ours_sent = sent_by(emulator, ours_call)
    assert len(anchor_sent) == len(ours_sent), (len(anchor_sent), len(ours_sent))
    assert anchor_sent, "the call sent nothing"
    found: list[Difference] = []
    for left, right in zip(anchor_sent, ours_sent, strict=True):
        found.extend(request_differences(left, right))
    return found


def rows() -> list:
    return documented_rows(HEADING)
