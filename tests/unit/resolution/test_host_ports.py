"""``CONTACTVAULT_SMTP_HOST_PORTS``: one port per MX for a loopback world where only 127.0.0.1 exists (the demo's),
honoured only with loopback allowed; a malformed entry is refused naming the setting."""

from __future__ import annotations

from typing import Any

import pytest

from contactvault.server.config import Settings
from contactvault.server.worker.mail.smtp import ProbeConfig, ProbeConfigError

IDENTITY: dict[str, Any] = {
    "smtp_probe": True,
    "smtp_helo": "probe.example.test",
    "smtp_mail_from": "verify@example.test",
}


def test_each_mx_gets_its_own_port_in_a_loopback_world() -> None:
    settings = Settings(
        **IDENTITY, smtp_port=2525, mail_allow_loopback=True, smtp_host_ports="mx.a.test=4001, MX.B.test=4002"
    )
    config = ProbeConfig.from_settings(settings)
    assert config is not None
    assert (config.port_for("mx.a.test"), config.port_for("mx.b.test."), config.port_for("mx.c.test")) == (
        4001,
        4002,
        2525,
    )


def test_the_ports_are_ignored_unless_loopback_is_allowed() -> None:
    config = ProbeConfig.from_settings(Settings(**IDENTITY, smtp_host_ports="mx.a.test=4001"))
    assert config is not None
    assert config.port_for("mx.a.test") == 25


@pytest.mark.parametrize("value", ["mx.a.test", "mx.a.test=0", "mx.a.test=port", "bad host=25"])
def test_a_malformed_entry_is_refused_naming_the_setting(value: str) -> None:
    with pytest.raises(ProbeConfigError, match="CONTACTVAULT_SMTP_HOST_PORTS"):
        ProbeConfig.from_settings(Settings(**IDENTITY, mail_allow_loopback=True, smtp_host_ports=value))
