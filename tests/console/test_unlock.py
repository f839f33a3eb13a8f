"""The unlock pages: confirm with a quote, submit it once, watch the task and read its outcomes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import update

from contactvault.server.api import mappers
from contactvault.server.clock import FakeClock
from contactvault.server.console.pages import unlock_task
from contactvault.server.db import tables
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import idempotency, quotes, unlocks
from tests.console.conftest import soup, text
from tests.engine import assert_reconciles, balance, count, drain, submit
from tests.factories import Account, email_of, make_account, phone_of

NEW = "/console/unlocks/new"
HTMX = {"HX-Request": "true"}


def said(html: str, selector: str) -> str:
    """The text of an element as a reader sees it (whitespace collapsed)."""
    return " ".join(text(html, selector).split())


def sign_in(web: TestClient, account: Account) -> TestClient:
    response = web.post("/console/sign-in", data={"api_key": account.api_key, "next": "/console"})
    assert response.status_code == 303, response.text
    return web


def confirm_page(web: TestClient, ids: list[str], event: str = "100", **params: str) -> Response:
    return web.get(NEW, params={"event_id": event, "selected": ids, **params})


def quote_of(html: str) -> str:
    field = soup(html).select_one("form input[name=quote_id]")
    assert field is not None, "no confirm form"
    return str(field["value"])


def confirm(web: TestClient, quote_id: str, headers: dict[str, str] | None = None) -> Response:
    return web.post("/console/unlocks", data={"quote_id": quote_id, "channel": "email"}, headers=headers or {})


def task_id_of(response: Response) -> int:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/console/unlocks/")
    return int(location.rsplit("/", 1)[1])


def test_confirm_shows_the_precheck_breakdown_with_names_and_balances(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    submit(directory, account, ["1"])
    drain(directory)  # person 1: already unlocked
    submit(directory, account, ["2"])  # person 2: in progress
    ids = ["1", "2", "3", "4", "99999", "abc"]
    response = confirm_page(signed_in, ids)
    assert response.status_code == 200, response.text
    expected = unlocks.precheck(directory, account.id, Channel.EMAIL, "100", ids)
    assert expected.credits == 30
    html = response.text
    assert said(html, "[data-testid=event-name]") == "Berlin Retail Expo 2026"
    assert said(html, "[data-testid=chargeable-count]") == "2"
    assert said(html, "[data-testid=credits]") == "30"
    assert said(html, "[data-testid=count-free]") == "1"
    assert said(html, "[data-testid=count-unlocking]") == "1"
    assert said(html, "[data-testid=count-ineligible]").startswith("2")
    assert said(html, "[data-testid=balance-now]") == f"{expected.available_balance:,}" == "9,970"
    assert said(html, "[data-testid=balance-after]") == "9,940"
    rows = {
        r["data-person"]: " ".join(r.get_text(" ").split()) for r in soup(html).select("[data-testid=people] tbody tr")
    }
    assert rows["3"].startswith("Person 3 Example")
    assert "Will be unlocked" in rows["3"]
    assert "Already unlocked — free" in rows["1"]
    assert "In progress" in rows["2"]
    assert "missing" in rows["99999"]
    assert "Not a valid person id" in rows["abc"]
    form = soup(html).select_one("form.unlock-confirm-form")
    assert form is not None
    assert (form["method"], form["action"]) == ("post", "/console/unlocks")
    assert form.has_attr("hx-disable")
    assert sorted(i["name"] for i in form.select("input")) == ["channel", "quote_id"]
    assert said(html, "[data-testid=confirm]") == "Confirm and unlock 2 people for 30 credits"
    assert email_of(1) not in html  # the confirm page reveals nothing


def test_confirming_holds_exactly_the_quote_once_even_when_clicked_twice(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    quote_id = quote_of(confirm_page(signed_in, ["1", "2", "3"]).text)
    assert count(directory, tables.tasks) == 0
    first = task_id_of(confirm(signed_in, quote_id))
    assert count(directory, tables.tasks) == 1
    assert balance(directory, account) == 10_000 - 45
    again = task_id_of(confirm(signed_in, quote_id))
    by_htmx = confirm(signed_in, quote_id, HTMX)
    assert again == first
    assert by_htmx.headers["HX-Redirect"] == f"/console/unlocks/{first}"
    assert count(directory, tables.tasks) == 1
    assert balance(directory, account) == 10_000 - 45
    assert_reconciles(directory)


@pytest.mark.parametrize("delivered", [False, True], ids=["now-in-progress", "now-unlocked"])
def test_a_price_change_between_page_and_click_charges_nothing_and_says_so(
    signed_in: TestClient, directory: Runtime, account: Account, delivered: bool
) -> None:
    quote_id = quote_of(confirm_page(signed_in, ["1", "2", "3"]).text)
    submit(directory, account, ["2"])  # meanwhile, another tab unlocks person 2
    if delivered:
        drain(directory)
    before = balance(directory, account)
    response = confirm(signed_in, quote_id)
    assert response.status_code == 409
    html = response.text
    assert "price changed" in said(html, "[role=alert]")
    assert "Nothing was charged" in said(html, "[role=alert]")
    assert (said(html, "[data-testid=quoted]"), said(html, "[data-testid=now]")) == ("45", "30")
    review = soup(html).select_one("[data-testid=review-again]")
    assert review is not None
    assert review["href"] == "/console/unlocks/new?event_id=100&selected=1&selected=2&selected=3"
    assert balance(directory, account) == before
    assert count(directory, tables.tasks) == 1
    assert_reconciles(directory)


def test_insufficient_balance_is_explained_with_the_numbers_and_offers_no_button(
    web: TestClient, directory: Runtime
) -> None:
    poor = make_account(directory, credit=600, name="poor")
    html = confirm_page(sign_in(web, poor), [str(i) for i in range(1, 101)]).text
    assert "needs 1,500 credits, you have 600 available" in said(html, "[data-testid=insufficient]")
    assert soup(html).select("button[data-testid=confirm], form.unlock-confirm-form") == []
    assert soup(html).select_one("a[href^='/console/events/100/people']") is not None
    assert count(directory, tables.quotes) == 0


def test_a_balance_that_dropped_since_the_estimate_is_402_with_no_task(web: TestClient, directory: Runtime) -> None:
    tight = make_account(directory, credit=45, name="tight")
    quote_id = quote_of(confirm_page(sign_in(web, tight), ["1", "2", "3"]).text)
    submit(directory, tight, ["4"])  # another tab spends 15 of the 45
    response = confirm(web, quote_id)
    assert response.status_code == 402
    assert "needs 45 credits, you have 30 available" in said(response.text, "[data-testid=insufficient]")
    assert count(directory, tables.tasks) == 1
    assert balance(directory, tight) == 30
    assert_reconciles(directory)


def test_nothing_chargeable_says_so_without_a_button(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    submit(directory, account, ["1"])
    html = confirm_page(signed_in, ["1", "99999"]).text
    assert "Nothing to unlock" in said(html, "[data-testid=nothing-to-charge]")
    assert soup(html).select("button[data-testid=confirm]") == []


def test_an_expired_or_unknown_estimate_asks_to_review_again(
    signed_in: TestClient, directory: Runtime, clock: FakeClock
) -> None:
    quote_id = quote_of(confirm_page(signed_in, ["1"]).text)
    clock.advance(600)
    expired = confirm(signed_in, quote_id)
    assert expired.status_code == 404
    assert "This estimate expired" in said(expired.text, "h1")
    assert soup(expired.text).select_one("[data-testid=review-again]") is not None
    for unknown in ("123", "abc", ""):
        response = confirm(signed_in, unknown)
        assert response.status_code == 404
        assert "review again" in said(response.text, "[role=alert]")
    assert count(directory, tables.tasks) == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [({"channel": "fax"}, "channel"), ({"event_id": ""}, "event_id")],
)
def test_a_bad_confirm_request_names_the_field(signed_in: TestClient, params: dict[str, str], field: str) -> None:
    response = signed_in.get(NEW, params={"event_id": "100", "selected": ["1"], **params})
    assert response.status_code == 422
    assert soup(response.text).select_one(f"[data-field={field}]") is not None


def test_no_selection_or_too_many_is_refused_with_the_reason(signed_in: TestClient, directory: Runtime) -> None:
    none = signed_in.get(NEW, params={"event_id": "100"})
    too_many = confirm_page(signed_in, [str(i) for i in range(1, 102)])
    assert none.status_code == too_many.status_code == 422
    assert "at least one" in said(none.text, "[data-field=selected]")
    assert "at most 100" in said(too_many.text, "[data-field=selected]")
    assert count(directory, tables.quotes) == 0


def test_an_unknown_event_is_a_404_page(signed_in: TestClient) -> None:
    response = confirm_page(signed_in, ["1"], event="424242")
    assert response.status_code == 404
    assert "Event not found" in response.text


def progress_section(html: str) -> Any:
    found = soup(html).select_one("#task-progress")
    assert found is not None
    return found


def test_the_task_page_shows_live_progress_then_per_person_outcomes_and_the_money(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    start = balance(directory, account)
    task_id = task_id_of(confirm(signed_in, quote_of(confirm_page(signed_in, ["3", "10", "5"]).text)))
    running = signed_in.get(f"/console/unlocks/{task_id}")
    assert running.status_code == 200
    block = progress_section(running.text)
    assert block["hx-get"].startswith(f"/console/unlocks/{task_id}/progress?after=")
    assert (block["hx-trigger"], block["hx-swap"]) == ("load", "outerHTML")
    assert not block.has_attr("data-announce")
    assert "0 of 3 processed" in said(running.text, "[data-testid=counts]")
    assert said(running.text, "[data-testid=held]") == "45"
    assert soup(running.text).select_one("a[data-testid=refresh]") is not None
    fragment = signed_in.get(f"/console/unlocks/{task_id}/progress", headers=HTMX)
    assert "<html" not in fragment.text
    assert progress_section(fragment.text).has_attr("hx-get")

    drain(directory)
    for done in (signed_in.get(f"/console/unlocks/{task_id}"), signed_in.get(f"/console/unlocks/{task_id}/progress")):
        block = progress_section(done.text)
        assert not any(a.startswith("hx-") for a in block.attrs)  # polling stops
        assert block["data-announce"] == "Unlock finished: 2 unlocked, 1 failed"
    html = done.text
    view = unlocks.get_task(directory, account.id, task_id)
    assert "3 of 3 processed · 2 unlocked · 0 already unlocked (free) · 1 failed" in said(html, "[data-testid=counts]")
    assert said(html, "[data-testid=held]") == str(view.credits_held) == "45"
    assert said(html, "[data-testid=charged]") == str(view.credits_charged) == "30"
    assert said(html, "[data-testid=released]") == str(view.credits_released) == "15"
    export = soup(html).select_one("a[data-testid=export]")
    assert export is not None
    assert export["href"] == f"/console/unlocks/{task_id}/export.csv"  # the export page (console history)
    assert soup(running.text).select_one("a[data-testid=export]") is None  # offered once the task is finished
    wrap = soup(html).select_one(".table-wrap")
    assert wrap is not None
    assert (wrap["tabindex"], wrap["role"], wrap["aria-label"]) == ("0", "region", "Outcome per person")  # scrollable
    rows = soup(html).select("[data-testid=outcomes] tbody tr")
    assert [r["data-person"] for r in rows] == ["3", "5", "10"]  # the quote's ids, in id order
    three, _, ten = ([" ".join(c.get_text(" ").split()) for c in r.select("th, td")] for r in rows)
    assert three[0].startswith("Person 3 Example")
    assert three[1:] == ["Unlocked", email_of(3), "15"]
    assert ten[1] == "Failed No deliverable address was found. Nothing was charged."
    assert ten[2:] == ["\u2013", "0"]  # no value: an en dash
    assert start - balance(directory, account) == 15 * 2  # exactly 15 per newly delivered email
    assert_reconciles(directory)


def test_the_progress_fragment_waits_for_the_task_to_move(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    task_id = task_id_of(confirm(signed_in, quote_of(confirm_page(signed_in, ["3"]).text)))
    version = unlocks.get_task(directory, account.id, task_id).version
    answers: list[Response] = []
    waiting = threading.Thread(
        target=lambda: answers.append(signed_in.get(f"/console/unlocks/{task_id}/progress?after={version}"))
    )
    waiting.start()
    waiting.join(timeout=0.5)
    assert waiting.is_alive()  # nothing changed yet: the request is still waiting
    drain(directory)
    waiting.join(timeout=30)
    assert not waiting.is_alive()
    block = progress_section(answers[0].text)
    # It answered with the task as it moved on (claimed, or already finished), never the version it was given.
    assert block.get("hx-get") != f"/console/unlocks/{task_id}/progress?after={version}"


def test_another_accounts_task_is_not_found(
    web: TestClient, directory: Runtime, account: Account, other_account: Account
) -> None:
    task_id = submit(directory, account, ["3"])["task_id"]
    sign_in(web, other_account)
    for url in (f"/console/unlocks/{task_id}", f"/console/unlocks/{task_id}/progress"):
        response = web.get(url)
        assert response.status_code == 404
        assert email_of(3) not in response.text


def test_a_value_the_engine_inferred_carries_an_inferred_badge_with_its_verification(
    signed_in: TestClient, directory: Runtime
) -> None:
    with directory.db.write() as conn:
        conn.execute(
            update(tables.contact_points)
            .where(tables.contact_points.c.personnel_id == 5, tables.contact_points.c.channel == "email")
            .values(source="pattern", verification_status="accept_all", verification_score=61)
        )
    task_id = task_id_of(confirm(signed_in, quote_of(confirm_page(signed_in, ["3", "5"]).text)))
    drain(directory)
    html = signed_in.get(f"/console/unlocks/{task_id}").text
    rows = {r["data-person"]: r for r in soup(html).select("[data-testid=outcomes] tbody tr")}
    assert rows["3"].select_one("[data-testid=inferred]") is None  # imported: no badge
    badge = rows["5"].select_one("[data-testid=inferred]")
    assert badge is not None
    assert " ".join(badge.get_text(" ").split()) == "Inferred accept-all, score 61"
    assert email_of(5) in rows["5"].get_text()


def test_an_item_delivered_without_a_charge_reads_already_unlocked_free() -> None:
    def item(status: str, charged: int, error: str | None = None) -> unlocks.ItemView:
        return unlocks.ItemView(1, status, error, charged, None, None)

    items = (item("unlocked", 15), item("unlocked", 0), item("failed", 0, "INELIGIBLE"), item("pending", 0))
    view = unlocks.TaskView(1, Channel.EMAIL, "processing", 3, items, 60, 15, 30, datetime.now(UTC), None)
    assert unlock_task.tally(view) == unlock_task.Tally(total=4, processed=3, unlocked=1, free=1, failed=1)
    outcomes = [unlock_task._outcome(i)[1] for i in items]
    assert outcomes == ["Unlocked", "Already unlocked \u2014 free", "Failed", "Waiting"]


def test_a_second_click_while_the_first_is_still_submitting_waits_for_the_same_task(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    quote_id = int(quote_of(confirm_page(signed_in, ["3", "4"]).text))
    # The first click's request has claimed the quote's key and is still submitting.
    ids = ["3", "4"]
    sent = {"event_id": "100", "personnel_ids": ids, "max_credits": None, "quote_id": str(quote_id)}
    claim = idempotency.begin(
        directory,
        account.id,
        quotes.QUOTE_KEY.format(quote_id),
        unlocks.submission_fingerprint(Channel.EMAIL, sent),
    )
    assert isinstance(claim, idempotency.Claim)
    answers: list[Response] = []
    second = threading.Thread(target=lambda: answers.append(confirm(signed_in, str(quote_id))))
    second.start()
    second.join(timeout=0.5)
    assert second.is_alive()  # the second click waits for the first instead of failing
    req = unlocks.UnlockRequest(account.id, Channel.EMAIL, "100", ids, call_source="console", quote_id=quote_id)
    first = unlocks.submit_claimed(directory, req, claim, mappers.submission_reply)
    second.join(timeout=30)
    assert not second.is_alive()
    assert task_id_of(answers[0]) == first.task_id
    assert count(directory, tables.tasks) == 1
    assert balance(directory, account) == 10_000 - 30


def test_a_phone_unlock_is_priced_150_and_its_task_shows_phones(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    html = confirm_page(signed_in, ["3"], channel="phone").text
    assert said(html, "[data-testid=credits]") == "150"
    assert said(html, "[data-testid=confirm]") == "Confirm and unlock 1 person for 150 credits"
    field = soup(html).select_one("form input[name=channel]")
    assert field is not None
    assert field["value"] == "phone"
    response = signed_in.post("/console/unlocks", data={"quote_id": quote_of(html), "channel": "phone"})
    task_id = task_id_of(response)
    drain(directory)
    page = signed_in.get(f"/console/unlocks/{task_id}").text
    assert said(page, "h1") == "Phone unlock"
    assert said(page, "[data-testid=value]") == phone_of(3)
    assert balance(directory, account) == 10_000 - 150
