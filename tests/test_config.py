"""Configuration: precedence, every env var, both file shapes, ${VAR} expansion, and errors naming the source."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from shared_core.config import DEFAULT_API_VERSION, ENV_VARS, GatewayConfig, load_config
from shared_core.errors import ConfigurationError

ENDPOINT = "https://my-resource.openai.azure.com"


def write(tmp_path: Path, text: str, name: str = "gateway.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_config_defaults_when_nothing_set() -> None:
    cfg = load_config(env={})
    assert cfg.endpoint is None
    assert cfg.api_version == DEFAULT_API_VERSION == "2024-10-21"
    # Nothing the anchors would not send: no temperature, no output limit unless set somewhere.
    assert cfg.max_tokens is None
    assert cfg.temperature is None
    assert cfg.use_managed_identity is False and cfg.use_default_credential is False
    assert cfg.sources == {}


def test_config_reads_every_env_var() -> None:
    env = {
        "AZURE_OPENAI_ENDPOINT": ENDPOINT,
        "AZURE_OPENAI_API_KEY": "k-env",
        "AZURE_OPENAI_AD_TOKEN": "tok-env",
        "AZURE_OPENAI_API_VERSION": "2025-04-01-preview",
        "AZURE_USE_MANAGED_IDENTITY": "YES",
        "AZURE_USE_DEFAULT_CREDENTIAL": "1",
        "AZURE_MANAGED_IDENTITY_CLIENT_ID": "cid-123",
        "AZURE_OPENAI_DEFAULT_DEPLOYMENT": "chat-prod",
        "AZURE_OPENAI_DEFAULT_MODEL": "gpt-4o",
        "AZURE_OPENAI_MAX_OUTPUT_TOKENS": "2048",
        "AZURE_OPENAI_TEMPERATURE": "0.25",
        "AZURE_OPENAI_DEADLINE": "30",
        "AZURE_OPENAI_MAX_COOLDOWN": "600",
    }
    cfg = load_config(env=env)
    assert (cfg.deadline, cfg.max_cooldown) == (30, 600)
    assert cfg.endpoint == ENDPOINT
    assert cfg.api_key is not None and cfg.api_key.get_secret_value() == "k-env"
    assert cfg.azure_ad_token is not None and cfg.azure_ad_token.get_secret_value() == "tok-env"
    assert cfg.api_version == "2025-04-01-preview"
    assert cfg.use_managed_identity is True and cfg.use_default_credential is True
    assert cfg.managed_identity_client_id == "cid-123"
    assert (cfg.default_deployment, cfg.default_model) == ("chat-prod", "gpt-4o")
    assert (cfg.max_tokens, cfg.temperature) == (2048, 0.25)
    assert cfg.sources["temperature"] == "env AZURE_OPENAI_TEMPERATURE"
    # every documented env var is in the table, so the doctor and the README can list them
    assert {v for vs in ENV_VARS.values() for v in vs} == set(env) | {
        "AZURE_OPENAI_BASE_URL",
        "AZURE_OPENAI_KEY",
        "OPENAI_API_VERSION",
        "OPENAI_API_KEY",
        "AZURE_GATEWAY_REDIS_URL",  # fleet mode: tests/fleet/test_fleet_config.py
    }


def test_config_alternate_env_names_and_azure_name_wins() -> None:
    cfg = load_config(
        env={"AZURE_OPENAI_BASE_URL": ENDPOINT, "AZURE_OPENAI_KEY": "alt", "OPENAI_API_VERSION": "2024-06-01"}
    )
    assert cfg.endpoint == ENDPOINT and cfg.api_version == "2024-06-01"
    assert cfg.api_key is not None and cfg.api_key.get_secret_value() == "alt"
    both = load_config(env={"AZURE_OPENAI_API_VERSION": "2025-01-01-preview", "OPENAI_API_VERSION": "2024-06-01"})
    assert both.api_version == "2025-01-01-preview"


def test_config_reads_openai_api_key_as_last_fallback() -> None:
    cfg = load_config(env={"OPENAI_API_KEY": "sk-openai", "AZURE_OPENAI_ENDPOINT": ENDPOINT})
    assert cfg.api_key is not None and cfg.api_key.get_secret_value() == "sk-openai"
    assert cfg.sources["api_key"] == "env OPENAI_API_KEY"
    both = load_config(env={"OPENAI_API_KEY": "sk-openai", "AZURE_OPENAI_KEY": "azure"})
    assert both.api_key is not None and both.api_key.get_secret_value() == "azure"


def test_config_default_temperature_and_max_tokens_file_keys_are_opt_in(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text("default_temperature = 0.3\ndefault_max_tokens = 512\n")
    cfg = load_config(env={}, config_file=path)
    assert (cfg.temperature, cfg.max_tokens) == (0.3, 512)


def test_config_precedence_kwarg_over_file_over_env(tmp_path: Path) -> None:
    path = write(tmp_path, 'temperature = 0.3\nmax_tokens = 100\ndefault_deployment = "from-file"\n')
    env = {"AZURE_OPENAI_TEMPERATURE": "0.9", "AZURE_OPENAI_MAX_OUTPUT_TOKENS": "50", "AZURE_OPENAI_DEFAULT_MODEL": "m"}
    cfg = load_config(config_file=path, env=env, temperature=1.5)
    assert cfg.temperature == 1.5 and cfg.sources["temperature"] == "kwarg 'temperature'"
    assert cfg.max_tokens == 100 and "key 'max_tokens'" in cfg.sources["max_tokens"]
    assert cfg.default_model == "m" and cfg.sources["default_model"] == "env AZURE_OPENAI_DEFAULT_MODEL"


def test_config_file_from_env_var_and_seed_shape(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[providers]]
name = "other"
[[providers]]
name = "azure-openai"
[providers.config]
azure_endpoint = "https://seed.openai.azure.com/"
api_key = "${MY_KEY}"
use_managed_identity = false
api_version = "2024-10-21"
deployment_mapping = { "gpt-4o" = "prod-4o", "gpt-4o-mini" = "prod-mini" }
default_deployment = "prod-mini"
default_model = "gpt-4o-mini"
max_tokens = 512
temperature = 0.1
debug = true
raw_debug = false
""",
    )
    cfg = load_config(env={"AZURE_GATEWAY_CONFIG": str(path), "MY_KEY": "expanded-secret"})
    assert cfg.endpoint == "https://seed.openai.azure.com"
    assert cfg.api_key is not None and cfg.api_key.get_secret_value() == "expanded-secret"
    assert cfg.deployment_mapping == {"gpt-4o": "prod-4o", "gpt-4o-mini": "prod-mini"}
    assert cfg.debug is True and cfg.max_tokens == 512
    assert cfg.config_file == str(path)
    assert "providers[1].config.api_key" in cfg.sources["api_key"]


