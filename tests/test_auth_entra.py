"""Entra tokens through real azure-identity code: managed identity against a loopback endpoint, the token
cache (refresh margin, one fetch for many callers, force refresh, new event loops), errors, and
DefaultAzureCredential reaching a fake ``az`` on PATH.

azure-identity caches too: the sync managed identity (MSAL) keeps tokens with more than 300 s left and
refreshes long-lived ones at half-life; the aio one keeps tokens until expiry. So these tests count requests at
the server with lifetimes chosen so that only OUR cache can explain the count (tokens under 300 s on the sync
path; the aio path uses a new aio credential per fetch, so it never serves from azure-identity's cache).
"""

from __future__ import annotations

import asyncio
import shutil
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared_core.auth import AI_FOUNDRY_SCOPE, DEFAULT_SCOPE, EntraTokenAuth, SyncTokenCredential, resolve_auth
from shared_core.errors import AuthenticationError
from tests.support.identity_server import MANAGED_IDENTITY_ENV_VARS, IdentityServer

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

ENDPOINT = "https://example-resource.openai.azure.com"
FAKE_AZ = Path(__file__).parent / "support" / "fake_az" / "az"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[IdentityServer]:
    """The App Service managed identity endpoint on loopback; tokens live an hour unless a test says not."""
    with IdentityServer(token_lifetime=3600) as srv:
        srv.install(monkeypatch)
        yield srv


def _mi(client_id: str | None = None) -> EntraTokenAuth:
    auth = resolve_auth(endpoint=ENDPOINT, use_managed_identity=True, managed_identity_client_id=client_id)
    assert isinstance(auth, EntraTokenAuth)
    return auth


def _bearer(auth_headers: dict[str, str]) -> str:
    value = auth_headers["Authorization"]
    assert value.startswith("Bearer ")
    return value.removeprefix("Bearer ")


# -- what is sent ---------------------------------------------------------------------------------------------


async def test_managed_identity_system_assigned_sends_no_client_id(server: IdentityServer) -> None:
    auth = _mi()
    assert auth.headers() == {"Authorization": "Bearer mi-token-1"}
    assert await _mi().aheaders() == {"Authorization": "Bearer mi-token-2"}
    for request in server.requests:
        assert request.path == "/msi/token"
        assert request.query == {"api-version": "2019-08-01", "resource": "https://cognitiveservices.azure.com"}
        assert request.headers["x-identity-header"] == "test-identity-header"
    assert auth.describe() == f"managed_identity (system-assigned; scope {DEFAULT_SCOPE})"


async def test_managed_identity_user_assigned_sends_client_id(server: IdentityServer) -> None:
    auth = _mi("11111111-2222-3333-4444-555555555555")
    auth.headers()
    await _mi("11111111-2222-3333-4444-555555555555").aheaders()
    assert server.request_count == 2
    for request in server.requests:
        assert request.query["client_id"] == "11111111-2222-3333-4444-555555555555"
    assert "user-assigned, client_id=11111111-2222-3333-4444-555555555555" in auth.describe()


async def test_managed_identity_ai_foundry_endpoint_requests_ai_resource(server: IdentityServer) -> None:
    auth = resolve_auth(endpoint="https://proj.services.ai.azure.com", use_managed_identity=True)
    auth.headers()
    await resolve_auth(endpoint="https://proj.services.ai.azure.com", use_managed_identity=True).aheaders()
    assert [r.query["resource"] for r in server.requests] == ["https://ai.azure.com", "https://ai.azure.com"]
    assert AI_FOUNDRY_SCOPE in auth.describe()


def test_managed_identity_scope_override_is_requested(server: IdentityServer) -> None:
    resolve_auth(endpoint=ENDPOINT, use_managed_identity=True, scope="api://gateway/.default").headers()
    assert server.requests[0].query["resource"] == "api://gateway"


# -- refresh margin -------------------------------------------------------------------------------------------


def test_token_within_margin_is_refreshed_sync(server: IdentityServer) -> None:
    server.token_lifetime = 60  # inside the default 300 s margin
    auth = _mi()
    assert _bearer(auth.headers()) == "mi-token-1"
    assert _bearer(auth.headers()) == "mi-token-2"
    assert server.request_count == 2


async def test_token_within_margin_is_refreshed_async(server: IdentityServer) -> None:
    server.token_lifetime = 60
    auth = _mi()
    assert _bearer(await auth.aheaders()) == "mi-token-1"
    assert _bearer(await auth.aheaders()) == "mi-token-2"
    assert server.request_count == 2


