"""Fold the workers' repetitions into medians and ratios, judge the gateway's targets, and render Markdown."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import sys
from importlib import metadata
from typing import Any

from benchmarks.clients import ADAPTERS
from benchmarks.imports import render_imports

__all__ = ["TARGETS", "environment", "render_markdown", "summarize"]

METRICS = (
    "construct_us",
    "call_cpu_us",
    "call_wall_us",
    "chunk_cpu_us",
    "stream_cpu_us",
    "inflight_calls_per_s",
    "inflight_cpu_us",
)

TARGETS = {
    "call": ("CPU per non-streaming call", "<=", 1.3, "httpx"),
    "chunk": ("CPU per streamed chunk", "<=", 2.0, "httpx"),
    "async": ("in-flight throughput (calls/s)", ">=", 0.85, "httpx-aiohttp"),
    "async_vs_httpx_pool": ("in-flight throughput (calls/s)", ">=", 0.85, "httpx"),
}
"""Gateway targets: (what, comparison, ratio, against which baseline). The async target is judged against the
raw client on the same (aiohttp) pool, the strict reading; the one against httpx's own pool is reported too."""

FRAMEWORKS = (
    ("LangChain", "langchain-gateway", "langchain-floor", "langchain"),
    ("LlamaIndex", "llamaindex-gateway", "llamaindex-floor", "llamaindex"),
)
"""(framework, our package's client, its floor, its anchor)."""

FLOOR_LIMIT = 1.15
"""DESIGN.md §3: our framework packages should cost within about 15% of their framework's floor."""

_FRAMEWORK_METRICS = (
    ("call", "call_cpu_us"),
    ("chunk", "chunk_cpu_us"),
    ("inflight_cpu", "inflight_cpu_us"),
    ("inflight_rate", "inflight_calls_per_s"),
)

_PACKAGES = (
    "httpx",
    "httpx-aiohttp",
    "aiohttp",
    "openai",
    "pydantic",
    "langchain-core",
    "langchain-openai",
    "llama-index-core",
    "llama-index-llms-azure-openai",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _revision() -> str:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "shared_core"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} (shared_core modified in the work tree)" if dirty else head


def environment() -> dict[str, Any]:
    """Date, machine, interpreter and the versions of the measured packages."""
    versions: dict[str, str] = {}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{_cpu_model()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "revision": _revision(),
        "executable": os.path.realpath(sys.executable),
        "packages": versions,
        "load_average_start": os.getloadavg(),
    }


def _median(values: list[Any]) -> float | None:
    numbers = [v for v in values if isinstance(v, int | float)]
    return statistics.median(numbers) if numbers else None


def _ratio(value: float | None, base: float | None) -> float | None:
    return value / base if value is not None and base else None


def summarize(reps: dict[str, list[dict[str, Any]]], concurrency: int, hold_ms: float) -> dict[str, Any]:
    """Medians per client, ratios against the baselines, and the gateway's targets judged."""
    clients: dict[str, dict[str, Any]] = {}
    for name, runs in reps.items():
        row: dict[str, Any] = {metric: _median([run.get(metric) for run in runs]) for metric in METRICS}
        errors = {
            f"{key} (rep {i + 1})": value for i, run in enumerate(runs) for key, value in run.get("errors", {}).items()
        }
        if errors:
            row["errors"] = errors
        clients[name] = row
    base = clients.get("httpx", {})
    pooled = clients.get("httpx-aiohttp", {})
    for row in clients.values():
        row["call_x"] = _ratio(row["call_cpu_us"], base.get("call_cpu_us"))
        row["chunk_x"] = _ratio(row["chunk_cpu_us"], base.get("chunk_cpu_us"))
        row["inflight_x_httpx"] = _ratio(row["inflight_calls_per_s"], base.get("inflight_calls_per_s"))
        row["inflight_x_aiohttp"] = _ratio(row["inflight_calls_per_s"], pooled.get("inflight_calls_per_s"))
    gateway = clients.get("gateway")
    targets: dict[str, Any] = {}
    if gateway is not None:
        measured = {
            "call": gateway["call_x"],
            "chunk": gateway["chunk_x"],
            "async": gateway["inflight_x_aiohttp"],
            "async_vs_httpx_pool": gateway["inflight_x_httpx"],
        }
        for key, (what, op, limit, against) in TARGETS.items():
            value = measured[key]
            passed = None if value is None else (value <= limit if op == "<=" else value >= limit)
            targets[key] = {"what": what, "target": f"{op} {limit}x {against}", "measured": value, "pass": passed}
    ideal = concurrency / (hold_ms / 1000.0) if hold_ms else None
    return {
        "clients": clients,
        "targets": targets,
        "frameworks": _frameworks(clients),
        "inflight_ideal_calls_per_s": ideal,
    }


