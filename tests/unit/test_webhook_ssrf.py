"""The SSRF guard: every resolved address is checked at connect time; each address class is refused."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.domain.webhooks import check_url, is_public_address
from contactvault.server.worker.webhook_transport import guarded_transport

REFUSED = {
    "loopback v4": "127.0.0.1",
    "loopback v4 other": "127.8.9.10",
    "loopback v6": "::1",
    "private 10/8": "10.1.2.3",
    "private 172.16/12": "172.20.0.5",
    "private 192.168/16": "192.168.1.1",
    "shared CGNAT": "100.64.0.1",
    "link-local v4": "169.254.10.10",
    "cloud metadata": "169.254.169.254",
    "link-local v6": "fe80::1",
    "unique local v6": "fd00::1",
    "unspecified v4": "0.0.0.0",
    "unspecified v6": "::",
    "multicast": "224.0.0.1",
    "reserved": "240.0.0.1",
    "broadcast": "255.255.255.255",
    "documentation": "192.0.2.1",
    "IPv4-mapped loopback": "::ffff:127.0.0.1",
    "IPv4-mapped private": "::ffff:10.0.0.1",
    "IPv4-mapped metadata": "::ffff:169.254.169.254",
    "6to4 of private": "2002:0a00:0001::1",
    "IPv4-compatible loopback": "::127.0.0.1",
}
ALLOWED = {"public v4": "93.184.216.34", "public v6": "2606:2800:220:1:248:1893:25c8:1946"}


@pytest.mark.parametrize("address", REFUSED.values(), ids=REFUSED.keys())
def test_every_non_public_address_class_is_refused(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED.values(), ids=ALLOWED.keys())
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


class _Recorder:
    """A fake resolver that records lookups and must never be connected to."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        return self.answers


@pytest.mark.parametrize("address", REFUSED.values(), ids=REFUSED.keys())
def test_a_name_resolving_to_a_refused_address_is_blocked_at_connect_time(address: str) -> None:
    resolver = _Recorder([address])
    client = httpx.Client(transport=guarded_transport(allow_private=False, resolve=resolver))
    with client, pytest.raises(httpx.ConnectError, match="blocked address"):
        client.post("https://hooks.example.test/x", content=b"{}")
    assert resolver.lookups == ["hooks.example.test"]


def test_one_bad_address_among_good_ones_blocks_the_name() -> None:
    resolver = _Recorder(["93.184.216.34", "10.0.0.7"])
    client = httpx.Client(transport=guarded_transport(allow_private=False, resolve=resolver))
    with client, pytest.raises(httpx.ConnectError, match=r"blocked address 10\.0\.0\.7"):
        client.post("https://rebinding.example.test/x", content=b"{}")


@pytest.fixture
def loopback_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_an_ip_literal_is_checked_too_and_the_opt_in_allows_loopback(loopback_server: str) -> None:
    strict = httpx.Client(transport=guarded_transport(allow_private=False))
    with strict, pytest.raises(httpx.ConnectError, match=r"blocked address 127\.0\.0\.1"):
        strict.post(loopback_server, content=b"{}")
    with httpx.Client(transport=guarded_transport(allow_private=True)) as client:
        assert client.post(loopback_server, content=b"{}").status_code == 204


def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(loopback_server: str) -> None:
    port = int(loopback_server.rsplit(":", 1)[1].strip("/"))
    resolver = _Recorder(["127.0.0.1"])
    with httpx.Client(transport=guarded_transport(allow_private=True, resolve=resolver)) as client:
        response = client.post(f"http://receiver.example.test:{port}/", content=b"{}")
    assert response.status_code == 204
    assert resolver.lookups == ["receiver.example.test"]  # resolved once, by the guard, and connected to that


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "https://10.0.0.1/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[fe80::1]/x",
        "https://u:p@hooks.example.com/",
        "https:///nohost",
    ],
)
def test_endpoint_urls_are_https_and_not_private_literals_by_default(url: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_url(url, allow_private=False)
    assert caught.value.details == {"field": "url"}


def test_the_opt_in_allows_http_and_private_literals() -> None:
    assert check_url("http://127.0.0.1:8080/hook", allow_private=True) == "http://127.0.0.1:8080/hook"
    assert check_url("https://hooks.example.com/x", allow_private=False) == "https://hooks.example.com/x"
