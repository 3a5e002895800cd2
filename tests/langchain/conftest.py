"""Fixtures for the LangChain tests: one loopback Azure server for the session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from langchain_azure_gateway import AzureGatewayChatModel
from tests.langchain.responder import realistic_responder
from tests.support.azure_server import AzureTestServer, DeploymentInfo

API_KEY = "test-key"


@pytest.fixture(scope="session")
def azure_server() -> Iterator[AzureTestServer]:
    deployments = {
        "gpt-4o-mini": DeploymentInfo(),
        "gpt-4o": DeploymentInfo(model="gpt-4o-2024-11-20", system_fingerprint="fp_ee1d74bde0"),
    }
    with AzureTestServer(api_key=API_KEY, deployments=deployments, default=realistic_responder) as server:
        yield server


@pytest.fixture
def server(azure_server: AzureTestServer) -> Iterator[AzureTestServer]:
    """The session's server, with an empty script and no recorded requests."""
    azure_server.reset()
    yield azure_server
    azure_server.reset()


def make_model(server: AzureTestServer, **overrides: Any) -> AzureGatewayChatModel:
    params: dict[str, Any] = {
        "azure_endpoint": server.endpoint,
        "api_key": API_KEY,
        "azure_deployment": "gpt-4o-mini",
        "openai_api_version": "2024-10-21",
        "deployment_mapping": {"gpt-4o": "gpt-4o"},
        "max_retries": 0,
    }
    return AzureGatewayChatModel(**{**params, **overrides})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every LangChain test runs with the network blocked except loopback (pytest-socket)."""
    here = str(__file__).rsplit("/", 1)[0]
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.allow_hosts(["127.0.0.1"]))
