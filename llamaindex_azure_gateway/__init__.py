"""LlamaIndex integration: a ``FunctionCallingLLM`` on ``shared_core`` (the LLM itself lands with issue 6).

Importing this package without ``llama-index-core`` raises an ImportError that names the extra to install.
"""

from __future__ import annotations

from shared_core import require_extra as _require_extra

_require_extra("llama_index.core", feature="llamaindex_azure_gateway", extra="llamaindex", package="llama-index-core")

__all__: list[str] = []
