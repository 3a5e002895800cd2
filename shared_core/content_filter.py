"""Azure's content filter, read from both API shapes into one :class:`ContentFilterError`.

A filtered prompt comes back as HTTP 400 with ``code: content_filter``: on Chat Completions with
``innererror.content_filter_result`` (the real wire; the spec says ``inner_error.content_filter_results``, and
we read both), on the Responses API with ``type: invalid_request_error`` and no details at all. A filtered
completion ends with ``finish_reason: content_filter`` (Chat Completions) or an ``incomplete`` response whose
reason is ``content_filter`` (Responses). Both become the same error, carrying what was produced before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Unpack

from shared_core.errors import ContentFilterError, ErrorContext, FilterCategory
from shared_core.messages import JsonValue
from shared_core.result import ChatResult

__all__ = ["completion_filter_error", "filter_categories", "prompt_filter_error"]


def filter_categories(results: Mapping[str, JsonValue]) -> tuple[FilterCategory, ...]:
    """Read Azure's ``{category: {filtered, severity, detected}}`` object into categories, sorted by name."""
    out: list[FilterCategory] = []
    for name in sorted(results):
        verdict = results[name]
        if not isinstance(verdict, dict):
            continue
        severity = verdict.get("severity")
        detected = verdict.get("detected")
        out.append(
            FilterCategory(
                name=name,
                filtered=verdict.get("filtered") is True,
                severity=severity if isinstance(severity, str) else None,
                detected=detected if isinstance(detected, bool) else None,
            )
        )
    return tuple(out)


def _describe(categories: tuple[FilterCategory, ...]) -> str:
    hits = [f"{c.name}={c.severity}" if c.severity else c.name for c in categories if c.filtered]
    return ", ".join(hits) if hits else "no category named by Azure"


def prompt_filter_error(error_body: JsonValue, **ctx: Unpack[ErrorContext]) -> ContentFilterError | None:
    """Build the error for a rejected prompt, or ``None`` when the error body is not a content filter.

    Args:
        error_body: The parsed JSON error body (``{"error": {...}}``).
        ctx: Error context (deployment, status, request id ...).
    """
    if not isinstance(error_body, dict):
        return None
    error = error_body.get("error")
    if not isinstance(error, dict) or error.get("code") != "content_filter":
        return None
    inner = error.get("innererror", error.get("inner_error"))
    results: JsonValue = None
    if isinstance(inner, dict):
        results = inner.get("content_filter_result", inner.get("content_filter_results"))
    categories = filter_categories(results) if isinstance(results, dict) else ()
    message = error.get("message")
    text = (
        f"Azure's content filter rejected the prompt ({_describe(categories)}); nothing was generated. "
        "Rephrase the input, or ask your Azure admin about the deployment's content filter policy"
    )
    if isinstance(message, str) and not categories:
        text = f"{text}. Azure said: {message}"
    return ContentFilterError(text, side="prompt", categories=categories, **ctx)


def completion_filter_error(result: ChatResult, **ctx: Unpack[ErrorContext]) -> ContentFilterError | None:
    """Build the error for a completion the filter cut, or ``None`` when it was not cut.

    The error's ``partial`` is ``result`` itself: the text and tool calls produced before the filter fired.
    """
    if result.finish_reason != "content_filter":
        return None
    categories = filter_categories(result.content_filter_results)
    produced = len(result.text)
    text = (
        f"Azure's content filter stopped the answer ({_describe(categories)}) after {produced} characters; "
        "the partial answer is in .partial"
    )
    return ContentFilterError(text, side="completion", categories=categories, partial=result, **ctx)
