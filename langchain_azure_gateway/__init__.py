"""LangChain integration: a ``BaseChatModel`` on ``shared_core`` (the model itself lands with issue 5).

Importing this package without ``langchain-core`` raises an ImportError that names the extra to install.
"""

from __future__ import annotations

from shared_core import require_extra as _require_extra

_require_extra("langchain_core", feature="langchain_azure_gateway", extra="langchain", package="langchain-core")

__all__: list[str] = []
