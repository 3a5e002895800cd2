"""Read the real Azure traffic in ``../shared/azure-recordings`` (by path; never copied into the project).

Three storage formats occur: vcrpy YAML (``response.body.string``, sometimes ``!!binary`` gzip), httpx-style
vcrpy YAML (``response.content``), and dd-trace's JSON twins. One YAML uses ``multidict`` tags, read here
with a loader that turns them into plain strings. The folder is located by ``AZURE_RECORDINGS_DIR`` or as a
sibling of the repository; when absent, tests skip with a clear message, except under CI where it must exist.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
RECORDINGS_DIR = Path(os.environ.get("AZURE_RECORDINGS_DIR", REPO_ROOT.parent / "shared" / "azure-recordings"))
SPECS_DIR = Path(os.environ.get("AZURE_SPECS_DIR", REPO_ROOT.parent / "shared" / "specs"))

# traceloop's content-filtering cassettes were hand-edited by their authors (README): fixtures, not wire truth.
HAND_EDITED_MARK = "content_filtering"


def require_dir(path: Path, what: str) -> Path:
    """Return ``path``, or skip (locally) / fail (in CI) with a message saying what is missing."""
    if path.is_dir():
        return path
    message = (
        f"{what} not found at {path}. Put the shared folder beside the repository "
        f"or set AZURE_RECORDINGS_DIR / AZURE_SPECS_DIR."
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Interaction:
    """One recorded request/response pair."""

    source: Path
    index: int
    method: str
    uri: str
    request_headers: dict[str, str]
    request_body: bytes | None
    status: int
    response_headers: dict[str, str]
    response_body: bytes
    hand_edited: bool = False
    meta: dict[str, Any] = field(default_factory=dict[str, Any])

    @property
    def path(self) -> str:
        """The URL path, with the doubled leading slash some old clients sent collapsed."""
        path = urlsplit(self.uri).path
        while "//" in path:
            path = path.replace("//", "/")
        return path

    @property
    def query(self) -> dict[str, str]:
        """The URL query, one value per key."""
        return {k: v[0] for k, v in parse_qs(urlsplit(self.uri).query).items()}

    @property
    def request_json(self) -> Any:
        """The request body as JSON, or None."""
        if not self.request_body:
            return None
        try:
            return json.loads(self.request_body)
        except ValueError:
            return None

    @property
    def is_azure_openai(self) -> bool:
        """True for calls to an Azure OpenAI route (some cassettes also hold calls to other services)."""
        return "/openai/" in self.path

    @property
    def is_stream(self) -> bool:
        """True when the response is a server-sent event stream."""
        ctype = self.response_headers.get("content-type", "")
        return "text/event-stream" in ctype or self.response_body.lstrip().startswith((b"data:", b"event:"))

    @property
    def api_shape(self) -> str:
        """``chat`` or ``responses`` or ``other``."""
        if self.path.endswith("/chat/completions"):
            return "chat"
        if self.path.endswith("/responses"):
            return "responses"
        return "other"

    @property
    def name(self) -> str:
        """A readable id: file name and interaction index."""
        return f"{self.source.parent.name}/{self.source.name}#{self.index}"


class _Loader(yaml.SafeLoader):
    pass


def _multidict_istr(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    assert isinstance(node, yaml.SequenceNode)
    return str(loader.construct_sequence(node)[0])


def _multidict(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.SequenceNode)
    return loader.construct_sequence(node, deep=True)[0]


_Loader.add_constructor("tag:yaml.org,2002:python/object/apply:multidict._multidict.istr", _multidict_istr)
_Loader.add_multi_constructor(
    "tag:yaml.org,2002:python/object/apply:multidict", lambda loader, _suffix, node: _multidict(loader, node)
)


def _headers(raw: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    if not isinstance(raw, dict):
        return out
    for key, value in raw.items():
        first = (value[0] if value else "") if isinstance(value, list) else value
        out[str(key).lower()] = str(first)
    return out


def _bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict):
        return _bytes(value.get("string", value.get("content")))
    return str(value).encode("utf-8")


def _decode_body(body: bytes, headers: dict[str, str]) -> bytes:
    if headers.get("content-encoding", "") == "gzip" or body[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(body)
        except OSError:
            return body
    return body


def _from_vcr(source: Path, index: int, raw: dict[str, Any]) -> Interaction:
    req, resp = raw["request"], raw["response"]
    resp_headers = _headers(resp.get("headers"))
    body = _bytes(resp.get("body")) if "body" in resp else _bytes(resp.get("content"))
    status = resp.get("status", resp.get("status_code", 200))
    if isinstance(status, dict):
        status = status.get("code", 200)
    req_body = req.get("body")
    return Interaction(
        source=source,
        index=index,
        method=str(req.get("method", "POST")).upper(),
        uri=str(req.get("uri", req.get("url", ""))),
        request_headers=_headers(req.get("headers")),
        request_body=_bytes(req_body) if req_body is not None else None,
        status=int(status),
        response_headers=resp_headers,
        response_body=_decode_body(body, resp_headers),
        hand_edited=HAND_EDITED_MARK in source.name,
    )


def load_recording_file(path: Path) -> list[Interaction]:
    """Every interaction in one recording file."""
    return _load_file(path)


def _load_file(path: Path) -> list[Interaction]:
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        items = data if isinstance(data, list) else [data]
        return [_from_vcr(path, i, item) for i, item in enumerate(items)]
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    return [_from_vcr(path, i, item) for i, item in enumerate(data.get("interactions", []))]


def recording_files() -> list[Path]:
    """Every recording file (YAML and JSON), sorted; skips or fails when the folder is absent."""
    root = require_dir(RECORDINGS_DIR, "The shared Azure recordings folder")
    return sorted(p for p in root.rglob("*") if p.suffix in {".yaml", ".yml", ".json"})


def iter_interactions() -> Iterator[Interaction]:
    """Every recorded interaction, in file order."""
    for path in recording_files():
        yield from _load_file(path)


def azure_interactions() -> list[Interaction]:
    """Every interaction with an Azure OpenAI route (cached; treat the result as read-only)."""
    return list(_azure_interactions())


@functools.cache
def _azure_interactions() -> tuple[Interaction, ...]:
    """Load every Azure OpenAI interaction once, hand-edited fixtures included (see ``hand_edited``).

    dd-trace ships some cassettes twice (YAML and a JSON twin); the JSON twin of a YAML is left out.
    """
    files = recording_files()
    yaml_stems = {p.stem for p in files if p.suffix != ".json"}
    out: list[Interaction] = []
    for path in files:
        if path.suffix == ".json" and path.stem in yaml_stems:
            continue
        out.extend(i for i in _load_file(path) if i.is_azure_openai)
    return tuple(out)
