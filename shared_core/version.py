"""The distribution's version: the one place it is written.

``pyproject.toml`` reads it at build time (``[tool.hatch.version]``), the package re-exports it as
``shared_core.__version__``, and the gateway's ``user-agent`` header is derived from it.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
