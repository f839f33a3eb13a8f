"""GET /external/events/list and /external/events/{id}."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from contactvault.server.db.tables import event_personnel, events
from contactvault.server.runtime import Runtime
from tests.api.test_personnel_routes import BACKENDS, World, assert_page, open_world
from tests.factories import BIG_EVENT, SMALL_EVENT, Account

LIST = "/external/events/list"
NULLABLE_STR = (str, type(None))
EVENT_ITEM_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "eventId": (str,),
    "name": (str,),
    "nickname": NULLABLE_STR,
    "description": NULLABLE_STR,
    "url": NULLABLE_STR,
    "dateStart": NULLABLE_STR,
    "dateEnd": NULLABLE_STR,
    "venue": NULLABLE_STR,
    "city": NULLABLE_STR,
    "region": NULLABLE_STR,
    "country": NULLABLE_STR,
    "exhibitorCount": (int,),
    "image": NULLABLE_STR,
    "dataSource": NULLABLE_STR,
    "hasVisitors": (bool,),
    "sponsorMatchStarred": (int,),
}
EVENT_DETAIL_FIELDS: dict[str, tuple[type, ...]] = {
    **EVENT_ITEM_FIELDS,
    "attendeeCount": (int, type(None)),
    "personnelCount": (int,),
    "eventType": NULLABLE_STR,
    "topics": (list,),
}
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def assert_event_item(item: dict[str, Any], fields: dict[str, tuple[type, ...]] = EVENT_ITEM_FIELDS) -> None:
    """``item`` has exactly these fields, each with its JSON type."""
    assert set(item) == set(fields)
    for name, kinds in fields.items():
        assert type(item[name]) in kinds, (name, item[name])
    assert re.fullmatch(r"[0-9]+", item["id"])
    assert item["eventId"] == item["id"]
    for name in ("dateStart", "dateEnd"):
        assert item[name] is None or ISO_DATE.fullmatch(item[name])
    assert item["hasVisitors"] is False
    assert item["sponsorMatchStarred"] == 0


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The directory this module's read-only tests share."""
    yield from open_world(request, tmp_path_factory)


