"""``python -m shared_core doctor``: say what is configured, what the chain picks, and whether it works.

The doctor walks the same path a call takes and reports each step as a finding:

1. configuration: every resolved value with its source (kwarg, file key, env var, default), secrets masked;
   a malformed value (``AZURE_OPENAI_TEMPERATURE=hot``, a bad endpoint URL) stops here with its source and fix;
2. endpoint: which Azure endpoint (or named endpoints) requests go to;
3. credential: which credential the chain picks and why, and what else was configured but is not used;
4. token: for Entra credentials (managed identity, DefaultAzureCredential, a static token), a token is
   acquired and its expiry shown; the token itself never is;
5. deployment: each mapped model (and the default) resolved to its deployment, with the rule that decided;
6. request: one tiny request per deployment (unless ``--no-send``), with its latency, or the typed error
   with its fix (every :class:`~shared_core.errors.GatewayError` message carries one).

Named endpoints (``endpoints`` in the config file) are checked one by one, each deployment on its own, so a
failover cannot hide a broken region. The exit status is 1 when any finding failed.
"""

from __future__ import annotations

import argparse
import base64
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from shared_core import display
from shared_core.auth import AuthProvider, resolve_auth, scope_for_endpoint
from shared_core.config import ENV_VARS, EndpointConfig, GatewayConfig, load_config
from shared_core.deployments import ResolvedDeployment
from shared_core.errors import ConfigurationError, GatewayError, UnsupportedParameterError
from shared_core.gateway import Gateway
from shared_core.messages import Message
from shared_core.request import ChatRequest, GenerationSettings
from shared_core.token_cache import EntraTokenAuth
from shared_core.transport.retry import RetryPolicy

__all__ = ["DoctorOptions", "DoctorReport", "Finding", "doctor_parser", "main", "run_doctor"]

_NO_ENDPOINT_FIX = (
    "set AZURE_OPENAI_ENDPOINT=https://<resource>.openai.azure.com (Azure portal, Keys and Endpoint), or "
    "'endpoint' in the config file; to try things without Azure, run 'python -m azure_openai_emulator "
    "--print-endpoint' and export the line it prints"
)
_CREDENTIAL_FIELDS = ("api_key", "azure_ad_token", "use_managed_identity", "use_default_credential")


@dataclass(frozen=True, slots=True)
class Finding:
    """One step's verdict.

    Attributes:
        step: ``configuration``, ``endpoint``, ``credential``, ``token``, ``deployment`` or ``request``.
        ok: Whether the step passed.
        summary: One line: what was found, or what failed and how to fix it.
        details: Further lines (the configuration values, what else was configured).
    """

    step: str
    ok: bool
    summary: str
    details: tuple[str, ...] = ()

    def render(self) -> str:
        """The finding as printed: a mark, the step, the summary, then indented details."""
        mark = " ok " if self.ok else "FAIL"
        lines = [f"[{mark}] {self.step:<13} {self.summary}"]
        lines += [f"{'':21}{line}" for line in self.details]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class DoctorReport:
    """Every finding, in the order they were made."""

    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """No finding failed."""
        return all(f.ok for f in self.findings)

    @property
    def failures(self) -> tuple[Finding, ...]:
        """The findings that failed."""
        return tuple(f for f in self.findings if not f.ok)

    def summary(self) -> str:
        """The closing line."""
        if self.ok:
            return f"All {len(self.findings)} checks passed."
        return f"{len(self.failures)} of {len(self.findings)} checks failed."

    def render(self) -> str:
        """The whole report as printed."""
        return "\n".join([*(f.render() for f in self.findings), self.summary()])

    def _repr_html_(self) -> str:
        """Notebook display: the findings as a table (secrets were masked when the findings were made)."""
        return display.doctor_report_html(self)


@dataclass(frozen=True, slots=True)
class DoctorOptions:
    """What the doctor checks.

    Attributes:
        config_file: A TOML config file (else ``$AZURE_GATEWAY_CONFIG``).
        models: Models (or deployments) to resolve and try, besides the mapped ones and the default.
        send: Send one request per deployment.
        api: ``chat`` or ``responses``.
        prompt: The user message of the test request.
        timeout: Seconds one test request may take.
    """

    config_file: str | None = None
    models: tuple[str, ...] = ()
    send: bool = True
    api: Literal["chat", "responses"] = "chat"
    prompt: str = "Reply with the word OK."
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class _Target:
    """One endpoint to check: a single-endpoint view of the configuration and the models to try on it."""

    label: str
    config: GatewayConfig
    models: tuple[str | None, ...]