async def test_long_lived_token_is_not_refreshed_async(server: IdentityServer) -> None:
    auth = _mi()
    tokens = {_bearer(await auth.aheaders()) for _ in range(5)}
    assert tokens == {"mi-token-1"}
    assert server.request_count == 1
    assert auth.cache.fetch_count == 1


def _mi_credential() -> SyncTokenCredential:
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential()


@pytest.mark.parametrize(("margin", "expected_requests"), [(100.0, 1), (300.0, 3)])
def test_refresh_margin_decides_sync(server: IdentityServer, margin: float, expected_requests: int) -> None:
    # 200 s tokens: too short for MSAL's own cache (it wants > 300 s), so every request counted is ours.
    server.token_lifetime = 200
    auth = EntraTokenAuth(_mi_credential, scope=DEFAULT_SCOPE, kind="managed_identity", refresh_margin=margin)
    for _ in range(3):
        auth.headers()
    assert server.request_count == expected_requests
    assert auth.cache.fetch_count == expected_requests


def test_expired_token_is_refreshed_sync(server: IdentityServer) -> None:
    server.token_lifetime = 0
    auth = EntraTokenAuth(_mi_credential, scope=DEFAULT_SCOPE, kind="managed_identity", refresh_margin=0)
    auth.headers()
    auth.headers()
    assert server.request_count == 2


# -- one fetch for many callers -------------------------------------------------------------------------------


async def test_concurrent_async_callers_share_one_fetch(server: IdentityServer) -> None:
    server.delay = 0.2
    auth = _mi()
    results = await asyncio.gather(*(auth.aheaders() for _ in range(200)))
    assert server.request_count == 1
    assert {r["Authorization"] for r in results} == {"Bearer mi-token-1"}


