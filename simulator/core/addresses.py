"""Which addresses a callback may reach, judged on the addresses actually dialled.

A callback URL's text says little about where it leads: a name can resolve to an
internal address, and legacy IPv4 spellings (``127.1``, ``0x7f.0.0.1``, ``2130706433``)
are read by the system's resolver as addresses no text rule recognises. So deliveries
go through :class:`ScreeningResolver`, which judges every address a lookup returns,
and the connector then dials exactly those addresses: nothing is looked up twice, so
what was checked is what is used.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Callable

from aiohttp.abc import AbstractResolver, ResolveResult

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names every system resolves to itself, besides ``localhost``'s subdomains (RFC 6761).
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost",
                            "ip6-loopback"})


def loopback_name(host: str) -> bool:
    """Whether ``host`` (lower case, no final dot) is a name for this machine."""
    return host in LOOPBACK_NAMES or host.endswith(".localhost")


_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
# RFC 6052's well-known NAT64 prefix carries an IPv4 address in its last 32 bits; the
# local-use prefix of RFC 8215 leads to whatever its operator's network holds.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


def noncanonical_ipv4(host: str) -> bool:
    """Whether ``host`` is read as an IPv4 address without being the canonical dotted
    quad: a host whose last label is a number is one (browsers and ``inet_aton`` read
    ``127.1``, ``0x7f.1``, ``0177.0.0.1`` and ``2130706433`` as 127.0.0.1), and
    ``ipaddress`` accepts only the canonical form."""
    host = host.lower().removesuffix(".")
    if not _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
        return False
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return True
    return False


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address leads to, with the kind of embedding."""
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    if address in _NAT64:
        return "NAT64", ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def forbidden(address: Address) -> str | None:
    """The kind of internal address ``address`` is ("loopback", "private", …), or None
    for a public one a callback may reach. An IPv6 address that embeds an IPv4 one is
    judged by the address it leads to."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            kind = forbidden(embedded[1])
            return None if kind is None else f"{embedded[0]} {kind}"
        if address in _NAT64_LOCAL:
            return "local-use NAT64"
    for kind, flag in (("unspecified", address.is_unspecified),
                       ("loopback", address.is_loopback),
                       ("link-local", address.is_link_local),
                       ("multicast", address.is_multicast),
                       ("reserved", address.is_reserved),
                       ("private", address.is_private),
                       ("non-public", not address.is_global)):
        if flag:
            return kind
    return None


def _a(kind: str) -> str:
    return ("an " if kind[0] in "aeiouI" else "a ") + kind


class Refused(OSError):
    """A delivery the address policy refuses; the message says which address and why.

    An OSError, as a resolver's failures are: aiohttp hands it on, wrapped in a
    ``ClientConnectorDNSError``, without dialling anything."""


def judge(host: str, address: str) -> None:
    """Raise :class:`Refused` when ``address`` (what ``host`` leads to) is internal."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise Refused(f"{host} resolves to {address!r}, which is not an IP address") from None
    kind = forbidden(parsed)
    if kind is not None:
        leads = "is" if host == address else f"resolves to {address},"
        raise Refused(f"{host} {leads} {_a(kind)} address")


def literal(host: str) -> bool:
    """Whether ``host`` (as the URL gives it) is an IP address, dialled without lookup."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class ScreeningResolver(AbstractResolver):
    """Looks names up through another resolver and, when ``screen`` is set, refuses a
    name any of whose addresses is internal (one internal answer among public ones is
    what a rebinding attack looks like, so the whole name is refused).

    ``names`` is called at each lookup, so the resolver behind it can be replaced (by a
    test, say) after the connector was made."""

    def __init__(self, names: Callable[[], AbstractResolver], *, screen: bool) -> None:
        self._names, self.screen = names, screen

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._names().resolve(host, port, family)
        if self.screen:
            for result in results:
                judge(host, result["host"])
        return results

    async def close(self) -> None:
        """Nothing: the resolver behind it belongs to whoever supplied it."""
