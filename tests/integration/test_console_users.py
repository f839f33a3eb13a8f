"""Console users: argon2id hashes, verification that says nothing about why it failed, rehash, disable."""

from __future__ import annotations

from typing import Literal

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from contactvault.server.db import console as stored
from contactvault.server.db.errors import AlreadyExists
from contactvault.server.db.tables import audit_log, console_users
from contactvault.server.domain.errors import InvalidRequest, NotFound, StateConflict
from contactvault.server.runtime import Runtime
from contactvault.server.services import console_sessions
from contactvault.server.services import console_users as users
from tests.factories import Account

PASSWORD = "correct horse battery"


def _stored_hash(rt: Runtime, email: str) -> str:
    with rt.db.read() as conn:
        row = stored.find_user(conn, email)
    assert row is not None
    return row.password_hash


def test_a_user_is_stored_with_a_lower_cased_email_and_only_an_argon2id_hash(
    directory: Runtime, account: Account
) -> None:
    user = users.create_user(directory, account.id, "  Jane.Doe@Example.COM ", PASSWORD)
    assert (user.email, user.account_id, user.state) == ("jane.doe@example.com", account.id, "active")
    with directory.db.read() as conn:
        rows = [tuple(str(v) for v in r) for r in conn.execute(select(console_users))]
        audits = [tuple(str(v) for v in r) for r in conn.execute(select(audit_log))]
    assert len(rows) == 1
    assert _stored_hash(directory, "jane.doe@example.com").startswith("$argon2id$")
    assert not any(PASSWORD in cell for row in rows + audits for cell in row)
    assert not any("jane.doe" in cell for row in audits for cell in row)  # audit rows name the user by id


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [
        ("not-an-email", PASSWORD, "email"),
        ("jane@localhost", PASSWORD, "email"),
        ("a@b.c" + "x" * 320, PASSWORD, "email"),
        ("jane@example.com", "short pass", "password"),
        ("jane@example.com", "x" * 1025, "password"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_stores_nothing(
    directory: Runtime, account: Account, email: str, password: str, field: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        users.create_user(directory, account.id, email, password)
    assert refused.value.details == {"field": field}
    assert password not in refused.value.message
    assert users.list_users(directory, account.id) == []


def test_an_email_is_taken_once_whatever_its_case_and_the_account_must_exist(
    directory: Runtime, account: Account, other_account: Account
) -> None:
    users.create_user(directory, account.id, "jane@example.com", PASSWORD)
    with pytest.raises(StateConflict):
        users.create_user(directory, other_account.id, "JANE@example.com", PASSWORD + "!")
    with pytest.raises(NotFound):
        users.create_user(directory, 12345, "joe@example.com", PASSWORD)
    assert [u.email for u in users.list_users(directory, account.id)] == ["jane@example.com"]
    assert users.list_users(directory, other_account.id) == []


def test_verify_accepts_the_right_password_only(directory: Runtime, account: Account) -> None:
    created = users.create_user(directory, account.id, "jane@example.com", PASSWORD)
    assert users.verify(directory, "JANE@example.com", PASSWORD) == created
    for email, password in (
        ("jane@example.com", PASSWORD + "x"),
        ("jane@example.com", ""),
        ("nobody@example.com", PASSWORD),
        ("not an email", PASSWORD),
    ):
        with pytest.raises(users.SignInRefused) as refused:
            users.verify(directory, email, password)
        assert str(refused.value) == "email or password not accepted"


class CountingHasher(PasswordHasher):
    """argon2-cffi's hasher, counting verifications."""

    verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        CountingHasher.verified += 1
        return super().verify(hash, password)


def test_an_unknown_email_costs_one_verification_like_a_known_one(
    directory: Runtime, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    users.create_user(directory, account.id, "jane@example.com", PASSWORD)
    monkeypatch.setattr(users, "HASHER", CountingHasher())
    for email in ("jane@example.com", "nobody@example.com"):
        before = CountingHasher.verified
        with pytest.raises(users.SignInRefused):
            users.verify(directory, email, "wrong password!")
        assert CountingHasher.verified == before + 1, email


def test_a_hash_with_older_parameters_is_replaced_at_the_next_sign_in(directory: Runtime, account: Account) -> None:
    user = users.create_user(directory, account.id, "jane@example.com", PASSWORD)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with directory.db.write() as conn:
        stored.set_password_hash(conn, user.user_id, weak)
    assert users.HASHER.check_needs_rehash(weak)
    users.verify(directory, "jane@example.com", PASSWORD)
    renewed = _stored_hash(directory, "jane@example.com")
    assert renewed != weak
    assert renewed.startswith("$argon2id$")
    assert not users.HASHER.check_needs_rehash(renewed)
    assert users.verify(directory, "jane@example.com", PASSWORD).user_id == user.user_id


def test_disabling_a_user_ends_their_sessions_and_refuses_their_password(directory: Runtime, account: Account) -> None:
    users.create_user(directory, account.id, "jane@example.com", PASSWORD)
    session = users.sign_in(directory, "jane@example.com", PASSWORD)
    assert console_sessions.resolve(directory, session.token) == session.principal
    assert session.principal.label == "jane@example.com"
    disabled, ended = users.disable_user(directory, "Jane@Example.com")
    assert (disabled.state, ended) == ("disabled", 1)
    assert console_sessions.resolve(directory, session.token) is None
    with pytest.raises(users.SignInRefused):
        users.verify(directory, "jane@example.com", PASSWORD)
    again, ended_again = users.disable_user(directory, "jane@example.com")
    assert (again.disabled_at, ended_again) == (disabled.disabled_at, 0)
    with pytest.raises(NotFound):
        users.disable_user(directory, "nobody@example.com")


def test_a_second_row_with_a_taken_email_is_already_exists_in_storage(directory: Runtime, account: Account) -> None:
    user = users.create_user(directory, account.id, "jane@example.com", PASSWORD)
    twin = stored.UserRow(user.user_id + 1, account.id, "jane@example.com", "$argon2id$x", user.created_at, None)
    # What a concurrent create that passed the service's check meets: a clear error, not the driver's.
    with pytest.raises(AlreadyExists), directory.db.write() as conn:
        stored.insert_user(conn, twin)
    assert len(users.list_users(directory, account.id)) == 1
