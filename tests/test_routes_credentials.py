"""The top-level credential with named endpoints: needed only when a route uses the top-level endpoint.

``AZURE_OPENAI_ENDPOINT`` is often set in the environment with no credential beside it. With every named
endpoint signing in with its own key, the gateway must build and serve them; the top-level endpoint's missing
credential is reported (as a ConfigurationError, before any request is sent) only when a model falls back to
it, and still at construction when the top-level endpoint is the only route.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from shared_core import ChatRequest, ConfigurationError, DeploymentConfig, EndpointConfig, Gateway, Message
from tests.support.azure_server import AzureTestServer, DeploymentInfo, Reply

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

EAST_KEY = "east-own-key"
TOP_KEY = "top-level-key"
MISSING = "No Azure OpenAI credential is configured"


@pytest.fixture(scope="module")
def east() -> Iterator[AzureTestServer]:
    deployments = {"chat-east": DeploymentInfo(), "other": DeploymentInfo()}
    with AzureTestServer(api_key=None, deployments=deployments) as server:
        yield server


@pytest.fixture
def server(east: AzureTestServer) -> Iterator[AzureTestServer]:
    east.reset()
    yield east
    east.reset()


def own_key_endpoint(server: AzureTestServer, *, key: str | None = EAST_KEY) -> EndpointConfig:
    return EndpointConfig(
        "east",
        server.endpoint,
        api_key=SecretStr(key) if key is not None else None,
        deployments=(DeploymentConfig("chat-east", model="gpt-4o-mini"),),
    )


def request(model: str | None = None) -> ChatRequest:
    return ChatRequest(messages=(Message.user("Hello"),), model=model)


def test_gateway_named_endpoints_with_own_keys_build_and_answer_with_endpoint_env_and_no_credential(
    server: AzureTestServer,
) -> None:
    gateway = Gateway(
        endpoints=(own_key_endpoint(server),),
        default_deployment="chat-east",
        env={"AZURE_OPENAI_ENDPOINT": server.endpoint},
        max_retries=0,
    )
    server.script(Reply("from east"))
    assert gateway.complete(request()).text == "from east"
    assert [r.headers.get("api-key") for r in server.requests] == [EAST_KEY]
    assert gateway.auth.headers() == {"api-key": EAST_KEY}


def test_gateway_top_level_fallback_without_credential_is_configuration_error_before_sending(
    server: AzureTestServer,
) -> None:
    gateway = Gateway(
        endpoints=(own_key_endpoint(server),),
        default_deployment="chat-east",
        deployment_mapping={"gpt-4o": "other"},
        env={"AZURE_OPENAI_ENDPOINT": server.endpoint},
        max_retries=0,
    )
    # gpt-4o goes to deployment "other", which no named endpoint serves: it falls back to the top-level
    # endpoint, which has no credential.
    with pytest.raises(ConfigurationError, match=MISSING):
        gateway.complete(request("gpt-4o"))
    assert server.requests == []


def test_gateway_top_level_fallback_uses_the_top_level_key_resolved_on_first_use(server: AzureTestServer) -> None:
    gateway = Gateway(
        endpoints=(own_key_endpoint(server),),
        default_deployment="chat-east",
        deployment_mapping={"gpt-4o": "other"},
        env={"AZURE_OPENAI_ENDPOINT": server.endpoint, "AZURE_OPENAI_API_KEY": TOP_KEY},
        max_retries=0,
    )
    server.script(Reply("named"), Reply("fallback"))
    assert gateway.complete(request()).text == "named"
    assert gateway.complete(request("gpt-4o")).text == "fallback"
    assert [(r.deployment, r.headers.get("api-key")) for r in server.requests] == [
        ("chat-east", EAST_KEY),
        ("other", TOP_KEY),
    ]


def test_gateway_top_level_endpoint_alone_without_credential_fails_at_construction() -> None:
    with pytest.raises(ConfigurationError, match=MISSING):
        Gateway(env={"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com"}, default_deployment="d")


def test_gateway_named_endpoint_without_own_credential_fails_at_construction_without_top_level_one(
    server: AzureTestServer,
) -> None:
    # An endpoint that sets no credential shares the top-level one, so a missing one is known at once.
    with pytest.raises(ConfigurationError, match=MISSING):
        Gateway(
            endpoints=(own_key_endpoint(server, key=None),),
            default_deployment="chat-east",
            env={"AZURE_OPENAI_ENDPOINT": server.endpoint},
        )