def test_config_named_endpoints_with_deployments(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
endpoint = "https://main.openai.azure.com"
[[endpoints]]
name = "eastus"
endpoint = "https://east.openai.azure.com"
api_key = "east-key"
[[endpoints.deployments]]
name = "gpt4o-ptu"
model = "gpt-4o"
priority = 0
ptu = true
[[endpoints.deployments]]
name = "gpt4o-paygo"
model = "gpt-4o"
priority = 1
weight = 2.5
[endpoints.swedencentral]
endpoint = "https://sweden.openai.azure.com"
use_managed_identity = true
deployments = [{ name = "gpt4o-se", model = "gpt-4o-2024-08-06" }]
""",
    )
    with pytest.raises(ConfigurationError):
        # an array of tables and a table of tables under one key is not TOML: keep the test honest
        load_config(config_file=path, env={})
    path = write(
        tmp_path,
        """
[[endpoints]]
name = "eastus"
endpoint = "https://east.openai.azure.com"
api_key = "east-key"
deployments = [
  { name = "gpt4o-ptu", model = "gpt-4o", ptu = true },
  { name = "gpt4o-paygo", model = "gpt-4o", priority = 1, weight = 2.5 },
]
[[endpoints]]
name = "swedencentral"
endpoint = "https://sweden.openai.azure.com"
use_managed_identity = true
deployments = [{ name = "gpt4o-se", model = "gpt-4o-2024-08-06" }]
""",
        "two.toml",
    )
    cfg = load_config(config_file=path, env={})
    east, sweden = cfg.endpoints
    assert (east.name, east.endpoint) == ("eastus", "https://east.openai.azure.com")
    assert east.api_key is not None and east.api_key.get_secret_value() == "east-key"
    assert [(d.name, d.priority, d.weight, d.ptu) for d in east.deployments] == [
        ("gpt4o-ptu", 0, 1.0, True),
        ("gpt4o-paygo", 1, 2.5, False),
    ]
    assert sweden.use_managed_identity is True and sweden.api_key is None
    assert cfg.deployment_map().resolve("gpt4o-se").model == "gpt-4o-2024-08-06"


def test_config_named_endpoints_as_tables(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[endpoints.westeurope]
endpoint = "https://we.openai.azure.com"
deployments = [{ name = "mini", model = "gpt-4o-mini" }]
""",
    )
    (we,) = load_config(config_file=path, env={}).endpoints
    assert we.name == "westeurope" and we.deployments[0].model == "gpt-4o-mini"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"AZURE_OPENAI_ENDPOINT": "my-resource.openai.azure.com"}, "env AZURE_OPENAI_ENDPOINT"),
        ({"AZURE_OPENAI_ENDPOINT": "http://my-resource.openai.azure.com"}, "plain http"),
        ({"AZURE_OPENAI_ENDPOINT": "https://"}, "not a URL"),
        ({"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com/openai/deployments/d"}, "unexpected path"),
        ({"AZURE_OPENAI_TEMPERATURE": "hot"}, "env AZURE_OPENAI_TEMPERATURE"),
        ({"AZURE_OPENAI_TEMPERATURE": "7"}, "out of range"),
        ({"AZURE_OPENAI_MAX_OUTPUT_TOKENS": "1.5"}, "whole number"),
        ({"AZURE_USE_MANAGED_IDENTITY": "maybe"}, "env AZURE_USE_MANAGED_IDENTITY"),
        ({"AZURE_OPENAI_API_VERSION": "2024/10/21"}, "api-version"),
        ({"AZURE_OPENAI_DEFAULT_DEPLOYMENT": "../admin"}, "env AZURE_OPENAI_DEFAULT_DEPLOYMENT"),
        ({"AZURE_OPENAI_DEFAULT_DEPLOYMENT": "a/b"}, "not valid"),
        ({"AZURE_OPENAI_DEFAULT_DEPLOYMENT": "dep?x=1"}, "not valid"),
        ({"AZURE_OPENAI_DEFAULT_DEPLOYMENT": "dep#frag"}, "not valid"),
    ],
)
def test_config_bad_env_value_names_source_and_fix(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_config(env=env)
    assert fragment in str(info.value)
    assert "Fix:" in str(info.value)


@pytest.mark.parametrize("host", ["http://127.0.0.1:8080", "http://localhost:1234", "http://[::1]:99"])
def test_config_plain_http_allowed_for_loopback(host: str) -> None:
    assert load_config(env={"AZURE_OPENAI_ENDPOINT": host}).endpoint == host


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes", "Yes", "on"])
def test_config_boolean_true_spellings(value: str) -> None:
    assert load_config(env={"AZURE_USE_DEFAULT_CREDENTIAL": value}).use_default_credential is True


@pytest.mark.parametrize("value", ["false", "0", "no", "OFF"])
def test_config_boolean_false_spellings(value: str) -> None:
    assert load_config(env={"AZURE_USE_DEFAULT_CREDENTIAL": value}).use_default_credential is False


def test_config_unknown_file_key_suggests_nearest(tmp_path: Path) -> None:
    path = write(tmp_path, 'azure_endpiont = "https://x.openai.azure.com"\n')
    with pytest.raises(ConfigurationError) as info:
        load_config(config_file=path, env={})
    assert "unknown key 'azure_endpiont'" in str(info.value)
    assert "did you mean 'azure_endpoint'" in str(info.value)
    assert str(path) in str(info.value)


def test_config_unknown_kwarg_suggests_nearest() -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'temperature'"):
        load_config(env={}, temprature=0.2)


def test_config_bad_file_value_names_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, 'temperature = "warm"\n')
    with pytest.raises(ConfigurationError) as info:
        load_config(config_file=path, env={})
    assert f"file {path} key 'temperature'" in str(info.value)


