"""LlamaIndex integration: a ``FunctionCallingLLM`` on ``shared_core``.

Importing this package without ``llama-index-core`` raises an ImportError that names the extra to install.
"""

from __future__ import annotations

from shared_core.integration import require_extra as _require_extra

_require_extra("llama_index.core", feature="llamaindex_azure_gateway", extra="llamaindex", package="llama-index-core")

from llamaindex_azure_gateway.anchor_fields import UnsupportedFieldError  # noqa: E402
from llamaindex_azure_gateway.convert import InvalidToolCallError, UnsupportedContentError  # noqa: E402
from llamaindex_azure_gateway.errors import ModelRefusalError, NoToolCallError  # noqa: E402
from llamaindex_azure_gateway.llm import AzureGatewayLLM  # noqa: E402
from llamaindex_azure_gateway.llm_fields import UnknownArgumentWarning  # noqa: E402
from llamaindex_azure_gateway.repairs import ConversationRepairedEvent  # noqa: E402

__all__ = [
    "AzureGatewayLLM",
    "ConversationRepairedEvent",
    "InvalidToolCallError",
    "ModelRefusalError",
    "NoToolCallError",
    "UnknownArgumentWarning",
    "UnsupportedContentError",
    "UnsupportedFieldError",
]
