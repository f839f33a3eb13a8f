"""GET /external/contacts/search: people at matching companies across all events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from contactvault.server.db.tables import companies, personnel
from contactvault.server.runtime import Runtime
from tests.api.test_personnel_routes import BACKENDS, World, assert_contact_item, assert_page, ids_of, open_world
from tests.factories import Account

SEARCH = "/external/contacts/search"
ACME = list(range(1, 301, 2))
NORTHWIND = list(range(2, 301, 2))


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The directory this module's read-only tests share."""
    yield from open_world(request, tmp_path_factory)


def search(world: World, **params: Any) -> dict[str, Any]:
    """One page of contact search, asserting 200."""
    response = world.get(SEARCH, params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def all_ids(world: World, **params: Any) -> list[int]:
    """Every matching person id (the test directory has at most 300)."""
    first = search(world, pageSize=100, **params)
    found = ids_of(first)
    for page in range(2, first["totalPages"] + 1):
        found += ids_of(search(world, pageSize=100, page=page, **params))
    assert len(found) == first["total"]
    return found


# Shapes


def test_results_are_contact_items_with_every_field_typed(world: World) -> None:
    body = search(world, company_name="acme")
    assert_page(body, total=150, page=1, page_size=20)
    for item in body["items"]:
        assert_contact_item(item)
        assert item["companyName"] == "Acme Widgets GmbH"


def test_results_are_locked_for_a_caller_who_unlocked_nothing(world: World) -> None:
    item = search(world, company_name="acme", person_name="person 3", pageSize=1)["items"][0]
    assert item["id"] == "3"
    assert (item["email"], item["contactUnlockStatus"], item["phone"], item["phoneUnlockStatus"]) == (
        None,
        "locked",
        None,
        None,
    )
    assert item["linkedinActivity"] is None
    assert item["linkedinActivityStatus"] is None
    assert item["outreachMessageStatus"] is None
    assert item["outreachMessageChannels"] == []


def test_source_types_and_event_count_span_all_events(world: World) -> None:
    items = {i["id"]: i for i in search(world, company_name="northwind", pageSize=10)["items"]}
    assert items["2"]["sourceType"] == ["exhibitor", "social", "visitors"]
    assert items["2"]["eventCount"] == 2
    assert items["12"]["sourceType"] == ["exhibitor", "social"]
    assert items["12"]["eventCount"] == 1
    acme = search(world, company_name="acme", pageSize=1)["items"][0]
    assert (acme["id"], acme["sourceType"]) == ("1", ["exhibitor", "visitors"])


# company_name


@pytest.mark.parametrize(
    ("company_name", "expected"),
    [
        ("acme", ACME),
        ("ACME", ACME),
        ("Acm", ACME),  # a prefix of a word
        ("acme widgets gmbh", ACME),
        ("gmbh ACME", ACME),  # word order does not matter
        ("Acme-Widgets", ACME),  # punctuation separates words
        ("  acme,  widgets  ", ACME),
        ("north", NORTHWIND),
        ("Logistics", NORTHWIND),
        ("nOrThWiNd LOG", NORTHWIND),
    ],
)
def test_every_word_must_prefix_match_the_company_name(world: World, company_name: str, expected: list[int]) -> None:
    assert all_ids(world, company_name=company_name) == expected


@pytest.mark.parametrize(
    "company_name",
    ["cme", "widgetsx", "acme northwind", "idgets", "Acme Widgets GmbH Berlin", "zzz", "   ", "***"],
)
def test_company_name_that_matches_no_company_is_an_empty_page(world: World, company_name: str) -> None:
    body = search(world, company_name=company_name)
    assert body == {"items": [], "total": 0, "page": 1, "pageSize": 20, "totalPages": 0, "hasMore": False}


def test_company_name_is_required(world: World) -> None:
    for params in ({}, {"role": "vp"}, {"person_name": "person"}):
        response = world.get(SEARCH, params)
        assert response.status_code == 400
        body = response.json()
        assert (body["errorKey"], body["details"]["field"]) == ("INVALID_REQUEST", "company_name")


@pytest.mark.parametrize(("length", "status"), [(0, 400), (1, 200), (200, 200), (201, 400)])
def test_company_name_is_1_to_200_characters(world: World, length: int, status: int) -> None:
    response = world.get(SEARCH, {"company_name": "a" * length})
    assert response.status_code == status
    if status == 400:
        assert response.json()["details"]["field"] == "company_name"


# role and person_name


def test_role_matches_the_title(world: World) -> None:
    assert all_ids(world, company_name="acme", role="vp") == [p for p in ACME if p % 5 == 0]
    assert all_ids(world, company_name="northwind", role="Partnerships") == list(range(10, 301, 10))
    assert all_ids(world, company_name="acme", role="sales manager") == [p for p in ACME if p % 5]


def test_role_does_not_match_the_name(world: World) -> None:
    assert search(world, company_name="acme", role="example")["total"] == 0


def test_person_name_matches_the_name_by_word_prefix(world: World) -> None:
    assert all_ids(world, company_name="northwind", person_name="Person 10") == [
        10,
        100,
        102,
        104,
        106,
        108,
    ]


def test_person_name_does_not_match_the_title(world: World) -> None:
    assert search(world, company_name="acme", person_name="sales")["total"] == 0


def test_company_role_and_name_combine(world: World) -> None:
    found = all_ids(world, company_name="acme", role="vp", person_name="person 1")
    assert found == [p for p in ACME if p % 5 == 0 and str(p).startswith("1")]


# Pagination


def test_search_last_page_has_no_more(world: World) -> None:
    body = search(world, company_name="acme", pageSize=100, page=2)
    assert_page(body, total=150, page=2, page_size=100)
    assert body["hasMore"] is False
    assert ids_of(body) == ACME[100:]


def test_search_page_past_the_end_is_empty_with_same_total(world: World) -> None:
    body = search(world, company_name="acme", pageSize=100, page=3)
    assert body["items"] == []
    assert (body["total"], body["totalPages"], body["hasMore"]) == (150, 2, False)


def test_search_defaults_to_20_per_page(world: World) -> None:
    body = search(world, company_name="north")
    assert_page(body, total=150, page=1, page_size=20)
    assert ids_of(body) == NORTHWIND[:20]


@pytest.mark.parametrize(
    ("param", "value"), [("pageSize", "0"), ("pageSize", "101"), ("pageSize", "abc"), ("page", "0")]
)
def test_search_bad_pagination_is_400_naming_it(world: World, param: str, value: str) -> None:
    response = world.get(SEARCH, {"company_name": "acme", param: value})
    assert response.status_code == 400
    assert response.json()["details"]["field"] == param


def test_non_ascii_words_match_ignoring_case(client: TestClient, directory: Runtime, account: Account) -> None:
    with directory.db.write() as conn:
        conn.execute(insert(companies).values(id=3, name="Müller Ärzte GmbH", domain="mueller.test"))
        conn.execute(
            insert(personnel).values(id=1001, full_name="Jürgen Öztürk", title="Geschäftsführer", company_id=3)
        )
    world = World(directory, client, account)
    for company_name in ("müller", "MÜLLER", "Müll", "ÄRZTE müller"):
        assert ids_of(search(world, company_name=company_name)) == [1001], company_name
    assert ids_of(search(world, company_name="müller", person_name="ÖZTÜRK", role="geschäfts")) == [1001]
    assert search(world, company_name="üller")["total"] == 0
