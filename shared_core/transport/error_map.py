"""One table from (HTTP status, Azure error code) to the error tree, and the readers it needs.

Azure answers errors in several shapes, all seen on the wire: ``{"error": {"code", "message", "param",
"type", "innererror"}}`` from the model service (``code`` is a string, sometimes a number in a string such as
``"401"`` or ``"404"``), ``{"statusCode": 401, "message": ...}`` from the API Management front door, HTML
pages from proxies and gateways (App Gateway, Front Door, corporate proxies), and empty bodies. The same
failure is spelled differently by route: an unknown deployment is 404 ``DeploymentNotFound`` on
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

import html
import json
import math
import re
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Literal

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
from shared_core.transport.quota import reset_wait

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

_RAW_LIMIT = 2000
_QUOTE_LIMIT = 300

# Azure's 429 bodies say "Please retry after 6 seconds" even when a proxy stripped the Retry-After headers.
_RETRY_IN_MESSAGE = re.compile(r"(?:retry after|try again in)\s+(\d+(?:\.\d+)?)\s*(second|millisecond)", re.I)


def is_retryable_status(status: int) -> bool:
    """True for 408, 429, 500, 502, 503 and 504."""
    return status in RETRYABLE_STATUSES


def _non_negative_number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait, or ``None`` when it did not say.

    Precedence: ``retry-after-ms``, then ``x-ms-retry-after-ms`` (milliseconds, more precise; Azure sends
    both on a 429), then ``retry-after`` (seconds, or an HTTP date). A malformed header is skipped; a date in
    the past gives ``0.0``; the result is never negative.

    Args:
        headers: Response headers with lower-cased names.
        now: The current epoch time, for HTTP dates (``time.time()`` when omitted).
    """
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        raw = headers.get(name)
        if raw is not None and (millis := _non_negative_number(raw)) is not None:
            return millis / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    seconds = _non_negative_number(raw)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def request_id(headers: Mapping[str, str]) -> str | None:
    """Azure's request id for support tickets: ``apim-request-id``, else ``x-request-id``, ``x-ms-request-id``."""
    for name in ("apim-request-id", "x-request-id", "x-ms-request-id"):
        value = headers.get(name)
        if value:
            return value
    return None


@dataclass(frozen=True, slots=True)
class ErrorDetails:
    """What an error body said, whatever its shape.

    Attributes:
        status: The HTTP status when the caller gave it, else the one the body states, else ``None``.
        code: Azure's error code as text (``"DeploymentNotFound"``, ``"401"`` ...), ``None`` when absent.
        message: Azure's message; the page title for HTML; the text itself for plain text; ``""`` when empty.
        param: The request field Azure blamed (``"max_tokens"``), when it named one.
        inner_code: ``innererror.code`` (``"ResponsibleAIPolicyViolation"``), when present.
        raw_text: The body as text, cut to about 2000 characters (proxy pages can be large).
        form: Which shape the body had: ``azure`` JSON, ``apim`` JSON, ``html``, ``text`` or ``empty``.
    """

    status: int | None
    code: str | None
    message: str
    param: str | None
    inner_code: str | None
    raw_text: str
    form: Literal["azure", "apim", "html", "text", "empty"]


def _text_or_none(value: JsonValue) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        return str(value) or None
    return None


def _html_title(page: str) -> str:
    lowered = page.lower()
    start = lowered.find("<title")
    if start == -1:
        return ""
    start = lowered.find(">", start)
    end = lowered.find("</title", start)
    if start == -1 or end == -1:
        return ""
    return " ".join(html.unescape(page[start + 1 : end]).split())[:_QUOTE_LIMIT]


def _from_json(value: JsonValue, status: int | None, raw_text: str) -> ErrorDetails | None:
    if not isinstance(value, dict) or ("error" not in value and "message" not in value):
        return None
    error = value.get("error", value)
    if isinstance(error, str):
        return ErrorDetails(status, None, error, None, None, raw_text, "azure")
    if not isinstance(error, dict):
        return None
    inner = error.get("innererror", error.get("inner_error"))
    body_status = error.get("status", value.get("statusCode"))
    if status is None and isinstance(body_status, int) and not isinstance(body_status, bool):
        status = body_status
    message = error.get("message")
    return ErrorDetails(
        status=status,
        code=_text_or_none(error.get("code")),
        message=message if isinstance(message, str) else "",
        param=_text_or_none(error.get("param")),
        inner_code=_text_or_none(inner.get("code")) if isinstance(inner, dict) else None,
        raw_text=raw_text,
        form="apim" if "statusCode" in value and "error" not in value else "azure",
    )


def parse_error_body(body: bytes, content_type: str | None, status: int | None = None) -> ErrorDetails:
    """Read an error body of any shape Azure or a proxy in front of it sends.

    Args:
        body: The raw response body.
        content_type: The ``content-type`` header, if any (bodies are sniffed as well: proxies mislabel).
        status: The HTTP status, when known.
    """
    text = body.decode("utf-8", errors="replace")
    raw_text = text[:_RAW_LIMIT]
    stripped = text.strip()
    if not stripped:
        return ErrorDetails(status, None, "", None, None, raw_text, "empty")
    if stripped[0] in "{[":
        try:
            value: JsonValue = json.loads(stripped)
        except (ValueError, RecursionError):  # also the digit limit and nesting past the recursion limit
            value = None
        details = _from_json(value, status, raw_text)
        if details is not None:
            return details
    if stripped[0] == "<" or "html" in (content_type or "").lower():
        return ErrorDetails(status, None, _html_title(stripped), None, None, raw_text, "html")
    return ErrorDetails(status, None, stripped[:_QUOTE_LIMIT], None, None, raw_text, "text")


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
        return f'Azure said: "{d.message[:_QUOTE_LIMIT]}"' if d.message else ""

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


def _retry_after(headers: Mapping[str, str], status: int, details: ErrorDetails) -> float | None:
    asked = parse_retry_after(headers)
    # A 429 may also say when the token budget is back (x-ratelimit-reset-tokens); never wait less than that.
    reset = reset_wait(headers) if status == 429 else None
    if reset is not None:
        return max(asked or 0.0, reset)
    if asked is not None or status != 429:
        return asked
    match = _RETRY_IN_MESSAGE.search(details.message)
    if match is None:
        return None
    value = float(match.group(1))
    return value / 1000.0 if match.group(2).lower() == "millisecond" else value


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
    facts = _Facts(status, _implied_code(details), details, ctx, _retry_after(headers, status, details))
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
