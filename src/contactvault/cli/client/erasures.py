"""Before ``export``: drop from the state file the people the server says were erased or opted out.

The server lists them at ``GET /external/contacts/erased`` (the account's unlocked people only). The whole list
is read each time rather than "since the last check": it is short, and a check that failed or was skipped can
then never leave an erased contact behind. Only contacts kept from runs against the server asked are dropped
(ids mean nothing across servers). Without a key, or with the server unreachable, the export goes ahead from the
file as it is and says so on stderr; ``--offline`` skips the check.
"""

from __future__ import annotations

from pathlib import Path

from contactvault.cli.client.common import quiet_retries
from contactvault.client import Channel, Client, ConfigError, ContactVaultError, StateStore

__all__ = ["forget_erased"]

# One attempt and a short timeout: the export itself needs no network, so a missing server must not hold it up.
CHECK_TIMEOUT = 10.0


def forget_erased(path: Path, base_url: str | None, api_key: str | None) -> str:
    """Drop erased and opted-out contacts from the state file at ``path``; return a note saying what happened."""
    quiet_retries()
    try:
        client = Client(api_key=api_key, base_url=base_url, max_attempts=1, timeout=CHECK_TIMEOUT)
    except ConfigError as exc:
        return f"Not checked for erased contacts ({exc}); pass --offline to skip the check."
    with client:
        try:
            people: list[tuple[str, Channel | None]] = [
                (item.personnel_id, _channel(item.channel)) for item in client.contacts.iter_erased()
            ]
        except ContactVaultError as exc:
            return (
                f"Not checked for erased contacts: {client.base_url} answered {type(exc).__name__} ({exc}); "
                "the export may still hold them."
            )
        server = client.base_url
    with StateStore(path) as store:
        dropped = store.forget_contacts(server, people) if people else 0
        others = sorted({run.base_url for run in store.list_runs()} - {server.rstrip("/")})
    note = f"Checked {server} for erased contacts: {dropped} removed from the state file."
    if others:
        note += f" Contacts from {', '.join(others)} were not checked (connect to each to check it)."
    return note


def _channel(value: str | None) -> Channel | None:
    if value == "email":
        return "email"
    if value == "phone":
        return "phone"
    return None