def _frameworks(clients: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each framework package against its floor and its anchor; CPU per call and per chunk judged on the floor."""
    out: dict[str, Any] = {}
    for framework, ours, floor, anchor in FRAMEWORKS:
        if ours not in clients:
            continue
        row: dict[str, Any] = {"client": ours}
        for key, metric in _FRAMEWORK_METRICS:
            value = clients[ours].get(metric)
            row[key] = value
            row[f"{key}_x_floor"] = _ratio(value, clients.get(floor, {}).get(metric))
            row[f"{key}_x_anchor"] = _ratio(value, clients.get(anchor, {}).get(metric))
        row["targets"] = {
            key: None if row[f"{key}_x_floor"] is None else row[f"{key}_x_floor"] <= FLOOR_LIMIT
            for key in ("call", "chunk")
        }
        out[framework] = row
    return out


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:,.{digits}f}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _render_frameworks(frameworks: dict[str, Any]) -> list[str]:
    if not frameworks:
        return []
    lines = [
        "",
        "| our package | CPU/call µs | x floor | x anchor | CPU/chunk µs | x floor | x anchor "
        "| in-flight CPU/call µs | x floor | x anchor | in-flight calls/s | x floor | x anchor |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in frameworks.values():
        cells = [ADAPTERS[row["client"]].label]
        for key, _ in _FRAMEWORK_METRICS:
            cells += [_fmt(row[key], 1 if key == "chunk" else 0), _x(row[f"{key}_x_floor"]), _x(row[f"{key}_x_anchor"])]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"| framework target (<= {FLOOR_LIMIT}x its floor) | measured | result |", "|---|--:|---|"]
    for framework, row in frameworks.items():
        for key, what in (("call", "CPU per call"), ("chunk", "CPU per chunk")):
            verdict = {True: "pass", False: "**FAIL**", None: "not measured"}[row["targets"][key]]
            lines.append(f"| {framework}: {what} | {_x(row[f'{key}_x_floor'])} | {verdict} |")
    return lines


_FLOORS = {"langchain-gateway": "langchain-floor", "llamaindex-gateway": "llamaindex-floor"}


def _render_instructions(counts: dict[str, dict[str, float]]) -> list[str]:
    """Instructions per call and per chunk (callgrind), against httpx and, for our packages, their floors."""
    if not counts:
        return []
    base = counts.get("httpx", {})
    lines = [
        "",
        "| client (callgrind) | instructions/call | x httpx | x floor | instructions/chunk | x httpx | x floor |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for name, row in counts.items():
        floor = counts.get(_FLOORS.get(name, ""), {})
        cells = [ADAPTERS[name].label]
        for key in ("call", "chunk"):
            value = row.get(key)
            cells += [_fmt(value), _x(_ratio(value, base.get(key))), _x(_ratio(value, floor.get(key)))]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables (what ``benchmarks/README.md`` shows)."""
    env, summary, plan = report["environment"], report["summary"], report["plan"]
    inflight = plan["worker"]["inflight"]
    lines = [
        f"Measured {env['date']} on {env['machine']}, Python {env['python']}, revision {env['revision']}; load average "
        f"{_fmt(env['load_average_start'][0], 2)} at start, {_fmt(env.get('load_average_end', [None])[0], 2)} at end; "
        f"{plan['reps']} repetition(s), medians; run took {report.get('seconds', '?')} s.",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in env["packages"].items()) + ".",
        "",
        "| client | build µs | CPU/call µs | x httpx | CPU/chunk µs | x httpx | in-flight calls/s | x httpx "
        "| x httpx+aiohttp | in-flight CPU/call µs |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name, row in summary["clients"].items():
        label = ADAPTERS[name].label
        lines.append(
            f"| {label} | {_fmt(row['construct_us'], 1)} | {_fmt(row['call_cpu_us'])} | {_x(row['call_x'])} "
            f"| {_fmt(row['chunk_cpu_us'], 1)} | {_x(row['chunk_x'])} | {_fmt(row['inflight_calls_per_s'])} "
            f"| {_x(row['inflight_x_httpx'])} | {_x(row['inflight_x_aiohttp'])} | {_fmt(row['inflight_cpu_us'])} |"
        )
    lines += [
        "",
        f"Streams carry {plan['chunks']} text chunks ({plan['chunks'] + 4} `data:` events); CPU/chunk is a whole "
        f"streamed call's CPU divided by the events. In flight: {inflight['concurrency']} concurrent calls, each held "
        f"{plan['hold_ms']:.0f} ms by the server (ideal {_fmt(summary['inflight_ideal_calls_per_s'])} calls/s).",
    ]
    if report.get("skipped"):
        lines.append("Skipped (not installed): " + "; ".join(f"{k}: {v}" for k, v in report["skipped"].items()) + ".")
    if summary["targets"]:
        lines += ["", "| gateway target | measured | result |", "|---|--:|---|"]
        for target in summary["targets"].values():
            verdict = {True: "pass", False: "**FAIL**", None: "not measured"}[target["pass"]]
            lines.append(f"| {target['what']} {target['target']} | {_x(target['measured'])} | {verdict} |")
    lines += _render_frameworks(summary.get("frameworks", {}))
    lines += _render_instructions(report.get("instructions", {}))
    if report.get("imports_ms"):
        lines += render_imports(report["imports_ms"], report.get("import_margins_ms", {}))
    errors = {name: row["errors"] for name, row in summary["clients"].items() if row.get("errors")}
    if errors:
        lines += ["", "Errors:"]
        lines += [f"- {name}: {detail}" for name, detail in errors.items()]
    return "\n".join(lines)
