"""Account-scoped key operations (what the console uses): another account's key answers like an unknown one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contactvault.server.domain.errors import InvalidRequest, NotFound
from contactvault.server.runtime import Runtime
from contactvault.server.services import accounts
from tests.factories import Account


def test_another_accounts_key_is_not_found_and_stays_as_it_was(
    directory: Runtime, account: Account, other_account: Account
) -> None:
    theirs = other_account.key_id
    for attempt in (
        lambda: accounts.account_key(directory, account.id, theirs),
        lambda: accounts.revoke_account_key(directory, account.id, theirs),
        lambda: accounts.rotate_account_key(directory, account.id, theirs, timedelta(hours=1)),
    ):
        with pytest.raises(NotFound) as refused:
            attempt()
        assert refused.value.message == f"Key {theirs} not found."  # as for a key that does not exist
    assert accounts.authenticate(directory, f"Bearer {other_account.api_key}") == other_account.id
    assert [k.state for k in accounts.list_keys(directory, other_account.id)] == ["active"]


def test_own_keys_are_revoked_and_rotated(directory: Runtime, account: Account) -> None:
    extra = accounts.create_key(directory, account.id, "spare")
    accounts.revoke_account_key(directory, account.id, extra.key_id)
    assert accounts.account_key(directory, account.id, extra.key_id).state == "revoked"
    issued, _ = accounts.rotate_account_key(directory, account.id, account.key_id, timedelta(hours=1))
    assert issued.account_id == account.id
    assert accounts.account_key(directory, account.id, account.key_id).state == "expiring"


def test_a_malformed_key_id_is_not_found_without_echoing_it(directory: Runtime, account: Account) -> None:
    with pytest.raises(NotFound) as refused:
        accounts.revoke_account_key(directory, account.id, "<script>")
    assert "<script>" not in refused.value.message


@pytest.mark.parametrize(("label", "stored"), [("  CRM sync ", "CRM sync"), ("   ", None), (None, None)])
def test_a_label_is_trimmed(directory: Runtime, account: Account, label: str | None, stored: str | None) -> None:
    issued = accounts.create_key(directory, account.id, label)
    assert accounts.account_key(directory, account.id, issued.key_id).label == stored


@pytest.mark.parametrize("label", ["x" * 201, "tab\there", "line\nbreak"])
def test_a_bad_label_is_refused_naming_the_field(directory: Runtime, account: Account, label: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        accounts.create_key(directory, account.id, label)
    assert refused.value.details == {"field": "label"}
    assert len(accounts.list_keys(directory, account.id)) == 1