class _Findings:
    def __init__(self, echo: Callable[[str], None] | None) -> None:
        self.items: list[Finding] = []
        self._echo = echo

    def add(self, step: str, ok: bool, summary: str, details: Sequence[str] = ()) -> bool:
        finding = Finding(step, ok, summary, tuple(details))
        self.items.append(finding)
        if self._echo is not None:
            self._echo(finding.render())
        return ok


def run_doctor(
    options: DoctorOptions | None = None,
    *,
    env: Mapping[str, str] | None = None,
    echo: Callable[[str], None] | None = None,
) -> DoctorReport:
    """Check the configuration, credential, token, deployments and (optionally) one request per deployment.

    Args:
        options: What to check; defaults to everything configured.
        env: The environment to read the configuration from (``os.environ`` by default). Credentials that
            azure-identity builds (managed identity, DefaultAzureCredential) read ``os.environ`` themselves.
        echo: Called with each finding's text as it is made (the CLI prints them as they come).

    Returns:
        Every finding; ``report.ok`` is false when any failed.
    """
    opts = options or DoctorOptions()
    found = _Findings(echo)
    try:
        config = load_config(config_file=opts.config_file, env=env)
    except ConfigurationError as exc:
        found.add("configuration", False, str(exc))
        return DoctorReport(tuple(found.items))
    values = [f"{name} = {shown}" for name, shown in config.describe().items()]
    found.add("configuration", True, f"resolved; config file: {config.config_file or 'none'}", values)
    targets = _targets(config, opts.models)
    if not targets:
        looked = ", ".join(ENV_VARS["endpoint"])
        found.add(
            "endpoint", False, f"no Azure OpenAI endpoint is configured (looked at {looked}). Fix: {_NO_ENDPOINT_FIX}"
        )
        return DoctorReport(tuple(found.items))
    for target in targets:
        _check_target(found, target, opts)
    return DoctorReport(tuple(found.items))


def _check_target(found: _Findings, target: _Target, opts: DoctorOptions) -> None:
    config = target.config
    source = config.sources.get("endpoint", "default")
    found.add("endpoint", True, f"{target.label}{config.endpoint} ({source}); api-version {config.api_version}")
    auth = _check_credential(found, target)
    if auth is None or not _check_token(found, target, auth):
        return
    resolved: dict[str, tuple[str | None, ResolvedDeployment]] = {}
    for requested in target.models:
        try:
            deployment = config.deployment_map().resolve(requested)
        except ConfigurationError as exc:
            found.add("deployment", False, str(exc))
            continue
        found.add("deployment", True, _describe_resolution(target, requested, deployment), _profile_note(deployment))
        resolved.setdefault(deployment.deployment, (requested, deployment))
    if not opts.send:
        return
    for requested, deployment in resolved.values():
        _check_request(found, target, auth=auth, requested=requested, resolved=deployment, opts=opts)


def _targets(config: GatewayConfig, extra_models: tuple[str, ...]) -> list[_Target]:
    out: list[_Target] = []
    if config.endpoint:
        models: list[str | None] = [*extra_models, *config.deployment_mapping]
        if config.default_deployment or config.default_model or not models:
            models.append(None)
        out.append(_Target("", replace(config, endpoints=()), tuple(dict.fromkeys(models))))
    out += [_endpoint_target(config, endpoint, extra_models) for endpoint in config.endpoints]
    return out


