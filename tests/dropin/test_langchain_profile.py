"""``profile`` from the core's model profile, against the one ``AzureChatOpenAI`` ships (its models.dev data)."""

from __future__ import annotations

import pytest
from langchain_openai import AzureChatOpenAI

from langchain_azure_gateway import AzureGatewayChatModel

KEYS = (
    "max_input_tokens",
    "max_output_tokens",
    "text_inputs",
    "image_inputs",
    "text_outputs",
    "reasoning_output",
    "tool_calling",
    "tool_choice",
    "structured_output",
    "temperature",
)
# Known differences, in the README table: o3-mini takes no images (the anchor's data claims image URLs).
EXPECTED_DIFFERENCES = {("o3-mini", "image_url_inputs")}
DEPLOYMENTS = ["gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "gpt-5", "gpt-5-mini", "gpt-5-nano", "o1", "o3"]
DEPLOYMENTS += ["o3-mini", "o4-mini", "my-deployment"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_profile_matches_the_anchor(deployment: str) -> None:
    arguments = {"azure_endpoint": "https://r.openai.azure.com", "api_key": "k", "azure_deployment": deployment}
    theirs = AzureChatOpenAI(api_version="2024-10-21", **arguments).profile or {}
    ours = AzureGatewayChatModel(**arguments).profile or {}
    assert bool(theirs) == bool(ours)
    for key in KEYS:
        if (deployment, key) not in EXPECTED_DIFFERENCES and key in theirs:
            assert ours.get(key) == theirs[key], key


def test_profile_follows_the_deployments_base_model_and_feeds_max_input_tokens() -> None:
    model = AzureGatewayChatModel(
        azure_endpoint="https://r.openai.azure.com",
        api_key="k",
        azure_deployment="prod",
        deployment_models={"prod": "gpt-5-mini"},
    )
    assert model.profile is not None
    assert (model.profile["max_input_tokens"], model.profile["reasoning_output"]) == (272_000, True)
