"""Optional dependencies: a missing extra is an ImportError that names the extra to install."""

from __future__ import annotations

import importlib.util

from shared_core.errors import MissingExtraError

__all__ = ["require_extra"]


def require_extra(module: str, *, feature: str, extra: str, package: str) -> None:
    """Raise :class:`MissingExtraError` (an ImportError) when ``module`` cannot be imported.

    Args:
        module: The import name to look for (``langchain_core``).
        feature: What needs it, for the message.
        extra: The extra of this distribution that installs it (``langchain``).
        package: The PyPI name of the missing package.
    """
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MissingExtraError(feature=feature, extra=extra, module=package)
