"""Deployment map resolution rules and model profiles."""

from __future__ import annotations

import logging

import pytest

from shared_core.deployments import DeploymentMap, profile_for, validate_deployment_name
from shared_core.errors import ConfigurationError


def test_deployments_explicit_mapping_wins_over_default() -> None:
    dmap = DeploymentMap(mapping={"gpt-4o": "prod-4o"}, default_deployment="fallback")
    resolved = dmap.resolve("gpt-4o")
    assert (resolved.deployment, resolved.model, resolved.rule) == ("prod-4o", "gpt-4o", "explicit")


def test_deployments_default_deployment_for_unmapped_or_missing_model() -> None:
    dmap = DeploymentMap(mapping={"gpt-4o": "prod-4o"}, default_deployment="fallback", default_model="gpt-4o-mini")
    assert dmap.resolve("gpt-35-turbo").rule == "default"
    none = dmap.resolve(None)
    assert (none.deployment, none.model, none.rule) == ("fallback", "gpt-4o-mini", "default")


def test_deployments_default_model_goes_through_mapping() -> None:
    dmap = DeploymentMap(mapping={"gpt-4o": "prod-4o"}, default_model="gpt-4o")
    assert dmap.resolve(None).deployment == "prod-4o"


def test_deployments_pass_through_when_nothing_matches() -> None:
    resolved = DeploymentMap().resolve("my-deployment")
    assert (resolved.deployment, resolved.rule, resolved.model) == ("my-deployment", "pass-through", "my-deployment")


def test_deployments_azure_prefix_stripped() -> None:
    assert DeploymentMap().resolve("azure/gpt-4o-mini").deployment == "gpt-4o-mini"
    assert DeploymentMap(mapping={"gpt-4o": "p"}).resolve("azure/gpt-4o").rule == "explicit"


def test_deployments_nothing_requested_nothing_configured_is_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_DEFAULT_DEPLOYMENT"):
        DeploymentMap().resolve(None)


def test_deployments_declared_base_model_decides_profile() -> None:
    dmap = DeploymentMap(deployment_models={"prod-chat": "gpt-5-mini"})
    resolved = dmap.resolve("prod-chat")
    assert resolved.model == "gpt-5-mini"
    assert resolved.profile.reasoning and not resolved.profile.accepts_temperature


def test_deployments_resolution_logged_with_rule(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="shared_core.deployments")
    DeploymentMap(mapping={"gpt-4o": "prod-4o"}).resolve("gpt-4o")
    assert "by rule explicit" in caplog.text and "prod-4o" in caplog.text


@pytest.mark.parametrize("name", ["a/b", "a?b", "a#b", "a..b", "", " x", "x y", "-lead", "x" * 65])
def test_deployments_bad_names_rejected(name: str) -> None:
    with pytest.raises(ConfigurationError, match="not valid"):
        validate_deployment_name(name, "test")


def test_deployments_mapped_bad_name_rejected() -> None:
    with pytest.raises(ConfigurationError):
        DeploymentMap(mapping={"gpt-4o": "../x"}).resolve("gpt-4o")


@pytest.mark.parametrize("name", ["gpt-4o", "gpt-4o-mini_2024-07-18", "prod.chat.v2", "A1"])
def test_deployments_good_names_accepted(name: str) -> None:
    assert validate_deployment_name(name, "test") == name


@pytest.mark.parametrize(
    ("model", "family", "reasoning", "param"),
    [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini", False, None),
        ("gpt-4o", "gpt-4o", False, None),
        ("gpt-4o-2024-08-06", "gpt-4o", False, None),
        ("gpt-5-mini", "gpt-5-mini", True, "max_completion_tokens"),
        ("gpt-5.2-2025-12-11", "gpt-5.2", True, "max_completion_tokens"),
        ("gpt-5.2_2025-12-11", "gpt-5.2", True, "max_completion_tokens"),
        ("o3-mini", "o3-mini", True, "max_completion_tokens"),
        ("o1", "o1", True, "max_completion_tokens"),
        ("gpt-35-turbo", "gpt-35-turbo", False, None),
        ("GPT-4.1-MINI", "gpt-4.1-mini", False, None),
        ("azure/gpt-4o", "gpt-4o", False, None),
        ("my-custom-thing", "unknown", False, None),
        ("gpt-4ox", "unknown", False, None),
    ],
)
def test_deployments_profile_by_longest_prefix(model: str, family: str, reasoning: bool, param: str | None) -> None:
    profile = profile_for(model)
    assert (profile.family, profile.reasoning, profile.token_limit_param) == (family, reasoning, param)
    assert profile.accepts_temperature is (not reasoning)


def test_deployments_profile_json_schema_support() -> None:
    assert profile_for("gpt-4o").supports_json_schema
    assert not profile_for("gpt-35-turbo").supports_json_schema
    assert profile_for("gpt-4.1").context_window > 1_000_000
