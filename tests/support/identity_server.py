"""A loopback stand-in for Azure's managed identity token endpoints, for tests.

It plays the App Service endpoint (``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER``), which azure-identity calls as
``GET <endpoint>?api-version=2019-08-01&resource=<scope without /.default>[&client_id=...]`` with the header
``X-IDENTITY-HEADER``, and answers ``{"access_token", "expires_on", "resource", "token_type"}``. Any other path
(e.g. ``/metadata/identity/oauth2/token`` when ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` points the IMDS client
here) gets the same answer, so a failing server also stands in for "no identity on this VM".

Usage::

    with IdentityServer(token_lifetime=3600) as server:
        server.install(monkeypatch)          # sets IDENTITY_ENDPOINT/IDENTITY_HEADER, clears the rest
        ... use ManagedIdentityCredential ...
        assert server.request_count == 1

Every token is unique (``<prefix>-<n>``) so a test can tell a new token from a cached one.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

__all__ = ["MANAGED_IDENTITY_ENV_VARS", "IdentityServer", "RecordedRequest", "identity_server"]

MANAGED_IDENTITY_ENV_VARS = (
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "AZURE_TOKEN_CREDENTIALS",
)
"""Environment variables that steer azure-identity's choice of managed identity source (and its chain)."""

IDENTITY_HEADER_VALUE = "test-identity-header"


class _EnvPatcher(Protocol):
    def setenv(self, name: str, value: str) -> None: ...

    def delenv(self, name: str, raising: bool = ...) -> None: ...


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float = field(default_factory=time.time)


class IdentityServer:
    """A threaded loopback HTTP server issuing managed identity tokens.

    Args:
        token_lifetime: Seconds from now to each token's ``expires_on`` (may be 0 or negative).
        delay: Seconds to wait before answering (makes concurrent callers overlap).
        fail_status: When set, answer every request with this status and ``fail_body`` instead of a token.
        fail_body: JSON body for failures (App Service's ``statusCode``/``message`` and OAuth's ``error``).
        fail_headers: Extra headers on failures, e.g. ``{"Retry-After": "0.01"}`` to make retries quick.
        token_prefix: Tokens are ``<token_prefix>-<n>``.
    """

    def __init__(
        self,
        *,
        token_lifetime: float = 3600,
        delay: float = 0.0,
        fail_status: int | None = None,
        fail_body: Mapping[str, Any] | None = None,
        fail_headers: Mapping[str, str] | None = None,
        token_prefix: str = "mi-token",
    ) -> None:
        self.token_lifetime = token_lifetime
        self.delay = delay
        self.fail_status = fail_status
        self.fail_body: dict[str, Any] = dict(
            fail_body
            or {
                "statusCode": 400,
                "message": "No managed identity found for the given client_id",
                "error": "invalid_request",
                "error_description": "Identity not found",
            }
        )
        self.fail_headers: dict[str, str] = dict(fail_headers or {})
        self.token_prefix = token_prefix
        self.requests: list[RecordedRequest] = []
        self.tokens: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> IdentityServer:
        """Start serving on 127.0.0.1 on a free port."""
        server = _Server(("127.0.0.1", 0), _make_handler(self))
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="identity-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> IdentityServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses and environment ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """The App Service style token endpoint URL, for ``IDENTITY_ENDPOINT``."""
        return f"{self.base_url}/msi/token"

    def install(self, env: _EnvPatcher, *, header: str = IDENTITY_HEADER_VALUE) -> None:
        """Point azure-identity's App Service managed identity at this server.

        Args:
            env: ``pytest.MonkeyPatch`` (anything with ``setenv``/``delenv``).
            header: The ``IDENTITY_HEADER`` value the server expects back as ``X-IDENTITY-HEADER``.
        """
        for name in MANAGED_IDENTITY_ENV_VARS:
            env.delenv(name, raising=False)
        env.setenv("IDENTITY_ENDPOINT", self.url)
        env.setenv("IDENTITY_HEADER", header)

    # -- behaviour and records -------------------------------------------------------------------------------

    @property
    def request_count(self) -> int:
        """How many requests arrived so far."""
        with self._lock:
            return len(self.requests)

    def reset(self) -> None:
        """Forget recorded requests and issued tokens."""
        with self._lock:
            self.requests.clear()
            self.tokens.clear()

    def _answer(self, request: RecordedRequest) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self.requests.append(request)
            if self.fail_status is not None:
                return self.fail_status, dict(self.fail_body), dict(self.fail_headers)
            token = f"{self.token_prefix}-{len(self.tokens) + 1}"
            self.tokens.append(token)
            lifetime = self.token_lifetime
        expires_on = int(time.time() + lifetime)
        body = {
            "access_token": token,
            "expires_on": str(expires_on),
            "expires_in": str(int(lifetime)),
            "resource": request.query.get("resource", ""),
            "token_type": "Bearer",
            "client_id": request.query.get("client_id", "system-assigned-client-id"),
        }
        return 200, body, {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # hundreds of callers connect at once in the concurrency tests


def _make_handler(server: IdentityServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            recorded = RecordedRequest(
                method="GET",
                path=parts.path,
                query=dict(parse_qsl(parts.query)),
                headers={k.lower(): v for k, v in self.headers.items()},
            )
            if server.delay:
                time.sleep(server.delay)
            status, body, extra_headers = server._answer(recorded)
            payload = json.dumps(body).encode()
            self.send_response(status)
            for name, value in extra_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (BaseHTTPRequestHandler's name)
            pass

    return Handler


@contextmanager
def identity_server(env: _EnvPatcher | None = None, **options: Any) -> Iterator[IdentityServer]:
    """Run an :class:`IdentityServer` for the ``with`` block, installed into ``env`` when given.

    Args:
        env: ``pytest.MonkeyPatch`` to point azure-identity at the server, or ``None``.
        **options: :class:`IdentityServer` arguments.

    Yields:
        The running server.
    """
    with IdentityServer(**options) as server:
        if env is not None:
            server.install(env)
        yield server
