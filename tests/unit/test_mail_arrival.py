"""The simulated mail world's arrival stamps: the kernel's account of when a connection came, where it gives one."""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

import pytest

from contactvault.server.demo.arrival import arrival


class _Socket:
    def __init__(self, info: bytes | None) -> None:
        self.info = info
        self.asked: list[tuple[int, int, int]] = []

    def getsockopt(self, level: int, option: int, size: int) -> bytes:
        self.asked.append((level, option, size))
        if self.info is None:
            raise OSError("not a TCP socket")
        return self.info


class _Transport(asyncio.BaseTransport):
    def __init__(self, sock: Any) -> None:
        super().__init__()
        self.sock = sock

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.sock if name == "socket" else default


def _tcp_info(last_data_recv_ms: int) -> bytes:
    # 8 one-byte fields, then rto, ato, snd_mss, rcv_mss, unacked, sacked, lost, retrans, fackets, last_data_sent,
    # last_ack_sent, last_data_recv, last_ack_recv, ... (struct tcp_info, linux/tcp.h)
    u32 = [0] * 24
    u32[9], u32[11], u32[12] = 7, last_data_recv_ms, 5
    return struct.pack("=8B24I", *([1] * 8), *u32)


@pytest.mark.skipif(not hasattr(socket, "TCP_INFO"), reason="TCP_INFO is Linux's")
def test_a_connection_noted_late_is_dated_back_by_the_age_the_kernel_gives() -> None:
    sock = _Socket(_tcp_info(120))
    assert arrival(_Transport(sock), 1000.0) == pytest.approx(999.88)
    assert sock.asked[0][:2] == (socket.IPPROTO_TCP, socket.TCP_INFO)


def test_without_a_kernel_account_the_noted_moment_stands() -> None:
    assert arrival(None, 5.0) == 5.0
    assert arrival(_Transport(None), 5.0) == 5.0
    assert arrival(_Transport(_Socket(None)), 5.0) == 5.0


@pytest.mark.skipif(not hasattr(socket, "TCP_INFO"), reason="TCP_INFO is Linux's")
def test_a_real_fresh_connection_reads_a_plausible_age() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname()) as _client:
            accepted, _ = server.accept()
            with accepted:
                dated = arrival(_Transport(accepted), 1000.0)
    # Never in the future; and not a wrong field of the struct (rcv_mss, read as milliseconds, would be 65 s).
    assert 940.0 <= dated <= 1000.0