def list_events(world: World, **params: Any) -> dict[str, Any]:
    """One page of GET /external/events/list, asserting 200."""
    response = world.get(LIST, params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def event_ids(body: dict[str, Any]) -> list[str]:
    """The event ids on a page."""
    return [item["id"] for item in body["items"]]


# Shapes


def test_event_items_have_every_field_with_its_type(world: World) -> None:
    body = list_events(world)
    assert_page(body, total=2, page=1, page_size=20)
    for item in body["items"]:
        assert_event_item(item)


def test_event_item_values_and_nulls(world: World) -> None:
    big, small = list_events(world)["items"]
    assert big == {
        "id": "100",
        "eventId": "100",
        "name": "Berlin Retail Expo 2026",
        "nickname": "BRE26",
        "description": None,
        "url": None,
        "dateStart": "2026-05-04",
        "dateEnd": "2026-05-06",
        "venue": "Messe Berlin",
        "city": "Berlin",
        "region": None,
        "country": "Germany",
        "exhibitorCount": 2,
        "image": None,
        "dataSource": None,
        "hasVisitors": False,
        "sponsorMatchStarred": 0,
    }
    assert (small["id"], small["nickname"], small["venue"]) == ("200", None, None)


def test_events_are_ordered_by_start_date(world: World) -> None:
    assert event_ids(list_events(world)) == [str(BIG_EVENT), str(SMALL_EVENT)]


def test_event_detail_is_wrapped_in_an_event_envelope(world: World) -> None:
    response = world.get(f"/external/events/{BIG_EVENT}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"event"}
    detail = body["event"]
    assert_event_item(detail, EVENT_DETAIL_FIELDS)
    assert detail["attendeeCount"] == 12000
    assert detail["personnelCount"] == 300
    assert detail["eventType"] == "tradeshow"
    assert detail["topics"] == ["retail", "logistics"]


def test_event_detail_nulls_are_present_and_topics_default_to_empty(world: World) -> None:
    detail = world.get(f"/external/events/{SMALL_EVENT}").json()["event"]
    assert_event_item(detail, EVENT_DETAIL_FIELDS)
    assert detail["attendeeCount"] is None
    assert detail["eventType"] is None
    assert detail["topics"] == []
    assert detail["personnelCount"] == 10


def test_event_detail_matches_its_list_item(world: World) -> None:
    listed = list_events(world)["items"][0]
    detail = world.get(f"/external/events/{listed['id']}").json()["event"]
    assert {k: detail[k] for k in listed} == listed


@pytest.mark.parametrize("event_id", ["999", "0", "abc", "99999999999999999999", "1e3", "-100"])
def test_unknown_event_is_404_with_error_body(world: World, event_id: str) -> None:
    response = world.get(f"/external/events/{event_id}")
    assert response.status_code == 404
    body = response.json()
    assert set(body) == {"code", "message", "errorKey", "traceId"}
    assert (body["code"], body["errorKey"]) == (404, "NOT_FOUND")
    assert isinstance(body["message"], str)
    assert body["message"]
    assert response.headers["X-Request-ID"] == body["traceId"]


# Pagination


def test_events_first_page_has_more(world: World) -> None:
    body = list_events(world, pageSize=1)
    assert_page(body, total=2, page=1, page_size=1)
    assert body["hasMore"] is True
    assert event_ids(body) == ["100"]


def test_events_last_page_has_no_more(world: World) -> None:
    body = list_events(world, pageSize=1, page=2)
    assert_page(body, total=2, page=2, page_size=1)
    assert body["hasMore"] is False
    assert event_ids(body) == ["200"]


def test_events_page_past_the_end_is_empty_with_same_total(world: World) -> None:
    body = list_events(world, pageSize=1, page=3)
    assert body["items"] == []
    assert (body["total"], body["page"], body["totalPages"], body["hasMore"]) == (2, 3, 2, False)


def test_events_page_size_100_is_allowed(world: World) -> None:
    assert_page(list_events(world, pageSize=100), total=2, page=1, page_size=100)


def test_no_events_at_all_is_an_empty_page_with_zero_pages(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    with directory.db.write() as conn:
        conn.execute(delete(event_personnel))
        conn.execute(delete(events))
    body = list_events(World(directory, client, account))
    assert body == {"items": [], "total": 0, "page": 1, "pageSize": 20, "totalPages": 0, "hasMore": False}


@pytest.mark.parametrize("value", ["0", "101", "abc", "-5", "1.5", ""])
def test_events_page_size_out_of_range_is_400_naming_pageSize(world: World, value: str) -> None:
    response = world.get(LIST, {"pageSize": value})
    assert response.status_code == 400
    assert response.json()["details"]["field"] == "pageSize"


@pytest.mark.parametrize("value", ["0", "-1", "abc", ""])
def test_events_page_below_one_is_400_naming_page(world: World, value: str) -> None:
    response = world.get(LIST, {"page": value})
    assert response.status_code == 400
    assert response.json()["details"]["field"] == "page"


# Filters


@pytest.mark.parametrize(
    ("keyword", "expected"),
    [
        ("berlin", ["100"]),
        ("RETAIL expo", ["100"]),
        ("bre26", ["100"]),  # the nickname
        ("partner", ["200"]),
        ("summit berlin", []),  # every word must match
        ("tokyo", []),
    ],
)
def test_keyword_filter_matches_every_word_of_name_or_nickname(world: World, keyword: str, expected: list[str]) -> None:
    body = list_events(world, keyword=keyword)
    assert event_ids(body) == expected
    assert body["total"] == len(expected)


@pytest.mark.parametrize("keyword", ["*", "%", "--", "'", "\\"])
def test_keyword_without_words_matches_nothing_rather_than_everything(world: World, keyword: str) -> None:
    body = list_events(world, keyword=keyword)
    assert body == {"items": [], "total": 0, "page": 1, "pageSize": 20, "totalPages": 0, "hasMore": False}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"country": "Germany"}, ["100"]),
        ({"country": "portugal"}, ["200"]),
        ({"country": "Germ"}, []),  # a country is matched whole, not by prefix
        ({"city": "LISBON"}, ["200"]),
        ({"city": "Berlin", "country": "Portugal"}, []),
        ({"city": "Berlin", "country": "germany"}, ["100"]),
    ],
)
def test_country_and_city_filters_match_whole_values_ignoring_case(
    world: World, params: dict[str, str], expected: list[str]
) -> None:
    assert event_ids(list_events(world, **params)) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"date_start_from": "2026-05-04"}, ["100", "200"]),  # inclusive
        ({"date_start_from": "2026-05-05"}, ["200"]),
        ({"date_start_to": "2026-05-04"}, ["100"]),  # inclusive
        ({"date_start_to": "2026-05-03"}, []),
        ({"date_start_from": "2026-06-01", "date_start_to": "2026-09-01"}, ["200"]),
        ({"date_start_from": "2026-10-01", "date_start_to": "2026-01-01"}, []),
    ],
)
def test_date_filters_bound_the_start_date(world: World, params: dict[str, str], expected: list[str]) -> None:
    assert event_ids(list_events(world, **params)) == expected


def test_filters_combine_and_zero_matches_is_an_empty_page(world: World) -> None:
    assert event_ids(list_events(world, keyword="expo", country="germany")) == ["100"]
    body = list_events(world, keyword="expo", country="portugal")
    assert body == {"items": [], "total": 0, "page": 1, "pageSize": 20, "totalPages": 0, "hasMore": False}


@pytest.mark.parametrize("param", ["date_start_from", "date_start_to"])
@pytest.mark.parametrize("value", ["notadate", "2026-13-01", "2026-02-30", "04/05/2026", ""])
def test_bad_date_is_400_naming_it(world: World, param: str, value: str) -> None:
    response = world.get(LIST, {param: value})
    assert response.status_code == 400
    assert response.json()["details"]["field"] == param
