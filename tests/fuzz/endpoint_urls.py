"""Endpoint URLs built to probe the http-only-for-loopback rule: every host shape, userinfo and port trick.

Hosts: IPv4 and IPv6 addresses (loopback and not, bracketed or not), ``localhost`` and look-alikes
(``localhost.evil.com``, ``127.0.0.1.evil.com``, a trailing dot, full-width letters), unicode names and
arbitrary text. Userinfo: ``127.0.0.1@``, ``user:pass@``, ``evil.com@``. Ports: numbers, junk, nothing.
"""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

__all__ = ["endpoint_urls", "hosts", "is_loopback_host"]

_named_hosts = st.sampled_from(
    [
        "localhost",
        "LOCALHOST",
        "localhost.",
        "localhost.evil.com",
        "127.0.0.1.evil.com",
        "evil.com",
        "example-resource.openai.azure.com",
        "\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54",  # full-width "localhost"
        "127.1",
        "0x7f000001",
        "2130706433",
        "0",
        "0.0.0.0",
        "[::]",
        "[::ffff:127.0.0.1]",
        "[::1%25eth0]",
        "xn--localhost-",
        "l\u043ecalhost",  # Cyrillic o
        "127.0.0.1\\.evil.com",
        "127.0.0.1 .evil.com",
        "[::1",
    ]
)
_ipv4 = st.ip_addresses(v=4).map(str) | st.ip_addresses(network="127.0.0.0/8").map(str)
_ipv6 = (st.ip_addresses(v=6) | st.just(ipaddress.IPv6Address("::1"))).map(lambda a: f"[{a}]")
hosts = _ipv4 | _ipv6 | _named_hosts | st.text(min_size=1, max_size=15)
_userinfo = st.sampled_from(["", "", "", "user@", "user:pass@", "127.0.0.1@", "localhost@", "evil.com@", ":@"])
_ports = st.sampled_from(["", "", ":443", ":8080", ":0", ":", ":65536", ":-1", ":abc", ":80\\evil.com"]) | st.integers(
    min_value=0, max_value=70_000
).map(lambda p: f":{p}")
_paths = st.sampled_from(["", "", "/", "/openai", "/openai/v1", "/openai/v1/", "/x", "//evil.com", "\\@evil.com"])
_suffixes = st.sampled_from(["", "", "", "?a=1", "#frag", "@evil.com", " "])
_schemes = st.sampled_from(
    ["http://", "http://", "https://", "HTTP://", "hTtPs://", "ftp://", "", "http:/", "http:\\\\"]
)

_loopback_hosts = st.ip_addresses(network="127.0.0.0/8").map(str) | st.sampled_from(
    ["localhost", "LOCALHOST", "[::1]", "[0:0:0:0:0:0:0:1]", "[::1%25lo]"]
)
_well_formed = st.builds(
    lambda scheme, host, port, path: f"{scheme}{host}{port}{path}",
    st.sampled_from(["http://", "https://"]),
    _loopback_hosts | hosts,
    st.sampled_from(["", ":8080", ":1", ":65535"]),
    st.sampled_from(["", "/", "/openai", "/openai/v1"]),
)
_tricky = st.builds(
    lambda scheme, user, host, port, path, suffix: f"{scheme}{user}{host}{port}{path}{suffix}",
    _schemes,
    _userinfo,
    hosts,
    _ports,
    _paths,
    _suffixes,
)
endpoint_urls = _well_formed | _tricky
"""URL-shaped strings: well-formed ones around loopback, and ones built from every trick above."""


def is_loopback_host(host: str) -> bool:
    """Whether a host as an HTTP client parsed it names this machine (``localhost`` or a loopback address)."""
    bare = host.strip("[]").split("%", 1)[0]
    if bare.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False
