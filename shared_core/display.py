"""Notebook displays: the HTML (and Markdown) that Jupyter shows for the objects a notebook user looks at.

Each displayable class has a tiny ``_repr_html_`` that calls one function here; plain ``repr``/``str`` stay as
they are for terminals and logs. Everything shown is escaped (model output is untrusted text, and so are
Azure's error messages and a proxy's HTML page), and nothing here reads a credential: what is shown is what
the objects already carry, none of which holds a secret.

=====================  ========================================================================================
Object                 Display
=====================  ========================================================================================
``CostTracker``        HTML table per deployment (models, calls, tokens, cost) with a total row; Markdown table
``DeploymentHealth``   HTML table of one deployment: status, usable, time left cooling down, latency, last error
health snapshot        HTML table, one row per deployment (``gateway.health.snapshot()`` or the store itself)
``ChatResult``         HTML card: text, tool calls (valid and invalid), finish reason, usage, cost, deployment,
                       model, request id
``GatewayError``       HTML card: the class, what happened, the fix, status, Azure code, deployment, request id
``DoctorReport``       HTML table of findings (ok/FAIL, step, summary, details) and the closing line
=====================  ========================================================================================

This module is imported lazily by those hooks, so importing the package costs nothing for it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared_core.costs import CostTotals
    from shared_core.doctor import DoctorReport
    from shared_core.errors import FilterCategory, GatewayError
    from shared_core.result import ChatResult
    from shared_core.transport.health import DeploymentHealth

__all__ = [
    "CostRow",
    "chat_result_html",
    "cost_table_html",
    "cost_table_markdown",
    "doctor_report_html",
    "error_html",
    "health_html",
]

CostRow = tuple[str, str, "CostTotals"]
"""One row of a cost table: the group's name, the names on the other axis, the group's totals."""

# Jupyter styles tables in outputs itself; only alignment is set here, inline, as GitHub drops <style> blocks.
_RIGHT = ' style="text-align:right"'
_TOP = ' style="text-align:left;vertical-align:top"'
_OK, _BAD, _WARN = "#1a7f37", "#cf222e", "#9a6700"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], *, numeric_from: int = 99, cls: str = "") -> str:
    """An HTML table; ``rows`` cells are already-escaped HTML, ``header`` is plain text."""

    def cell(tag: str, content: str, index: int) -> str:
        return f"<{tag}{_RIGHT if index >= numeric_from else ''}>{content}</{tag}>"

    head = "".join(cell("th", _e(h), i) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", c, i) for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f'<table class="azure-gateway {cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _colored(text: str, color: str) -> str:
    return f'<span style="color:{color};font-weight:600">{_e(text)}</span>'


# -- costs ---------------------------------------------------------------------------------------------------

_COST_HEADER = ("calls", "input", "cached", "output", "unknown", "cost (USD)")


def _cost_cells(name: str, other: str, t: CostTotals) -> list[str]:
    numbers = (t.calls, t.input_tokens, t.cached_input_tokens, t.output_tokens, t.unknown_cost_calls)
    return [name, other, *(f"{n:,}" for n in numbers), f"{t.amount:.6f}"]


def cost_table_html(by: str, rows: Sequence[CostRow], total: CostTotals) -> str:
    """The cost tracker as an HTML table, one row per group and a bold total row."""
    other = "model" if by == "deployment" else "deployment"
    body = [[_e(c) for c in _cost_cells(n, o, t)] for n, o, t in rows]
    body.append([f"<b>{_e(c)}</b>" for c in _cost_cells("TOTAL", "", total)])
    note = ""
    if total.unknown_cost_calls:
        note = f"<div>{_e(total.unknown_cost_calls)} call(s) have no known price and are not in the cost.</div>"
    return _table((by, other, *_COST_HEADER), body, numeric_from=2, cls="costs") + note


def _md(value: str) -> str:
    return _e(value).replace("|", "&#124;").replace("*", "&#42;").replace("_", "&#95;").replace("`", "&#96;")


def cost_table_markdown(by: str, rows: Sequence[CostRow], total: CostTotals) -> str:
    """The cost tracker as a Markdown table (for renderers that prefer Markdown)."""
    other = "model" if by == "deployment" else "deployment"
    header = (by, other, *_COST_HEADER)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---", "---"] + ["---:"] * 6) + "|"]
    for n, o, t in [*rows, ("**TOTAL**", "", total)]:
        cells = _cost_cells(n, o, t)
        name = n if n == "**TOTAL**" else _md(n)
        lines.append("| " + " | ".join([name, *(_md(c) for c in cells[1:])]) + " |")
    return "\n".join(lines)


# -- health --------------------------------------------------------------------------------------------------

_STATUS_COLOR = {"healthy": _OK, "half_open": _WARN, "cooling_down": _WARN, "circuit_open": _BAD, "broken": _BAD}


def _health_cells(state: DeploymentHealth) -> list[str]:
    if state.available_in is None:
        wait = "until reset"
    elif state.available_in > 0:
        wait = f"{state.available_in:.1f} s"
    else:
        wait = "now"
    latency = f"{state.latency * 1000:.1f} ms ({state.latency_samples})" if state.latency is not None else "n/a"
    reason = state.broken.message if state.broken is not None else (state.last_error or "")
    return [
        _e(state.key),
        _colored(state.status, _STATUS_COLOR.get(state.status, _WARN)),
        _e(wait),
        _e(latency),
        _e(state.consecutive_failures),
        _e(reason),
    ]


def health_html(states: Mapping[str, DeploymentHealth]) -> str:
    """Deployment health as an HTML table, one row per deployment key, sorted."""
    header = ("deployment", "status", "available in", "latency (samples)", "failures", "last error")
    rows = [_health_cells(states[key]) for key in sorted(states)]
    if not rows:
        return "<div><i>No deployment has been called yet.</i></div>"
    return _table(header, rows, numeric_from=99, cls="health")


# -- results -------------------------------------------------------------------------------------------------


def _pre(text: str) -> str:
    return f'<pre style="white-space:pre-wrap;margin:0">{_e(text)}</pre>'


def _tool_call_lines(result: ChatResult) -> list[str]:
    lines = [
        f"<code>{_e(c.name)}({_e(json.dumps(c.arguments, ensure_ascii=False))})</code> <small>{_e(c.id)}</small>"
        for c in result.tool_calls
    ]
    lines += [
        f"{_colored('invalid', _BAD)} <code>{_e(c.name)}</code> {_e(c.error)}: <code>{_e(c.raw_arguments)}</code>"
        for c in result.invalid_tool_calls
    ]
    return lines


def chat_result_html(result: ChatResult) -> str:
    """A result as an HTML card: the answer first, then what the call was and what it cost."""
    rows: list[tuple[str, str]] = [("text", _pre(result.text) if result.text else "<i>(no text)</i>")]
    if result.refusal:
        rows.append(("refusal", _pre(result.refusal)))
    calls = _tool_call_lines(result)
    if calls:
        rows.append(("tool calls", "<br>".join(calls)))
    if result.finish_reason:
        rows.append(("finish reason", _e(result.finish_reason)))
    if result.usage is not None:
        u = result.usage
        rows.append(("usage", _e(f"{u.input_tokens:,} in ({u.cached_input_tokens:,} cached), {u.output_tokens:,} out")))
    if result.cost is not None:
        cost = result.cost
        amount = f"${cost.amount:.6f}" if cost.amount is not None else f"unknown ({cost.reason})"
        rows.append(("cost", _e(amount + (f", priced as {cost.priced_as}" if cost.priced_as else ""))))
    for label, value in (("deployment", result.deployment), ("model", result.model)):
        if value:
            rows.append((label, _e(value)))
    rows.append(("request id", f"<code>{_e(result.request_id)}</code>" if result.request_id else "n/a"))
    return _card("ChatResult", rows, _OK)


def _card(title: str, rows: Sequence[tuple[str, str]], color: str) -> str:
    body = "".join(f"<tr><th{_TOP}>{_e(k)}</th><td{_TOP}>{v}</td></tr>" for k, v in rows)
    return (
        f'<div class="azure-gateway" style="border-left:3px solid {color};padding-left:8px">'
        f'<b>{_e(title)}</b><table class="azure-gateway">{body}</table></div>'
    )


# -- errors --------------------------------------------------------------------------------------------------


def _first_sentence_end(text: str) -> int:
    """Index just past the first sentence's full stop, outside brackets and quotes (``-1`` when one sentence)."""
    depth, quoted = 0, False
    for i, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char in "([" and not quoted:
            depth += 1
        elif char in ")]" and not quoted:
            depth = max(depth - 1, 0)
        elif (
            char == "."
            and not depth
            and not quoted
            and text[i + 1 : i + 3][:1] == " "
            and text[i + 2 : i + 3].isupper()
        ):
            return i + 1
    return -1


