"""``python -m azure_openai_emulator``: run the Azure OpenAI emulator until interrupted.

Example::

    python -m azure_openai_emulator --port 0 --print-endpoint --api-key K \\
        --deployment gpt-4o-mini=gpt-4o-mini-2024-07-18 --faults faults.toml

With ``--print-endpoint`` the first line on stdout is a shell line to copy (or ``eval``)::

    export AZURE_OPENAI_ENDPOINT=http://127.0.0.1:PORT AZURE_OPENAI_DEFAULT_DEPLOYMENT=gpt-4o-mini \\
        AZURE_OPENAI_API_KEY=K

(``IDENTITY_ENDPOINT``, ``IDENTITY_HEADER`` and ``AZURE_USE_MANAGED_IDENTITY=true`` instead of the key with
``--managed-identity``). One log line per request goes to stderr (``--log-format json`` for JSON lines).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shlex
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import cast

from azure_openai_emulator.completion import DeploymentInfo
from azure_openai_emulator.faults import FaultPlan, FaultRule, FaultSpecError, load_faults, parse_fault
from azure_openai_emulator.identity import ManagedIdentity
from azure_openai_emulator.server import AzureEmulator

__all__ = ["build_parser", "emulator_from_args", "export_line", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m azure_openai_emulator``."""
    parser = argparse.ArgumentParser(
        prog="python -m azure_openai_emulator",
        description="An Azure OpenAI emulator on loopback: chat, v1 and Responses routes, faults, managed identity.",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--api-key", default="test-key", help="the api-key accepted ('' accepts none)")
    parser.add_argument(
        "--deployment",
        action="append",
        default=[],
        metavar="NAME=MODEL",
        help="a deployment and its model, repeatable (default gpt-4o-mini=gpt-4o-mini-2024-07-18)",
    )
    parser.add_argument("--region", default="East US", help="the x-ms-region header")
    parser.add_argument(
        "--tokens-per-minute", type=int, default=DeploymentInfo().tokens_per_minute, help="each deployment's TPM"
    )
    parser.add_argument(
        "--requests-per-minute", type=int, default=DeploymentInfo().requests_per_minute, help="each deployment's RPM"
    )
    parser.add_argument(
        "--enforce-quota",
        type=float,
        default=None,
        metavar="SECONDS",
        help="answer 429 beyond the token budget, which refills over SECONDS (default: only count usage)",
    )
    parser.add_argument("--faults", default=None, metavar="FILE", help="fault rules from a TOML or JSON file")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="a fault rule, e.g. kind=rate_limit,deployment=gpt-4o-mini,every=2,retry_after=1 (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for probabilistic faults")
    parser.add_argument("--managed-identity", action="store_true", help="serve a managed-identity token endpoint")
    parser.add_argument("--identity-header", default=ManagedIdentity().header, help="the IDENTITY_HEADER value")
    parser.add_argument("--token-lifetime", type=float, default=3600.0, help="seconds a token is valid")
    parser.add_argument("--no-model-rules", action="store_true", help="accept every parameter on every model")
    parser.add_argument("--print-endpoint", action="store_true", help="print an 'export …' line on stdout first")
    parser.add_argument("--log-format", choices=("text", "json"), default="text", help="request log format")
    parser.add_argument("--quiet", action="store_true", help="no banner and no request log")
    return parser


def _deployments(specs: Sequence[str], region: str, args: argparse.Namespace) -> dict[str, DeploymentInfo]:
    quota: dict[str, object] = {"tokens_per_minute": args.tokens_per_minute}
    quota["requests_per_minute"] = args.requests_per_minute
    if args.enforce_quota is not None:
        quota |= {"enforce_quota": True, "renewal_period": args.enforce_quota}
    out: dict[str, DeploymentInfo] = {}
    for spec in specs or ["gpt-4o-mini=gpt-4o-mini-2024-07-18"]:
        name, _, model = spec.partition("=")
        if not name.strip():
            raise ValueError(f"--deployment {spec!r}: give NAME=MODEL")
        model = model.strip() or name.strip()
        # gpt-5-family deployments send system_fingerprint null (recorded).
        fingerprint = None if model.startswith("gpt-5") else DeploymentInfo().system_fingerprint
        out[name.strip()] = DeploymentInfo(
            model=model,
            system_fingerprint=fingerprint,
            region=region,
            **quota,  # pyright: ignore[reportArgumentType]
        )
    return out


def emulator_from_args(args: argparse.Namespace) -> AzureEmulator:
    """Build (not start) the emulator the parsed arguments describe.

    Raises:
        FaultSpecError: A fault flag or file is invalid.
        ValueError: A deployment flag is malformed.
    """
    rules: list[FaultRule] = list(load_faults(args.faults)) if args.faults else []
    rules += [parse_fault(spec) for spec in args.fault]
    identity = ManagedIdentity(header=args.identity_header, token_lifetime=args.token_lifetime)
    return AzureEmulator(
        api_key=args.api_key or None,
        deployments=_deployments(args.deployment, args.region, args),
        port=args.port,
        faults=FaultPlan(rules, seed=args.seed),
        managed_identity=identity if args.managed_identity else False,
        model_rules=not args.no_model_rules,
    )


def export_line(env: Mapping[str, str]) -> str:
    """``export NAME=value …`` with each value shell-quoted."""
    return "export " + " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: object = getattr(record, "emulator", None)
        payload = cast(dict[str, object], fields) if isinstance(fields, dict) else {"message": record.getMessage()}
        return json.dumps({"time": round(record.created, 3), **payload})


def _configure_logging(fmt: str, quiet: bool) -> None:
    log = logging.getLogger("azure_openai_emulator")
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines() if fmt == "json" else logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.propagate = False


def _banner(emulator: AzureEmulator) -> str:
    deployments = ", ".join(f"{name} ({info.model})" for name, info in emulator.deployments.items())
    lines = [
        f"Azure OpenAI emulator on {emulator.endpoint}",
        f"  deployments: {deployments}",
        f"  fault rules: {len(emulator.faults.rules)}",
    ]
    if emulator.identity_endpoint:
        lines.append(f"  managed identity: {emulator.identity_endpoint}")
    lines += [f"  {export_line(emulator.env())}", "Press Ctrl-C to stop."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM); returns the exit status (2 for bad arguments)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        emulator = emulator_from_args(args)
    except (FaultSpecError, ValueError) as exc:
        parser.error(str(exc))
    _configure_logging(args.log_format, args.quiet)
    emulator.start()
    if args.print_endpoint:
        print(export_line(emulator.env()), flush=True)
    if not args.quiet:
        print(_banner(emulator), file=sys.stderr, flush=True)
    stop = threading.Event()
    with contextlib.suppress(ValueError):  # signal handlers can only be set from the main thread
        signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    emulator.stop()
    return 0
