"""llama-index field handling that needs no server: api_base parsing, the effects table's vocabulary."""

from __future__ import annotations

import pytest

from llamaindex_azure_gateway import AzureGatewayLLM
from llamaindex_azure_gateway.anchor_fields import FIELD_EFFECTS, endpoint_from_api_base


@pytest.mark.parametrize(
    ("api_base", "expected"),
    [
        ("https://apim.example.net/openai", ("https://apim.example.net/openai", None)),
        ("https://apim.example.net/openai/", ("https://apim.example.net/openai", None)),
        ("https://res.openai.azure.com/openai/deployments/gpt-4o", ("https://res.openai.azure.com/openai", "gpt-4o")),
        ("https://apim.example.net/openai/deployments/d/", ("https://apim.example.net/openai", "d")),
        ("https://res.openai.azure.com", ("https://res.openai.azure.com", None)),
    ],
)
def test_endpoint_from_api_base_splits_off_the_deployment(api_base: str, expected: tuple[str, str | None]) -> None:
    assert endpoint_from_api_base(api_base) == expected


def test_api_base_deployment_url_names_the_deployment_and_azure_endpoint_wins() -> None:
    from_url = AzureGatewayLLM(api_base="https://apim.example.net/openai/deployments/prod-4o", api_key="k")
    assert from_url.gateway.deployments.resolve(None).deployment == "prod-4o"
    both = AzureGatewayLLM(
        engine="d",
        azure_endpoint="https://res.openai.azure.com",
        api_base="https://elsewhere.example/openai",
        api_key="k",
    )
    assert both.gateway.config.endpoint == "https://res.openai.azure.com"


def test_field_effects_use_the_three_words() -> None:
    assert {effect.split(":")[0].split(" ")[0] for effect in FIELD_EFFECTS.values()} == {"same", "mapped", "refused"}
