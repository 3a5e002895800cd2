"""Three emulated regions of one model, and the URLs that stand for regional outages.

``dead`` is a loopback port nobody listens on (connection refused); ``dns`` is a name under ``.invalid`` that
never resolves (see :func:`tests.faults.conftest.unresolvable_names`).
"""

from __future__ import annotations

import socket
from typing import Any

from pydantic import SecretStr

from shared_core import DeploymentConfig, EndpointConfig, Gateway, ListSink, RetryPolicy, load_config
from tests.faults.channels import DEPLOYMENT, KEY, fast_retries
from tests.support.azure_server import AzureTestServer

__all__ = ["REGIONS", "UNRESOLVABLE", "closed_port_url", "counts", "key_of", "route_over"]

REGIONS = ("east", "west", "north")


def closed_port_url() -> str:
    """A loopback URL nobody listens on: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


UNRESOLVABLE = "https://nonexistent.invalid"


def route_over(
    urls: dict[str, str],
    names: tuple[str, ...],
    *,
    policy: RetryPolicy | None = None,
    sink: ListSink | None = None,
    **kwargs: Any,
) -> Gateway:
    """A gateway routing ``DEPLOYMENT`` over ``names`` in that priority order."""
    deployment = DeploymentConfig(DEPLOYMENT, model=DEPLOYMENT)
    endpoints = [
        EndpointConfig(name, urls[name], api_key=SecretStr(KEY), priority=priority, deployments=(deployment,))
        for priority, name in enumerate(names)
    ]
    return Gateway(
        load_config(env={}, endpoints=endpoints, default_deployment=DEPLOYMENT),
        retry_policy=policy or fast_retries(),
        event_sink=sink if sink is not None else ListSink(),
        **kwargs,
    )


def counts(servers: dict[str, AzureTestServer]) -> dict[str, int]:
    """HTTP attempts each region received."""
    return {name: server.request_count for name, server in servers.items()}


def key_of(region: str) -> str:
    """The route key of a region's deployment (``east/gpt-4o-mini``), as events and health name it."""
    return f"{region}/{DEPLOYMENT}"
