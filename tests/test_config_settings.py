"""One description per setting (``shared_core.config.SETTINGS``), and everything derived from it.

Issue 13 item 3: a setting used to be listed in seven places. Now the settings table gives each one's parser,
environment variables, config-file keys and secret flag; the environment map, the file-key map and the framework
packages' copy step are derived from it. These tests fail when a setting has no environment variable, no file key
or no field in a framework class without a written reason, and check, by building real models, that every field a
framework class copies reaches the resolved configuration as an argument.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pydantic import BaseModel

from langchain_azure_gateway import AzureGatewayChatModel
from langchain_azure_gateway.fields import CONFIG_FIELDS as LANGCHAIN_FIELDS
from llamaindex_azure_gateway import AzureGatewayLLM
from llamaindex_azure_gateway.llm_fields import CONFIG_FIELDS as LLAMAINDEX_FIELDS
from shared_core.config import ENV_VARS, FILE_KEYS, SETTINGS, FrameworkFields, GatewayConfig, load_config

FRAMEWORKS: dict[str, tuple[type[BaseModel], FrameworkFields]] = {
    "langchain": (AzureGatewayChatModel, LANGCHAIN_FIELDS),
    "llamaindex": (AzureGatewayLLM, LLAMAINDEX_FIELDS),
}

# A valid value for every setting, as a framework field would hold it.
SAMPLES: dict[str, object] = {
    "endpoint": "https://res.openai.azure.com",
    "api_key": "sample-api-key-1",
    "azure_ad_token": "sample-ad-token-2",
    "api_version": "2025-04-01-preview",
    "use_managed_identity": True,
    "managed_identity_client_id": "00000000-0000-0000-0000-000000000001",
    "use_default_credential": True,
    "token_scope": "api://sample/.default",
    "default_deployment": "sample-deployment",
    "default_model": "gpt-4o",
    "deployment_mapping": {"gpt-4o-mini": "mini-deployment"},
    "deployment_models": {"mini-deployment": "gpt-4o-mini"},
    "max_tokens": 123,
    "temperature": 0.5,
    "timeout": 7.0,
    "max_retries": 0,
    "deadline": 9.0,
    "max_cooldown": 11.0,
    "debug": True,
    "raw_debug": True,
    "endpoints": [{"name": "east", "endpoint": "https://east.openai.azure.com", "deployments": [{"name": "d1"}]}],
    "routing": "least_latency",
    "prices": {"gpt-4o": {"input": 1.0, "output": 2.0}},
    "gateway_url": "https://gw.example.com/v1",
    "gateway_key": "sample-gateway-key-3",
    "forward_azure_credentials": True,
    "health_store": "redis://:sample-redis-password-4@cache.example.com:6379/0",
}


def test_the_table_describes_every_config_field_in_order() -> None:
    described = [f.name for f in dataclasses.fields(GatewayConfig) if f.name not in {"config_file", "sources"}]
    assert list(SETTINGS) == described
    assert set(SAMPLES) == set(SETTINGS)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_every_setting_has_env_names_or_a_reason_and_file_keys(name: str) -> None:
    setting = SETTINGS[name]
    assert bool(setting.env) != bool(setting.no_env), f"{name}: give env names, or a reason (no_env), not both"
    assert setting.file_keys, f"{name} has no config-file key"
    assert all(FILE_KEYS[key] == name for key in setting.file_keys), f"{name}: a file key is used twice"
    assert ENV_VARS.get(name, ()) == setting.env


@pytest.mark.parametrize("name", list(SETTINGS))
def test_the_secret_flag_matches_the_field_and_keeps_the_value_out_of_reprs(name: str) -> None:
    annotation = str(GatewayConfig.__dataclass_fields__[name].type)
    assert SETTINGS[name].secret == ("SecretStr" in annotation)
    config = load_config(env={}, **{name: SAMPLES[name]})
    assert config.sources[name] == f"kwarg '{name}'"
    if SETTINGS[name].secret:
        secret = str(SAMPLES[name])
        assert secret not in repr(config) and secret not in str(config.describe())


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_every_setting_is_a_framework_field_or_has_a_reason(framework: str) -> None:
    cls, table = FRAMEWORKS[framework]
    assert set(table.renamed) <= set(SETTINGS) and set(table.not_copied) <= set(SETTINGS)
    assert not set(table.renamed) & set(table.not_copied)
    assert all(reason.strip() for reason in table.not_copied.values())
    missing = [attr for attr in table.copied().values() if attr not in cls.model_fields]
    assert not missing, f"{cls.__name__} lacks fields {missing}: add them, or say why in not_copied"
    for name, attr in table.copied().items():
        if SETTINGS[name].secret:
            field = cls.model_fields[attr]
            lc_secrets = getattr(cls, "lc_secrets", None)
            in_lc_secrets = isinstance(lc_secrets, property) and attr in lc_secrets.fget(None)  # type: ignore[misc]
            assert field.exclude or in_lc_secrets, f"{cls.__name__}.{attr} is a secret but would be serialized"


def _credential_groups(table: FrameworkFields) -> list[dict[str, Any]]:
    """The copied settings as field values, split so that each model has one credential source (the key goes with
    the gateway settings: ``forward_azure_credentials`` needs it)."""
    credentials = ("azure_ad_token", "use_managed_identity", "use_default_credential")
    copied = table.copied()
    common = {copied[n]: SAMPLES[n] for n in copied if n not in credentials and n != "managed_identity_client_id"}
    groups = [dict(common)]
    for name in credentials:
        extra = {copied[name]: SAMPLES[name]}
        if name == "use_managed_identity":
            extra[copied["managed_identity_client_id"]] = SAMPLES["managed_identity_client_id"]
        groups.append({copied["endpoint"]: SAMPLES["endpoint"], **extra})
    return groups


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_every_copied_field_reaches_the_config_as_an_argument(framework: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in {v for names in ENV_VARS.values() for v in names} | {"AZURE_GATEWAY_CONFIG"}:
        monkeypatch.delenv(var, raising=False)
    cls, table = FRAMEWORKS[framework]
    reached: set[str] = set()
    for values in _credential_groups(table):
        model: Any = cls(**values)
        sources = model.gateway.config.sources
        for name, attr in table.copied().items():
            if attr in values:
                assert sources.get(name, "").startswith("kwarg"), f"{framework}: {attr} did not reach {name}"
                reached.add(name)
    assert reached == set(table.copied())
