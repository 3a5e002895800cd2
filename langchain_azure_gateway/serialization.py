"""Let ``langchain_core.load`` revive the model for callers trusting integrations (``allowed_objects="all"``).

langchain-core (1.x) revives only classes listed in its own mapping, under ``"all"`` as well; the listed
partner packages are the "trusted integrations". Importing this package is the caller's act of trust, so the
model's class path is added to that list, for ``"all"`` only (``"core"`` and ``"messages"`` stay as they are).
``load(..., allowed_objects=[AzureGatewayChatModel])`` works without this.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["register_for_load"]


def register_for_load(cls: Any) -> None:
    """Add ``cls``'s serialized path to langchain-core's ``"all"`` allow-list (a no-op on older versions)."""
    path = (*cls.get_lc_namespace(), cls.__name__)
    module = importlib.import_module("langchain_core.load.load")
    mappings: object = getattr(module, "ALL_SERIALIZABLE_MAPPINGS", None)
    if isinstance(mappings, dict):
        mappings.setdefault(path, path)
    cache: object = getattr(module, "_default_class_paths_cache", None)
    if isinstance(cache, dict) and isinstance(cache.get("all"), set):
        cache["all"].add(path)
