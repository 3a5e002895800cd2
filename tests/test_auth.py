"""Choosing a credential, scopes, static secrets, token providers, secrecy and the missing extra.

Managed identity, the token cache and DefaultAzureCredential are in ``test_auth_entra.py``.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from shared_core.auth import (
    AI_FOUNDRY_SCOPE,
    DEFAULT_SCOPE,
    ApiKeyAuth,
    AuthProvider,
    StaticTokenAuth,
    TokenProviderAuth,
    resolve_auth,
    scope_for_endpoint,
)
from shared_core.errors import AuthenticationError, ConfigurationError, MissingExtraError
from tests.support.identity_server import IdentityServer

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

ENDPOINT = "https://example-resource.openai.azure.com"
CANARY_KEY = "CANARY-KEY-123"
CANARY_TOKEN = "CANARY-TOKEN-456"


@pytest.fixture
def mi_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[IdentityServer]:
    """A managed identity endpoint on loopback, installed into the environment."""
    with IdentityServer(token_prefix=CANARY_TOKEN) as server:
        server.install(monkeypatch)
        yield server


# -- scopes ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        None,
        "",
        "https://example-resource.openai.azure.com",
        "https://example-resource.cognitiveservices.azure.com/",
        "https://services.ai.azure.com.attacker.example/",
    ],
)
def test_scope_for_endpoint_default(endpoint: str | None) -> None:
    assert scope_for_endpoint(endpoint) == DEFAULT_SCOPE == "https://cognitiveservices.azure.com/.default"


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://my-project.services.ai.azure.com",
        "https://my-project.services.ai.azure.com/api/projects/p1",
        "my-project.services.ai.azure.com",
        "HTTPS://My-Project.Services.AI.Azure.com/",
    ],
)
def test_scope_for_endpoint_ai_foundry(endpoint: str) -> None:
    assert scope_for_endpoint(endpoint) == AI_FOUNDRY_SCOPE == "https://ai.azure.com/.default"


def test_scope_for_endpoint_override_wins() -> None:
    custom = "api://my-gateway/.default"
    assert scope_for_endpoint("https://p.services.ai.azure.com", custom) == custom
    assert scope_for_endpoint(ENDPOINT, custom) == custom
    assert scope_for_endpoint(None, custom) == custom


# -- priority -------------------------------------------------------------------------------------------------

PRIORITY = ["api_key", "azure_ad_token", "token_provider", "managed_identity", "default_credential"]


def _options(kind: str) -> dict[str, Any]:
    match kind:
        case "api_key":
            return {"api_key": SecretStr(CANARY_KEY)}
        case "azure_ad_token":
            return {"azure_ad_token": SecretStr(CANARY_TOKEN)}
        case "token_provider":
            return {"token_provider": lambda: CANARY_TOKEN}
        case "managed_identity":
            return {"use_managed_identity": True}
        case "default_credential":
            return {"use_default_credential": True}
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("winner", "loser"),
    [(PRIORITY[i], PRIORITY[j]) for i in range(len(PRIORITY)) for j in range(i + 1, len(PRIORITY))],
)
def test_resolve_auth_priority_pair(
    winner: str, loser: str, mi_env: IdentityServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="shared_core.auth")
    auth = resolve_auth(endpoint=ENDPOINT, **_options(winner), **_options(loser))
    assert auth.kind == winner
    records = [r for r in caplog.records if r.name == "shared_core.auth"]
    assert len(records) == 1
    message = records[0].getMessage()
    assert f"using {winner}" in message
    assert f"ignored: {loser} (" in message
    assert mi_env.request_count == 0  # choosing fetches nothing


@pytest.mark.parametrize("kind", PRIORITY)
def test_resolve_auth_single_option_reason(kind: str, mi_env: IdentityServer) -> None:
    auth = resolve_auth(endpoint=ENDPOINT, **_options(kind))
    assert auth.kind == kind
    assert "kwarg '" in auth.reason


def test_resolve_auth_reason_names_source(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="shared_core.auth")
    auth = resolve_auth(
        endpoint=ENDPOINT,
        api_key=SecretStr(CANARY_KEY),
        use_default_credential=True,
        sources={"api_key": "env AZURE_OPENAI_API_KEY", "use_default_credential": "file cfg.toml key 'x'"},
    )
    # The source decides before the auth order: a credential from the config file beats an env key.
    assert auth.kind == "default_credential"
    assert auth.reason.startswith("use_default_credential set by file cfg.toml key 'x' (from the config file")
    assert "beats a credential from the environment" in auth.reason
    assert "api_key (api_key set by env AZURE_OPENAI_API_KEY)" in caplog.text


def test_resolve_auth_client_id_alone_means_user_assigned(mi_env: IdentityServer) -> None:
    auth = resolve_auth(
        endpoint=ENDPOINT,
        managed_identity_client_id="1234-client",
        sources={"managed_identity_client_id": "env AZURE_OPENAI_MANAGED_IDENTITY_CLIENT_ID"},
    )
    assert auth.kind == "managed_identity"
    assert auth.reason == "managed_identity_client_id set by env AZURE_OPENAI_MANAGED_IDENTITY_CLIENT_ID"
    assert "user-assigned, client_id=1234-client" in auth.describe()


def test_resolve_auth_nothing_configured_lists_what_was_looked_for() -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_auth(endpoint=ENDPOINT)
    text = str(info.value)
    for name in (
        "api_key",
        "azure_ad_token",
        "use_managed_identity",
        "use_default_credential",
        "config-file keys",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_KEY",
        "AZURE_OPENAI_AD_TOKEN",
        "AZURE_USE_MANAGED_IDENTITY",
        "AZURE_USE_DEFAULT_CREDENTIAL",
        "managed_identity_client_id",
        "AZURE_MANAGED_IDENTITY_CLIENT_ID",
        "OPENAI_API_KEY as the last fallback",
        "Fix:",
    ):
        assert name in text
    assert not isinstance(info.value, MissingExtraError)


def test_resolve_auth_empty_secrets_count_as_unset() -> None:
    with pytest.raises(ConfigurationError, match="No Azure OpenAI credential"):
        resolve_auth(endpoint=ENDPOINT, api_key=SecretStr(""), azure_ad_token=SecretStr("  "))
    auth = resolve_auth(endpoint=ENDPOINT, api_key=SecretStr(""), azure_ad_token=SecretStr(CANARY_TOKEN))
    assert auth.kind == "azure_ad_token"


# -- headers --------------------------------------------------------------------------------------------------


async def test_api_key_auth_headers() -> None:
    auth = resolve_auth(endpoint=ENDPOINT, api_key=SecretStr(CANARY_KEY))
    assert auth.headers() == {"api-key": CANARY_KEY}
    assert await auth.aheaders() == {"api-key": CANARY_KEY}
    auth.force_refresh()
    await auth.aforce_refresh()
    assert auth.headers() == {"api-key": CANARY_KEY}
    assert ApiKeyAuth(CANARY_KEY).headers() == {"api-key": CANARY_KEY}


async def test_static_token_auth_headers() -> None:
    auth = resolve_auth(endpoint=ENDPOINT, azure_ad_token=SecretStr(CANARY_TOKEN))
    assert auth.headers() == {"Authorization": f"Bearer {CANARY_TOKEN}"}
    assert await auth.aheaders() == {"Authorization": f"Bearer {CANARY_TOKEN}"}
    assert "never refreshed" in auth.describe()


def test_static_auth_headers_are_fresh_dicts() -> None:
    auth = StaticTokenAuth(CANARY_TOKEN)
    first = auth.headers()
    first["Authorization"] = "tampered"
    assert auth.headers() == {"Authorization": f"Bearer {CANARY_TOKEN}"}


@pytest.mark.parametrize("cls", [ApiKeyAuth, StaticTokenAuth])
def test_static_auth_rejects_empty(cls: type[ApiKeyAuth] | type[StaticTokenAuth]) -> None:
    with pytest.raises(ConfigurationError):
        cls(SecretStr(" "))


def test_static_auth_satisfies_protocol() -> None:
    providers: list[AuthProvider] = [ApiKeyAuth("k"), StaticTokenAuth("t"), TokenProviderAuth(lambda: "t")]
    assert [p.kind for p in providers] == ["api_key", "azure_ad_token", "token_provider"]


# -- token providers ------------------------------------------------------------------------------------------


async def test_token_provider_sync_never_runs_on_event_loop() -> None:
    loop_thread = threading.get_ident()
    calls: list[int] = []

    def provider() -> str:
        calls.append(threading.get_ident())
        with pytest.raises(RuntimeError):
            asyncio.get_running_loop()
        return "tok-sync"

    auth = resolve_auth(endpoint=ENDPOINT, token_provider=provider)
    assert await auth.aheaders() == {"Authorization": "Bearer tok-sync"}
    assert calls and all(thread != loop_thread for thread in calls)


async def test_token_provider_async_used_by_aheaders() -> None:
    calls: list[str] = []

    async def aprovider() -> str:
        calls.append("async")
        await asyncio.sleep(0)
        return "tok-async"

    auth = resolve_auth(endpoint=ENDPOINT, token_provider=lambda: "tok-sync", async_token_provider=aprovider)
    assert await auth.aheaders() == {"Authorization": "Bearer tok-async"}
    assert auth.headers() == {"Authorization": "Bearer tok-sync"}
    assert calls == ["async"]
    assert "sync and async" in auth.describe()


def test_token_provider_async_only_serves_sync_headers() -> None:
    async def aprovider() -> str:
        await asyncio.sleep(0.01)
        return "tok-async"

    auth = resolve_auth(endpoint=ENDPOINT, async_token_provider=aprovider)
    assert auth.kind == "token_provider"
    assert auth.headers() == {"Authorization": "Bearer tok-async"}
    assert auth.headers() == {"Authorization": "Bearer tok-async"}


async def test_token_provider_async_only_sync_headers_inside_running_loop() -> None:
    async def aprovider() -> str:
        return "tok-async"

    auth = TokenProviderAuth(async_provider=aprovider)
    # Blocking, but must not fail with "asyncio.run() cannot be called from a running event loop".
    assert auth.headers() == {"Authorization": "Bearer tok-async"}


async def test_token_provider_called_per_request_and_refresh_is_noop() -> None:
    count = 0

    def provider() -> str:
        nonlocal count
        count += 1
        return f"tok-{count}"

    auth = TokenProviderAuth(provider)
    assert auth.headers() == {"Authorization": "Bearer tok-1"}
    auth.force_refresh()
    await auth.aforce_refresh()
    assert count == 1
    assert await auth.aheaders() == {"Authorization": "Bearer tok-2"}


async def test_token_provider_failure_is_authentication_error() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"

    def provider() -> str:
        raise RuntimeError(f"token service down; last token was {jwt}")

    auth = TokenProviderAuth(provider)
    with pytest.raises(AuthenticationError) as info:
        auth.headers()
    assert info.value.credential == "token_provider"
    assert isinstance(info.value.__cause__, RuntimeError)
    assert "token service down" in str(info.value)
    assert jwt not in str(info.value)
    with pytest.raises(AuthenticationError):
        await auth.aheaders()


@pytest.mark.parametrize("bad", ["", None, 42])
async def test_token_provider_bad_value_is_authentication_error(bad: object) -> None:
    async def aprovider() -> Any:
        return bad

    auth = TokenProviderAuth(lambda: bad, aprovider)  # type: ignore[arg-type, return-value]
    with pytest.raises(AuthenticationError, match="not a token string"):
        auth.headers()
    with pytest.raises(AuthenticationError, match="not a token string"):
        await auth.aheaders()


def test_token_provider_auth_needs_a_provider() -> None:
    with pytest.raises(ConfigurationError):
        TokenProviderAuth()


# -- secrets --------------------------------------------------------------------------------------------------


async def test_no_secret_in_repr_str_describe_or_debug_logs(
    mi_env: IdentityServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    providers = [
        resolve_auth(endpoint=ENDPOINT, api_key=SecretStr(CANARY_KEY), use_managed_identity=True),
        resolve_auth(endpoint=ENDPOINT, azure_ad_token=SecretStr(CANARY_TOKEN)),
        resolve_auth(endpoint=ENDPOINT, token_provider=lambda: CANARY_TOKEN),
        resolve_auth(endpoint=ENDPOINT, use_managed_identity=True),
    ]
    for auth in providers:
        auth.headers()
        await auth.aheaders()
        for text in (repr(auth), str(auth), auth.describe(), auth.reason):
            assert CANARY_KEY not in text
            assert CANARY_TOKEN not in text
    assert mi_env.request_count == 1  # the managed identity really fetched a (canary) token
    assert CANARY_TOKEN in providers[3].headers()["Authorization"]
    for record in caplog.records:
        text = record.getMessage()
        assert CANARY_KEY not in text, record.name
        assert CANARY_TOKEN not in text, record.name


def test_no_secret_in_error_of_failed_managed_identity(
    mi_env: IdentityServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = resolve_auth(endpoint=ENDPOINT, use_managed_identity=True)
    mi_env.fail_status = 400
    with pytest.raises(AuthenticationError) as info:
        auth.headers()
    assert "test-identity-header" not in str(info.value)
    assert "test-identity-header" not in repr(info.value)
    assert all("test-identity-header" not in r.getMessage() for r in caplog.records)


# -- lazy import and the missing extra ------------------------------------------------------------------------


def test_import_does_not_load_azure_identity() -> None:
    code = "import sys, shared_core.auth; assert 'azure.identity' not in sys.modules, 'eager import'"
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


@pytest.mark.parametrize(
    ("option", "feature"),
    [("use_managed_identity", "managed identity"), ("use_default_credential", "DefaultAzureCredential")],
)
def test_missing_azure_identity_names_extra(option: str, feature: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azure.identity", None)
    with pytest.raises(MissingExtraError) as info:
        resolve_auth(endpoint=ENDPOINT, **{option: True})
    error = info.value
    assert isinstance(error, ImportError)
    assert isinstance(error, ConfigurationError)
    assert error.extra == "azure"
    assert error.module == "azure-identity"
    assert "[azure]" in str(error)
    assert feature in str(error)


def test_missing_azure_identity_irrelevant_for_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azure.identity", None)
    auth = resolve_auth(endpoint=ENDPOINT, api_key=SecretStr(CANARY_KEY), use_managed_identity=True)
    assert auth.headers() == {"api-key": CANARY_KEY}
