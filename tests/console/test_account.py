"""The account page: who is signed in, the balance, the itemised ledger, and the account's keys."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from contactvault.server.clock import FakeClock
from contactvault.server.domain.errors import InvalidApiKey
from contactvault.server.domain.ledger import BucketKind
from contactvault.server.runtime import Runtime
from contactvault.server.services import accounts, console_sessions, credits, expiry
from tests.console.conftest import soup, text
from tests.engine import drain, submit
from tests.factories import Account

COOKIE = "__Host-cv_session"


def _ledger_rows(html: str) -> list[list[str]]:
    return [
        [cell.get_text(" ", strip=True) for cell in row.select("td")]
        for row in soup(html).select("[data-testid=ledger] tbody tr")
    ]


def _key_row(html: str, key_id: str) -> str:
    return text(html, f"tr[data-key='{key_id}']")


def test_the_page_says_who_is_signed_in_and_shows_balance_ledger_and_keys(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    task_id = submit(directory, account, [1, 2, 10])["task_id"]  # person 10 has no email: released
    drain(directory)
    response = signed_in.get("/console/account")
    assert response.status_code == 200
    assert text(response.text, "[data-testid=account-name]") == f"test (id {account.id})"
    assert text(response.text, "[data-testid=signed-in-as]") == f"API key sk_{account.key_id}_…"
    assert text(response.text, "[data-testid=balance-available]") == "9,970"
    assert text(response.text, "[data-testid=balance-reserved]") == "0"
    rows = _ledger_rows(response.text)
    kinds = [row[1] for row in rows]
    assert sorted(kinds) == ["Charged", "Charged", "Granted", "Held", "Released"]
    assert rows[-1][1:5] == ["Granted", "+10,000", "0", "Subscription"]  # the oldest is last
    held = rows[kinds.index("Held")]
    assert held[2:7] == ["\u221245", "+45", "Subscription", str(task_id), "api"]
    assert rows[kinds.index("Released")][2:4] == ["+15", "\u221215"]
    assert all(row[2:4] == ["0", "\u221215"] for row in rows if row[1] == "Charged")
    for cell in soup(response.text).select("[data-testid=ledger] td.num"):
        assert "num" in cell["class"]  # credits are right-aligned
    key_row = _key_row(response.text, account.key_id)
    assert f"sk_{account.key_id}_…" in key_row
    assert "(this session)" in key_row
    assert "Active" in key_row


def test_an_expiry_posting_is_shown_as_expired_and_can_be_picked(
    signed_in: TestClient, directory: Runtime, account: Account, clock: FakeClock
) -> None:
    credits.grant(directory, account.id, 25, BucketKind.GIFT, clock.now() + timedelta(minutes=1))
    clock.advance(60)
    expiry.expire_credits(directory)
    rows = _ledger_rows(signed_in.get("/console/account").text)
    assert rows[0][1:5] == ["Expired", "\u221225", "0", "Gift"]  # the newest is first
    only = signed_in.get("/console/account", params={"kind": "expire"})
    assert [row[1] for row in _ledger_rows(only.text)] == ["Expired"]
    picked = soup(only.text).select_one("#ledger-kind option[value=expire]")
    assert picked is not None
    assert picked.has_attr("selected")


def test_the_ledger_is_paged_and_htmx_gets_only_the_ledger(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    for amount in range(1, 31):
        credits.grant(directory, account.id, amount)
    first = signed_in.get("/console/account")
    rows = _ledger_rows(first.text)
    assert len(rows) == 25
    assert rows[0][2] == "+30"  # the newest first
    assert "Page 1 of 2" in text(first.text, "nav.pagination")
    next_link = soup(first.text).select_one("nav.pagination a[rel=next]")
    assert next_link is not None
    second = signed_in.get(str(next_link["href"]))
    assert [row[2] for row in _ledger_rows(second.text)] == ["+5", "+4", "+3", "+2", "+1", "+10,000"]
    fragment = signed_in.get("/console/account?page=2", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert soup(fragment.text).select_one("section#ledger") is not None
    assert len(_ledger_rows(fragment.text)) == 6


def test_the_ledger_filters_by_kind_and_task_and_refuses_a_bad_filter(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    first = submit(directory, account, [1])["task_id"]
    second = submit(directory, account, [2])["task_id"]
    holds = _ledger_rows(signed_in.get("/console/account?kind=hold").text)
    assert sorted(row[5] for row in holds) == sorted([str(first), str(second)])
    only = _ledger_rows(signed_in.get(f"/console/account?task={second}").text)
    assert [(row[1], row[5]) for row in only] == [("Held", str(second))]
    bad = signed_in.get("/console/account?kind=refund")
    assert bad.status_code == 400
    assert "kind must be one of" in text(bad.text, "#error")
    assert signed_in.get("/console/account?task=12ab").status_code == 400


def test_another_accounts_postings_never_show(
    signed_in: TestClient, directory: Runtime, account: Account, other_account: Account
) -> None:
    theirs = str(submit(directory, other_account, [7])["task_id"])
    page = signed_in.get("/console/account").text
    assert theirs not in page
    assert len(_ledger_rows(page)) == 1  # only this account's grant
    filtered = signed_in.get(f"/console/account?task={theirs}")
    assert _ledger_rows(filtered.text) == []
    assert "Nothing matches this filter" in filtered.text


def test_a_new_key_is_shown_once_and_works(signed_in: TestClient, directory: Runtime, account: Account) -> None:
    response = signed_in.post("/console/account/keys", data={"label": "CRM sync"})
    assert response.status_code == 201
    new_key = str(soup(response.text).select_one("[data-testid=new-key]")["value"])  # type: ignore[index]
    assert new_key.startswith("sk_")
    assert "will not be shown again" in text(response.text, "[role=alert]")
    assert accounts.authenticate(directory, f"Bearer {new_key}") == account.id
    key_id = new_key.split("_")[1]
    secret = new_key.split("_", 2)[2]
    reload = signed_in.get("/console/account")
    assert secret not in reload.text  # a reload of the account page never shows it again
    assert "CRM sync" in _key_row(reload.text, key_id)
    assert secret not in str(response.url)


def test_a_bad_label_is_refused_next_to_the_field_and_creates_nothing(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    response = signed_in.post("/console/account/keys", data={"label": "x" * 201})
    assert response.status_code == 422
    assert "label must be at most 200 characters" in text(response.text, "#label-error")
    assert soup(response.text).select_one("#key-label[aria-invalid=true]") is not None
    assert len(accounts.list_keys(directory, account.id)) == 1


def test_revoking_a_key_asks_first_and_ends_its_sessions(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    other = accounts.create_key(directory, account.id, "laptop")
    session = console_sessions.sign_in_with_key(directory, other.api_key)
    confirm = signed_in.get(f"/console/account/keys/{other.key_id}/revoke")
    assert confirm.status_code == 200
    assert soup(confirm.text).select_one(f"form[method=post][action='/console/account/keys/{other.key_id}/revoke']")
    assert soup(confirm.text).select_one("[data-testid=signs-you-out]") is None  # not the session's key
    assert accounts.account_key(directory, account.id, other.key_id).state == "active"  # asking changes nothing

    done = signed_in.post(f"/console/account/keys/{other.key_id}/revoke")
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/account?revoked={other.key_id}"
    assert console_sessions.resolve(directory, session.token) is None  # signed out everywhere
    with pytest.raises(InvalidApiKey):
        accounts.authenticate(directory, f"Bearer {other.api_key}")
    page = signed_in.get(done.headers["location"])
    assert "was revoked" in text(page.text, ".notice-ok")
    assert "Revoked" in _key_row(page.text, other.key_id)


def test_revoking_the_key_you_signed_in_with_says_so_and_signs_you_out(signed_in: TestClient, account: Account) -> None:
    confirm = signed_in.get(f"/console/account/keys/{account.key_id}/revoke")
    assert "signs you out" in text(confirm.text, "[data-testid=signs-you-out]")
    done = signed_in.post(f"/console/account/keys/{account.key_id}/revoke")
    assert done.status_code == 303
    assert done.headers["location"].startswith("/console/sign-in")
    assert "max-age=0" in done.headers["set-cookie"].lower()
    assert signed_in.get("/console/account").status_code == 303


def test_another_accounts_key_is_not_found_and_left_alone(
    signed_in: TestClient, directory: Runtime, other_account: Account
) -> None:
    theirs = other_account.key_id
    for method, path, data in (
        ("GET", f"/console/account/keys/{theirs}/revoke", None),
        ("POST", f"/console/account/keys/{theirs}/revoke", None),
        ("GET", f"/console/account/keys/{theirs}/rotate", None),
        ("POST", f"/console/account/keys/{theirs}/rotate", {"overlap": "1h"}),
        ("GET", "/console/account/keys/nothex!!/revoke", None),
    ):
        response = signed_in.request(method, path, data=data)
        assert response.status_code == 404, path
        assert "Not found" in text(response.text, "h1")
    assert accounts.account_key(directory, other_account.id, theirs).state == "active"
    assert len(accounts.list_keys(directory, other_account.id)) == 1


def test_rotating_shows_the_new_key_once_and_the_old_keys_expiry(
    signed_in: TestClient, directory: Runtime, account: Account, clock: FakeClock
) -> None:
    form = signed_in.get(f"/console/account/keys/{account.key_id}/rotate")
    assert [str(i["value"]) for i in soup(form.text).select("input[name=overlap]")] == ["1h", "24h", "7d"]
    expected = (clock.now() + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M UTC")
    response = signed_in.post(f"/console/account/keys/{account.key_id}/rotate", data={"overlap": "1h"})
    assert response.status_code == 201
    new_key = str(soup(response.text).select_one("[data-testid=new-key]")["value"])  # type: ignore[index]
    assert accounts.authenticate(directory, f"Bearer {new_key}") == account.id
    assert expected in text(response.text, "[data-testid=old-key-expiry]")
    assert "this console session ends" in response.text  # rotated the session's own key
    page = signed_in.get("/console/account")
    assert f"Expires {expected}" in _key_row(page.text, account.key_id)
    assert new_key.split("_", 2)[2] not in page.text
    again = signed_in.post(f"/console/account/keys/{account.key_id}/rotate", data={"overlap": "7d"})
    assert again.status_code == 409
    assert "cannot be rotated now" in text(again.text, "#overlap-error")
    assert len(accounts.list_keys(directory, account.id)) == 2


def test_a_rotation_without_a_valid_overlap_is_refused_and_changes_nothing(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    response = signed_in.post(f"/console/account/keys/{account.key_id}/rotate", data={"overlap": "99y"})
    assert response.status_code == 422
    assert "Choose how long" in text(response.text, "#overlap-error")
    assert [k.state for k in accounts.list_keys(directory, account.id)] == ["active"]


def test_the_page_needs_a_session(web: TestClient) -> None:
    assert web.get("/console/account").status_code == 303
    assert web.post("/console/account/keys", data={"label": "x"}).status_code == 303


def test_tables_that_scroll_sideways_on_a_phone_can_be_reached_by_keyboard(signed_in: TestClient) -> None:
    # A scrolling region with nothing focusable in it (the history of a new account) is unreachable by keyboard
    # (axe: scrollable-region-focusable, seen at 390 px wide).
    wraps = soup(signed_in.get("/console/account").text).select(".table-wrap")
    assert len(wraps) == 2  # the history and the keys (no users yet)
    for wrap in wraps:
        assert (wrap.get("tabindex"), wrap.get("role")) == ("0", "region")
        assert str(wrap.get("aria-label", "")).endswith("table")
