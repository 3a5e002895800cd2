"""Parsing and checking one configuration value: each parser takes the raw value and where it came from, and
returns the typed value or raises a :class:`~shared_core.errors.ConfigurationError` naming that source and the fix.

:data:`shared_core.config.SETTINGS` says which parser each setting uses.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from typing import cast
from urllib.parse import SplitResult, urlsplit

from pydantic import SecretStr

from shared_core.costs import ModelPrice, PriceTable
from shared_core.costs import parse_prices as parse_price_table
from shared_core.deployments import validate_deployment_name
from shared_core.errors import ConfigurationError

__all__ = [
    "ROUTING_STRATEGIES",
    "check_api_version",
    "check_routing",
    "normalise_endpoint",
    "normalise_gateway_url",
    "parse_bool",
    "parse_health_store",
    "parse_number",
    "parse_prices",
    "parse_secret",
    "parse_str_map",
]

ROUTING_STRATEGIES = ("priority", "least_latency", "weighted_round_robin")

_API_VERSION = re.compile(r"^(v1|latest|preview|\d{4}-\d{2}-\d{2}(-preview)?)$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def parse_bool(raw: object, source: str) -> bool:
    """Parse ``true``/``1``/``yes``/``on`` or ``false``/``0``/``no``/``off`` (any case); anything else is an error."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(f"{raw!r} is not a boolean", source=source, fix="use true/false, 1/0 or yes/no")


def parse_number(raw: object, source: str, *, lo: float, hi: float, integer: bool) -> float:
    if isinstance(raw, bool):
        raise ConfigurationError(f"{raw!r} is not a number", source=source)
    try:
        value = int(str(raw)) if integer else float(str(raw))
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise ConfigurationError(
            f"{raw!r} is not {kind}", source=source, fix=f"use {kind} between {lo} and {hi}"
        ) from None
    if not (lo <= value <= hi) or math.isnan(value):
        raise ConfigurationError(f"{value} is out of range", source=source, fix=f"use a value between {lo} and {hi}")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# What httpx and aiohttp accept as a host: an ASCII name (IDN hosts go in punycode) or an IP literal. Only a
# bracketed IPv6 literal has a ':' in urlsplit's hostname; it may carry a zone id (fe80::1%eth0).
_HOST_NAME = re.compile(r"[a-z0-9._-]+")
_HOST_IPV6 = re.compile(r"[0-9a-f:.]+(%[\w.~-]+)?", re.ASCII)


def _shown(text: str) -> str:
    """The URL as an error message may show it: everything before the last ``@`` (a password, perhaps) masked."""
    head, at, tail = text.rpartition("@")
    if not at:
        return text
    scheme, sep, _ = head.partition("://")
    return f"{scheme}{sep}***@{tail}" if sep else f"***@{tail}"


def _split_url(text: str, what: str, source: str, fix: str) -> SplitResult:
    """Split a URL, refusing what the HTTP clients would refuse only at the first request.

    Raises:
        ConfigurationError: Unparsable (an unclosed ``[``, a bracketed non-IP, a host that NFKC changes into
            a delimiter), a port that is not a number in 0-65535, no http(s) scheme or host, a host that is
            not an ASCII name or IP literal, or any userinfo (``user:pw@``, even an empty ``:@``).
    """
    try:
        parts = urlsplit(text)
        _ = parts.port  # urlsplit parses the port only when asked, and raises then
    except ValueError as exc:
        # The parser's message quotes the netloc, which may hold a password.
        reason = str(exc) if "@" not in text else "malformed host or port"
        raise ConfigurationError(
            f"{what} {_shown(text)!r} is not a valid URL ({reason})", source=source, fix=fix
        ) from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"http", "https"} or not host:
        raise ConfigurationError(f"{what} {_shown(text)!r} is not a URL", source=source, fix=fix)
    if not (_HOST_IPV6 if ":" in host else _HOST_NAME).fullmatch(host):
        raise ConfigurationError(
            f"{what} {_shown(text)!r} has a host that is not a hostname or IP address",
            source=source,
            fix=f"{fix}; write an international domain name in its xn-- (punycode) form",
        )
    if "@" in parts.netloc:
        raise ConfigurationError(
            f"{what} {parts.scheme}://{parts.hostname} has credentials in the URL",
            source=source,
            fix="remove the user:password@ part; give keys in their own settings",
        )
    return parts


