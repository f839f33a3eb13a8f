"""Browsing: events (search, pages, bad input), an event's people (filters, selection across pages, the estimate
bar, hide-already-unlocked) and a person's page, as the signed-in account sees them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import insert, update

from contactvault.server.db.tables import contact_points, events, personnel
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import unlocks
from tests.console.conftest import soup, text
from tests.engine import drain, submit
from tests.factories import BIG_EVENT, SMALL_EVENT, Account, email_of

HX = {"HX-Request": "true"}
PEOPLE = f"/console/events/{BIG_EVENT}/people"


def said(html: str, selector: str) -> str:
    """The text of the element, with runs of whitespace as one space."""
    return " ".join(text(html, selector).split())


def _event_names(html: str) -> list[str]:
    return [a.get_text(strip=True) for a in soup(html).select("#results table tbody th a")]


def _checked(html: str) -> set[str]:
    return {str(box["value"]) for box in soup(html).select("input[type=checkbox][name=selected][checked]")}


def _hidden_selected(html: str) -> set[str]:
    return {str(i["value"]) for i in soup(html).select("input[type=hidden][name=selected]")}


def _rows(html: str) -> list[str]:
    return [str(box["value"]) for box in soup(html).select("input[type=checkbox][name=selected]")]


def _unlock(rt: Runtime, account: Account, ids: list[int]) -> None:
    body = submit(rt, account, ids)
    assert body["status"] == "accepted", body
    drain(rt)


# --- events ---------------------------------------------------------------------------------------------------


def test_events_lists_every_event_and_search_narrows_it(signed_in: TestClient) -> None:
    everything = signed_in.get("/console/events")
    assert everything.status_code == 200
    assert _event_names(everything.text) == ["Berlin Retail Expo 2026", "Lisbon Partner Summit"]
    first = soup(everything.text).select_one("#results tbody th a")
    assert first is not None
    assert first["href"] == PEOPLE

    narrowed = signed_in.get("/console/events", params={"q": "lisbon"})
    assert _event_names(narrowed.text) == ["Lisbon Partner Summit"]
    by_date = signed_in.get("/console/events", params={"from": "2026-06-01", "to": "2026-12-31"})
    assert _event_names(by_date.text) == ["Lisbon Partner Summit"]
    by_place = signed_in.get("/console/events", params={"country": "germany"})
    assert _event_names(by_place.text) == ["Berlin Retail Expo 2026"]


def test_an_htmx_search_answers_only_the_results_block(signed_in: TestClient) -> None:
    response = signed_in.get("/console/events", params={"q": "berlin"}, headers=HX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "<form" not in response.text
    block = soup(response.text).select_one("section#results")
    assert block is not None
    assert _event_names(response.text) == ["Berlin Retail Expo 2026"]
    assert block["data-announce"] == "1 event matches"


def test_the_search_form_works_with_and_without_javascript(signed_in: TestClient) -> None:
    form = soup(signed_in.get("/console/events").text).select_one("form#event-search")
    assert form is not None
    assert (form["method"], form["action"]) == ("get", "/console/events")  # a plain GET without htmx
    assert form["hx-get"] == "/console/events"
    assert form["hx-target"] == "#results"
    assert form["hx-push-url"] == "true"
    assert "input changed delay:300ms" in str(form["hx-trigger"])


def test_going_back_after_an_htmx_search_gets_the_whole_page(signed_in: TestClient) -> None:
    # htmx 4 restores history by re-fetching the URL (with HX-Request) and swapping it in place of <body>.
    restore = {**HX, "HX-History-Restore-Request": "true"}
    response = signed_in.get("/console/events", params={"q": "berlin"}, headers=restore)
    assert "<html" in response.text
    assert soup(response.text).select_one("form#event-search input[name=q]")["value"] == "berlin"  # type: ignore[index]


def test_no_matching_event_says_what_to_do_next(signed_in: TestClient) -> None:
    response = signed_in.get("/console/events", params={"q": "atlantis"})
    assert response.status_code == 200
    assert "No events match this search" in text(response.text, "#results")
    assert soup(response.text).select_one("#results a[href='/console/events']") is not None


def test_a_date_that_is_not_a_date_is_named_next_to_its_field(signed_in: TestClient) -> None:
    response = signed_in.get("/console/events", params={"from": "next tuesday", "q": "berlin"})
    assert response.status_code == 422
    assert "Starting from: enter a date like 2026-05-04." in text(response.text, "#f-from-error")
    assert "Starting from" in said(response.text, "#results [role=alert]")
    assert soup(response.text).select_one("input[name=q]")["value"] == "berlin"  # type: ignore[index]
    swapped = signed_in.get("/console/events", params={"to": "2026-13-45"}, headers=HX)
    assert swapped.status_code == 422
    assert "Starting by" in text(swapped.text, "[role=alert]")


def test_a_page_beyond_the_last_says_so_and_leads_back(signed_in: TestClient) -> None:
    response = signed_in.get("/console/events", params={"page": "9"})
    assert response.status_code == 404
    assert "There is no page 9: this search has 1 page." in said(response.text, "#results [role=alert]")
    assert signed_in.get("/console/events", params={"page": "zero"}).status_code == 422
    assert signed_in.get("/console/events", params={"page": "0"}).status_code == 422


def test_events_are_paginated(signed_in: TestClient, directory: Runtime) -> None:
    with directory.db.write() as conn:
        conn.execute(insert(events), [{"id": 1000 + i, "name": f"Zurich Fair {i:02d}"} for i in range(25)])
    first = signed_in.get("/console/events", params={"q": "zurich"})
    assert len(_event_names(first.text)) == 20
    assert "Page 1 of 2" in text(first.text, "nav.pagination")
    next_link = soup(first.text).select_one("nav.pagination a[rel=next]")
    assert next_link is not None
    assert next_link["href"] == "/console/events?q=zurich&page=2"
    second = signed_in.get(str(next_link["href"]))
    assert len(_event_names(second.text)) == 5
    assert not set(_event_names(first.text)) & set(_event_names(second.text))


# --- event people ---------------------------------------------------------------------------------------------


def test_people_rows_have_a_labelled_checkbox_a_link_and_the_email_state(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    _unlock(directory, account, [2])
    response = signed_in.get(PEOPLE)
    assert response.status_code == 200
    page = soup(response.text)
    assert _rows(response.text)[:3] == ["1", "2", "3"]
    assert len(_rows(response.text)) == 25
    label = page.select_one("label[for=sel-1]")
    assert label is not None
    assert label.get_text(strip=True) == "Select Person 1 Example"
    link = page.select_one("tbody th a")
    assert link is not None
    assert link["href"] == "/console/people/1"
    states = [" ".join(td.get_text(" ", strip=True).split()) for td in page.select("tbody tr td:last-child")]
    assert states[:3] == ["Locked", "Unlocked — free", "Locked"]
    assert "300 people" in text(response.text, "caption")


def test_filters_narrow_the_people(signed_in: TestClient) -> None:
    vps = signed_in.get(PEOPLE, params={"seniority": "vp"})
    assert _rows(vps.text)[:3] == ["5", "10", "15"]
    assert "60 people matching the filters" in text(vps.text, "caption")
    titled = signed_in.get(PEOPLE, params={"q": "partnerships", "company": "northwind"})
    assert _rows(titled.text)[:3] == ["10", "20", "30"]
    assert "30 people" in text(titled.text, "caption")
    nobody = signed_in.get(PEOPLE, params={"department": "legal"})
    assert "No one at this event matches these filters" in said(nobody.text, "p.empty")


def test_the_selection_survives_going_to_page_2_and_back(signed_in: TestClient) -> None:
    first = signed_in.get(PEOPLE, params={"selected": ["1", "2"]})
    assert _checked(first.text) == {"1", "2"}
    assert _hidden_selected(first.text) == set()
    form = soup(first.text).select_one("form#people-form")
    assert form is not None
    assert form["method"] == "get"
    next_button = form.select_one("nav.pagination button[name=page]")
    assert next_button is not None
    assert next_button["value"] == "2"
    assert next_button["type"] == "submit"

    # The browser submits the form with the Next button: the ticked boxes travel with it; on page 2 they are
    # hidden inputs, and what is ticked there joins them.
    second = signed_in.get(PEOPLE, params={"selected": ["1", "2"], "page": "2"})
    assert _rows(second.text)[0] == "26"
    assert _hidden_selected(second.text) == {"1", "2"}
    assert _checked(second.text) == set()
    back = signed_in.get(PEOPLE, params={"selected": ["1", "2", "26", "30"], "page": "1"})
    assert _checked(back.text) == {"1", "2"}
    assert _hidden_selected(back.text) == {"26", "30"}
    assert text(back.text, "[data-testid=selected-count]") == "4"


def test_selecting_all_matching_adds_every_match_to_the_selection(signed_in: TestClient) -> None:
    response = signed_in.get(PEOPLE, params={"seniority": "VP", "selected": "3", "select_all": "1"})
    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    assert target.path == PEOPLE
    query = parse_qs(target.query)
    assert query["seniority"] == ["VP"]
    assert "select_all" not in query
    assert query["selected"] == ["3", *[str(i) for i in range(5, 301, 5)]]
    shown = signed_in.get(response.headers["location"])
    assert text(shown.text, "[data-testid=selected-count]") == "61"


def test_selecting_all_of_more_than_100_matching_is_refused(signed_in: TestClient) -> None:
    response = signed_in.get(PEOPLE, params={"select_all": "1", "selected": "7"})
    assert response.status_code == 422
    notice = said(response.text, "[data-testid=selection-notice]")
    assert "300 people match: one unlock takes at most 100" in notice
    assert _checked(response.text) == {"7"}  # the selection is left as it was
    assert text(response.text, "[data-testid=selected-count]") == "1"
    # 60 VPs plus 41 already selected others would make 101.
    others = [str(i) for i in range(1, 300) if i % 5][:41]
    over = signed_in.get(PEOPLE, params={"select_all": "1", "seniority": "vp", "selected": others})
    assert over.status_code == 422
    assert "would make 101 selected" in said(over.text, "[data-testid=selection-notice]")
    # The page offers the button only while it can succeed.
    assert soup(signed_in.get(PEOPLE).text).select_one("button[name=select_all]") is None
    assert soup(signed_in.get(PEOPLE, params={"seniority": "vp"}).text).select_one("button[name=select_all]")


def test_the_estimate_is_the_precheck_with_already_unlocked_people_free(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    _unlock(directory, account, [1, 2, 3])
    submit(directory, account, [4])  # not drained: in progress
    selected = [str(i) for i in range(1, 31)]
    check = unlocks.precheck(directory, account.id, Channel.EMAIL, str(BIG_EVENT), selected)
    assert check.classification is not None
    balance = check.available_balance

    for response in (
        signed_in.get(PEOPLE, params={"selected": selected}),
        signed_in.get(f"/console/events/{BIG_EVENT}/estimate", params={"selected": selected}, headers=HX),
    ):
        assert response.status_code == 200
        assert text(response.text, "[data-testid=selected-count]") == "30"
        assert text(response.text, "[data-testid=chargeable]") == "26" == str(len(check.classification.chargeable))
        assert text(response.text, "[data-testid=credits]") == "390" == str(check.credits) == str(26 * 15)
        assert text(response.text, "[data-testid=free]") == "3"
        assert text(response.text, "[data-testid=in-progress]") == "1"
        assert text(response.text, "[data-testid=balance-after]") == f"{balance - 390:,}"
    fragment = signed_in.get(f"/console/events/{BIG_EVENT}/estimate", params={"selected": selected}, headers=HX)
    assert "<html" not in fragment.text
    assert "<table" not in fragment.text
    assert soup(fragment.text).select_one("section#estimate")["data-announce"] == (  # type: ignore[index]
        "30 selected: 26 to unlock for 390 credits."
    )


def test_the_bar_updates_on_every_change_and_sends_the_selection_to_the_confirm_page(signed_in: TestClient) -> None:
    form = soup(signed_in.get(PEOPLE, params={"selected": "5"}).text).select_one("form#people-form")
    assert form is not None
    assert form["hx-get"] == f"/console/events/{BIG_EVENT}/estimate"
    assert (form["hx-trigger"], form["hx-target"], form["hx-swap"]) == ("change delay:150ms", "#estimate", "outerHTML")
    review = form.select_one("#estimate button[data-testid=review]")
    assert review is not None
    assert not review.has_attr("disabled")
    assert (review["formaction"], review["formmethod"], review["type"]) == ("/console/unlocks/new", "get", "submit")
    assert (review["name"], review["value"]) == ("event_id", str(BIG_EVENT))  # sent only by this button
    assert form.select_one("input[name=event_id]") is None  # so the filters' URLs stay clean
    # The first submit button is the filters' own, so Enter in a filter applies the filters (not "Next").
    first_button = form.select_one("button[type=submit]")
    assert first_button is not None
    assert first_button.get_text(strip=True) == "Apply filters"
    # A browser (not htmx) that lands on the estimate URL gets the page.
    plain = signed_in.get(f"/console/events/{BIG_EVENT}/estimate", params={"selected": "5"})
    assert plain.status_code == 303
    assert plain.headers["location"] == f"{PEOPLE}?selected=5"


def test_an_empty_or_oversized_selection_cannot_be_reviewed(signed_in: TestClient) -> None:
    empty = signed_in.get(PEOPLE)
    assert soup(empty.text).select_one("button[data-testid=review]").has_attr("disabled")  # type: ignore[union-attr]
    assert "Tick the people you want" in said(empty.text, "#estimate")
    full = signed_in.get(PEOPLE, params={"selected": [str(i) for i in range(1, 101)]})
    assert "100 selected: the most one unlock takes." in said(full.text, "#estimate")
    assert not soup(full.text).select_one("button[data-testid=review]").has_attr("disabled")  # type: ignore[union-attr]
    over = signed_in.get(PEOPLE, params={"selected": [str(i) for i in range(1, 102)]})
    assert "One unlock takes at most 100 people: untick 1." in said(over.text, "#estimate")
    assert soup(over.text).select_one("button[data-testid=review]").has_attr("disabled")  # type: ignore[union-attr]


def test_people_of_another_event_selected_here_are_counted_as_skipped(signed_in: TestClient) -> None:
    # Person 250 attends only the big event.
    response = signed_in.get(f"/console/events/{SMALL_EVENT}/people", params={"selected": ["1", "250"]})
    assert text(response.text, "[data-testid=chargeable]") == "1"
    assert text(response.text, "[data-testid=ineligible]") == "1"


def test_a_malformed_selection_or_filter_is_named_and_changes_nothing(signed_in: TestClient) -> None:
    response = signed_in.get(PEOPLE, params={"selected": ["1", "drop table"], "q": "x" * 201})
    assert response.status_code == 422
    alert = said(response.text, "[role=alert]")
    assert "Selected people: every value must be a person's id" in alert
    assert "Title or name: use at most 200 characters." in alert
    assert "drop table" not in response.text
    bar = signed_in.get(f"/console/events/{BIG_EVENT}/estimate", params={"selected": ["1", "x"]}, headers=HX)
    assert bar.status_code == 422
    assert "Selected people: every value must be a person's id" in said(bar.text, "#estimate")


def test_hide_already_unlocked_removes_them_and_the_pages_still_add_up(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    _unlock(directory, account, [1, 2, 3, 4, 5])
    response = signed_in.get(PEOPLE, params={"hide_unlocked": "1"})
    assert _rows(response.text)[:2] == ["6", "7"]
    assert "295 people matching the filters, page 1 of 12" in said(response.text, "caption")
    last = signed_in.get(PEOPLE, params={"hide_unlocked": "1", "page": "12"})
    assert _rows(last.text) == [str(i) for i in range(281, 301)]  # 11 pages of 25 after the 5 hidden, then 20
    assert soup(response.text).select_one("input[name=hide_unlocked]").has_attr("checked")  # type: ignore[union-attr]
    vps = signed_in.get(PEOPLE, params={"hide_unlocked": "1", "seniority": "vp"})
    assert _rows(vps.text)[0] == "10"
    assert "59 people" in text(vps.text, "caption")


def test_another_accounts_unlocks_do_not_show_as_unlocked(
    signed_in: TestClient, directory: Runtime, other_account: Account
) -> None:
    _unlock(directory, other_account, [1, 2, 3])
    response = signed_in.get(PEOPLE, params={"hide_unlocked": "1", "selected": ["1", "2", "3"]})
    assert _rows(response.text)[:3] == ["1", "2", "3"]
    assert "Unlocked" not in said(response.text, "tbody")
    assert text(response.text, "[data-testid=chargeable]") == "3"
    assert soup(response.text).select_one("[data-testid=free]") is None


def test_a_page_beyond_the_last_of_people_says_so(signed_in: TestClient) -> None:
    response = signed_in.get(PEOPLE, params={"page": "13"})
    assert response.status_code == 404
    assert "There is no page 13: these filters give 12 pages." in said(response.text, "[role=alert]")


def test_an_unknown_event_is_a_friendly_404(signed_in: TestClient) -> None:
    for path in ("/console/events/999/people", "/console/events/abc/people", f"/console/events/{2**64}/people"):
        response = signed_in.get(path)
        assert response.status_code == 404, path
        assert "Not found" in text(response.text, "h1")


# --- person ---------------------------------------------------------------------------------------------------


def test_a_person_shows_their_facts_and_a_safe_linkedin_link(signed_in: TestClient) -> None:
    response = signed_in.get("/console/people/5")
    assert response.status_code == 200
    assert text(response.text, "h1") == "Person 5 Example"
    facts = said(response.text, "section[aria-labelledby=about] dl")
    assert "VP of Partnerships" in facts
    assert "Acme Widgets GmbH" in facts
    assert "Sales" in facts
    link = soup(response.text).select_one("a[href='https://www.linkedin.com/in/person-5']")
    assert link is not None
    assert link["rel"] == ["noopener", "noreferrer"]
    assert "Locked" in said(response.text, "[data-testid=email]")


def test_a_linkedin_address_that_is_not_a_web_address_is_not_a_link(signed_in: TestClient, directory: Runtime) -> None:
    with directory.db.write() as conn:
        conn.execute(update(personnel).where(personnel.c.id == 5).values(linkedin_url="javascript:alert(1)"))
    response = signed_in.get("/console/people/5")
    assert response.status_code == 200
    assert "javascript:" not in response.text


def test_a_person_shows_the_email_only_to_the_account_that_unlocked_it(
    signed_in: TestClient, web: TestClient, directory: Runtime, account: Account, other_account: Account
) -> None:
    _unlock(directory, account, [7])
    mine = signed_in.get("/console/people/7")
    assert email_of(7) in said(mine.text, "[data-testid=email]")
    assert "Unlocked" in said(mine.text, "[data-testid=email]")

    signed_in.post("/console/sign-out")
    web.post("/console/sign-in", data={"api_key": other_account.api_key, "next": "/console"})
    theirs = web.get("/console/people/7")
    assert theirs.status_code == 200
    assert email_of(7) not in theirs.text
    assert "Locked" in said(theirs.text, "[data-testid=email]")


def test_a_person_page_labels_an_inferred_email_with_its_verification(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    with directory.db.write() as conn:
        conn.execute(
            update(contact_points)
            .where(contact_points.c.personnel_id == 7, contact_points.c.channel == "email")
            .values(source="pattern", verification_status="accept_all", verification_score=61)
        )
    _unlock(directory, account, [7, 8])
    inferred = soup(signed_in.get("/console/people/7").text).select_one("[data-testid=email-inferred]")
    assert inferred is not None
    assert " ".join(inferred.get_text(" ").split()) == "Inferred accept-all, score 61"
    assert email_of(7) in said(signed_in.get("/console/people/7").text, "[data-testid=email]")
    imported = signed_in.get("/console/people/8").text
    assert email_of(8) in said(imported, "[data-testid=email]")
    assert soup(imported).select_one("[data-testid=email-inferred]") is None  # imported: no badge


def test_an_unknown_person_is_a_friendly_404(signed_in: TestClient) -> None:
    for path in ("/console/people/99999", "/console/people/x1", "/console/people/0"):
        response = signed_in.get(path)
        assert response.status_code == 404, path
        assert "Not found" in text(response.text, "h1")


def test_repeated_query_parameters_are_the_consoles_only(signed_in: TestClient, account: Account) -> None:
    # A form sends one ``selected`` per ticked box; the JSON API keeps refusing a repeated parameter.
    assert signed_in.get(PEOPLE, params={"selected": ["1", "2"]}).status_code == 200
    api = signed_in.get(
        "/external/events/list", params={"keyword": ["a", "b"]}, headers={"Authorization": f"Bearer {account.api_key}"}
    )
    assert api.status_code == 400
    assert api.json()["details"] == {"field": "keyword"}
