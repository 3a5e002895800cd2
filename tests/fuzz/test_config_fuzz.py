"""The config loader over arbitrary environments and arbitrary TOML files.

Property: ``load_config`` returns a :class:`GatewayConfig` or raises :class:`ConfigurationError`, never
another exception (``ConfigurationError`` is also a ``ValueError``, so the check is on the class, not ``ValueError``),
and the error names its source: the environment variable, or the file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from shared_core.config import CONFIG_FILE_ENV, ENV_VARS, FILE_KEYS, GatewayConfig, load_config
from shared_core.config_file import ENDPOINT_KEYS
from shared_core.errors import ConfigurationError
from tests.fuzz.endpoint_urls import endpoint_urls

ENV_NAMES = sorted({name for names in ENV_VARS.values() for name in names})
_texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
_numbers = st.integers().map(str) | st.floats().map(repr) | st.sampled_from(["1_000", "٣", " 7 ", "0x10", "1e3", "-0"])
_bools = st.sampled_from(["true", "FALSE", "1", "0", "yes", "no", "on", "off", "", " ", "maybe"])
_versions = st.sampled_from(["2024-10-21", "2025-04-01-preview", "v1", "latest", "preview", "2024-13-45", "v2"])
_names = st.sampled_from(["gpt-4o", "azure/gpt-4o", "a/b", "..", "x y", "d%2F", "-x", "a" * 65])
_env_values = _texts | _numbers | _bools | _versions | _names | endpoint_urls


@given(st.dictionaries(st.sampled_from(ENV_NAMES), _env_values, max_size=8))
def test_load_config_arbitrary_env_is_config_or_configuration_error(env: dict[str, str]) -> None:
    try:
        config = load_config(env=env)
    except ConfigurationError as error:
        event("ConfigurationError")
        assert any(f"env {var}" in str(error) for var in env), str(error)
        return
    event("GatewayConfig")
    assert isinstance(config, GatewayConfig)
    for name, source in config.sources.items():
        # "env AZURE_OPENAI_BASE_URL (URL ends in /openai/v1)" may be the source of api_version too.
        var = source.split(" ")[1] if source.startswith("env ") else None
        assert var is None or var in env, (name, source)


# ---- TOML files --------------------------------------------------------------------------------------------

_toml_scalars = (
    _texts
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.booleans()
    | st.sampled_from(["${AZURE_KEY}", "${UNSET_VAR}", "$", "${", "https://r.openai.azure.com", "azure-openai"])
    | st.datetimes().map(lambda d: _Literal(d.isoformat()))
)


class _Literal(str):
    """A TOML value written verbatim (dates and times)."""


def _toml(value: object) -> str:
    if isinstance(value, _Literal):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        # JSON escapes are TOML basic-string escapes, except that TOML also refuses a raw DEL.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_document(table: dict[str, object]) -> str:
    """One ``key = value`` line per top-level key (nested tables inline)."""
    return "".join(f"{_toml(key)} = {_toml(value)}\n" for key, value in table.items())


_toml_values = st.recursive(
    _toml_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_texts, children, max_size=3),
    max_leaves=8,
)
_plain_bools = st.booleans() | _bools
_plain_numbers = st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.floats() | _numbers
_secrets = _texts | st.sampled_from(["${AZURE_KEY}", "${UNSET_VAR}", "sk-${AZURE_KEY}"])
_name_maps = st.dictionaries(_names | _texts, _names | _texts | _toml_values, max_size=3)


def _fitting(values: dict[str, st.SearchStrategy[object]]) -> st.SearchStrategy[tuple[str, object]]:
    """Pairs of a known key with a value of roughly its type (often), or anything (sometimes)."""
    return st.sampled_from(sorted(values)).flatmap(lambda key: st.tuples(st.just(key), values[key] | _toml_values))


def _tables_of(values: dict[str, st.SearchStrategy[object]], max_size: int) -> st.SearchStrategy[dict[str, object]]:
    pairs = _fitting(values) | _fitting(values) | _fitting(values) | st.tuples(_texts, _toml_values)
    return st.lists(pairs, max_size=max_size).map(dict)


_deployment_tables = _tables_of(
    {
        "name": _names,
        "model": _names,
        "priority": _plain_numbers,
        "weight": _plain_numbers,
        "ptu": _plain_bools,
    },
    max_size=5,
)
_endpoint_values: dict[str, st.SearchStrategy[object]] = {key: _toml_values for key in ENDPOINT_KEYS}
_endpoint_values.update(
    name=_names | _texts,
    endpoint=endpoint_urls,
    azure_endpoint=endpoint_urls,
    api_key=_secrets,
    azure_ad_token=_secrets,
    use_managed_identity=_plain_bools,
    use_default_credential=_plain_bools,
    api_version=_versions,
    priority=_plain_numbers,
    deployments=st.lists(_deployment_tables, max_size=2),
)
_endpoint_tables = _tables_of(_endpoint_values, max_size=6)
_file_values_by_key: dict[str, st.SearchStrategy[object]] = {key: _toml_values for key in FILE_KEYS}
for key in FILE_KEYS:
    if key in {"endpoint", "azure_endpoint", "gateway_url"}:
        _file_values_by_key[key] = endpoint_urls
    elif key in {"api_key", "azure_ad_token", "gateway_key"}:
        _file_values_by_key[key] = _secrets
    elif key.startswith("use_") or key.endswith("debug"):
        _file_values_by_key[key] = _plain_bools
    elif key in {"max_tokens", "max_retries", "timeout", "temperature"}:
        _file_values_by_key[key] = _plain_numbers
_file_values_by_key.update(
    api_version=_versions,
    default_deployment=_names,
    default_model=_names,
    deployment_mapping=_name_maps,
    deployment_models=_name_maps,
    endpoints=st.lists(_endpoint_tables, max_size=2) | st.dictionaries(_names | _texts, _endpoint_tables, max_size=2),
)
_tables = _tables_of(_file_values_by_key, max_size=5)


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file, rewritten by every example (Hypothesis reruns the test, not a function fixture)."""
    return tmp_path_factory.mktemp("fuzz_config") / "gateway.toml"


