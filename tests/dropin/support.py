"""Shared machinery of the drop-in differential suites: what Azure would receive, and the differences table.

An anchor (``AzureChatOpenAI``, llama-index ``AzureOpenAI``) and our class are built with the same arguments
and pointed at the same loopback emulator; the emulator's request log holds what each sent. :func:`request_view`
reduces a logged request to what Azure acts on (route, query, headers other than transport ones, JSON body);
:func:`differences` lists every leaf where two views (or any two JSON-like values) disagree, by path
(``body.messages[0].content``, ``header.x-ms-client-request-id``, ``query.api-version``).

Every difference must be written in a README table (one per anchor: "Differences from AzureChatOpenAI", ...)
whose first column holds the difference's path patterns in backticks (``fnmatch`` patterns:
`` `body.stream_options*` ``) and whose last column names the test that pins it. :func:`documented_rows` reads
that table, and :func:`assert_documented` fails on a difference that no row covers, so the suite fails when
behaviour drifts apart without the README saying so.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure_openai_emulator import RecordedRequest

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"

TRANSPORT_HEADERS = frozenset(
    {"host", "content-length", "accept-encoding", "connection", "user-agent", "content-type", "accept"}
)
"""Headers that describe the transport, not the request Azure acts on (the issue's "transport and user-agent
headers aside"): framing, compression, the client's name, and content negotiation of a JSON API."""
TRANSPORT_HEADER_PREFIXES = ("x-stainless-",)
"""The openai SDK's client telemetry headers (package version, OS, retry count, timeout)."""


class _Missing:
    """The value of a path that one side does not have."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Difference:
    """One leaf where the anchor and ours disagree."""

    path: str
    anchor: Any
    ours: Any

    def __str__(self) -> str:
        return f"{self.path}: anchor={self.anchor!r} ours={self.ours!r}"


@dataclass(frozen=True)
class DocumentedDifference:
    """One row of a README differences table."""

    patterns: tuple[str, ...]
    difference: str
    reason: str
    pinned_by: str

    def covers(self, path: str) -> bool:
        """Whether this row documents a difference at ``path``."""
        # `[*]` in a pattern means "any index" (fnmatch alone would read it as a character class).
        return any(fnmatch.fnmatchcase(path, pattern.replace("[*]", "[[]*[]]")) for pattern in self.patterns)


def request_view(request: RecordedRequest) -> dict[str, Any]:
    """What Azure acts on in a logged request: route, query, non-transport headers and the JSON body."""
    headers = {
        name: value
        for name, value in request.headers.items()
        if name not in TRANSPORT_HEADERS and not name.startswith(TRANSPORT_HEADER_PREFIXES)
    }
    return {
        "route": f"{request.method} {request.path}",
        "query": dict(request.query),
        "header": headers,
        "body": request.body,
    }


def differences(anchor: Any, ours: Any, path: str = "") -> list[Difference]:
    """Every leaf where two JSON-like values differ, by path; mappings by key, equal-length lists by index."""
    if isinstance(anchor, Mapping) and isinstance(ours, Mapping):
        out: list[Difference] = []
        for key in list(anchor) + [k for k in ours if k not in anchor]:
            sub = f"{path}.{key}" if path else str(key)
            out.extend(differences(anchor.get(key, MISSING), ours.get(key, MISSING), sub))
        return out
    if _is_list(anchor) and _is_list(ours) and len(anchor) == len(ours):
        out = []
        for index, (left, right) in enumerate(zip(anchor, ours, strict=True)):
            out.extend(differences(left, right, f"{path}[{index}]"))
        return out
    if anchor == ours and type(anchor) is type(ours):
        return []
    numbers = isinstance(anchor, int | float) and isinstance(ours, int | float)
    if numbers and not isinstance(anchor, bool) and not isinstance(ours, bool) and float(anchor) == float(ours):
        return []
    return [Difference(path, anchor, ours)]


def request_differences(anchor: RecordedRequest, ours: RecordedRequest) -> list[Difference]:
    """The differences between what the anchor and ours sent for the same call."""
    return differences(request_view(anchor), request_view(ours))


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


_ROW = re.compile(r"^\|(.+)\|\s*$")


def documented_rows(heading: str, readme: Path = README) -> list[DocumentedDifference]:
    """The rows of the table under the README heading ``heading`` (``## Differences from AzureChatOpenAI``).

    Columns: path patterns (in backticks), the difference, the reason, the pinning test (in backticks).

    Raises:
        AssertionError: The heading or its table is missing.
    """
    lines = readme.read_text(encoding="utf-8").splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.lstrip("#").strip() == heading)
    except StopIteration:
        raise AssertionError(f"README has no heading {heading!r}") from None
    rows: list[DocumentedDifference] = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        match = _ROW.match(line)
        if match is None:
            continue
        cells = [cell.strip() for cell in match.group(1).split("|")]
        if len(cells) < 4 or set(cells[0]) <= {"-", ":", " "} or not cells[0].startswith("`"):
            continue
        patterns = tuple(re.findall(r"`([^`]+)`", cells[0]))
        tests = re.findall(r"`([^`]+)`", cells[-1])
        rows.append(DocumentedDifference(patterns, cells[1], cells[2], tests[0] if tests else cells[-1]))
    assert rows, f"README table under {heading!r} has no rows"
    return rows


def undocumented(found: Iterable[Difference], rows: Sequence[DocumentedDifference]) -> list[Difference]:
    """The differences no row covers."""
    return [d for d in found if not any(row.covers(d.path) for row in rows)]


def assert_documented(found: Iterable[Difference], rows: Sequence[DocumentedDifference], *, context: str) -> None:
    """Fail, listing them, when some differences are not in the README table."""
    missing = undocumented(found, rows)
    if missing:
        listing = "\n  ".join(str(d) for d in missing)
        raise AssertionError(f"{context}: differences not in the README table:\n  {listing}")


def pinned_test_exists(row: DocumentedDifference, root: Path = REPO_ROOT) -> bool:
    """Whether the row's ``tests/...py::test_name`` exists (the file defines that function)."""
    file, _, name = row.pinned_by.partition("::")
    path = root / file
    return path.is_file() and bool(name) and f"def {name.split('[')[0]}(" in path.read_text(encoding="utf-8")