def _split_message(error: GatewayError) -> tuple[str, str | None, str | None]:
    """What happened, how to fix it, and what Azure (or a proxy) said, from an error's message.

    Messages read "<what happened>. <the fix>. Azure said: ..." (``transport/error_map.py``) or carry an explicit
    ``Fix:`` (configuration errors); a message that is one sentence has no separate fix.
    """
    message = error.message
    said = None
    for marker in (' Azure said: "', " The response was an HTML page", " The body was not JSON", " The response body"):
        if marker in message:
            message, _, tail = message.partition(marker)
            said = (marker + tail).strip()
            break
    fix = getattr(error, "fix", None)
    if "Fix: " in message:
        what, _, how = message.partition("Fix: ")
        return what.strip().rstrip(".") + ".", how.strip(), said
    if isinstance(fix, str) and fix:
        return message, fix, said
    end = _first_sentence_end(message)
    if end < 0:
        return message, None, said
    return message[:end], message[end:].strip(), said


def _category(category: FilterCategory) -> str:
    if category.severity is not None:
        level = category.severity
    elif category.detected is None:
        level = "?"
    else:
        level = "detected" if category.detected else "not detected"
    return f"{category.name}={level}{' (filtered)' if category.filtered else ''}"


def error_html(error: GatewayError) -> str:
    """An error as an HTML card: what happened, the fix, and the facts a support ticket needs."""
    what, fix, said = _split_message(error)
    rows: list[tuple[str, str]] = [("what happened", _pre(what))]
    if fix:
        rows.append(("fix", _pre(fix)))
    if said:
        rows.append(("the response", _pre(said)))
    for key, value in error.context().items():
        shown = f"<code>{_e(value)}</code>" if key == "request_id" else _e(value)
        rows.append((key.replace("_", " "), shown))
    categories = getattr(error, "categories", ())
    if categories:
        rows.append(("filter", _e(", ".join(_category(c) for c in categories))))
    partial_text = getattr(error, "partial_text", "")
    if isinstance(partial_text, str) and partial_text:
        rows.append(("produced so far", _pre(partial_text)))
    return _card(type(error).__name__, rows, _BAD)


# -- doctor --------------------------------------------------------------------------------------------------


def doctor_report_html(report: DoctorReport) -> str:
    """The doctor's findings as an HTML table, with the closing line under it."""
    rows = [
        [
            _colored("ok", _OK) if f.ok else _colored("FAIL", _BAD),
            _e(f.step),
            _e(f.summary) + "".join(f"<br><small>{_e(d)}</small>" for d in f.details),
        ]
        for f in report.findings
    ]
    summary = _colored(report.summary(), _OK if report.ok else _BAD)
    return _table(("", "step", "finding"), rows, cls="doctor") + f"<div>{summary}</div>"
