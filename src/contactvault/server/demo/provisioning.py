"""Provisioning shared by the demo, ``demo-serve`` and the benchmarks: account, credits, key; what is there."""

from __future__ import annotations

from dataclasses import dataclass

from contactvault.server.db import overview
from contactvault.server.runtime import Runtime
from contactvault.server.services import accounts, credits


@dataclass(frozen=True)
class ProvisionedAccount:
    """A new account holding ``credits`` subscription credits, and its API key (shown once)."""

    account_id: int
    api_key: str


def provision_account(rt: Runtime, name: str, credit_amount: int) -> ProvisionedAccount:
    """Create an account called ``name``, grant it ``credit_amount`` credits and issue it a key labelled ``name``."""
    account_id = accounts.create_account(rt, name)
    credits.grant(rt, account_id, credit_amount)
    return ProvisionedAccount(account_id, accounts.create_key(rt, account_id, name).api_key)


@dataclass(frozen=True)
class DatabaseOverview:
    """How many people the directory holds, and the oldest account (what ``demo-serve`` tells the operator)."""

    people: int
    first_account_id: int | None


def overview_of(rt: Runtime) -> DatabaseOverview:
    """Read, in one snapshot, whether the database needs demo data and which account to point at otherwise."""
    with rt.db.read() as conn:
        return DatabaseOverview(overview.people_count(conn), overview.oldest_account_id(conn))
