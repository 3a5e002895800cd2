"""Which configured credential wins, and the reason given for it (:mod:`shared_core.auth` builds the winner).

Credentials are ranked first by where they came from (code > config file > environment > ``OPENAI_API_KEY``),
then by the auth order within that source (:data:`AUTH_ORDER`: API key > Azure AD token > token provider(s) >
managed identity > DefaultAzureCredential). The reason names the source of every field that configured the
winner and, when others were configured too, why it beat them; ``doctor`` and the DEBUG line on
``shared_core.auth`` show it as is. Pure: no I/O, no credential is built here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from pydantic import SecretStr

from shared_core.errors import ConfigurationError

__all__ = ["AUTH_ORDER", "Choice", "CredentialOptions", "choose_credential"]

AUTH_ORDER: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("api_key", ("api_key",)),
    ("azure_ad_token", ("azure_ad_token",)),
    ("token_provider", ("token_provider", "async_token_provider")),
    ("managed_identity", ("use_managed_identity", "managed_identity_client_id")),
    ("default_credential", ("use_default_credential",)),
)
"""Each credential kind, first to last within one source, with the option fields that configure it."""

_LOOKED_FOR = (
    "No Azure OpenAI credential is configured. Looked for: kwargs api_key, azure_ad_token, token_provider, "
    "async_token_provider, use_managed_identity, managed_identity_client_id, use_default_credential; "
    "config-file keys api_key, azure_ad_token, use_managed_identity, managed_identity_client_id, "
    "use_default_credential; env vars AZURE_OPENAI_API_KEY, "
    "AZURE_OPENAI_KEY, AZURE_OPENAI_AD_TOKEN, AZURE_USE_MANAGED_IDENTITY, AZURE_USE_DEFAULT_CREDENTIAL, "
    "AZURE_MANAGED_IDENTITY_CLIENT_ID, and OPENAI_API_KEY as the last fallback"
)
_LOOKED_FOR_FIX = (
    "set AZURE_OPENAI_API_KEY, or use_managed_identity=True on Azure compute, "
    "or use_default_credential=True after 'az login'"
)
_TIER_NAMES = ("given in code", "from the config file", "from the environment", "from OPENAI_API_KEY")


@dataclass(frozen=True, slots=True)
class CredentialOptions:
    """The credential options of one endpoint, as :func:`~shared_core.auth.resolve_auth` takes them.

    Attributes:
        api_key: An Azure OpenAI key (empty counts as unset).
        azure_ad_token: A ready-made Entra token.
        token_provider: ``() -> str`` returning a bearer token.
        async_token_provider: ``() -> Awaitable[str]`` returning a bearer token.
        use_managed_identity: Use the managed identity of the Azure compute this runs on.
        managed_identity_client_id: Client id of a user-assigned identity; implies ``use_managed_identity``.
        use_default_credential: Use azure-identity's ``DefaultAzureCredential`` chain.
    """

    api_key: SecretStr | None = None
    azure_ad_token: SecretStr | None = None
    token_provider: Callable[[], str] | None = None
    async_token_provider: Callable[[], Awaitable[str]] | None = None
    use_managed_identity: bool = False
    managed_identity_client_id: str | None = None
    use_default_credential: bool = False


@dataclass(frozen=True, slots=True)
class Choice:
    """The winning credential.

    Attributes:
        kind: One of the kinds of :data:`AUTH_ORDER`.
        reason: Where its fields came from and why it beat the others, e.g. ``api_key set by env
            AZURE_OPENAI_API_KEY``.
        ignored: The other configured credentials with where they came from, or ``none``.
    """

    kind: str
    reason: str
    ignored: str


class _Configured(NamedTuple):
    kind: str
    reason: str
    tier: int


def _is_set(value: object) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value().strip())
    if isinstance(value, bool | str):
        return bool(value)
    return value is not None


def _tier(source: str) -> int:
    """Where a credential came from, as a rank: code (kwargs) 0 > config file 1 > environment 2 > OPENAI_API_KEY 3."""
    if source.startswith("env OPENAI_API_KEY"):
        return 3
    if source.startswith("env "):
        return 2
    if source.startswith("file ") or source.startswith("endpoint "):
        return 1
    return 0


def _configured(options: CredentialOptions, origin: Mapping[str, str]) -> list[_Configured]:
    """Every configured credential, highest priority first: by source, then by the auth order within it."""
    configured: list[_Configured] = []
    for kind, fields in AUTH_ORDER:
        given = [name for name in fields if _is_set(getattr(options, name))]
        if given:
            sources = [origin.get(name, f"kwarg {name!r}") for name in given]
            reason = ", ".join(f"{name} set by {source}" for name, source in zip(given, sources, strict=True))
            configured.append(_Configured(kind, reason, min(_tier(source) for source in sources)))
    return sorted(configured, key=lambda item: item.tier)  # stable: the auth order within a source


def _why(configured: list[_Configured]) -> str:
    """The winner's reason, with why it beat the others (a source ranked higher, or the auth order)."""
    kind, reason, tier = configured[0]
    lower = [other for other in configured[1:] if other.tier > tier]
    if lower:
        return f"{reason} ({_TIER_NAMES[tier]}, which beats a credential {_TIER_NAMES[lower[0].tier]})"
    if len(configured) > 1:
        return f"{reason} ({kind} comes first in the auth order among credentials {_TIER_NAMES[tier]})"
    return reason


def choose_credential(options: CredentialOptions, sources: Mapping[str, str]) -> Choice:
    """The credential to use among those configured.

    Args:
        options: The configured options.
        sources: Field name -> where its value came from (``{"api_key": "env AZURE_OPENAI_API_KEY"}``); fields
            not listed are described as ``kwarg '<name>'``.

    Returns:
        The winner, why it won, and what was configured but ignored.

    Raises:
        ConfigurationError: Nothing is configured; the message lists everything that was looked for.
    """
    configured = _configured(options, sources)
    if not configured:
        raise ConfigurationError(_LOOKED_FOR, fix=_LOOKED_FOR_FIX)
    ignored = "; ".join(f"{other.kind} ({other.reason})" for other in configured[1:]) or "none"
    return Choice(configured[0].kind, _why(configured), ignored)