def test_config_unset_variable_in_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, 'api_key = "${NOT_SET_ANYWHERE}"\n')
    with pytest.raises(ConfigurationError, match="NOT_SET_ANYWHERE"):
        load_config(config_file=path, env={})


def test_config_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_config(config_file=tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_config(config_file=write(tmp_path, "x = = 1"), env={})


def test_config_base_url_with_openai_v1_selects_v1_routes() -> None:
    cfg = load_config(env={"AZURE_OPENAI_BASE_URL": "https://r.openai.azure.com/openai/v1/"})
    assert cfg.endpoint == "https://r.openai.azure.com" and cfg.api_version == "v1"
    explicit = load_config(
        env={"AZURE_OPENAI_BASE_URL": "https://r.openai.azure.com/openai/v1"}, api_version="2024-10-21"
    )
    assert explicit.api_version == "2024-10-21"


def test_config_secrets_are_masked_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    canary_key, canary_token = "CANARY-KEY-7f3a", "CANARY-TOKEN-9b2c"
    cfg = load_config(env={"AZURE_OPENAI_API_KEY": canary_key, "AZURE_OPENAI_AD_TOKEN": canary_token})
    caplog.set_level(logging.DEBUG)
    logging.getLogger("test").debug("config %s %r", cfg, cfg)
    rendered = [repr(cfg), str(cfg), str(cfg.describe()), caplog.text, repr(cfg.api_key)]
    for text in rendered:
        assert canary_key not in text and canary_token not in text
    assert "**********" in cfg.describe()["api_key"]
    assert isinstance(cfg.api_key, SecretStr)


def test_config_is_frozen() -> None:
    cfg = load_config(env={})
    with pytest.raises(AttributeError):
        cfg.temperature = 1.0  # type: ignore[misc]
    assert isinstance(cfg, GatewayConfig)
