"""Where the demo sends its requests: two emulated regions on loopback, or your Azure resource.

Both targets hand out a LangChain model and a LlamaIndex LLM built from the public constructors, and a pair
for the failover step whose first region fails: the emulated ``eastus`` starts answering 429, or, against
Azure, a region that refuses connections is put in front of your endpoint.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from azure_openai_emulator import AzureEmulator, DeploymentInfo, FaultPlan, FaultRule
from langchain_azure_gateway import AzureGatewayChatModel
from llamaindex_azure_gateway import AzureGatewayLLM
from shared_core import EventSink, Gateway, GatewayConfig

__all__ = ["EMULATOR_KEY", "AzureTarget", "EmulatedRegions", "Models"]

EMULATOR_KEY = "emulator-key"
"""The key both emulators accept: not a secret, nothing real is behind it."""
THROTTLE_SECONDS = 30
MODEL = "gpt-4o-mini"
PTU_DEPLOYMENT = "gpt-4o-mini-ptu"
PAYGO_DEPLOYMENT = "gpt-4o-mini"


@dataclass(frozen=True, slots=True)
class Models:
    """The two framework objects a step uses."""

    chat: AzureGatewayChatModel
    llm: AzureGatewayLLM


def _region(name: str, url: str, deployment: dict[str, Any], *, key: str | None, priority: int) -> dict[str, Any]:
    """One ``endpoints`` entry, in the config file's ``[[endpoints]]`` shape."""
    table: dict[str, Any] = {"name": name, "endpoint": url, "priority": priority, "deployments": [deployment]}
    if key is not None:
        table["api_key"] = key
    return table


class EmulatedRegions:
    """Two Azure OpenAI emulators as two regions, with models routing ``gpt-4o-mini`` over both.

    ``eastus`` holds a PTU deployment (no per-call cost) and is tried first; ``swedencentral`` holds a
    pay-as-you-go one. Use as a context manager: the emulators stop on exit.
    """

    mode = "emulator"

    def __init__(self) -> None:
        self.east = AzureEmulator(
            api_key=EMULATOR_KEY,
            deployments={PTU_DEPLOYMENT: DeploymentInfo(region="East US")},
        )
        self.sweden = AzureEmulator(
            api_key=EMULATOR_KEY,
            deployments={PAYGO_DEPLOYMENT: DeploymentInfo(region="Sweden Central")},
        )

    def __enter__(self) -> EmulatedRegions:
        self.east.start()
        self.sweden.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.east.stop()
        self.sweden.stop()

    def endpoints(self) -> list[Any]:
        """The two regions, as the models' ``endpoints`` field (or a config file's ``[[endpoints]]``) takes them."""
        ptu = {"name": PTU_DEPLOYMENT, "model": MODEL, "ptu": True}
        paygo = {"name": PAYGO_DEPLOYMENT, "model": MODEL}
        return [
            _region("eastus", self.east.endpoint, ptu, key=EMULATOR_KEY, priority=0),
            _region("swedencentral", self.sweden.endpoint, paygo, key=EMULATOR_KEY, priority=1),
        ]

    def describe(self) -> list[str]:
        """Lines saying where requests go."""
        return [
            "mode: emulator (no Azure endpoint configured; nothing leaves this machine)",
            f"region eastus         {self.east.endpoint}  deployment {PTU_DEPLOYMENT} ({MODEL}, PTU), tried first",
            f"region swedencentral  {self.sweden.endpoint}  deployment {PAYGO_DEPLOYMENT} ({MODEL}, pay-as-you-go)",
            "routing: priority (eastus, then swedencentral); both models get the regions as endpoints=[...]",
            "the emulators answer by quoting the prompt ('You said: ...'), call tools when asked, quote tool results",
        ]

    def models(self, sink: EventSink) -> Models:
        """A LangChain model and a LlamaIndex LLM routed over both regions."""
        regions = self.endpoints()
        # The top level names eastus too, so AZURE_OPENAI_* variables in the shell cannot leak into the demo.
        east = self.east.endpoint
        return Models(
            AzureGatewayChatModel(
                azure_endpoint=east,
                api_key=EMULATOR_KEY,
                azure_deployment=PTU_DEPLOYMENT,
                endpoints=regions,
                event_sink=sink,
            ),
            AzureGatewayLLM(
                azure_endpoint=east, api_key=EMULATOR_KEY, engine=PTU_DEPLOYMENT, endpoints=regions, event_sink=sink
            ),
        )

    def start_failover(self, sink: EventSink, current: Models) -> tuple[Models, str]:
        """Throttle ``eastus`` from now on; the same models then fail over to ``swedencentral``."""
        self.east.reset()
        self.east.faults = FaultPlan([FaultRule("rate_limit", retry_after=THROTTLE_SECONDS)])
        return current, f"eastus now answers every request with 429 and Retry-After: {THROTTLE_SECONDS}"

    def failover_summary(self) -> str:
        """What the first region saw during the failover step."""
        refused = self.east.request_count
        return (
            f"eastus received {refused} request(s) during this step, each answered 429; every call was answered "
            f"by swedencentral, without waiting the {THROTTLE_SECONDS} s Retry-After"
        )


def _closed_loopback_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class AzureTarget:
    """Your Azure resource, as the environment (or ``$AZURE_GATEWAY_CONFIG``) configures it."""

    mode = "azure"

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.gateway = Gateway(config)  # no network: resolves the route and the credential only
        self.resolved = self.gateway.deployments.resolve(None)

    def __enter__(self) -> AzureTarget:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def describe(self) -> list[str]:
        """Lines saying where requests go (secrets masked)."""
        model = self.resolved.model or "unknown: set AZURE_OPENAI_DEFAULT_MODEL to price the calls"
        return [
            "mode: azure (your configuration; see README.md, Configuration)",
            f"endpoint {self.gateway.endpoint}",
            f"deployment {self.resolved.deployment} (rule: {self.resolved.rule}; model: {model})",
            f"credential {self.gateway.auth.describe()}",
        ]

    def models(self, sink: EventSink) -> Models:
        """A LangChain model and a LlamaIndex LLM on your configuration, unchanged."""
        return Models(AzureGatewayChatModel(event_sink=sink), AzureGatewayLLM(event_sink=sink))

    def start_failover(self, sink: EventSink, current: Models) -> tuple[Models, str]:
        """Models whose route puts a region that refuses connections in front of your endpoint.

        The dead region has a key of its own, so your credential is never sent to it; your endpoint's entry
        sets no credential and so uses the one your configuration names (environment or config file).
        """
        if self.config.gateway_url or self.config.endpoints:
            return current, "your configuration routes requests itself (endpoints or gateway_url): used as is"
        dead = _closed_loopback_url()
        deployment: dict[str, Any] = {"name": self.resolved.deployment}
        if self.resolved.model:
            deployment["model"] = self.resolved.model
        regions: list[Any] = [
            _region("unreachable", dead, deployment, key="unreachable-region-key", priority=0),
            _region("yours", str(self.config.endpoint), deployment, key=None, priority=1),
        ]
        failing = Models(
            AzureGatewayChatModel(endpoints=regions, event_sink=sink),
            AzureGatewayLLM(endpoints=regions, event_sink=sink),
        )
        return failing, f"region 'unreachable' ({dead}, nothing listens) is tried before yours"

    def failover_summary(self) -> str:
        """What happened to the dead region."""
        return "the refused connection cost no wait: the call moved to your endpoint at once"
