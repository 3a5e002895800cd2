"""One table from (HTTP status, Azure error code) to the error tree, with a fix in every message.

The response is read by :mod:`shared_core.transport.error_response` (every body shape Azure and the proxies in
front of it send, the wait asked for, the request id; its readers are re-exported here). The same failure is
spelled differently by route: an unknown deployment is 404 ``DeploymentNotFound`` on
``/openai/deployments/{d}/...`` but 400 ``unknown_model`` on ``/openai/v1/...``.

Decisions the table encodes:

* 404 with anything but a deployment code (Azure's ``{"code": "404", "message": "Resource not found"}``, an
  HTML page, an empty body) is a :class:`NotFoundError` about the URL path or api-version, not its subclass
  :class:`DeploymentNotFoundError`: Azure reports a missing deployment as ``DeploymentNotFound`` on the very
  same route, so "Resource not found" means the route itself does not exist (an api-version that lacks it,
  an endpoint with a path already in it). Failing over to a sibling deployment would fail the same way.
* An HTML page keeps the class its status gives (5xx: :class:`ServerError`, still retried) and says in the
  message that a proxy answered, not Azure OpenAI, with the page's title.
* 4xx ``content_filter`` with Azure's error shape is a :class:`ContentFilterError` carrying the filter
  categories (:mod:`shared_core.content_filter` reads them); a body of another shape that still implies the
  filter (``innererror.code: ResponsibleAIPolicyViolation``) stays a :class:`BadRequestError` that says so.

Everything here is pure: headers are a plain mapping with lower-cased keys, bodies are bytes. Only
``transport/http.py`` touches httpx.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from shared_core.content_filter import prompt_filter_error
from shared_core.errors import (
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    ContextLengthExceededError,
    DeploymentNotFoundError,
    ErrorContext,
    GatewayError,
    InvalidResponseError,
    NotFoundError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    UnsupportedParameterError,
)
from shared_core.messages import JsonValue
from shared_core.transport.error_response import (
    QUOTE_LIMIT,
    ErrorDetails,
    parse_error_body,
    parse_retry_after,
    request_id,
    wait_asked,
)

__all__ = [
    "RETRYABLE_STATUSES",
    "ErrorDetails",
    "RequestContext",
    "error_from_response",
    "is_retryable_status",
    "parse_error_body",
    "parse_retry_after",
    "request_id",
]

RETRYABLE_STATUSES: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses worth another attempt: timeouts, throttling and transient gateway/server failures."""


