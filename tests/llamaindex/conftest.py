"""Fixtures for the LlamaIndex tests: one loopback Azure server per module and LLMs pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from llamaindex_azure_gateway import AzureGatewayLLM
from tests.support.azure_server import AzureTestServer
from tests.support.llamaindex_events import recorder  # noqa: F401  (a fixture for this folder's tests)

API_KEY = "test-key"
DEPLOYMENT = "gpt-4o-mini"


@pytest.fixture(scope="module")
def server() -> Iterator[AzureTestServer]:
    with AzureTestServer(api_key=API_KEY) as running:
        yield running


@pytest.fixture
def azure(server: AzureTestServer) -> AzureTestServer:
    """The module's server, with its script and records cleared for this test."""
    server.reset()
    return server


@pytest.fixture
def make_llm(azure: AzureTestServer) -> Callable[..., AzureGatewayLLM]:
    def build(**overrides: Any) -> AzureGatewayLLM:
        kwargs: dict[str, Any] = {
            "engine": DEPLOYMENT,
            "azure_endpoint": azure.endpoint,
            "api_key": API_KEY,
            "api_version": "2024-10-21",
            "max_retries": 0,
        }
        kwargs.update(overrides)
        return AzureGatewayLLM(**kwargs)

    return build


@pytest.fixture
def llm(make_llm: Callable[..., AzureGatewayLLM]) -> AzureGatewayLLM:
    return make_llm()