def _endpoint_target(config: GatewayConfig, endpoint: EndpointConfig, extra: tuple[str, ...]) -> _Target:
    """A named endpoint as a configuration of its own (credentials inherited unless it has its own)."""
    where = f"endpoint '{endpoint.name}' ({config.sources.get('endpoints', 'kwarg')})"
    own = any(
        v is not None
        for v in (
            endpoint.api_key,
            endpoint.azure_ad_token,
            endpoint.use_managed_identity,
            endpoint.use_default_credential,
        )
    )
    sources = dict(config.sources) | {"endpoint": where, "api_version": where if endpoint.api_version else "default"}
    single = replace(
        config,
        endpoint=endpoint.endpoint,
        endpoints=(),
        api_version=endpoint.api_version or config.api_version,
        default_deployment=None,
        deployment_mapping={},
        deployment_models={d.name: d.model for d in endpoint.deployments if d.model} | dict(config.deployment_models),
    )
    if own:
        sources |= {name: where for name in (*_CREDENTIAL_FIELDS, "managed_identity_client_id")}
        single = replace(
            single,
            api_key=endpoint.api_key,
            azure_ad_token=endpoint.azure_ad_token,
            use_managed_identity=bool(endpoint.use_managed_identity),
            managed_identity_client_id=endpoint.managed_identity_client_id,
            use_default_credential=bool(endpoint.use_default_credential),
        )
    models = (*extra, *(d.name for d in endpoint.deployments)) or (None,)
    return _Target(f"'{endpoint.name}': ", replace(single, sources=sources), tuple(dict.fromkeys(models)))


def _check_credential(found: _Findings, target: _Target) -> AuthProvider | None:
    config = target.config
    try:
        auth = resolve_auth(
            endpoint=config.endpoint,
            api_key=config.api_key,
            azure_ad_token=config.azure_ad_token,
            use_managed_identity=config.use_managed_identity,
            managed_identity_client_id=config.managed_identity_client_id,
            use_default_credential=config.use_default_credential,
            scope=config.token_scope,
            sources=config.sources,
        )
    except GatewayError as exc:  # nothing configured, or azure-identity missing (MissingExtraError)
        found.add("credential", False, str(exc))
        return None
    chosen = {"api_key": "api_key", "azure_ad_token": "azure_ad_token"}.get(auth.kind, f"use_{auth.kind}")
    ignored = [
        f"{name} ({config.sources.get(name, 'kwarg')})"
        for name in _CREDENTIAL_FIELDS
        if name != chosen and getattr(config, name) not in (None, False)
    ]
    details = [f"also configured, not used (lower priority): {', '.join(ignored)}"] if ignored else []
    found.add("credential", True, f"{auth.describe()}: chosen because {auth.reason}", details)
    return auth


def _check_token(found: _Findings, target: _Target, auth: AuthProvider) -> bool:
    if isinstance(auth, EntraTokenAuth):
        started = time.perf_counter()
        try:
            auth.headers()
        except GatewayError as exc:
            return found.add("token", False, f"{auth.kind} could not get a token: {exc}")
        elapsed = (time.perf_counter() - started) * 1000
        expiry = _expiry_text(auth.cache.expires_on)
        summary = f"acquired in {elapsed:.0f} ms for scope {auth.scope}; {expiry} (the token is not shown)"
        return found.add("token", True, summary)
    if auth.kind == "azure_ad_token":
        expires = _jwt_expiry(auth.headers().get("Authorization", ""))
        scope = scope_for_endpoint(target.config.endpoint, target.config.token_scope)
        if expires is not None and expires <= time.time():
            fix = f"get a new one (az account get-access-token --scope {scope}) or use a credential that refreshes"
            return found.add("token", False, f"the static token {_expiry_text(expires)}. Fix: {fix}")
        return found.add("token", True, f"static token, never refreshed; {_expiry_text(expires)} (not shown)")
    return True


