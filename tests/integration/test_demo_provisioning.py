"""demo/provisioning: one account with credits and a working key; the overview ``demo-serve`` reads."""

from __future__ import annotations

from contactvault.server.clock import FakeClock
from contactvault.server.db import ledger
from contactvault.server.demo.provisioning import DatabaseOverview, overview_of, provision_account
from contactvault.server.runtime import Runtime
from contactvault.server.services import accounts
from tests.factories import make_directory


def test_a_provisioned_account_holds_the_credits_and_its_key_authenticates(rt: Runtime) -> None:
    made = provision_account(rt, "bench", 1_500)

    assert accounts.authenticate(rt, f"Bearer {made.api_key}") == made.account_id
    with rt.db.read() as conn:
        assert sum(int(str(row["balance"])) for row in ledger.balance_rows(conn, made.account_id)) == 1_500
    assert [key.label for key in accounts.list_keys(rt, made.account_id)] == ["bench"]


def test_the_overview_counts_people_and_names_the_oldest_account(rt: Runtime, clock: FakeClock) -> None:
    assert overview_of(rt) == DatabaseOverview(people=0, first_account_id=None)

    make_directory(rt, people=40)
    first = provision_account(rt, "first", 10).account_id
    clock.advance(1)
    provision_account(rt, "second", 10)

    assert overview_of(rt) == DatabaseOverview(people=40, first_account_id=first)
