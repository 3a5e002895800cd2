"""Inputs that hit a bug the fuzz suite found, each pinned by a strict xfail test with its minimal case.

The properties leave these inputs out (``assume(not ...)``) so that they keep guarding everything else; when a
bug is fixed, its xfail test starts passing, strict mode fails it, and predicate and marker go together.
"""

from __future__ import annotations

import ipaddress
import json
import re
from urllib.parse import urlsplit

from shared_core.messages import JsonValue

__all__ = [
    "empty_userinfo",
    "endpoint_urlsplit_fails",
    "event_response_type_unhashable",
    "host_not_a_hostname",
    "json_fails_oddly",
    "output_item_type_unhashable",
    "port_unusable",
]


def json_fails_oddly(text: str) -> bool:
    """``json.loads`` fails with something other than ``JSONDecodeError``.

    Python raises a bare ``ValueError`` for an integer of more than 4,300 digits and ``RecursionError`` for
    nesting deeper than the recursion limit; ``parse_tool_arguments`` catches neither, and the stream decoders
    do not catch ``RecursionError`` (``test_*_json_parser_limits_*`` in test_tool_calls_fuzz.py).
    """
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    except (ValueError, RecursionError):
        return True
    return False


def output_item_type_unhashable(response: JsonValue) -> bool:
    """A Responses object with an output item whose ``type`` is a list or object.

    ``response_details`` tests ``kind not in {...}`` and raises ``TypeError: unhashable type``
    (``test_responses_decode_response_output_item_type_list_is_typed_error``).
    """
    if not isinstance(response, dict):
        return False
    output = response.get("output")
    items = output if isinstance(output, list) else []
    return any(isinstance(item, dict) and isinstance(item.get("type"), list | dict) for item in items)


def event_response_type_unhashable(data: str) -> bool:
    """A Responses stream event whose ``response`` hits :func:`output_item_type_unhashable`."""
    try:
        payload = json.loads(data)
    except (ValueError, RecursionError):
        return False
    return isinstance(payload, dict) and output_item_type_unhashable(payload.get("response"))


def endpoint_urlsplit_fails(url: str) -> bool:
    """``urlsplit`` itself raises ``ValueError`` (an unclosed ``[``, a bracketed non-IP, NFKC-unsafe netloc).

    ``normalise_endpoint`` lets that ``ValueError`` escape
    (``test_config_endpoint_unparsable_url_is_configuration_error``).
    """
    try:
        urlsplit(url.strip())
    except ValueError:
        return True
    return False


def port_unusable(url: str) -> bool:
    """The URL's port is not a number in 0-65535, which ``normalise_endpoint`` accepts without looking.

    httpx then fails on the first request with ``httpx.InvalidURL`` (not one of our errors) and aiohttp's URL
    parser rejects it (``test_config_endpoint_bad_port_is_configuration_error``).
    """
    try:
        urlsplit(url.strip()).port  # noqa: B018 - the property access is the check
    except ValueError:
        return True
    return False


def empty_userinfo(url: str) -> bool:
    """The URL has an ``@`` with empty user and password (``http://:@127.0.0.1``).

    ``normalise_endpoint`` tests ``parts.username or parts.password``, both ``''``, and keeps the ``:@`` in
    the endpoint; aiohttp then refuses a Bearer header next to URL credentials with a bare ``ValueError``
    (``test_config_endpoint_empty_userinfo_is_configuration_error``).
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return "@" in parts.netloc and not parts.username and not parts.password


def host_not_a_hostname(url: str) -> bool:
    """The URL's host is neither an IP address nor an ASCII name of letters, digits, '.', '-' and '_'.

    ``normalise_endpoint`` accepts any host text (``https://\x1b``, ``https://\x80``, ``https://a b.com``);
    httpx refuses some of them on the first request with ``httpx.InvalidURL``, not one of our errors
    (``test_config_endpoint_host_not_a_hostname_is_configuration_error``).
    """
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return False
    if not host:
        return False
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return re.fullmatch(r"[a-z0-9._-]+", host) is None
    return False
