"""The cassette scheme (DESIGN.md §4.10): where cassettes live, what is scrubbed, how requests match.

Cassettes are vcrpy YAML files under the top-level ``cassettes/`` directory, one per test, at the test file's
path below ``tests/`` without its suffix (``tests/test_gateway_cassettes.py::test_x`` ->
``cassettes/test_gateway_cassettes/test_x.yaml``). Before anything is stored, and before a live request is
matched against stored ones:

- ``api-key``, ``authorization``, ``cookie`` and ``set-cookie`` headers are dropped (requests and responses);
- the URL becomes ``https://example-resource.openai.azure.com/<path>?<query>`` and the ``host`` header follows,
  so a cassette recorded from a random loopback port, or from a real resource, replays anywhere;
- JSON request bodies are stored pretty-printed, and every body is stored as text (block style for
  multi-line strings such as event streams), never ``!!binary``.

Requests match on method, path, query (as a sorted list, so parameter order does not matter) and the body
compared as parsed JSON (key order and whitespace do not matter), never on scheme, host or port.

:func:`cassette_endpoint` decides where a cassette test's gateway points: a placeholder loopback address when
replaying (nothing listens there; vcrpy answers), the loopback Azure test server when recording, or a real
Azure resource when recording with ``AZURE_OPENAI_ENDPOINT`` and ``AZURE_OPENAI_API_KEY`` set.

:func:`scan_tree` is the pre-commit secret scan: secret headers, bearer tokens, JWT-shaped values, ``sk-``
keys, credential env var values, the suite's canaries, Azure resource hosts other than the placeholder, and
request hosts left unrewritten. Findings name file, line and rule, never the value, so a failing CI log does
not repeat the leak.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml
from vcr import VCR
from vcr.request import Request
from vcr.serializers import yamlserializer
from vcr.util import read_body

from tests.support.azure_server import AzureTestServer

__all__ = [
    "CASSETTE_HOST",
    "CASSETTE_ROOT",
    "KNOWN_SECRETS",
    "LIVE_AZURE_ENV",
    "LOOPBACK_API_KEY",
    "LOOPBACK_HOSTS",
    "MATCH_ON",
    "PLACEHOLDER_ENDPOINT",
    "SECRET_ENV_VARS",
    "SECRET_HEADERS",
    "CassetteEndpoint",
    "EndpointKind",
    "Finding",
    "ReadableYamlSerializer",
    "cassette_dir_for",
    "cassette_endpoint",
    "live_azure_credentials",
    "match_json_body",
    "network_marker",
    "register_scheme",
    "scan_cassette",
    "scan_tree",
    "scrub_request",
    "scrub_response",
    "secrets_from_env",
    "sends_requests",
    "vcr_config",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTS_ROOT = REPO_ROOT / "tests"
CASSETTE_ROOT = REPO_ROOT / "cassettes"
CASSETTE_HOST = "example-resource.openai.azure.com"
# Gateway mode (TensorWall) sends its key as X-API-Key and may forward the Azure key and resource.
SECRET_HEADERS = (
    "api-key",
    "authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-azure-api-key",
    "x-azure-endpoint",
)
MATCH_ON = ("method", "path", "query", "json_body")
LOOPBACK_HOSTS = ("127.0.0.1", "::1")
PLACEHOLDER_ENDPOINT = "http://127.0.0.1:9"
"""Where a replaying gateway points: the discard port on loopback. vcrpy answers before any connection."""
LOOPBACK_API_KEY = "test-key"
LIVE_AZURE_ENV = ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY")

EndpointKind = Literal["replay", "loopback", "azure"]


# ------------------------------------------------------------------------------------------ storage


def cassette_dir_for(test_file: Path) -> Path:
    """The cassette directory of a test module: its path below ``tests/``, under ``cassettes/``, no suffix."""
    try:
        relative = test_file.resolve().relative_to(TESTS_ROOT)
    except ValueError:
        return CASSETTE_ROOT / test_file.stem
    return CASSETTE_ROOT.joinpath(*relative.parent.parts, relative.stem)


class _ReadableDumper(yaml.SafeDumper):
    """Safe YAML with multi-line strings in block style, so event streams read as they went over the wire."""


def _represent_text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # PyYAML falls back to a quoted style by itself when block style cannot hold the string exactly
    # (trailing spaces, "\r"), so replay stays byte-exact.
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_ReadableDumper.add_representer(str, _represent_text)


class ReadableYamlSerializer:
    """vcrpy's YAML format, written for people: block-style text bodies, no line folding, UTF-8 kept."""

    @staticmethod
    def serialize(cassette_dict: Mapping[str, Any]) -> str:
        """The YAML text of a cassette (vcrpy has already turned decodable bodies into ``str``)."""
        return yaml.dump(dict(cassette_dict), Dumper=_ReadableDumper, width=1 << 30, allow_unicode=True)

    @staticmethod
    def deserialize(cassette_string: str) -> Any:
        """Read a cassette with vcrpy's own safe loader."""
        return yamlserializer.deserialize(cassette_string)


