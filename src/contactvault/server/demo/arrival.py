"""When a connection really arrived at a simulated server: the kernel's account, not the server process's.

A server process that is busy or descheduled (a loaded machine) runs ``connection_made`` late, so a timestamp
taken there can make two connections look closer together than they arrived. Linux reports, per socket, how long
ago data last came in (``TCP_INFO``'s ``tcpi_last_data_recv``, counted in kernel ticks: one tick, 4 ms at
HZ=250, either way per stamp, so a gap between two stamps is good to about two ticks); on a connection the server
has not read from yet, that is the age of the handshake. Elsewhere the moment the process noted is all there is.
"""

from __future__ import annotations

import asyncio
import socket
import struct

_TCP_INFO = struct.Struct("=8B13I")  # struct tcp_info's leading fields, up to tcpi_last_ack_recv
_LAST_DATA_RECV = 8 + 11


def arrival(transport: asyncio.BaseTransport | None, noted: float) -> float:
    """When the connection arrived, on the ``time.monotonic`` scale of ``noted`` (when the process noted it)."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    option = getattr(socket, "TCP_INFO", None)
    if sock is None or option is None:
        return noted
    try:
        fields = _TCP_INFO.unpack_from(sock.getsockopt(socket.IPPROTO_TCP, option, _TCP_INFO.size))
    except (OSError, struct.error):
        return noted
    return noted - float(fields[_LAST_DATA_RECV]) / 1000
