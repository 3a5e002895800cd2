"""LangChain integration: :class:`AzureGatewayChatModel`, a ``BaseChatModel`` on ``shared_core``.

Importing this package without ``langchain-core`` raises an ImportError that names the extra to install.
"""

from __future__ import annotations

from shared_core.integration import require_extra as _require_extra

_require_extra("langchain_core", feature="langchain_azure_gateway", extra="langchain", package="langchain-core")

from langchain_azure_gateway.chat_model import AzureGatewayChatModel  # noqa: E402
from langchain_azure_gateway.errors import (  # noqa: E402
    AzureAuthenticationError,
    AzureBadRequestError,
    AzureConnectionError,
    AzureContentFilterError,
    AzureContextLengthError,
    AzureConversationError,
    AzureDeploymentNotFoundError,
    AzureInvalidResponseError,
    AzureNotFoundError,
    AzureRateLimitError,
    AzureServerError,
    AzureStreamInterruptedError,
    AzureTimeoutError,
    AzureUnsupportedContentError,
    AzureUnsupportedParameterError,
)

__all__ = [
    "AzureAuthenticationError",
    "AzureBadRequestError",
    "AzureConnectionError",
    "AzureContentFilterError",
    "AzureContextLengthError",
    "AzureConversationError",
    "AzureDeploymentNotFoundError",
    "AzureGatewayChatModel",
    "AzureInvalidResponseError",
    "AzureNotFoundError",
    "AzureRateLimitError",
    "AzureServerError",
    "AzureStreamInterruptedError",
    "AzureTimeoutError",
    "AzureUnsupportedContentError",
    "AzureUnsupportedParameterError",
]