# ------------------------------------------------------------------------------------------ scrubbing


def _json_text(body: bytes | str | None) -> str | None:
    """The body pretty-printed, when it is JSON; else ``None``."""
    if not body:
        return None
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _body_of(request: Request) -> bytes | str | None:
    body: object = read_body(request)
    return body if isinstance(body, bytes | str) else None


def scrub_request(request: Request) -> Request:
    """Rewrite the host to the placeholder resource (https) and pretty-print a JSON body; vcrpy passes a copy.

    The secret headers are removed by vcrpy's ``filter_headers`` before this runs.
    """
    parts = urlsplit(request.uri)
    request.uri = urlunsplit(("https", CASSETTE_HOST, parts.path, parts.query, ""))
    if "host" in request.headers:
        request.headers["host"] = CASSETTE_HOST
    pretty = _json_text(_body_of(request))
    if pretty is not None:
        request.body = pretty
        # The stored body is reformatted, so the length it was sent with no longer describes it.
        request.headers.pop("content-length", None)
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """Drop cookie headers from a response before it is stored (header names compared case-insensitively).

    Raises:
        ValueError: The body is still compressed (vcrpy decodes only gzip and deflate); storing it would put
            unreadable ``!!binary`` in the cassette, so recording stops instead.
    """
    headers: Mapping[str, Any] = response.get("headers") or {}
    kept = {name: values for name, values in headers.items() if name.lower() not in SECRET_HEADERS}
    encodings = [v for name, values in kept.items() if name.lower() == "content-encoding" for v in values]
    if any(e.strip().lower() not in ("", "identity") for e in encodings):
        raise ValueError(f"cannot store a {encodings} response body as text; record with gzip or no compression")
    return {**response, "headers": kept}


# ------------------------------------------------------------------------------------------ matching


def _canonical_body(body: bytes | str | None) -> bytes:
    if body is None:
        return b""
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw
    # sort_keys for order-insensitivity; dumping (not ==) keeps true distinct from 1 and 1 from 1.0.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def match_json_body(r1: Request, r2: Request) -> None:
    """vcrpy matcher: bodies equal as parsed JSON (key order, whitespace ignored); other bodies byte-equal.

    Raises:
        AssertionError: The bodies differ (vcrpy reports the message when no recording matches).
    """
    left, right = _canonical_body(_body_of(r1)), _canonical_body(_body_of(r2))
    if left != right:
        raise AssertionError(f"bodies differ: {left[:300]!r} != {right[:300]!r}")


def vcr_config() -> dict[str, Any]:
    """The ``vcr_config`` every cassette test uses (record mode is left to ``--record-mode``, default none)."""
    return {
        "filter_headers": list(SECRET_HEADERS),
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        # A real resource may answer gzip; stored bodies must stay readable text.
        "decode_compressed_response": True,
        "match_on": list(MATCH_ON),
    }


def register_scheme(vcr: VCR) -> None:
    """Register the JSON body matcher and the readable serializer (as ``yaml``, so files keep ``.yaml``)."""
    vcr.register_matcher("json_body", match_json_body)
    vcr.register_serializer("yaml", ReadableYamlSerializer)


# ------------------------------------------------------------------------------------------ endpoints


@dataclass(frozen=True, slots=True)
class CassetteEndpoint:
    """Where a cassette test's gateway points.

    Attributes:
        url: The endpoint to configure.
        api_key: The key to send (filtered from cassettes).
        kind: ``replay`` (nothing listens; vcrpy answers from the cassette), ``loopback`` (recording from the
            loopback Azure test server) or ``azure`` (recording from a real Azure resource).
        server: The loopback server while recording from it (a test may script it), else ``None``.
    """

    url: str
    api_key: str = field(repr=False)
    kind: EndpointKind
    server: AzureTestServer | None = None

    @property
    def recording(self) -> bool:
        """Requests really go out (and, unless recording is disabled, are written to the cassette)."""
        return self.kind != "replay"


def sends_requests(record_mode: str, disable_recording: bool) -> bool:
    """Whether cassette tests reach a server: any record mode but ``none``, or vcrpy switched off."""
    return disable_recording or record_mode != "none"


