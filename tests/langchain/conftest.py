"""Fixtures for the LangChain tests: one loopback Azure server for the session, and the per-test cassette
settings of LangChain's standard integration tests."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from vcr import VCR
from vcr.request import Request
from vcr.util import read_body

from langchain_azure_gateway import AzureGatewayChatModel
from tests.langchain.responder import realistic_responder
from tests.support.azure_server import AzureTestServer, DeploymentInfo
from tests.support.cassettes import MATCH_ON

API_KEY = "test-key"


@pytest.fixture(scope="session")
def azure_server() -> Iterator[AzureTestServer]:
    deployments = {
        "gpt-4o-mini": DeploymentInfo(),
        "gpt-4o": DeploymentInfo(model="gpt-4o-2024-11-20", system_fingerprint="fp_ee1d74bde0"),
    }
    with AzureTestServer(api_key=API_KEY, deployments=deployments, default=realistic_responder) as server:
        yield server


@pytest.fixture
def server(azure_server: AzureTestServer) -> Iterator[AzureTestServer]:
    """The session's server, with an empty script and no recorded requests."""
    azure_server.reset()
    yield azure_server
    azure_server.reset()


def make_model(server: AzureTestServer, **overrides: Any) -> AzureGatewayChatModel:
    params: dict[str, Any] = {
        "azure_endpoint": server.endpoint,
        "api_key": API_KEY,
        "azure_deployment": "gpt-4o-mini",
        "openai_api_version": "2024-10-21",
        "deployment_mapping": {"gpt-4o": "gpt-4o"},
        "max_retries": 0,
    }
    return AzureGatewayChatModel(**{**params, **overrides})


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
UUIDS_BY_POSITION = "json_body_uuids_by_position"
"""The body matcher for requests that carry ids LangChain draws with ``uuid4`` (see ``_REPLAY_MARKS``)."""


def _number_uuids(value: Any, seen: dict[str, str]) -> Any:
    if isinstance(value, str) and _UUID.match(value):
        return seen.setdefault(value.lower(), f"<uuid-{len(seen) + 1}>")
    if isinstance(value, list):
        return [_number_uuids(item, seen) for item in value]
    if isinstance(value, dict):
        return {key: _number_uuids(value[key], seen) for key in sorted(value)}
    return value


def _uuid_numbered_body(request: Request) -> str:
    body: object = read_body(request)
    if not isinstance(body, bytes | str):
        return ""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return json.dumps(_number_uuids(value, {}), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def match_json_body_uuids_by_position(r1: Request, r2: Request) -> None:
    """vcrpy matcher: bodies equal as parsed JSON once each distinct UUID is replaced by its order of appearance.

    A fresh ``uuid4`` per run still matches, but only where the recording used the same id: a tool message
    answering the id of the assistant's call stays distinct from one answering some other id.

    Raises:
        AssertionError: The bodies differ beyond their UUIDs.
    """
    left, right = _uuid_numbered_body(r1), _uuid_numbered_body(r2)
    if left != right:
        raise AssertionError(f"bodies differ beyond their UUIDs: {left[:300]!r} != {right[:300]!r}")


def pytest_recording_configure(config: pytest.Config, vcr: VCR) -> None:
    vcr.register_matcher(UUIDS_BY_POSITION, match_json_body_uuids_by_position)


# Cassette settings for single standard tests. LangChain forbids overriding a standard test unless it is
# xfailed, so they go on the collected item, first, to be the closest marks (pytest-recording lets the
# closest vcr mark win; pytest-benchmark reads only the closest benchmark mark).
# - test_stream_time streams one request for many rounds: its recording must replay every round (elsewhere
#   each plays once), and the rounds are capped so the benchmark stays well under a second.
# - test_structured_few_shot_examples builds its history with tool_example_to_messages, which gives the
#   example tool call a new uuid4 id on every run, so its body can never equal the recorded one.
_REPLAY_MARKS: dict[str, tuple[pytest.MarkDecorator, ...]] = {
    "test_stream_time": (
        pytest.mark.vcr(allow_playback_repeats=True),
        pytest.mark.benchmark(max_time=0.2, min_rounds=5, warmup=False),
    ),
    "test_structured_few_shot_examples": (
        pytest.mark.vcr(match_on=[*(m for m in MATCH_ON if m != "json_body"), UUIDS_BY_POSITION]),
    ),
}


_NEEDS_CASSETTE = pytest.mark.skip(reason="benchmarks a cassette replay; recording is disabled")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every LangChain test may reach loopback only (pytest-socket); cassette tests get ``_REPLAY_MARKS``.

    Cassette tests take their network rule from the suite's conftest, which also allows recording from a real
    Azure resource.
    """
    here = str(__file__).rsplit("/", 1)[0]
    disabled = bool(config.getoption("--disable-recording"))
    for item in items:
        if not str(item.path).startswith(here):
            continue
        if item.get_closest_marker("vcr") is None:
            item.add_marker(pytest.mark.allow_hosts(["127.0.0.1"]))
            continue
        name = item.originalname if isinstance(item, pytest.Function) else ""
        for mark in _REPLAY_MARKS.get(name, ()):
            item.add_marker(mark, append=False)
        if disabled and name == "test_stream_time":
            item.add_marker(_NEEDS_CASSETTE)
