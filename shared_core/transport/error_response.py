"""Reading an error response: its body in any shape, the wait it asks for, and Azure's request id.

Azure answers errors in several shapes, all seen on the wire: ``{"error": {"code", "message", "param",
"type", "innererror"}}`` from the model service (``code`` is a string, sometimes a number in a string such as
``"401"`` or ``"404"``), ``{"statusCode": 401, "message": ...}`` from the API Management front door, HTML
pages from proxies and gateways (App Gateway, Front Door, corporate proxies), and empty bodies.
:func:`parse_error_body` reads them all into one :class:`ErrorDetails`; what each means is decided by the table
in :mod:`shared_core.transport.error_map`.

Everything here is pure: headers are a plain mapping with lower-cased keys, bodies are bytes.
"""

from __future__ import annotations

import html
import json
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Literal

from shared_core.messages import JsonValue
from shared_core.transport.quota import reset_wait

__all__ = ["QUOTE_LIMIT", "ErrorDetails", "parse_error_body", "parse_retry_after", "request_id", "wait_asked"]

_RAW_LIMIT = 2000
QUOTE_LIMIT = 300
"""The most characters of Azure's message (or a page title, or a plain-text body) quoted in an error message."""

# Azure's 429 bodies say "Please retry after 6 seconds" even when a proxy stripped the Retry-After headers.
_RETRY_IN_MESSAGE = re.compile(r"(?:retry after|try again in)\s+(\d+(?:\.\d+)?)\s*(second|millisecond)", re.I)


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
    return " ".join(html.unescape(page[start + 1 : end]).split())[:QUOTE_LIMIT]


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
    return ErrorDetails(status, None, stripped[:QUOTE_LIMIT], None, None, raw_text, "text")


def wait_asked(headers: Mapping[str, str], status: int, details: ErrorDetails) -> float | None:
    """Seconds an error response asked us to wait: its headers, else (on a 429) its message; ``None`` if neither says.

    Args:
        headers: Response headers with lower-cased names.
        status: The HTTP status.
        details: The parsed body (:func:`parse_error_body`).
    """
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
