"""An httpx transport for webhooks that checks every resolved address at connect time (the SSRF guard).

A receiver chooses its URL, so a URL could point the sender at the loopback interface, the private network or a
cloud metadata service, directly or through a DNS name that resolves there (possibly only on the second lookup:
DNS rebinding). The check therefore happens in the network backend, on the addresses actually connected to: the
host is resolved once, *every* address is checked (one bad address refuses the whole name), and the connection
goes to a checked address, never to a second lookup. Redirects are never followed (the sender's client sets
``follow_redirects=False``), so a 3xx cannot lead elsewhere. ``CONTACTVAULT_WEBHOOKS_ALLOW_PRIVATE=1`` turns the
address check off for self-hosting and tests.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

import httpcore
import httpx

from contactvault.server.domain.webhooks import is_public_address

Resolver = Callable[[str, int], list[str]]


class BlockedAddress(httpcore.ConnectError):
    """The host resolves to an address webhooks may not reach (httpx raises it as ``httpx.ConnectError``)."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (TCP), in its order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_addresses(host: str, port: int, resolve: Resolver, *, allow_private: bool) -> list[str]:
    """The addresses to connect to for ``host``; raises ``BlockedAddress`` if any of them is not public."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        try:
            addresses = resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve the webhook host: {exc.__class__.__name__}") from None
    else:
        addresses = [str(literal)]
    if not addresses:
        raise httpcore.ConnectError("the webhook host resolves to no address")
    if not allow_private:
        for address in addresses:
            if not is_public_address(ipaddress.ip_address(address.split("%")[0])):
                raise BlockedAddress(f"blocked address {address}: not a public address")
    return addresses


class GuardedBackend(httpcore.SyncBackend):
    """``SyncBackend`` that connects only to checked addresses (TLS still verifies the URL's host name)."""

    def __init__(self, *, allow_private: bool, resolve: Resolver = system_resolver) -> None:
        self.allow_private = allow_private
        self.resolve = resolve

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve, check every address, then connect to the first that answers."""
        addresses = checked_addresses(host, port, self.resolve, allow_private=self.allow_private)
        last: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError("no address answered")


def guarded_transport(*, allow_private: bool, resolve: Resolver = system_resolver) -> httpx.HTTPTransport:
    """An ``HTTPTransport`` whose connections go through ``GuardedBackend`` (no proxies from the environment)."""
    transport = httpx.HTTPTransport(trust_env=False, retries=0)
    # httpx has no public hook for the network backend: swap the pool for one built the same way with ours.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=20,
        max_keepalive_connections=10,
        keepalive_expiry=5.0,
        network_backend=GuardedBackend(allow_private=allow_private, resolve=resolve),
    )
    return transport
