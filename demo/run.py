"""The demo's main: pick the target, run the steps in order, print the cost table, return the exit status."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from pydantic import ValidationError

from demo.console import INDENT, EventPrinter, say
from shared_core import ConfigurationError, GatewayConfig, GatewayError, load_config

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description="LangChain and LlamaIndex on Azure OpenAI: streaming, tools, repair, failover, costs. "
        "Runs against two local emulators unless an Azure endpoint is configured.",
    )
    parser.add_argument("--emulator", action="store_true", help="use the emulators even if Azure is configured")
    return parser


def azure_configured(config: GatewayConfig) -> bool:
    """Whether the environment or config file names somewhere to send requests."""
    return bool(config.endpoint or config.endpoints or config.gateway_url)


def _configuration_error(error: ConfigurationError) -> int:
    print(f"configuration error: {error}\nrun 'python -m shared_core doctor' for details", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns 0 on success, 1 when a call failed, 2 on a configuration error."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format=f"{INDENT}log: %(name)s: %(message)s")
    try:
        config = load_config()
    except ConfigurationError as error:
        return _configuration_error(error)
    # The frameworks take a second or two to import; a configuration error is reported before that.
    from demo.targets import AzureTarget, EmulatedRegions  # noqa: PLC0415
    from demo.walkthrough import walk  # noqa: PLC0415

    started = time.perf_counter()
    try:
        target = AzureTarget(config) if azure_configured(config) and not args.emulator else EmulatedRegions()
    except ConfigurationError as error:
        return _configuration_error(error)
    print("Azure OpenAI gateway demo: LangChain and LlamaIndex on one core")
    with target:
        for line in target.describe():
            say(line)
        try:
            walk(target, EventPrinter())
        except (GatewayError, ValidationError) as error:
            # A model's constructor reports a configuration error as pydantic's ValidationError.
            print(f"\n{type(error).__name__}: {error}", file=sys.stderr)
            print("run 'python -m shared_core doctor' to check the configuration step by step", file=sys.stderr)
            return 1
    print(f"\ndone: the steps took {time.perf_counter() - started:.1f} s")
    return 0
