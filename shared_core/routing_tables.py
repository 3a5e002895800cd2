"""Routing settings (``endpoints``, ``prices``) as framework models keep them and as they serialize them.

Endpoints come as :class:`~shared_core.EndpointConfig` s or as tables in the config file's ``[[endpoints]]``
shape. A table's ``api_key`` / ``azure_ad_token`` are wrapped in ``SecretStr`` when a model is built, so
``repr`` never shows them (nor any key that is not a known public field, such as a mistyped ``api-key``),
and every endpoint secret and unknown key is left out when a model is serialized (the framework
serializers only know top-level secret fields), so a revived model's endpoints use the top-level credential
unless they are given again. Shared by the LangChain and LlamaIndex packages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any, TypeAlias, cast

from pydantic import SecretStr

from shared_core.config import DeploymentConfig, EndpointConfig
from shared_core.config_file import ENDPOINT_KEYS
from shared_core.costs import ModelPrice

__all__ = ["EndpointItem", "PriceItem", "endpoints_to_json", "hide_endpoint_secrets", "prices_to_json"]

EndpointItem: TypeAlias = dict[str, Any] | EndpointConfig
PriceItem: TypeAlias = dict[str, Any] | ModelPrice

_SECRET_KEYS = frozenset({"api_key", "azure_ad_token"})
# Every other key of a table is hidden too: a mistyped secret (``api-key``) must not be written out in clear.
_PUBLIC_KEYS = ENDPOINT_KEYS - _SECRET_KEYS


def hide_endpoint_secrets(endpoints: Sequence[EndpointItem] | None) -> list[EndpointItem] | None:
    """The endpoints with every plain-text table secret wrapped in ``SecretStr`` (tables are copied)."""
    if endpoints is None:
        return None
    out: list[EndpointItem] = []
    for item in endpoints:
        if isinstance(item, Mapping) and any(k not in _PUBLIC_KEYS and isinstance(v, str) for k, v in item.items()):
            out.append(
                {k: SecretStr(v) if k not in _PUBLIC_KEYS and isinstance(v, str) else v for k, v in item.items()}
            )
        else:
            out.append(item)
    return out


def endpoints_to_json(endpoints: Sequence[EndpointItem]) -> list[dict[str, Any]]:
    """The endpoints as JSON tables that a model accepts back, without their secrets."""
    return [{k: v for k, v in _table(item).items() if k in _PUBLIC_KEYS} for item in endpoints]


def prices_to_json(prices: Mapping[str, PriceItem]) -> dict[str, dict[str, Any]]:
    """Price overrides as the config file's tables (``input``, ``output``, ``cached_input`` per 1M tokens)."""
    out: dict[str, dict[str, Any]] = {}
    for model, row in prices.items():
        if isinstance(row, ModelPrice):
            table: dict[str, Any] = {"input": row.input_per_million, "output": row.output_per_million}
            if row.cached_input_per_million is not None:
                table["cached_input"] = row.cached_input_per_million
            out[model] = table
        else:
            out[model] = dict(row)
    return out


def _table(item: EndpointItem) -> dict[str, Any]:
    if isinstance(item, EndpointConfig):
        table: dict[str, Any] = {f.name: getattr(item, f.name) for f in fields(item)}
    else:
        table = dict(item)
    deployments: object = table.get("deployments")
    if isinstance(deployments, list | tuple):
        items = cast(Sequence[object], deployments)
        table["deployments"] = [_deployment_table(d) for d in items]
    return {k: v for k, v in table.items() if v is not None}


def _deployment_table(item: object) -> object:
    if isinstance(item, DeploymentConfig):
        return {f.name: getattr(item, f.name) for f in fields(item) if getattr(item, f.name) is not None}
    return dict(cast(Mapping[str, object], item)) if isinstance(item, Mapping) else item