def is_retryable_status(status: int) -> bool:
    """True for 408, 429, 500, 502, 503 and 504."""
    return status in RETRYABLE_STATUSES


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What the transport knew about the request, for error messages. Never holds a secret.

    Attributes:
        deployment: The deployment the request went to.
        endpoint: The endpoint (scheme and host).
        api_version: The ``api-version`` query value (``None`` on ``/openai/v1``).
        model: The model behind the deployment, when known.
        credential: The credential's kind, then where it came from: ``"api_key from env
            AZURE_OPENAI_API_KEY"``, ``"managed_identity (user-assigned)"``. Never its value.
        scope: The Entra scope requested, for token credentials.
        deployment_rule: How the deployment was chosen: ``explicit``, ``default`` or ``pass-through``.
    """

    deployment: str | None = None
    endpoint: str | None = None
    api_version: str | None = None
    model: str | None = None
    credential: str | None = None
    scope: str | None = None
    deployment_rule: str | None = None


@dataclass(frozen=True, slots=True)
class _Facts:
    status: int
    code: str | None  # Azure's code, or the one its message implies when it gave none
    details: ErrorDetails
    ctx: RequestContext
    retry_after: float | None

    @property
    def target(self) -> str:
        return f"deployment '{self.ctx.deployment}'" if self.ctx.deployment else "the deployment"

    @property
    def said(self) -> str:
        d = self.details
        if d.form == "html":
            return f"The response was an HTML page from a proxy, not Azure OpenAI (title: '{d.message}')."
        if d.form == "empty":
            return "The response body was empty."
        if d.form == "text":
            return f'The body was not JSON: "{d.message}".'
        return f'Azure said: "{d.message[:QUOTE_LIMIT]}"' if d.message else ""

    @property
    def http(self) -> str:
        code = self.details.code
        return f"HTTP {self.status} {code}" if code and code != str(self.status) else f"HTTP {self.status}"


def _join(*parts: str, sep: str = " ") -> str:
    return sep.join(p for p in parts if p)


def _is_api_key(credential: str | None) -> bool:
    kind = (credential or "").lower().replace("-", "_").replace(" ", "_")
    return kind.startswith(("api_key", "apikey"))


_KEY_401 = (
    "Check AZURE_OPENAI_API_KEY belongs to this resource (keys are per resource: copy it from the resource's "
    "'Keys and Endpoint' page) and that the endpoint is that resource's."
)
_TOKEN_401 = (
    "Check the token is for the resource's tenant and its scope is https://cognitiveservices.azure.com/.default "
    "(https://ai.azure.com/.default on *.services.ai.azure.com)."
)
_KEY_403 = "Check the resource's network rules (firewall, private endpoint) admit this client."
_TOKEN_403 = (
    "Give the identity the 'Cognitive Services OpenAI User' role on the resource (role assignments take a few "
    "minutes to apply), and check the resource's network rules (firewall, private endpoint)."
)


def _explain_auth(f: _Facts) -> str:
    cred, scope = f.ctx.credential, f.ctx.scope
    used = _join(f.http, f"credential: {cred}" if cred else "", f"scope: {scope}" if scope else "", sep="; ")
    if f.details.code == "AuthenticationTypeDisabled":
        fix = "Key authentication is disabled on this resource: use an Entra credential (managed identity)."
    elif _is_api_key(cred):
        fix = _KEY_401 if f.status == 401 else _KEY_403
    elif cred:
        fix = _TOKEN_401 if f.status == 401 else _TOKEN_403
    else:
        fix = _join(_KEY_401, _TOKEN_401) if f.status == 401 else _TOKEN_403
    return _join(f"Azure OpenAI refused the request's credential ({used}).", fix, f.said)


_RULE_TEXT: Mapping[str, str] = {
    "explicit": "It came from deployment_mapping (model '{model}').",
    "default": "It is the default deployment (AZURE_OPENAI_DEFAULT_DEPLOYMENT / default_deployment).",
    "pass-through": "No mapping matched, so the requested name was used as the deployment name as is.",
}


def _explain_deployment_missing(f: _Facts) -> str:
    where = f" on {f.ctx.endpoint}" if f.ctx.endpoint else ""
    rule = _RULE_TEXT.get(f.ctx.deployment_rule or "", "").format(model=f.ctx.model)
    v1 = "; on /openai/v1 the 'model' field is the deployment name" if f.code == "unknown_model" else ""
    fix = (
        "Fix: set AZURE_OPENAI_DEFAULT_DEPLOYMENT or map the model in deployment_mapping to a deployment "
        "name shown on the resource's Deployments page in the Azure portal (the deployment name, not the "
        "model name); a deployment created minutes ago may not be ready yet."
    )
    return _join(f"{f.target.capitalize()} does not exist{where} ({f.http}{v1}).", rule, fix, f.said)


def _explain_wrong_path(f: _Facts) -> str:
    version = f"api-version '{f.ctx.api_version}'" if f.ctx.api_version else "this route"
    return _join(
        f"Azure OpenAI found no such route for {f.target} ({f.http}): the URL path or {version} is wrong,",
        "not the deployment (a missing deployment is reported as DeploymentNotFound).",
        "Check the endpoint is the resource root (https://<resource>.openai.azure.com, no /openai/... path)",
        "and that the api-version serves this API (Responses needs 2025-03-01-preview or later, or /openai/v1).",
        f.said,
    )


def _explain_rate_limit(f: _Facts) -> str:
    wait = f"; it asked to wait {f.retry_after:g} s" if f.retry_after is not None else ""
    return _join(
        f"Azure OpenAI throttled {f.target} ({f.http}{wait}).",
        "Raise the deployment's tokens-per-minute quota or add sibling deployments to fail over to.",
        f.said,
    )


def _explain_context_length(f: _Facts) -> str:
    model = f" of model '{f.ctx.model}'" if f.ctx.model else ""
    return _join(
        f"The prompt plus the requested output exceed the context window{model} on {f.target} ({f.http}).",
        "Shorten the conversation or lower the output token limit.",
        f.said,
    )


def _unsupported_parameter(f: _Facts) -> str | None:
    if f.details.param:
        return f.details.param
    message = f.details.message
    for marker in ("Unsupported parameter: '", "Unsupported value: '"):
        start = message.find(marker)
        if start != -1:
            end = message.find("'", start + len(marker))
            return message[start + len(marker) : end] if end != -1 else None
    marker = "Unrecognized request argument supplied: "
    start = message.find(marker)
    if start == -1:
        return None
    return message[start + len(marker) :].strip(" .") or None


def _explain_unsupported(f: _Facts) -> str:
    param = _unsupported_parameter(f)
    rules = _join(
        f"model '{f.ctx.model}'" if f.ctx.model else "",
        f"api-version '{f.ctx.api_version}'" if f.ctx.api_version else "",
        sep=", ",
    )
    what = f"parameter '{param}'" if param else "a parameter"
    # Old api-versions reject newer parameters with "Unrecognized request argument" and no code.
    newer = "A newer api-version may accept it." if "Unrecognized request argument" in f.details.message else ""
    head = f"{f.target.capitalize()}{f' ({rules})' if rules else ''} does not accept {what} ({f.http})."
    return _join(head, newer, _reasoning_hint(f, param), f.said)


_REASONING_ONLY_REFUSALS = frozenset({"temperature", "top_p", "max_tokens"})


def _reasoning_hint(f: _Facts, param: str | None) -> str:
    """Reasoning models refuse these; the rules were not applied because the model behind the deployment is
    unknown to us (its name says nothing), so say how to declare it."""
    if param not in _REASONING_ONLY_REFUSALS or not f.ctx.deployment:
        return ""
    return (
        f"If deployment '{f.ctx.deployment}' runs a reasoning model (o-series, gpt-5), declare it so these rules "
        f"are applied: deployment_models={{'{f.ctx.deployment}': '<base model, e.g. gpt-5-mini>'}}."
    )


def _explain_content_filter(f: _Facts) -> str:
    return _join(
        f"Azure's content filter rejected the prompt sent to {f.target} ({f.http});",
        "the wire layer reports this as ContentFilterError with the categories.",
        f.said,
    )


def _explain_bad_request(f: _Facts) -> str:
    param = f" (parameter '{f.details.param}')" if f.details.param else ""
    return _join(f"Azure OpenAI rejected the request to {f.target}{param} ({f.http}).", f.said)


def _explain_timeout(f: _Facts) -> str:
    return _join(f"The request to {f.target} timed out on the server side ({f.http}).", f.said)


def _explain_server_error(f: _Facts) -> str:
    return _join(f"Azure OpenAI failed on {f.target} ({f.http}).", f.said)


def _explain_unexpected(f: _Facts) -> str:
    hint = " (a redirect: usually a proxy, or http:// instead of https://)" if 300 <= f.status < 400 else ""
    return _join(f"Expected an Azure OpenAI error response but got HTTP {f.status}{hint}.", f.said)


@dataclass(frozen=True, slots=True)
class _Row:
    statuses: Collection[int]
    codes: Collection[str] | None  # None: any code
    error: type[GatewayError]
    explain: Callable[[_Facts], str]


_4XX = range(400, 500)
_5XX = range(500, 600)

# First matching row wins; the order goes from specific to general.
_TABLE: tuple[_Row, ...] = (
    _Row((401, 403), None, AuthenticationError, _explain_auth),
    _Row((404,), ("DeploymentNotFound", "model_not_found"), DeploymentNotFoundError, _explain_deployment_missing),
    _Row((400, 404), ("unknown_model",), DeploymentNotFoundError, _explain_deployment_missing),
    _Row((404,), None, NotFoundError, _explain_wrong_path),
    _Row((429,), None, RateLimitError, _explain_rate_limit),
    _Row((408,), None, RequestTimeoutError, _explain_timeout),
    _Row(_4XX, ("context_length_exceeded",), ContextLengthExceededError, _explain_context_length),
    _Row(_4XX, ("unsupported_parameter", "unsupported_value"), UnsupportedParameterError, _explain_unsupported),
    _Row(_4XX, ("content_filter",), ContentFilterError, _explain_content_filter),
    _Row(_4XX, None, BadRequestError, _explain_bad_request),
    _Row(_5XX, None, ServerError, _explain_server_error),
)
_UNEXPECTED = _Row((), None, InvalidResponseError, _explain_unexpected)


def _implied_code(details: ErrorDetails) -> str | None:
    """Azure's code, or the one its message implies (older api-versions send ``code: null`` with these)."""
    message = details.message
    if details.code not in (None, "invalid_request_error", "invalid_value", "400"):
        return details.code
    if message.startswith("Unsupported parameter") or "Unrecognized request argument" in message:
        return "unsupported_parameter"
    if message.startswith("Unsupported value"):
        return "unsupported_value"
    if "maximum context length" in message:
        return "context_length_exceeded"
    if details.inner_code == "ResponsibleAIPolicyViolation":
        return "content_filter"
    return details.code


