"""The unlock history page and home's recent unlocks: the account's own tasks only, newest first, filtered by
status, in pages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from contactvault.server.clock import FakeClock
from contactvault.server.console.pages import history
from contactvault.server.runtime import Runtime
from contactvault.server.services import task_history
from contactvault.server.services.directory import PageRequest
from contactvault.server.services.task_history import HistoryFilter
from tests.console.conftest import soup, text
from tests.engine import drain, submit
from tests.factories import Account


def _task(rt: Runtime, clock: FakeClock, account: Account, ids: list[int]) -> int:
    """Submit an email unlock a minute after the previous one; its task id."""
    clock.advance(60)
    body = submit(rt, account, ids)
    return int(str(body["task_id"]))


def _listed(html: str) -> list[int]:
    return [int(str(row["data-task-id"])) for row in soup(html).select("tr[data-task-id]")]


def test_history_lists_the_accounts_tasks_only_newest_first(
    signed_in: TestClient, directory: Runtime, clock: FakeClock, account: Account, other_account: Account
) -> None:
    first = _task(directory, clock, account, [1, 2, 10])  # person 10 has no email: it fails
    others = _task(directory, clock, other_account, [3])
    second = _task(directory, clock, account, [4])
    drain(directory)

    response = signed_in.get("/console/unlocks")

    assert response.status_code == 200
    assert _listed(response.text) == [second, first]
    assert others not in _listed(response.text)
    row = text(response.text, f"tr[data-task-id='{first}']")
    assert "Berlin Retail Expo 2026" in row
    cells = [td.get_text(" ", strip=True) for td in soup(response.text).select(f"tr[data-task-id='{first}'] td")]
    assert cells[3:8] == ["3", "2", "1", "30", "Finished, 1 failed"]
    region = soup(response.text).select_one("div.table-wrap[role=region][tabindex='0']")  # scrolls by keyboard too
    assert region is not None
    assert region["aria-label"] == "Unlocks, newest first (page 1 of 1)"
    links = [a["href"] for a in soup(response.text).select(f"tr[data-task-id='{first}'] a")]
    assert links == [f"/console/unlocks/{first}", f"/console/unlocks/{first}/export.csv"]


def test_history_pages_through_the_tasks(
    signed_in: TestClient, directory: Runtime, clock: FakeClock, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "PAGE_SIZE", 2)
    ids = [_task(directory, clock, account, [pid]) for pid in (1, 2, 3)]

    first_page = signed_in.get("/console/unlocks")
    assert _listed(first_page.text) == [ids[2], ids[1]]
    next_link = soup(first_page.text).select_one("a[rel=next]")
    assert next_link is not None
    assert next_link["href"] == "/console/unlocks?page=2"
    assert "Page 1 of 2" in text(first_page.text, "nav.pagination")

    second_page = signed_in.get(str(next_link["href"]))
    assert _listed(second_page.text) == [ids[0]]
    assert soup(second_page.text).select_one("a[rel=next]") is None


def test_the_status_filter_keeps_running_or_finished_tasks(
    signed_in: TestClient, directory: Runtime, clock: FakeClock, account: Account
) -> None:
    done = _task(directory, clock, account, [1, 2])
    drain(directory)
    running = _task(directory, clock, account, [3])

    assert _listed(signed_in.get("/console/unlocks?status=running").text) == [running]
    finished = signed_in.get("/console/unlocks?status=finished")
    assert _listed(finished.text) == [done]
    assert soup(finished.text).select_one("input[name=status][value=finished]").has_attr("checked")  # type: ignore[union-attr]
    assert "Waiting" in text(signed_in.get("/console/unlocks").text, f"tr[data-task-id='{running}']")


def test_htmx_gets_only_the_results_with_focus_and_announcement(
    signed_in: TestClient, directory: Runtime, clock: FakeClock, account: Account
) -> None:
    task = _task(directory, clock, account, [1])

    response = signed_in.get("/console/unlocks?status=running", headers={"HX-Request": "true"})

    page = soup(response.text)
    assert page.select_one("h1") is None
    assert page.select_one("section#history-results") is not None
    assert page.select_one("h2[data-focus-after-swap][tabindex='-1']") is not None
    assert page.select_one("[data-announce='1 unlock shown']") is not None
    assert _listed(response.text) == [task]


def test_an_account_without_unlocks_is_told_what_to_do_next(signed_in: TestClient) -> None:
    response = signed_in.get("/console/unlocks")

    assert "You have not unlocked anyone yet" in text(response.text, "[data-testid=history-empty]")
    assert soup(response.text).select_one("[data-testid=history-empty] a[href='/console/events']") is not None
    assert soup(response.text).select_one("[data-testid=export-unlocked]") is None
    assert "No unlocks yet" in text(signed_in.get("/console").text, "[data-testid=recent-unlocks]")


def test_a_page_past_the_end_links_back_instead_of_saying_there_is_nothing(
    signed_in: TestClient, directory: Runtime, clock: FakeClock, account: Account
) -> None:
    _task(directory, clock, account, [1])

    response = signed_in.get("/console/unlocks?status=all&page=3")

    assert response.status_code == 200
    empty = text(response.text, "[data-testid=history-empty]")
    assert "not unlocked anyone" not in empty
    assert "past the last page" in empty
    assert soup(response.text).select_one("[data-testid=history-empty] a[href='/console/unlocks']") is not None


def test_an_unknown_status_filter_is_refused_naming_the_field(signed_in: TestClient) -> None:
    response = signed_in.get("/console/unlocks?status=everything")

    assert response.status_code == 400
    assert "status" in text(response.text, "main")


def test_the_history_offers_both_exports_of_everything_unlocked(
    signed_in: TestClient, directory: Runtime, clock: FakeClock, account: Account
) -> None:
    _task(directory, clock, account, [1])

    page = soup(signed_in.get("/console/unlocks").text)

    assert page.select_one("[data-testid=export-unlocked]")["href"] == "/console/exports/unlocked.csv"  # type: ignore[index]
    assert page.select_one("[data-testid=export-unlocked-excel]")["href"] == "/console/exports/unlocked.csv?bom=1"  # type: ignore[index]


def test_home_shows_the_five_most_recent_tasks_and_links_to_the_history(
    signed_in: TestClient, directory: Runtime, clock: FakeClock, account: Account
) -> None:
    ids = [_task(directory, clock, account, [pid]) for pid in range(1, 7)]

    home = signed_in.get("/console")

    assert _listed(home.text) == ids[:0:-1]  # the 5 newest, newest first; the oldest is left out
    recent = soup(home.text).select_one("[data-testid=recent-unlocks]")
    assert recent is not None
    assert recent.select_one("a[href='/console/unlocks']") is not None
    assert (
        text(home.text, "[data-testid=balance-available]") == "9,910"
    )  # the balance cards stay (6 tasks hold 15 each)


def test_a_summary_counts_items_by_outcome_and_what_is_still_held(
    directory: Runtime, clock: FakeClock, account: Account
) -> None:
    done = _task(directory, clock, account, [1, 2, 10])
    drain(directory)
    running = _task(directory, clock, account, [3, 4])

    page = task_history.list_tasks(directory, account.id, PageRequest(1, 10))
    assert [t.task_id for t in page.items] == [running, done]
    assert page.total == 2
    now, before = page.items
    assert (now.people, now.in_progress, now.unlocked, now.failed, now.still_held) == (2, 2, 0, 0, 30)
    assert (before.people, before.unlocked, before.free, before.failed, before.in_progress) == (3, 2, 0, 1, 0)
    assert (before.credits_held, before.credits_charged, before.credits_released, before.still_held) == (45, 30, 15, 0)
    finished = task_history.list_tasks(directory, account.id, PageRequest(1, 10), HistoryFilter.FINISHED)
    assert [t.task_id for t in finished.items] == [done]
    assert finished.total == 1
