"""The address guard: the prober connects only to global addresses, so a hostile MX cannot aim it inward."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AddressGuard:
    """Which MX addresses may be contacted: global ones, and loopback when explicitly allowed (tests, demo)."""

    allow_loopback: bool = False

    def allows(self, address: str) -> bool:
        """Whether a connection to ``address`` (an IPv4 or IPv6 literal) is allowed."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and (ip.ipv4_mapped is not None or ip.sixtofour is not None):
            # An IPv4 address dressed as IPv6 (::ffff:10.0.0.1, 2002:0a00:0001::) would slip past a v6-only
            # check; a real MX never publishes one.
            return False
        if ip.is_loopback:
            return self.allow_loopback and isinstance(ip, ipaddress.IPv4Address)
        # is_global is False for private, link-local (incl. the 169.254.169.254 metadata service), shared
        # address space, documentation, multicast, reserved and unspecified addresses.
        return ip.is_global and not ip.is_multicast