def normalise_endpoint(raw: object, source: str) -> tuple[str, bool]:
    """Check an endpoint URL and strip a trailing ``/openai`` or ``/openai/v1``.

    Returns:
        The ``scheme://host[:port]`` endpoint, and whether the URL named the GA ``/openai/v1`` surface.

    Raises:
        ConfigurationError: Not a URL (see :func:`_split_url`), a path other than ``/openai[/v1]``, a query or
            fragment, or plain ``http`` to a host that is not loopback (a key over plain http is readable on
            the network).
    """
    text = str(raw).strip()
    parts = _base_url(
        text,
        "endpoint",
        source,
        "use https://<resource>.openai.azure.com (from the Azure portal, Keys and Endpoint)",
        "give only scheme and host; put keys in AZURE_OPENAI_API_KEY",
    )
    path = parts.path.rstrip("/")
    is_v1 = path.endswith("/openai/v1")
    if path not in {"", "/openai", "/openai/v1"}:
        raise ConfigurationError(
            f"endpoint {text!r} has an unexpected path {path!r}",
            source=source,
            fix="give the resource URL only, e.g. https://<resource>.openai.azure.com",
        )
    return f"{parts.scheme}://{parts.netloc}", is_v1


def _base_url(text: str, name: str, source: str, url_fix: str, query_fix: str) -> SplitResult:
    """One URL check for every base URL: parsed (see :func:`_split_url`), https off loopback, no query or fragment."""
    parts = _split_url(text, name, source, url_fix)
    host = parts.hostname or ""
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigurationError(
            f"{name} {text!r} uses plain http",
            source=source,
            fix="use https://; plain http is allowed only for loopback (127.0.0.1, localhost, ::1)",
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(
            f"{name} {parts.scheme}://{host} has a query or fragment in the URL", source=source, fix=query_fix
        )
    return parts


def normalise_gateway_url(raw: object, source: str) -> str:
    """Check the base URL of an OpenAI-compatible gateway; a path (``/v1``) is kept, a trailing ``/`` dropped.

    Raises:
        ConfigurationError: Not a URL (see :func:`_split_url`), a query or fragment, or plain ``http`` to a
            host that is not loopback (the gateway key, and perhaps the Azure key, travel with every request).
    """
    text = str(raw).strip()
    parts = _base_url(
        text,
        "gateway_url",
        source,
        "use https://<gateway host>/v1",
        "give scheme, host and path only; put the key in gateway_key",
    )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def check_routing(raw: object, source: str) -> str:
    text = str(raw).strip().lower().replace("-", "_")
    if text not in ROUTING_STRATEGIES:
        raise ConfigurationError(
            f"unknown routing strategy {raw!r}", source=source, fix=f"use one of {', '.join(ROUTING_STRATEGIES)}"
        )
    return text


def parse_prices(raw: object, source: str) -> dict[str, ModelPrice]:
    if isinstance(raw, PriceTable):
        return dict(raw.prices)
    if not isinstance(raw, Mapping):
        raise ConfigurationError("'prices' must be a table of model = {input, output, cached_input}", source=source)
    return parse_price_table(cast(Mapping[str, object], raw), source=source)


def check_api_version(raw: object, source: str) -> str:
    text = str(raw).strip()
    if not _API_VERSION.fullmatch(text):
        raise ConfigurationError(
            f"api-version {text!r} is not valid",
            source=source,
            fix="use a date like 2024-10-21 or 2025-04-01-preview, or v1 for the GA /openai/v1 routes",
        )
    return text


def parse_secret(raw: object, source: str) -> SecretStr | None:
    if isinstance(raw, SecretStr):
        return raw if raw.get_secret_value() else None
    if not isinstance(raw, str):
        raise ConfigurationError("a secret must be a string", source=source)
    return SecretStr(raw) if raw.strip() else None


def parse_health_store(raw: object, source: str) -> SecretStr | None:
    secret = parse_secret(raw, source)
    scheme = "" if secret is None else secret.get_secret_value().partition("://")[0].lower()
    if secret is not None and scheme not in ("redis", "rediss", "unix"):
        # The URL itself is not repeated: it may hold the Redis password.
        raise ConfigurationError(
            f"health_store must be a Redis URL; this one's scheme is {scheme[:10]!r}",
            source=source,
            fix="use redis://host:6379/0, rediss://:<access key>@<name>.redis.cache.windows.net:6380/0 or "
            "unix:///path/redis.sock",
        )
    return secret


def parse_str_map(raw: object, source: str, *, deployments_are: str) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise ConfigurationError("must be a table of name = name", source=source)
    out: dict[str, str] = {}
    for key, value in cast(Mapping[object, object], raw).items():
        if not isinstance(value, str) or not isinstance(key, str):
            raise ConfigurationError(f"entry {key!r} must map a name to a name", source=source)
        dep = value if deployments_are == "values" else key
        validate_deployment_name(dep, f"{source} entry {key!r}")
        out[key] = value
    return out
