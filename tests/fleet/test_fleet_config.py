"""Turning fleet mode on: ``health_store`` from keyword, config file or ``AZURE_GATEWAY_REDIS_URL``, both
framework classes, or a ``redis.Redis`` client in code; the URL is a secret everywhere it could show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.load import dumpd

from langchain_azure_gateway import AzureGatewayChatModel
from llamaindex_azure_gateway import AzureGatewayLLM
from shared_core import ConfigurationError, Gateway, InMemoryHealthStore, load_config
from shared_core.transport.redis_health import RedisHealthStore
from tests.fleet.redis_server import RedisServer

ENDPOINT = "https://res.openai.azure.com"
PASSWORD = "s3cret-redis-access-key"


def with_password(url: str) -> str:
    return url.replace("redis://", f"redis://:{PASSWORD}@") if "@" not in url else url


def test_fleet_config_reads_the_url_from_env_file_and_keyword(tmp_path: Path) -> None:
    env = {"AZURE_GATEWAY_REDIS_URL": f"rediss://:{PASSWORD}@cache.redis.cache.windows.net:6380/0"}
    config = load_config(env=env)
    assert config.health_store is not None and config.sources["health_store"] == "env AZURE_GATEWAY_REDIS_URL"
    assert PASSWORD not in repr(config) and PASSWORD not in json.dumps(config.describe())
    path = tmp_path / "gateway.toml"
    path.write_text('health_store = "redis://10.0.0.5:6379/2"\n', encoding="utf-8")
    from_file = load_config(config_file=str(path), env=env)
    assert from_file.health_store is not None and from_file.health_store.get_secret_value().endswith(":6379/2")
    assert load_config(env=env, health_store="unix:///run/redis.sock").sources["health_store"].startswith("kwarg")


def test_fleet_config_refuses_a_url_that_is_not_redis_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config(env={"AZURE_GATEWAY_REDIS_URL": f"http://:{PASSWORD}@cache:6379"})
    assert "env AZURE_GATEWAY_REDIS_URL" in str(caught.value) and PASSWORD not in str(caught.value)


def test_fleet_gateway_uses_the_in_process_store_unless_told(redis_server: RedisServer) -> None:
    assert isinstance(Gateway(endpoint=ENDPOINT, api_key="k", env={}).health, InMemoryHealthStore)
    gateway = Gateway(endpoint=ENDPOINT, api_key="k", health_store=redis_server.url)
    assert isinstance(gateway.health, RedisHealthStore)
    again = Gateway(endpoint=ENDPOINT, api_key="k", health_store=redis_server.url)
    assert again.health is gateway.health, "one store (one thread, one pool) per URL and process"


def test_fleet_gateway_takes_a_redis_client_built_in_code(redis_server: RedisServer) -> None:
    client = redis_server.client()  # e.g. one built with redis-entraid's credential provider
    gateway = Gateway(endpoint=ENDPOINT, api_key="k", health=client)
    assert isinstance(gateway.health, RedisHealthStore)
    gateway.health.record_failure("e/d", "rate_limit", 5.0)
    assert client.exists("azgw:{e/d}:cool")  # type: ignore[attr-defined]
    gateway.health.close()  # type: ignore[attr-defined]


def test_fleet_langchain_model_takes_health_store_and_never_serializes_it(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = with_password(redis_server.url)
    model = AzureGatewayChatModel(azure_endpoint=ENDPOINT, api_key="k", azure_deployment="d", health_store=url)
    assert isinstance(model.gateway.health, RedisHealthStore)
    shown = json.dumps(dumpd(model)) + repr(model) + model.model_dump_json()
    assert PASSWORD not in shown
    monkeypatch.setenv("AZURE_GATEWAY_REDIS_URL", redis_server.url)
    from_env = AzureGatewayChatModel(azure_endpoint=ENDPOINT, api_key="k", azure_deployment="d")
    assert isinstance(from_env.gateway.health, RedisHealthStore)


def test_fleet_llamaindex_llm_takes_health_store_and_never_serializes_it(redis_server: RedisServer) -> None:
    url = with_password(redis_server.url)
    llm = AzureGatewayLLM(engine="d", azure_endpoint=ENDPOINT, api_key="k", health_store=url)
    assert isinstance(llm._gateway.health, RedisHealthStore)  # pyright: ignore[reportPrivateUsage]
    shown = json.dumps(llm.to_dict()) + repr(llm) + llm.model_dump_json()
    assert PASSWORD not in shown
