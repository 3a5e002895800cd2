"""LangChain integration: :class:`AzureGatewayChatModel`, a ``BaseChatModel`` on ``shared_core``.

Importing this package without ``langchain-core`` raises an ImportError that names the extra to install.
"""

from __future__ import annotations

try:
    # The framework first, then the core: the same modules imported in the other order cost about 60 ms more CPU
    # (`python -m benchmarks.run --imports-only`, fresh interpreters; see benchmarks/README.md).
    import langchain_core.language_models.chat_models  # noqa: F401
except ImportError:
    from shared_core.integration import require_extra as _require_extra

    _require_extra("langchain_core", feature="langchain_azure_gateway", extra="langchain", package="langchain-core")
    raise

from langchain_azure_gateway.chat_model import AzureGatewayChatModel
from langchain_azure_gateway.errors import (
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
