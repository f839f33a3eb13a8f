"""GET /external/personnel/list and /external/personnel/profile."""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update

from contactvault.server.api.app import create_app
from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.db.tables import personnel
from contactvault.server.runtime import Runtime
from tests import pg
from tests.engine import drain
from tests.factories import BIG_EVENT, SMALL_EVENT, Account, email_of, make_account, make_directory, phone_of

LIST = "/external/personnel/list"
PROFILE = "/external/personnel/profile"
DIGITS = re.compile(r"[0-9]+")
PAGE_FIELDS = {"items", "total", "page", "pageSize", "totalPages", "hasMore"}
NULLABLE_STR = (str, type(None))
# Every ContactItem field and the JSON types it may take (nullable fields are present with null).
CONTACT_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "fullName": (str,),
    "title": NULLABLE_STR,
    "department": NULLABLE_STR,
    "seniorityLevel": NULLABLE_STR,
    "linkedinUrl": NULLABLE_STR,
    "companyName": NULLABLE_STR,
    "sourceType": (list,),
    "email": NULLABLE_STR,
    "contactUnlockStatus": (str,),
    "phone": NULLABLE_STR,
    "phoneUnlockStatus": NULLABLE_STR,
    "eventCount": (int,),
    "linkedinActivity": (type(None),),
    "linkedinActivityStatus": (type(None),),
    "outreachMessageStatus": (type(None),),
    "outreachMessageChannels": (list,),
    # Extensions (docs/api.md): where a shown value came from and its verification; null while none is shown.
    "emailSource": NULLABLE_STR,
    "emailVerification": (dict, type(None)),
    "phoneSource": NULLABLE_STR,
    "phoneVerification": (dict, type(None)),
}


@dataclass(frozen=True)
class World:
    """A directory, an account with a key, and a client for the app over them."""

    rt: Runtime
    client: TestClient
    account: Account

    def get(self, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """GET with the account's key."""
        return self.client.get(url, params=params, headers=self.account.headers)


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
]


@contextmanager
def _database(request: pytest.FixtureRequest, tmp: Path) -> Iterator[str]:
    """A fresh database on the backend the fixture was parametrized with (as the conftest's ``database_url``)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp}/contactvault.db"
        return
    services: pg.SessionServices = request.getfixturevalue("services")
    try:
        services.template_url()
    except pg.ServiceUnavailable as exc:
        if os.environ.get(pg.REQUIRE_ENV):
            pytest.fail(str(exc), pytrace=False)
        # A developer without PostgreSQL runs the SQLite half; `make test` and CI require it (fail above).
        pytest.skip(str(exc))
    with services.fresh_database() as url:
        yield url


def open_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Generator[World]:
    """A world for a module's read-only tests (parametrized by backend): building the directory for each test
    would dominate the run."""
    tmp = tmp_path_factory.mktemp("world")
    with _database(request, tmp) as url:
        # One key sends hundreds of requests here, far past the per-key limit: limits have their own tests.
        settings = Settings(
            database_url=url, encryption_key_file=tmp / "keys.json", rate_limit_per_key=0, rate_limit_per_ip=0
        )
        rt = build_runtime(settings)
        try:
            make_directory(rt)
            account = make_account(rt)
            with TestClient(create_app(runtime=rt), raise_server_exceptions=False) as client:
                yield World(rt, client, account)
        finally:
            rt.db.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The directory this module's read-only tests share, on each backend."""
    yield from open_world(request, tmp_path_factory)


@pytest.fixture
def fresh(directory: Runtime, client: TestClient, account: Account) -> World:
    """A directory of this test's own, for tests that write."""
    return World(directory, client, account)


