"""Suite-wide fixtures: the cassette scheme (DESIGN.md §4.10) and the network policy for cassette tests.

A test opts into a cassette with ``@pytest.mark.vcr`` and points its gateway at the ``azure_endpoint``
fixture. By default (``--record-mode`` unset, i.e. ``none``) the cassette must exist and nothing leaves the
process; ``--record-mode=rewrite`` re-records from the loopback Azure test server, or from a real resource
when ``AZURE_OPENAI_ENDPOINT`` and ``AZURE_OPENAI_API_KEY`` are set. See ``cassettes/README.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vcr import VCR

from tests.support.cassettes import (
    CassetteEndpoint,
    cassette_dir_for,
    cassette_endpoint,
    network_marker,
    register_scheme,
    sends_requests,
)
from tests.support.cassettes import vcr_config as cassette_vcr_config


def pytest_recording_configure(config: pytest.Config, vcr: VCR) -> None:
    register_scheme(vcr)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Cassette tests may reach loopback only (pytest-socket), whatever addopts say; recording from a real
    # resource is the one exception.
    marker = network_marker(config)
    for item in items:
        if item.get_closest_marker("vcr") is not None:
            item.add_marker(marker)


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """``cassettes/<test path below tests/, no suffix>``; the file is ``<test name>.yaml``."""
    return str(cassette_dir_for(Path(request.node.path)))


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """Secrets filtered, host rewritten, readable bodies, matched on method + path + query + JSON body."""
    return cassette_vcr_config()


@pytest.fixture
def azure_endpoint(record_mode: str, disable_recording: bool) -> Iterator[CassetteEndpoint]:
    """Where a cassette test's gateway points: a placeholder when replaying, a live server when recording."""
    with cassette_endpoint(live=sends_requests(record_mode, disable_recording)) as endpoint:
        yield endpoint
