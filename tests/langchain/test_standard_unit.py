"""LangChain's standard unit tests (``ChatModelUnitTests``) for the chat model."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_azure_gateway import AzureGatewayChatModel

ENDPOINT = "https://example-resource.openai.azure.com"


class TestAzureGatewayChatModelStandardUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return AzureGatewayChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        # The names AzureChatOpenAI users type, on purpose.
        return {
            "azure_endpoint": ENDPOINT,
            "azure_deployment": "gpt-4o-mini",
            "openai_api_version": "2024-10-21",
        }

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {
                "AZURE_OPENAI_API_KEY": "api_key",
                "AZURE_OPENAI_ENDPOINT": "https://endpoint.openai.azure.com",
                "OPENAI_API_VERSION": "2024-10-21",
            },
            {"azure_deployment": "gpt-4o-mini"},
            {
                "api_key": "api_key",
                "endpoint": "https://endpoint.openai.azure.com",
                "api_version": "2024-10-21",
                "deployment": "gpt-4o-mini",
            },
        )

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str | None:
        return "gpt-4o"
