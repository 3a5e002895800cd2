"""Deployment resolution is correct while each map caches its answer per requested name."""

from __future__ import annotations

import threading

import pytest

from shared_core import ConfigurationError
from shared_core.deployments import DeploymentMap, profile_for


def test_deployments_resolve_repeated_gives_the_same_answer_per_name() -> None:
    deployments = DeploymentMap(
        mapping={"gpt-4o": "prod-4o"}, default_deployment="fallback", deployment_models={"fallback": "o3-mini"}
    )

    for _ in range(3):
        explicit = deployments.resolve("gpt-4o")
        default = deployments.resolve("something-else")
        prefixed = deployments.resolve("azure/gpt-4o")

        assert (explicit.deployment, explicit.rule, explicit.model) == ("prod-4o", "explicit", "gpt-4o")
        assert (default.deployment, default.rule, default.model) == ("fallback", "default", "o3-mini")
        assert default.requested == "something-else"
        assert default.profile.reasoning  # o3-mini's profile, not the requested name's
        assert (prefixed.deployment, prefixed.requested) == ("prod-4o", "azure/gpt-4o")


def test_deployments_map_does_not_follow_later_changes_to_the_dicts_it_was_given() -> None:
    mapping = {"gpt-4o": "prod-4o"}
    models = {"prod-4o": "gpt-4o"}
    deployments = DeploymentMap(mapping=mapping, deployment_models=models)
    before = deployments.resolve("gpt-4o")

    mapping["gpt-4o"] = "other"
    models["prod-4o"] = "o3"

    assert deployments.resolve("gpt-4o") == before
    assert DeploymentMap(mapping=mapping).resolve("gpt-4o").deployment == "other"


def test_deployments_two_maps_do_not_share_answers() -> None:
    first = DeploymentMap(default_deployment="one")
    second = DeploymentMap(default_deployment="two")

    assert first.resolve(None).deployment == "one"
    assert second.resolve(None).deployment == "two"
    assert first == DeploymentMap(default_deployment="one")  # the kept answers are not part of equality


def test_deployments_errors_are_raised_every_time() -> None:
    deployments = DeploymentMap()

    for _ in range(2):
        with pytest.raises(ConfigurationError):
            deployments.resolve(None)
        with pytest.raises(ConfigurationError):
            deployments.resolve("bad/name")


def test_deployments_resolve_from_many_threads_agrees() -> None:
    deployments = DeploymentMap(mapping={f"m{i}": f"d{i}" for i in range(50)})
    wrong: list[str] = []

    def work() -> None:
        for i in range(50):
            if deployments.resolve(f"m{i}").deployment != f"d{i}":
                wrong.append(f"m{i}")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert wrong == []


def test_deployments_profile_for_repeated_gives_the_same_profile() -> None:
    assert profile_for("gpt-4o-mini-2024-07-18") is profile_for("gpt-4o-mini-2024-07-18")
    assert profile_for("gpt-4o-mini-2024-07-18").family == "gpt-4o-mini"
    assert profile_for("o3-2025-04-16").family == "o3"