def _load_file(path: Path) -> None:
    try:
        config = load_config(config_file=path, env={"AZURE_KEY": "k"})
    except ConfigurationError as error:
        event("ConfigurationError")
        assert str(path) in str(error), str(error)
        return
    event("GatewayConfig")
    assert isinstance(config, GatewayConfig)
    assert config.config_file == str(path)


@given(_tables, st.booleans())
def test_load_config_arbitrary_toml_is_config_or_configuration_error(
    config_path: Path, table: dict[str, object], as_provider: bool
) -> None:
    document: dict[str, object] = {"providers": [{"name": "azure-openai", "config": table}]} if as_provider else table
    config_path.write_text(toml_document(document), encoding="utf-8")
    _load_file(config_path)


@given(st.binary(max_size=300) | st.text(st.sampled_from("[]{}=\"'.=#\n azure_endpoint${}"), max_size=80))
def test_load_config_arbitrary_file_bytes_is_config_or_configuration_error(
    config_path: Path, content: bytes | str
) -> None:
    config_path.write_bytes(content.encode() if isinstance(content, str) else content)
    _load_file(config_path)


# ---- a file that cannot be read (not UTF-8, a directory, a bad path) is a ConfigurationError -------------


def test_load_config_file_not_utf8_is_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('azure_endpoint = "https://r.openai.azure.com"\n', encoding="utf-16")  # Notepad's "Unicode"
    with pytest.raises(ConfigurationError, match=r"gateway\.toml"):
        load_config(config_file=path, env={})


def test_load_config_file_is_directory_is_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config(env={CONFIG_FILE_ENV: str(tmp_path)})
    assert str(tmp_path) in str(caught.value) or CONFIG_FILE_ENV in str(caught.value)


def test_load_config_file_path_with_nul_is_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config(env={CONFIG_FILE_ENV: "gateway\x00.toml"})
    assert "gateway" in str(caught.value) or CONFIG_FILE_ENV in str(caught.value)
