"""The emulator's managed-identity token endpoint, App Service style, and the tokens it has issued.

azure-identity's ``ManagedIdentityCredential`` uses this endpoint when ``IDENTITY_ENDPOINT`` and
``IDENTITY_HEADER`` are set: it sends ``GET <IDENTITY_ENDPOINT>?api-version=2019-08-01&resource=<scope
without /.default>[&client_id=…]`` with the header ``X-IDENTITY-HEADER: <IDENTITY_HEADER>`` and expects
``{"access_token": …, "expires_on": "<epoch seconds>", "resource": …, "token_type": "Bearer"}``.

The emulator then accepts those tokens as ``Authorization: Bearer`` on its Azure OpenAI routes, as Azure
would: only until they expire, and only when issued for Azure OpenAI's audience
(``https://cognitiveservices.azure.com`` or ``https://ai.azure.com``). A short ``token_lifetime`` makes clients
refresh. Tokens are opaque random strings and are never logged.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["IDENTITY_PATH", "OPENAI_AUDIENCES", "ManagedIdentity", "TokenIssuer"]

IDENTITY_PATH = "/msi/token"
"""Where the token endpoint is served (``IDENTITY_ENDPOINT`` = emulator endpoint + this path)."""

OPENAI_AUDIENCES = ("https://cognitiveservices.azure.com", "https://ai.azure.com")
"""Resources whose tokens Azure OpenAI accepts (the scopes without ``/.default``)."""


@dataclass(frozen=True, slots=True)
class ManagedIdentity:
    """How the emulated managed identity behaves.

    Attributes:
        header: The secret clients must send back as ``X-IDENTITY-HEADER`` (``IDENTITY_HEADER``).
        token_lifetime: Seconds from issue to a token's ``expires_on``.
        client_id: The client id reported for a system-assigned identity; a request naming another
            ``client_id`` is answered as App Service does for an identity it does not have (400).
    """

    header: str = "emulator-identity-header"
    token_lifetime: float = 3600.0
    client_id: str = "00000000-0000-4000-8000-0000000000e1"


@dataclass(frozen=True, slots=True)
class _Issued:
    resource: str
    expires_on: float


class TokenIssuer:
    """Issues tokens to callers of the token endpoint and answers whether a bearer token is valid.

    Args:
        identity: The identity's settings.
        extra_client_ids: User-assigned identities (client ids) this "compute" also has.
    """

    def __init__(self, identity: ManagedIdentity, extra_client_ids: tuple[str, ...] = ()) -> None:
        self.identity = identity
        self._client_ids = {identity.client_id, *extra_client_ids}
        self._lock = threading.Lock()
        self._issued: dict[str, _Issued] = {}

    def __repr__(self) -> str:
        return f"TokenIssuer(issued={self.issued_count}, lifetime={self.identity.token_lifetime})"

    @property
    def issued_count(self) -> int:
        """How many tokens were issued so far."""
        with self._lock:
            return len(self._issued)

    def issued_tokens(self) -> list[str]:
        """Every token issued, oldest first (for tests that check a token never leaks)."""
        with self._lock:
            return list(self._issued)

    def issue(self, query: Mapping[str, str], headers: Mapping[str, str]) -> tuple[int, bytes]:
        """Answer one token request: (status, JSON body).

        Args:
            query: The query parameters (``resource``, optional ``client_id``).
            headers: The request headers, lower-case names.
        """
        if headers.get("x-identity-header") != self.identity.header:
            return 401, _error(401, "X-IDENTITY-HEADER is missing or does not match IDENTITY_HEADER")
        resource = query.get("resource", "")
        if not resource:
            return 400, _error(400, "the 'resource' query parameter is required")
        client_id = query.get("client_id") or query.get("mi_res_id") or self.identity.client_id
        if client_id not in self._client_ids:
            return 400, _error(400, "No managed identity found for the given client_id")
        token = "emu-mi-" + secrets.token_urlsafe(24)
        lifetime = self.identity.token_lifetime
        expires_on = time.time() + lifetime
        with self._lock:
            self._issued[token] = _Issued(resource.removesuffix("/.default").rstrip("/"), expires_on)
        body = {
            "access_token": token,
            "expires_on": str(int(expires_on)),
            "expires_in": str(int(lifetime)),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": client_id,
        }
        return 200, json.dumps(body).encode()

    def accepts(self, token: str) -> bool:
        """Whether ``token`` was issued here for Azure OpenAI's audience and has not expired."""
        with self._lock:
            issued = self._issued.get(token)
        return issued is not None and issued.resource in OPENAI_AUDIENCES and issued.expires_on > time.time()


def _error(status: int, message: str) -> bytes:
    error = "invalid_request" if status == 400 else "unauthorized_client"
    body = {"statusCode": status, "message": message, "error": error, "error_description": message}
    return json.dumps(body).encode()