def _expiry_text(expires_on: float | None) -> str:
    if expires_on is None:
        return "expiry unknown"
    at = datetime.fromtimestamp(expires_on, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    left = expires_on - time.time()
    if left <= 0:
        return f"expired at {at}"
    return f"expires at {at} (in {left / 60:.0f} min)" if left >= 60 else f"expires at {at} (in {left:.0f} s)"


def _jwt_expiry(header: str) -> float | None:
    """The ``exp`` claim of a bearer JWT (not verified: only to show when it expires), or ``None``."""
    parts = header.removeprefix("Bearer ").split(".")
    if len(parts) != 3:
        return None
    try:
        claims: object = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    return float(exp) if isinstance(exp, int | float) else None


def _describe_resolution(target: _Target, requested: str | None, resolved: ResolvedDeployment) -> str:
    asked = f"model '{requested}'" if requested else "the default model"
    return (
        f"{target.label}{asked} -> deployment '{resolved.deployment}' (rule {resolved.rule}; "
        f"model {resolved.model}; profile {resolved.profile.family})"
    )


def _profile_note(resolved: ResolvedDeployment) -> list[str]:
    if resolved.profile.family != "unknown":
        return []
    return [
        f"model '{resolved.model}' is not one the gateway knows, so it applies no model rules to "
        f"'{resolved.deployment}' (a reasoning model rejects temperature); if the deployment runs a known model, "
        "name it (deployment_models, or AZURE_OPENAI_DEFAULT_MODEL)"
    ]


def _check_request(
    found: _Findings,
    target: _Target,
    *,
    auth: AuthProvider,
    requested: str | None,
    resolved: ResolvedDeployment,
    opts: DoctorOptions,
) -> None:
    # No retries: the doctor reports the first answer (a 429 is news), bounded by one deadline.
    policy = RetryPolicy(max_retries=0, deadline=opts.timeout)
    request = ChatRequest(
        messages=(Message.user(opts.prompt),), model=requested, settings=GenerationSettings(max_tokens=256)
    )
    name = f"{target.label}{resolved.deployment}"
    started = time.perf_counter()
    try:
        result = Gateway(target.config, api=opts.api, auth=auth, retry_policy=policy).complete(request)
    except GatewayError as exc:
        hint = _hint(exc, target.config, resolved)
        found.add("request", False, f"{name}: {type(exc).__name__}: {exc}{hint}")
        return
    elapsed = (time.perf_counter() - started) * 1000
    tokens = f"{result.usage.total_tokens} tokens; " if result.usage is not None else ""
    answer = result.text.strip().replace("\n", " ")
    summary = (
        f"{name}: answered in {elapsed:.0f} ms ({opts.api}; model {result.model}; finish {result.finish_reason}; "
        f"{tokens}request id {result.request_id})"
    )
    found.add("request", True, summary, [f"answer: {answer[:80]!r}"])


def _hint(exc: GatewayError, config: GatewayConfig, resolved: ResolvedDeployment) -> str:
    """A fix the error cannot know: which setting sent the rejected parameter, or that the model is unknown."""
    if not isinstance(exc, UnsupportedParameterError) or exc.parameter is None:
        return ""
    param = exc.parameter
    source = config.sources.get(param)
    fixes: list[str] = [f"'{param}' comes from {source}; unset it"] if source else []
    if resolved.profile.family == "unknown" or source:
        fixes.append(
            f"name the model behind deployment '{resolved.deployment}' (deployment_models, or "
            f"AZURE_OPENAI_DEFAULT_MODEL) so the gateway leaves '{param}' out for models that reject it"
        )
    return f". Fix: {'; or '.join(fixes)}" if fixes else ""


def doctor_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m shared_core doctor``."""
    parser = argparse.ArgumentParser(
        prog="python -m shared_core doctor",
        description="Check the Azure OpenAI configuration, credential, token and deployments.",
    )
    parser.add_argument("--config", default=None, help="a TOML config file (else $AZURE_GATEWAY_CONFIG)")
    parser.add_argument("--model", action="append", default=[], help="also resolve and try this model (repeatable)")
    parser.add_argument("--no-send", action="store_true", help="send no request; check configuration and token only")
    parser.add_argument("--api", choices=("chat", "responses"), default="chat", help="API shape of the test request")
    parser.add_argument("--prompt", default=DoctorOptions().prompt, help="the test request's user message")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds one test request may take")
    return parser


def main(argv: Sequence[str] | None = None, *, env: Mapping[str, str] | None = None) -> int:
    """Run the doctor, printing findings as they come; returns 0 when all passed, else 1."""
    args = doctor_parser().parse_args(argv)
    options = DoctorOptions(
        config_file=args.config,
        models=tuple(args.model),
        send=not args.no_send,
        api=args.api,
        prompt=args.prompt,
        timeout=args.timeout,
    )
    print("Azure OpenAI gateway doctor")
    report = run_doctor(options, env=env, echo=lambda text: print(text, flush=True))
    print(report.summary())
    return 0 if report.ok else 1
