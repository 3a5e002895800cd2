"""Fixtures of the fault matrix: one loopback emulator per module, three emulated regions, and a resolver that
fails names under ``.invalid`` without asking any DNS server.

Every test here reaches 127.0.0.1 only (pytest-socket). The DNS-failure scenario needs a name that does not
resolve; ``.invalid`` is reserved for that (RFC 6761), but asking the machine's resolver would still send a
query off the host, so :func:`unresolvable_names` answers ``socket.gaierror`` (what the system resolver raises
for NXDOMAIN) for those names itself. httpx (sync) and aiohttp's default threaded resolver (async) both resolve
through ``socket.getaddrinfo``, so both paths see a real DNS failure.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared_core import Gateway
from tests.faults.channels import DEPLOYMENT, KEY
from tests.faults.regions import REGIONS, UNRESOLVABLE, closed_port_url, route_over
from tests.support.azure_server import AzureTestServer, DeploymentInfo, deterministic_responder
from tests.support.regions import running_regions

REASONING_MODEL = "gpt-5-mini-2025-08-07"
DEPLOYMENTS = {
    DEPLOYMENT: DeploymentInfo(),
    "gpt-5-mini": DeploymentInfo(model=REASONING_MODEL, system_fingerprint=None),
    # A deployment whose name says nothing about the reasoning model behind it.
    "prod-reasoner": DeploymentInfo(model=REASONING_MODEL, system_fingerprint=None),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = str(__file__).rsplit("/", 1)[0]
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.allow_hosts(["127.0.0.1"]))


def _fresh(server: AzureTestServer) -> None:
    server.reset()
    server.set_default(deterministic_responder)
    server.api_key = KEY
    server.bearer_tokens = set()


@pytest.fixture(scope="module")
def module_emulator() -> Iterator[AzureTestServer]:
    with AzureTestServer(api_key=KEY, deployments=DEPLOYMENTS) as server:
        yield server


@pytest.fixture
def server(module_emulator: AzureTestServer) -> Iterator[AzureTestServer]:
    """The module's emulator with nothing scripted, nothing recorded and the default responder."""
    _fresh(module_emulator)
    yield module_emulator
    _fresh(module_emulator)


@pytest.fixture(scope="module")
def module_regions() -> Iterator[dict[str, AzureTestServer]]:
    with running_regions(REGIONS, api_key=KEY, deployment=DEPLOYMENT) as servers:
        yield servers


@pytest.fixture
def regions(module_regions: dict[str, AzureTestServer]) -> Iterator[dict[str, AzureTestServer]]:
    """Three emulated regions of one model (east, west, north), fresh for the test."""
    for server in module_regions.values():
        _fresh(server)
    yield module_regions
    for server in module_regions.values():
        _fresh(server)


@pytest.fixture
def routed(regions: dict[str, AzureTestServer]) -> Callable[..., Gateway]:
    """``routed(("east", "west"), ...)``: priority routing; ``dead`` refuses connections, ``dns`` never resolves."""
    urls = {name: server.endpoint for name, server in regions.items()}
    urls |= {"dead": closed_port_url(), "dns": UNRESOLVABLE}

    def build(names: tuple[str, ...] = REGIONS, **kwargs: Any) -> Gateway:
        return route_over(urls, names, **kwargs)

    return build


@pytest.fixture
def unresolvable_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """``socket.getaddrinfo`` fails names under ``.invalid`` as NXDOMAIN, without a query leaving the host."""
    resolve = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name.rstrip(".").endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