def assert_page(body: dict[str, Any], *, total: int, page: int, page_size: int) -> None:
    """``body`` is the contract's page object with these numbers."""
    assert set(body) >= PAGE_FIELDS
    total_pages = -(-total // page_size)
    assert (body["total"], body["page"], body["pageSize"]) == (total, page, page_size)
    assert body["totalPages"] == total_pages
    assert body["hasMore"] is (page < total_pages)
    assert len(body["items"]) == max(0, min(page_size, total - (page - 1) * page_size))


def assert_contact_item(item: dict[str, Any]) -> None:
    """``item`` is a ContactItem: exactly the contract's fields, camelCase, each with its JSON type."""
    assert set(item) == set(CONTACT_FIELDS)
    for name, kinds in CONTACT_FIELDS.items():
        assert type(item[name]) in kinds, (name, item[name])
    assert DIGITS.fullmatch(item["id"])
    assert all(s in ("exhibitor", "social", "visitors") for s in item["sourceType"])
    assert item["contactUnlockStatus"] in ("locked", "unlocking", "unlocked", "failed")
    assert item["phoneUnlockStatus"] in ("ready", "processing", "failed", None)
    assert type(item["eventCount"]) is int  # bool is an int subclass; the JSON must be a number


def ids_of(body: dict[str, Any]) -> list[int]:
    """The person ids on a page, as integers."""
    return [int(item["id"]) for item in body["items"]]


def people(world: World, **params: Any) -> dict[str, Any]:
    """One page of GET /external/personnel/list (event 100 unless told), asserting 200."""
    response = world.get(LIST, {"event_id": str(BIG_EVENT), **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def profile(world: World, pid: int | str) -> dict[str, Any]:
    """GET /external/personnel/profile, asserting 200."""
    response = world.get(PROFILE, {"personnel_id": str(pid)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# Shapes


def test_list_items_are_contact_items_with_every_field_typed(world: World) -> None:
    body = people(world)
    assert body["items"]
    for item in body["items"]:
        assert_contact_item(item)
    first = body["items"][0]
    assert first["id"] == "1"
    assert first["fullName"] == "Person 1 Example"
    assert first["title"] == "Sales Manager"
    assert first["department"] == "Sales"
    assert first["seniorityLevel"] == "Manager"
    assert first["linkedinUrl"] == "https://www.linkedin.com/in/person-1"
    assert first["companyName"] == "Acme Widgets GmbH"


def test_profile_is_a_bare_contact_item(world: World) -> None:
    item = profile(world, 5)
    assert_contact_item(item)
    assert (item["id"], item["fullName"], item["title"]) == ("5", "Person 5 Example", "VP of Partnerships")
    assert item["seniorityLevel"] == "VP"


def test_out_of_scope_fields_are_present_and_neutral(world: World) -> None:
    for item in [profile(world, 1), *people(world, pageSize=3)["items"]]:
        assert item["linkedinActivity"] is None
        assert item["linkedinActivityStatus"] is None
        assert item["outreachMessageStatus"] is None
        assert item["outreachMessageChannels"] == []


def test_locked_person_shows_null_email_and_phone(world: World) -> None:
    # Person 3 has both an email and a phone in the vault; this account has not unlocked either.
    item = profile(world, 3)
    assert item["email"] is None
    assert item["contactUnlockStatus"] == "locked"
    assert item["phone"] is None
    assert item["phoneUnlockStatus"] is None
    listed = next(i for i in people(world, pageSize=5)["items"] if i["id"] == "3")
    assert (listed["email"], listed["contactUnlockStatus"]) == (None, "locked")
    assert (listed["phone"], listed["phoneUnlockStatus"]) == (None, None)


def test_another_accounts_unlock_stays_invisible(fresh: World, other_account: Account) -> None:
    body = {"event_id": str(BIG_EVENT), "personnel_ids": ["3"]}
    for route in ("/external/contacts/unlock", "/external/contacts/unlock-phone"):
        assert fresh.client.post(route, json=body, headers=other_account.headers).status_code == 201
    drain(fresh.rt)
    theirs = profile(World(fresh.rt, fresh.client, other_account), 3)
    assert (theirs["email"], theirs["contactUnlockStatus"]) == (email_of(3), "unlocked")
    assert (theirs["phone"], theirs["phoneUnlockStatus"]) == (phone_of(3), "ready")
    for mine in (profile(fresh, 3), people(fresh, pageSize=3)["items"][2]):
        assert mine["id"] == "3"
        assert (mine["email"], mine["contactUnlockStatus"]) == (None, "locked")
        assert (mine["phone"], mine["phoneUnlockStatus"]) == (None, None)


def test_list_source_types_are_those_of_this_event(world: World) -> None:
    big = people(world, pageSize=2)["items"]
    assert [i["sourceType"] for i in big] == [["exhibitor"], ["exhibitor", "social"]]
    small = people(world, event_id=str(SMALL_EVENT), pageSize=2)["items"]
    assert [i["sourceType"] for i in small] == [["visitors"], ["visitors"]]


def test_profile_source_types_and_event_count_span_all_events(world: World) -> None:
    at_both = profile(world, 2)
    assert at_both["sourceType"] == ["exhibitor", "social", "visitors"]
    assert at_both["eventCount"] == 2
    at_one = profile(world, 11)
    assert at_one["sourceType"] == ["exhibitor"]
    assert at_one["eventCount"] == 1


# Pagination and semantics


def test_personnel_list_defaults_to_50_per_page(world: World) -> None:
    body = people(world)
    assert_page(body, total=300, page=1, page_size=50)
    assert body["totalPages"] == 6
    assert ids_of(body) == list(range(1, 51))


def test_personnel_list_accepts_the_maximum_of_50(world: World) -> None:
    assert_page(people(world, pageSize=50, page=2), total=300, page=2, page_size=50)


def test_personnel_last_page_has_no_more(world: World) -> None:
    body = people(world, page=6)
    assert_page(body, total=300, page=6, page_size=50)
    assert body["hasMore"] is False
    assert ids_of(body) == list(range(251, 301))


def test_personnel_page_past_the_end_is_empty_with_same_total(world: World) -> None:
    body = people(world, page=7)
    assert body["items"] == []
    assert (body["total"], body["totalPages"], body["hasMore"]) == (300, 6, False)


def test_personnel_pages_do_not_overlap(world: World) -> None:
    first = ids_of(people(world, pageSize=7, page=1))
    second = ids_of(people(world, pageSize=7, page=2))
    assert first == list(range(1, 8))
    assert second == list(range(8, 15))


@pytest.mark.parametrize("value", ["0", "51", "101", "abc", "-1", "1.5", ""])
def test_personnel_page_size_out_of_range_is_400_naming_pageSize(world: World, value: str) -> None:
    response = world.get(LIST, {"event_id": str(BIG_EVENT), "pageSize": value})
    assert response.status_code == 400
    assert response.json()["details"]["field"] == "pageSize"


@pytest.mark.parametrize("value", ["0", "-1", "abc"])
def test_personnel_page_below_one_is_400_naming_page(world: World, value: str) -> None:
    response = world.get(LIST, {"event_id": str(BIG_EVENT), "page": value})
    assert response.status_code == 400
    assert response.json()["details"]["field"] == "page"


def test_semantics_block_reports_full_access(world: World) -> None:
    body = people(world, level="VP", pageSize=10)
    assert body["semantics"] == {
        "accessMode": "full",
        "previewLimit": None,
        "counts": {"actualTotal": 60, "visibleTotal": 60, "remainingLockedCount": 0},
    }


def test_no_matches_is_an_empty_page_with_semantics(world: World) -> None:
    body = people(world, department="Marketing")
    assert_page(body, total=0, page=1, page_size=50)
    assert body["totalPages"] == 0
    assert body["semantics"]["counts"] == {"actualTotal": 0, "visibleTotal": 0, "remainingLockedCount": 0}


# Not found


@pytest.mark.parametrize("event_id", ["999", "abc", "99999999999999999999", "0"])
def test_personnel_of_unknown_event_is_404(world: World, event_id: str) -> None:
    response = world.get(LIST, {"event_id": event_id})
    assert response.status_code == 404
    body = response.json()
    assert set(body) == {"code", "message", "errorKey", "traceId"}
    assert (body["code"], body["errorKey"]) == (404, "NOT_FOUND")
    assert response.headers["X-Request-ID"] == body["traceId"]


@pytest.mark.parametrize("pid", ["999999", "0", "99999999999999999999", "9223372036854775807"])
def test_unknown_person_is_404(world: World, pid: str) -> None:
    response = world.get(PROFILE, {"personnel_id": pid})
    assert response.status_code == 404
    body = response.json()
    assert set(body) == {"code", "message", "errorKey", "traceId"}
    assert (body["code"], body["errorKey"]) == (404, "NOT_FOUND")
    assert response.headers["X-Request-ID"] == body["traceId"]


@pytest.mark.parametrize("pid", ["abc", "", "1.5", "-1", " 1", "1" * 21, "\uff11\uff12"])
def test_malformed_personnel_id_is_400_naming_it(world: World, pid: str) -> None:
    response = world.get(PROFILE, {"personnel_id": pid})
    assert response.status_code == 400
    assert response.json()["details"]["field"] == "personnel_id"


def test_profile_without_personnel_id_is_400_naming_it(world: World) -> None:
    response = world.get(PROFILE)
    assert response.status_code == 400
    assert response.json()["details"]["field"] == "personnel_id"


def test_personnel_list_without_event_id_is_400_naming_it(world: World) -> None:
    response = world.get(LIST)
    assert response.status_code == 400
    assert response.json()["details"]["field"] == "event_id"


# Filters


def test_exhibitor_filter_keeps_that_exhibitors_people(world: World) -> None:
    body = people(world, exhibitor_id="1")
    assert body["total"] == 150
    assert all(pid % 2 == 1 for pid in ids_of(body))
    assert people(world, exhibitor_id="2", pageSize=1)["items"][0]["id"] == "2"


@pytest.mark.parametrize("exhibitor_id", ["3", "0", "99999999999999999999", "9223372036854775808"])
def test_exhibitor_that_cannot_exist_is_an_empty_page(world: World, exhibitor_id: str) -> None:
    body = people(world, exhibitor_id=exhibitor_id)
    assert_page(body, total=0, page=1, page_size=50)


def test_department_filter_ignores_case(world: World) -> None:
    assert people(world, department="sales")["total"] == 300
    assert people(world, department="SALES")["total"] == 300
    assert people(world, department="Sale")["total"] == 0


def test_level_filter_matches_seniority(world: World) -> None:
    body = people(world, level="vp")
    assert body["total"] == 60
    assert all(pid % 5 == 0 for pid in ids_of(body))
    assert people(world, level="Manager")["total"] == 240


def test_search_query_matches_the_title(world: World) -> None:
    body = people(world, search_query="partnerships")
    assert body["total"] == 60
    assert {i["title"] for i in body["items"]} == {"VP of Partnerships"}


def test_search_query_matches_the_name(world: World) -> None:
    body = people(world, search_query="Person 150")
    assert ids_of(body) == [150]


def test_search_query_words_are_prefixes_of_words(world: World) -> None:
    # "15" prefixes 15 and 150..159; "partner" prefixes "Partnerships"; "artner" is inside a word only.
    assert ids_of(people(world, search_query="person 15")) == [15, *range(150, 160)]
    assert people(world, search_query="PARTNER")["total"] == 60
    assert people(world, search_query="artner")["total"] == 0


def test_search_query_needs_every_word(world: World) -> None:
    assert ids_of(people(world, search_query="vp person 15")) == [15, 150, 155]


def test_filters_combine(world: World) -> None:
    body = people(world, exhibitor_id="2", level="VP", search_query="person 1")
    # Even (exhibitor 2), divisible by 5 (VP), name has a word starting with "1".
    expected = [p for p in range(1, 301) if p % 10 == 0 and str(p).startswith("1")]
    assert ids_of(body) == expected


def test_filters_apply_to_the_small_event_too(world: World) -> None:
    body = people(world, event_id=str(SMALL_EVENT), level="VP")
    assert ids_of(body) == [5, 10]
    assert body["semantics"]["counts"]["actualTotal"] == 2


@pytest.fixture
def statements(world: World) -> Iterator[list[str]]:
    """The SQL the app sends while the test runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(world.rt.db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(world.rt.db.engine, "before_cursor_execute", record)


def test_search_query_reads_the_full_text_index(world: World, statements: list[str]) -> None:
    if not world.rt.db.is_sqlite:
        pytest.skip("the FTS5 index is SQLite's; PostgreSQL matches word starts with a regular expression")
    people(world, search_query="partnerships")
    assert any("personnel_fts MATCH" in s for s in statements)


def test_search_sees_a_renamed_person(fresh: World) -> None:
    with fresh.rt.db.write() as conn:
        conn.execute(update(personnel).where(personnel.c.id == 7).values(title="Chief Zebra Officer"))
    assert ids_of(people(fresh, search_query="zebra")) == [7]
    assert people(fresh, search_query="partnerships")["total"] == 60
