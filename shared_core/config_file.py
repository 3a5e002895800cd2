"""Reading the TOML configuration file: its two shapes, ``${VAR}`` expansion, and errors that name the key.

Accepted shapes:

* the seed's ``[[providers]]`` list, using the entry with ``name = "azure-openai"`` and its
  ``[providers.config]`` table;
* a flat table of the same keys at the top level.

Several named endpoints (regions) go in ``[[endpoints]]`` (or ``[endpoints.<name>]``) tables, each with its own
``[[endpoints.deployments]]``.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import cast

from shared_core.errors import ConfigurationError

__all__ = [
    "DEPLOYMENT_KEYS",
    "ENDPOINT_KEYS",
    "check_endpoint_keys",
    "endpoint_table",
    "read_config_file",
]

ENDPOINT_KEYS = frozenset(
    {
        "name",
        "endpoint",
        "azure_endpoint",
        "api_key",
        "azure_ad_token",
        "use_managed_identity",
        "managed_identity_client_id",
        "use_default_credential",
        "api_version",
        "deployments",
        "priority",
    }
)
DEPLOYMENT_KEYS = frozenset({"name", "model", "priority", "weight", "ptu"})

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def endpoint_table(item: object, where: str) -> Mapping[str, object]:
    """An endpoint as the file's table: an ``EndpointConfig`` converted, a table with its keys checked.

    Objects and tables then take one validation path (the URL, names and values are checked by the parser).

    Raises:
        ConfigurationError: A table key that is not an endpoint's (or a deployment's), naming the nearest one.
    """
    if not dataclasses.is_dataclass(item):
        table = cast(Mapping[str, object], item)
        check_endpoint_keys(table, where)
        return table
    out: dict[str, object] = {}
    for f in dataclasses.fields(item):
        value = getattr(item, f.name)
        if f.name == "deployments":
            value = [{d.name: getattr(dep, d.name) for d in dataclasses.fields(dep)} for dep in value]
        if value is not None:
            out[f.name] = value
    return out


def check_endpoint_keys(table: Mapping[str, object], where: str) -> None:
    """Refuse an endpoint table's unknown keys (and its deployments'), naming the nearest known one.

    ``api-key`` typed for ``api_key`` was taken silently: the region got another resource's key.
    """
    for key in table:
        if key not in ENDPOINT_KEYS:
            raise unknown_key_error(str(key), ENDPOINT_KEYS, where)
    for j, dep in enumerate(cast(list[object], table.get("deployments", []) or [])):
        if isinstance(dep, Mapping):
            for key in cast(Mapping[str, object], dep):
                if key not in DEPLOYMENT_KEYS:
                    raise unknown_key_error(str(key), DEPLOYMENT_KEYS, f"{where} deployments[{j}]")


def unknown_key_error(key: str, known: frozenset[str] | Mapping[str, str], where: str) -> ConfigurationError:
    """An error for an unknown key, suggesting the nearest known one."""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(sorted(known))}"
    return ConfigurationError(f"unknown key '{key}'", source=where, fix=hint)


def _expand(value: object, where: str, env: Mapping[str, str]) -> object:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigurationError(
                    f"'${{{name}}}' refers to an environment variable that is not set",
                    source=where,
                    fix=f"export {name}=... or write the value into the file",
                )
            return env[name]

        return _VAR.sub(substitute, value)
    if isinstance(value, list):
        items = cast(list[object], value)
        return [_expand(v, f"{where}[{i}]", env) for i, v in enumerate(items)]
    if isinstance(value, dict):
        table = cast(dict[str, object], value)
        return {k: _expand(v, f"{where}.{k}", env) for k, v in table.items()}
    return value


def _select_table(data: dict[str, object], path: Path) -> tuple[dict[str, object], str]:
    providers = data.get("providers")
    if providers is None:
        return data, ""
    if not isinstance(providers, list):
        raise ConfigurationError("'providers' must be an array of tables", source=f"file {path}")
    for index, entry in enumerate(cast(list[object], providers)):
        if isinstance(entry, dict) and cast(dict[str, object], entry).get("name") == "azure-openai":
            table = cast(dict[str, object], entry).get("config", {})
            if not isinstance(table, dict):
                raise ConfigurationError(
                    "'config' must be a table", source=f"file {path} key providers[{index}].config"
                )
            return cast(dict[str, object], table), f"providers[{index}].config."
    raise ConfigurationError(
        'no [[providers]] entry with name = "azure-openai"',
        source=f"file {path}",
        fix='add [[providers]] name = "azure-openai" with a [providers.config] table, or use a flat table',
    )


def _normalise_endpoints(value: object, where: str) -> list[dict[str, object]]:
    if isinstance(value, dict):
        named = cast(dict[str, object], value)
        tables: list[dict[str, object]] = []
        for name, table in named.items():
            if not isinstance(table, dict):
                raise ConfigurationError(f"endpoint '{name}' must be a table", source=f"{where}.{name}")
            tables.append({"name": name, **cast(dict[str, object], table)})
        return tables
    if isinstance(value, list):
        out: list[dict[str, object]] = []
        for i, item in enumerate(cast(list[object], value)):
            if not isinstance(item, dict):
                raise ConfigurationError("each endpoint must be a table", source=f"{where}[{i}]")
            out.append(cast(dict[str, object], item))
        return out
    raise ConfigurationError("'endpoints' must be tables", source=where, fix="use [[endpoints]] or [endpoints.NAME]")


def _check_endpoint_keys(endpoints: list[dict[str, object]], where: str) -> None:
    for i, table in enumerate(endpoints):
        for key in table:
            if key not in ENDPOINT_KEYS:
                raise unknown_key_error(key, ENDPOINT_KEYS, f"{where}[{i}]")
        deployments = table.get("deployments", [])
        if not isinstance(deployments, list):
            raise ConfigurationError("'deployments' must be an array of tables", source=f"{where}[{i}]")
        for j, dep in enumerate(cast(list[object], deployments)):
            if not isinstance(dep, dict):
                raise ConfigurationError("each deployment must be a table", source=f"{where}[{i}].deployments[{j}]")
            for key in cast(dict[str, object], dep):
                if key not in DEPLOYMENT_KEYS:
                    raise unknown_key_error(key, DEPLOYMENT_KEYS, f"{where}[{i}].deployments[{j}]")


def read_config_file(
    path: str | os.PathLike[str], env: Mapping[str, str], keys: Mapping[str, str]
) -> dict[str, tuple[object, str]]:
    """Read a config file into ``{field: (value, source)}``, with ``${VAR}`` expanded from ``env``.

    ``keys`` maps each accepted file key to its config field (:data:`shared_core.config.FILE_KEYS`, derived from
    the settings table).

    Raises:
        ConfigurationError: The file is missing, unreadable (a directory, not UTF-8 ...) or not TOML, or holds an
            unknown key (with a suggestion).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(
            f"config file {file} does not exist",
            fix="pass an existing path as config_file, or unset AZURE_GATEWAY_CONFIG",
        ) from None
    except (OSError, ValueError) as exc:  # a directory, no permission, a NUL in the path, not UTF-8
        raise ConfigurationError(
            f"config file {file} cannot be read: {exc}",
            source=f"file {file}",
            fix="point config_file or AZURE_GATEWAY_CONFIG at a readable UTF-8 TOML file (save as UTF-8, not UTF-16)",
        ) from None
    import tomllib  # noqa: PLC0415  (only when a config file is read: not with the package)

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {file} is not valid TOML: {exc}", source=f"file {file}") from None
    table, prefix = _select_table(data, file)
    out: dict[str, tuple[object, str]] = {}
    for key, raw in table.items():
        where = f"file {file} key '{prefix}{key}'"
        if prefix == "" and key == "providers":
            continue
        field = keys.get(key)
        if field is None:
            raise unknown_key_error(key, keys, f"file {file}")
        value = _expand(raw, where, env)
        if field == "endpoints":
            endpoints = _normalise_endpoints(value, where)
            _check_endpoint_keys(endpoints, where)
            value = endpoints
        out[field] = (value, where)
    return out