def test_concurrent_threads_share_one_fetch(server: IdentityServer) -> None:
    server.delay = 0.2
    auth = _mi()
    barrier = threading.Barrier(50)
    results: list[str] = []
    errors: list[BaseException] = []

    def call() -> None:
        barrier.wait()
        try:
            results.append(auth.headers()["Authorization"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not errors
    assert len(results) == 50
    assert set(results) == {"Bearer mi-token-1"}
    assert server.request_count == 1


async def test_concurrent_async_callers_without_aio_credential_share_one_fetch(server: IdentityServer) -> None:
    server.delay = 0.2
    auth = EntraTokenAuth(_mi_credential, scope=DEFAULT_SCOPE, kind="managed_identity")
    results = await asyncio.gather(*(auth.aheaders() for _ in range(100)))
    assert server.request_count == 1
    assert {r["Authorization"] for r in results} == {"Bearer mi-token-1"}


async def test_async_fetch_does_not_block_event_loop(server: IdentityServer) -> None:
    server.delay = 0.3
    for auth in (_mi(), EntraTokenAuth(_mi_credential, scope=DEFAULT_SCOPE, kind="managed_identity")):
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            for _ in range(10):
                await asyncio.sleep(0.01)
                ticks += 1

        await asyncio.gather(auth.aheaders(), ticker())
        assert ticks == 10
        server.reset()


# -- force refresh --------------------------------------------------------------------------------------------


def test_force_refresh_fetches_anew_sync(server: IdentityServer) -> None:
    auth = _mi()
    assert _bearer(auth.headers()) == "mi-token-1"
    assert _bearer(auth.headers()) == "mi-token-1"
    auth.force_refresh()
    assert server.request_count == 2
    assert _bearer(auth.headers()) == "mi-token-2"
    assert server.request_count == 2


async def test_force_refresh_fetches_anew_async(server: IdentityServer) -> None:
    auth = _mi()
    assert _bearer(await auth.aheaders()) == "mi-token-1"
    await auth.aforce_refresh()
    assert _bearer(await auth.aheaders()) == "mi-token-2"
    assert server.request_count == 2


async def test_concurrent_force_refresh_fetches_once(server: IdentityServer) -> None:
    server.delay = 0.1
    auth = _mi()
    await auth.aheaders()
    await asyncio.gather(*(auth.aforce_refresh() for _ in range(20)))
    assert server.request_count == 2
    assert _bearer(await auth.aheaders()) == "mi-token-2"


# -- event loops ----------------------------------------------------------------------------------------------


def test_asyncio_run_twice_with_same_provider(server: IdentityServer) -> None:
    server.token_lifetime = 60  # stale at once: each run must fetch, under contention, on its own loop
    server.delay = 0.05
    auth = _mi()

    async def burst() -> set[str]:
        results = await asyncio.gather(*(auth.aheaders() for _ in range(5)))
        await auth.aforce_refresh()
        return {r["Authorization"] for r in results}

    first = asyncio.run(burst())
    second = asyncio.run(burst())
    assert len(first) == 1
    assert len(second) == 1
    assert first != second
    assert server.request_count == 4
    assert _bearer(auth.headers()) == "mi-token-5"


# -- errors ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 500])
async def test_failing_endpoint_raises_authentication_error(server: IdentityServer, status: int) -> None:
    server.fail_status = status
    server.fail_headers = {"Retry-After": "0.01"}  # keep azure-core's retries of 5xx quick
    auth = _mi("my-client")
    for attempt in ("sync", "async"):
        with pytest.raises(AuthenticationError) as info:
            if attempt == "sync":
                auth.headers()
            else:
                await auth.aheaders()
        error = info.value
        assert error.credential == "managed_identity"
        assert error.scope == DEFAULT_SCOPE
        assert "managed_identity" in str(error)
        assert DEFAULT_SCOPE in str(error)
        assert "client_id=my-client" in str(error)
        assert "Fix:" in str(error)
        assert error.__cause__ is not None
    server.fail_status = None
    assert _bearer(await auth.aheaders()) == "mi-token-1"  # a new aio credential per fetch: no stale failure
    # MSAL remembers the failed response for a while (throttling); a forced refresh builds a new credential.
    auth.force_refresh()
    assert _bearer(auth.headers()) == "mi-token-2"


def test_managed_identity_unavailable_raises_authentication_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in MANAGED_IDENTITY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    with IdentityServer(fail_status=400) as imds:
        # Without App Service variables azure-identity falls back to IMDS; point it at loopback.
        monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds.base_url)
        auth = _mi()
        with pytest.raises(AuthenticationError, match="managed_identity"):
            auth.headers()
        assert [r.path for r in imds.requests] == ["/metadata/identity/oauth2/token"]


# -- DefaultAzureCredential -----------------------------------------------------------------------------------


@pytest.fixture
def fake_az(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Only the fake ``az`` can answer: no managed identity, IMDS on loopback (failing), a clean HOME."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    shutil.copyfile(FAKE_AZ, az)
    az.chmod(az.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    log = tmp_path / "az.log"
    for name in MANAGED_IDENTITY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("FAKE_AZ_LOG", str(log))
    monkeypatch.setenv("FAKE_AZ_TOKEN", "az-cli-token")
    with IdentityServer(fail_status=400) as imds:
        # DefaultAzureCredential's managed identity link would probe 169.254.169.254; send it to loopback.
        monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds.base_url)
        yield log
        assert all(r.path == "/metadata/identity/oauth2/token" for r in imds.requests)


async def test_default_credential_gets_token_from_az_cli(fake_az: Path) -> None:
    auth = resolve_auth(endpoint=ENDPOINT, use_default_credential=True)
    assert auth.kind == "default_credential"
    assert auth.headers() == {"Authorization": "Bearer az-cli-token"}
    assert await auth.aheaders() == {"Authorization": "Bearer az-cli-token"}
    calls = fake_az.read_text().splitlines()
    assert calls == ["account get-access-token --output json --resource https://cognitiveservices.azure.com"]


async def test_default_credential_async_first_uses_worker_thread(fake_az: Path) -> None:
    auth = resolve_auth(endpoint="https://p.services.ai.azure.com", use_default_credential=True)
    results = await asyncio.gather(*(auth.aheaders() for _ in range(20)))
    assert {r["Authorization"] for r in results} == {"Bearer az-cli-token"}
    assert fake_az.read_text().splitlines() == [
        "account get-access-token --output json --resource https://ai.azure.com"
    ]


def test_default_credential_failure_names_kind_and_scope(fake_az: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_AZ_FAIL", "AADSTS70043: The refresh token has expired")
    auth = resolve_auth(endpoint=ENDPOINT, use_default_credential=True)
    with pytest.raises(AuthenticationError) as info:
        auth.headers()
    assert info.value.credential == "default_credential"
    assert info.value.scope == DEFAULT_SCOPE
    assert "DefaultAzureCredential" in str(info.value)
    assert "az login" in str(info.value)
