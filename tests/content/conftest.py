"""One emulator for the content tests: a text deployment and, under the names the tests use, an audio one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.azure_server import AzureTestServer, DeploymentInfo

KEY = "test-key"
AUDIO_MODEL = "gpt-4o-audio-preview-2024-12-17"


@pytest.fixture(scope="module")
def emulator() -> Iterator[AzureTestServer]:
    audio = DeploymentInfo(model=AUDIO_MODEL)
    deployments = {
        "gpt-4o-mini": DeploymentInfo(),
        "audio": audio,
        "gpt-4o-audio": audio,
        "gpt-4o-audio-preview": audio,
    }
    with AzureTestServer(api_key=KEY, deployments=deployments) as running:
        yield running


@pytest.fixture
def azure(emulator: AzureTestServer, monkeypatch: pytest.MonkeyPatch) -> AzureTestServer:
    """The emulator with its log and script cleared, and no api-version or config file from the environment."""
    for var in ("AZURE_OPENAI_API_VERSION", "OPENAI_API_VERSION", "AZURE_GATEWAY_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    emulator.reset()
    return emulator