def live_azure_credentials(environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(endpoint, key) of a real resource from ``AZURE_OPENAI_ENDPOINT`` and ``AZURE_OPENAI_API_KEY``, or ``None``."""
    env = os.environ if environ is None else environ
    endpoint, key = (env.get(name, "").strip() for name in LIVE_AZURE_ENV)
    return (endpoint.rstrip("/"), key) if endpoint and key else None


@contextmanager
def cassette_endpoint(*, live: bool, environ: Mapping[str, str] | None = None) -> Iterator[CassetteEndpoint]:
    """The endpoint for one cassette test; starts (and stops) the loopback server when recording from it."""
    if not live:
        yield CassetteEndpoint(PLACEHOLDER_ENDPOINT, LOOPBACK_API_KEY, "replay")
        return
    credentials = live_azure_credentials(environ)
    if credentials is not None:
        yield CassetteEndpoint(credentials[0], credentials[1], "azure")
        return
    with AzureTestServer(api_key=LOOPBACK_API_KEY) as server:
        yield CassetteEndpoint(server.endpoint, LOOPBACK_API_KEY, "loopback", server)


def network_marker(config: pytest.Config, environ: Mapping[str, str] | None = None) -> pytest.MarkDecorator:
    """pytest-socket's marker for cassette tests: loopback only, unless recording from a real resource."""
    live = sends_requests(config.getoption("--record-mode") or "none", bool(config.getoption("--disable-recording")))
    if live and live_azure_credentials(environ) is not None:
        return pytest.mark.enable_socket
    return pytest.mark.allow_hosts(list(LOOPBACK_HOSTS))


# ------------------------------------------------------------------------------------------ secret scan

SECRET_ENV_VARS = ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_KEY", "AZURE_OPENAI_AD_TOKEN")
KNOWN_SECRETS = ("CANARY-KEY-123", "CANARY-TOKEN-456", LOOPBACK_API_KEY)
"""The suite's canary key and token (tests/test_auth.py) and the loopback server's key."""
_FORBIDDEN_HEADERS = frozenset((*SECRET_HEADERS, "ocp-apim-subscription-key", "x-api-key"))
_MIN_ENV_SECRET = 8  # shorter values would match innocent text

_TEXT_RULES: Mapping[str, re.Pattern[str]] = {
    "secret header": re.compile(
        r"(?im)^[\s-]*['\"]?(api-key|authorization|cookie|set-cookie|ocp-apim-subscription-key)['\"]?\s*:"
    ),
    "bearer token": re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"),
    "JWT-shaped value": re.compile(r"\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*"),
    "sk- key": re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),
    "canary": re.compile(r"(?i)canary"),
}
_AZURE_HOST = re.compile(
    r"(?i)\b(?:[a-z0-9-]+\.)+(?:openai\.azure\.(?:com|us|cn)|cognitiveservices\.azure\.(?:com|us|cn)"
    r"|services\.ai\.azure\.com|azure-api\.net)\b"
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason a cassette may not be committed; never holds the secret itself."""

    path: Path
    line: int
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}"


def secrets_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Env var name -> value, for the credential variables that are set (long enough to search for)."""
    env = os.environ if environ is None else environ
    return {name: env[name] for name in SECRET_ENV_VARS if len(env.get(name, "").strip()) >= _MIN_ENV_SECRET}


def _text_findings(path: Path, text: str, env_secrets: Mapping[str, str]) -> list[Finding]:
    found: list[Finding] = []
    literals = [(f"value of ${name}", value) for name, value in env_secrets.items()]
    literals += [("known test secret", secret) for secret in KNOWN_SECRETS]
    for number, line in enumerate(text.splitlines(), start=1):
        found += [Finding(path, number, rule) for rule, pattern in _TEXT_RULES.items() if pattern.search(line)]
        found += [Finding(path, number, rule) for rule, value in literals if value in line]
        hosts = {m.group(0).lower() for m in _AZURE_HOST.finditer(line)} - {CASSETTE_HOST}
        found += [Finding(path, number, "Azure resource host") for _ in hosts]
    return found


def _structure_findings(path: Path, text: str) -> list[Finding]:
    try:
        interactions: list[dict[str, Any]] = ReadableYamlSerializer.deserialize(text)["interactions"]
    except Exception:  # any unreadable file is a finding, whatever the parser raised
        return [Finding(path, 0, "not a readable cassette")]
    found: list[Finding] = []
    for interaction in interactions:
        request, response = interaction.get("request") or {}, interaction.get("response") or {}
        names = [*(request.get("headers") or {}), *(response.get("headers") or {})]
        found += [Finding(path, 0, f"{n.lower()} header") for n in names if n.lower() in _FORBIDDEN_HEADERS]
        if urlsplit(str(request.get("uri", ""))).hostname != CASSETTE_HOST:
            found.append(Finding(path, 0, "request host not rewritten"))
    return found


def scan_cassette(path: Path, env_secrets: Mapping[str, str] | None = None) -> list[Finding]:
    """Everything wrong with one cassette file."""
    text = path.read_text(encoding="utf-8", errors="replace")
    secrets = secrets_from_env() if env_secrets is None else env_secrets
    return _structure_findings(path, text) + _text_findings(path, text, secrets)


def scan_tree(root: Path, env_secrets: Mapping[str, str] | None = None) -> list[Finding]:
    """Every finding in every ``.yaml`` / ``.yml`` file below ``root``."""
    paths = sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")])
    return [finding for path in paths for finding in scan_cassette(path, env_secrets)]