def _match(status: int, code: str | None) -> _Row:
    for row in _TABLE:
        if status in row.statuses and (row.codes is None or code in row.codes):
            return row
    return _UNEXPECTED


def _content_filter(body: bytes, text: str, context: ErrorContext) -> GatewayError:
    try:
        payload: JsonValue = json.loads(body)
    except (ValueError, RecursionError):
        payload = None
    filtered = prompt_filter_error(
        payload,
        deployment=context.get("deployment"),
        endpoint=context.get("endpoint"),
        status=context.get("status"),
        code="content_filter",
        request_id=context.get("request_id"),
    )
    return filtered if filtered is not None else BadRequestError(text, **context)


def error_from_response(status: int, headers: Mapping[str, str], body: bytes, ctx: RequestContext) -> GatewayError:
    """Translate one error response into the error tree, through the table above.

    Args:
        status: The HTTP status (an error status; anything else becomes :class:`InvalidResponseError`).
        headers: Response headers with lower-cased names. Only request ids and retry-after are read, so a
            secret in a header can never reach the message.
        body: The raw response body.
        ctx: What the transport knew about the request (deployment, endpoint, credential description ...).

    Returns:
        The error to raise, carrying deployment, endpoint, status, code, request id and retry-after.
    """
    details = parse_error_body(body, headers.get("content-type"), status)
    facts = _Facts(status, _implied_code(details), details, ctx, wait_asked(headers, status, details))
    row = _match(status, facts.code)
    text = row.explain(facts)
    context: ErrorContext = {
        "deployment": ctx.deployment,
        "endpoint": ctx.endpoint,
        "status": status,
        "code": details.code,
        "request_id": request_id(headers),
        "retry_after": facts.retry_after,
    }
    if row.error is ContentFilterError:
        return _content_filter(body, text, context)
    if row.error is AuthenticationError:
        return AuthenticationError(text, credential=ctx.credential, scope=ctx.scope, **context)
    if row.error is UnsupportedParameterError:
        return UnsupportedParameterError(
            text,
            parameter=_unsupported_parameter(facts),
            model=ctx.model,
            api_version=ctx.api_version,
            **context,
        )
    return row.error(text, **context)
