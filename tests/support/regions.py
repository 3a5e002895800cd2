"""Several loopback Azure emulators playing regions of one model, for routing and failover tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from tests.support.azure_server import AzureTestServer, DeploymentInfo, deterministic_responder

__all__ = ["fresh", "running_regions"]


@contextmanager
def running_regions(names: Iterable[str], *, api_key: str, deployment: str) -> Iterator[dict[str, AzureTestServer]]:
    """One started emulator per region name, each serving ``deployment``; all stopped on exit."""
    servers = {name: AzureTestServer(api_key=api_key, deployments={deployment: DeploymentInfo()}) for name in names}
    for server in servers.values():
        server.start()
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def fresh(servers: Iterable[AzureTestServer]) -> None:
    """Nothing scripted, nothing recorded, the default responder: what each test starts from."""
    for server in servers:
        server.reset()
        server.set_default(deterministic_responder)
