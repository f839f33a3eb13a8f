"""Log formatting: JSON lines with the access fields, one line per record, no forged lines."""

from __future__ import annotations

import json
import logging

import pytest

from contactvault.server import logs
from contactvault.server.api import access_log


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    """A record as a logger would make it."""
    made = logging.LogRecord("contactvault.test", logging.INFO, __file__, 1, message, args, None)
    for name, value in extra.items():
        setattr(made, name, value)
    return made


def test_json_lines_carry_the_known_fields() -> None:
    line = logs.JsonFormatter().format(
        record(
            "GET %s %s", "/x", 200, method="GET", path="/x", status=200, trace_id="t1", account_id="9", duration_ms=1.5
        )
    )
    data = json.loads(line)
    assert data["message"] == "GET /x 200"
    assert {k: data[k] for k in ("method", "path", "status", "trace_id", "account_id", "duration_ms")} == {
        "method": "GET",
        "path": "/x",
        "status": 200,
        "trace_id": "t1",
        "account_id": "9",
        "duration_ms": 1.5,
    }
    assert data["ts"].endswith("Z")
    assert "\n" not in line


@pytest.mark.parametrize("formatter", [logs.JsonFormatter(), logs.TextFormatter()], ids=["json", "text"])
def test_cr_and_lf_in_user_strings_cannot_forge_a_line(formatter: logging.Formatter) -> None:
    line = formatter.format(record("name=%s", "bob\r\n2026-01-01 INFO contactvault.access forged\u2028x"))
    assert "\n" not in line
    assert "\r" not in line
    assert "\u2028" not in line


def test_configure_installs_one_root_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    logs.configure(json_lines=True, level="warning")
    assert len(root.handlers) == 1
    assert isinstance(root.handlers[0].formatter, logs.JsonFormatter)
    assert root.level == logging.WARNING
    logs.configure(json_lines=False)
    assert isinstance(root.handlers[0].formatter, logs.TextFormatter)


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/external/credits/balance", "/external/credits/balance"),
        ("/nowhere/bob@example.com", "/nowhere/{redacted}"),
        ("/a/+4930123456/b", "/a/{redacted}/b"),
        ("/sk_0badc0de_secretsecretsecret", "/{redacted}"),
    ],
)
def test_unmatched_paths_keep_only_plain_words(path: str, logged: str) -> None:
    assert access_log.route_of({"path": path}) == logged
