"""``python -m shared_core [--prompt TEXT] [--plan] [--no-stream]``, and ``python -m shared_core doctor``.

Resolves the configuration (kwargs > file > environment), prints which endpoint, deployment, route and
credential a request would use (secrets masked), and, when an endpoint and a credential are configured,
streams one answer through the gateway. With nothing configured it says what to set, points at the demo
(``python -m demo`` in a clone: LangChain and LlamaIndex against two local emulators, the README's first
command) and the emulator, and exits 0.

``python -m shared_core doctor [--no-send] [--model NAME] [--config FILE]`` checks the configuration,
credential, token and every deployment instead (see :mod:`shared_core.doctor`); it exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from shared_core.config import ENV_VARS, load_config
from shared_core.errors import ConfigurationError, GatewayError
from shared_core.gateway import Gateway
from shared_core.messages import Message
from shared_core.request import ChatRequest
from shared_core.result import TextDelta

_NEEDS = (
    "No Azure OpenAI endpoint is configured, so nothing was sent. To chat, set:\n"
    "  AZURE_OPENAI_ENDPOINT=https://<resource>.openai.azure.com\n"
    "  AZURE_OPENAI_API_KEY=<key>   (or AZURE_USE_MANAGED_IDENTITY=true, or AZURE_USE_DEFAULT_CREDENTIAL=true)\n"
    "  AZURE_OPENAI_DEFAULT_DEPLOYMENT=<deployment name>\n"
    "or point AZURE_GATEWAY_CONFIG at a TOML file (see README.md, Configuration).\n"
    "To try everything without Azure: 'python -m demo' in a clone of the repository (LangChain and LlamaIndex\n"
    "against two local emulators), or 'python -m azure_openai_emulator --print-endpoint' and export its line."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m shared_core",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="subcommands:\n  doctor    check configuration, credential, token and deployments "
        "('python -m shared_core doctor --help')",
    )
    parser.add_argument("--prompt", default="Say hello in five words.", help="the user message to send")
    parser.add_argument("--model", default=None, help="model or deployment name (else the configured default)")
    parser.add_argument("--api", choices=("chat", "responses"), default="chat", help="API shape")
    parser.add_argument("--config", default=None, help="a TOML config file (else $AZURE_GATEWAY_CONFIG)")
    parser.add_argument("--plan", action="store_true", help="print what would be called, send nothing")
    parser.add_argument("--no-stream", action="store_true", help="wait for the whole answer")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the main job (or ``doctor`` when it is the first argument); returns the process exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["doctor"]:
        from shared_core.doctor import main as doctor_main  # noqa: PLC0415  (only the doctor needs it)

        return doctor_main(arguments[1:])
    args = _parser().parse_args(arguments)
    try:
        config = load_config(config_file=args.config)
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    print("configuration (value and source; secrets masked):")
    for name, shown in config.describe().items():
        print(f"  {name} = {shown}")
    if not config.endpoint:
        looked = ", ".join(v for vs in ENV_VARS.values() for v in vs)
        print(f"\n{_NEEDS}\n(environment variables read: {looked})")
        return 0
    try:
        gateway = Gateway(config, api=args.api)
        request = ChatRequest(messages=(Message.user(args.prompt),), model=args.model)
        call = gateway.prepare(request, stream=not args.no_stream)
    except GatewayError as exc:
        print(f"\ncannot call Azure: {exc}", file=sys.stderr)
        return 2
    target = call.target
    print(f"\nendpoint:   {gateway.endpoint}")
    print(f"deployment: {target.deployment} (rule: {target.rule}; model: {target.model}; ", end="")
    print(f"profile: {target.profile.family})")
    print(f"route:      POST {call.encoded.path} {dict(call.encoded.query)}")
    print(f"credential: {gateway.auth.describe()}")
    if args.plan:
        return 0
    return _chat(gateway, request, stream=not args.no_stream)


def _chat(gateway: Gateway, request: ChatRequest, *, stream: bool) -> int:
    print("\nanswer:")
    try:
        if stream:
            for event in gateway.stream(request):
                if isinstance(event, TextDelta):
                    print(event.text, end="", flush=True)
            print()
        else:
            result = gateway.complete(request)
            print(result.text)
            print(f"(finish: {result.finish_reason}; usage: {result.usage}; request id: {result.request_id})")
    except GatewayError as exc:
        print(f"\n{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
