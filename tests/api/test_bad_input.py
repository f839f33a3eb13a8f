"""Bad input on every parameter of every directory route: a 400 naming the field, or (for text that merely looks
like an operator) a normal page; never a 500, and the data is untouched afterwards.

The requests here only read, so the module shares one directory (hundreds of cases stay fast); every test still
checks that nothing changed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select

from contactvault.server.db import tables
from contactvault.server.db.tables import companies, contact_points, event_personnel, events, personnel
from tests.api.test_personnel_routes import BACKENDS, PAGE_FIELDS, World, assert_contact_item, open_world

EVENTS = "/external/events/list"
PERSONNEL = "/external/personnel/list"
PROFILE = "/external/personnel/profile"
SEARCH = "/external/contacts/search"
# The required parameters that make each route answer 200 on their own.
BASE: dict[str, dict[str, str]] = {
    EVENTS: {},
    PERSONNEL: {"event_id": "100"},
    PROFILE: {"personnel_id": "1"},
    SEARCH: {"company_name": "acme"},
}
TEXT_PARAMS = [
    (EVENTS, "keyword"),
    (EVENTS, "country"),
    (EVENTS, "city"),
    (PERSONNEL, "department"),
    (PERSONNEL, "level"),
    (PERSONNEL, "search_query"),
    (SEARCH, "company_name"),
    (SEARCH, "role"),
    (SEARCH, "person_name"),
]
ALL_PARAMS = [
    *TEXT_PARAMS,
    (EVENTS, "date_start_from"),
    (EVENTS, "date_start_to"),
    (EVENTS, "page"),
    (EVENTS, "pageSize"),
    (PERSONNEL, "event_id"),
    (PERSONNEL, "exhibitor_id"),
    (PERSONNEL, "page"),
    (PERSONNEL, "pageSize"),
    (PROFILE, "personnel_id"),
    (SEARCH, "page"),
    (SEARCH, "pageSize"),
]
SQL = ["' OR 1=1 --", '"; DROP TABLE personnel; --', "1; DELETE FROM events", "%", "_", "\\"]
FTS = ["NEAR(", "*", '"', "a OR b", "col:val", "title:vp", "^acme", "acme NOT widgets", "(", "-acme", "{full_name}"]
HTML = ["<script>alert(1)</script>", "&lt;b&gt;", "<img src=x onerror=alert(1)>"]
OTHER_TEXT = ["Zürich", "東京", "🙂", "a\tb", "   ", "x" * 200]
TEXT_VALUES = SQL + FTS + HTML + OTHER_TEXT
# Counts of the test directory, checked after every case.
INTACT = {"events": 2, "personnel": 300, "companies": 2, "event_personnel": 310, "contact_points": 370}


def counts(world: World) -> dict[str, int]:
    """Rows per directory table."""
    tables = {
        "events": events,
        "personnel": personnel,
        "companies": companies,
        "event_personnel": event_personnel,
        "contact_points": contact_points,
    }
    with world.rt.db.read() as conn:
        return {n: int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for n, t in tables.items()}


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The directory this module's read-only tests share; still whole and searchable once they are done."""
    shared = open_world(request, tmp_path_factory)
    world = next(shared)
    try:
        yield world
        assert counts(world) == INTACT
        assert world.get(SEARCH, {"company_name": "acme"}).json()["total"] == 150
        assert world.get(PERSONNEL, {"event_id": "100", "search_query": "partnerships"}).json()["total"] == 60
    finally:
        shared.close()


@pytest.fixture
def intact(world: World) -> Iterator[World]:
    """The shared world, checked to be unchanged after the test."""
    yield world
    assert counts(world) == INTACT


def assert_400_naming(response: httpx.Response, field: str) -> None:
    """A 400 INVALID_REQUEST whose details name ``field``."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["code"], body["errorKey"]) == (400, "INVALID_REQUEST")
    assert body["details"]["field"] == field
    assert response.headers["X-Request-ID"] == body["traceId"]


def assert_valid_page(response: httpx.Response) -> dict[str, Any]:
    """A 200 page whose items are well formed."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) >= PAGE_FIELDS
    assert body["total"] >= len(body["items"])
    for item in body["items"]:
        if "fullName" in item:
            assert_contact_item(item)
    return body


@pytest.mark.parametrize("value", TEXT_VALUES)
@pytest.mark.parametrize(("route", "param"), TEXT_PARAMS)
def test_metacharacters_in_text_are_plain_text(intact: World, route: str, param: str, value: str) -> None:
    assert_valid_page(intact.get(route, {**BASE[route], param: value}))


@pytest.mark.parametrize("value", SQL)
@pytest.mark.parametrize(("route", "param"), TEXT_PARAMS)
def test_sql_in_a_filter_never_widens_it(intact: World, route: str, param: str, value: str) -> None:
    assert assert_valid_page(intact.get(route, {**BASE[route], param: value}))["total"] == 0


@pytest.mark.parametrize(("route", "param"), [*TEXT_PARAMS, (PERSONNEL, "event_id")])
def test_over_long_text_is_400_naming_it(intact: World, route: str, param: str) -> None:
    limit = 100 if param == "event_id" else 200
    assert_400_naming(intact.get(route, {**BASE[route], param: "x" * (limit + 1)}), param)


@pytest.mark.parametrize(("route", "param"), [*TEXT_PARAMS, (PERSONNEL, "event_id"), (PROFILE, "personnel_id")])
def test_empty_text_is_400_naming_it(intact: World, route: str, param: str) -> None:
    assert_400_naming(intact.get(route, {**BASE[route], param: ""}), param)


@pytest.mark.parametrize(
    ("route", "param", "value"),
    [
        *[(r, "page", v) for r in (EVENTS, PERSONNEL, SEARCH) for v in ("abc", "0", "-1", "1.5", "1e3", "1000001")],
        *[(r, "pageSize", v) for r in (EVENTS, SEARCH) for v in ("abc", "0", "101", "-1", "9" * 30, "ten")],
        *[(PERSONNEL, "pageSize", v) for v in ("abc", "0", "51", "101", "-1", "9" * 30)],
        *[(EVENTS, p, v) for p in ("date_start_from", "date_start_to") for v in ("notadate", "2026-02-30", "2026-5-4")],
        *[(EVENTS, p, v) for p in ("date_start_from", "date_start_to") for v in ("' OR 1=1 --", "<script>")],
        *[(PERSONNEL, "exhibitor_id", v) for v in ("x", "-1", "1.0", "1 OR 1=1", "1" * 21, "<script>", " 1")],
        *[(PROFILE, "personnel_id", v) for v in ("abc", "-1", "1.0", "1; DROP TABLE personnel", "1" * 21, "*")],
        *[(PROFILE, "personnel_id", v) for v in ("<script>alert(1)</script>", "' OR 1=1 --", "0x10")],
    ],
)
def test_wrong_type_is_400_naming_it(intact: World, route: str, param: str, value: str) -> None:
    assert_400_naming(intact.get(route, {**BASE[route], param: value}), param)


@pytest.mark.parametrize(
    ("route", "param"), [(PERSONNEL, "event_id"), (PROFILE, "personnel_id"), (SEARCH, "company_name")]
)
def test_missing_required_parameter_is_400_naming_it(intact: World, route: str, param: str) -> None:
    params = {k: v for k, v in BASE[route].items() if k != param}
    assert_400_naming(intact.get(route, params), param)


@pytest.mark.parametrize(("route", "param"), ALL_PARAMS)
@pytest.mark.parametrize("raw", ["%ff%fe", "%c3%28", "a%80", "%ed%a0%80"])
def test_percent_encoded_non_utf8_is_400_naming_it(intact: World, route: str, param: str, raw: str) -> None:
    others = "".join(f"&{k}={quote(v)}" for k, v in BASE[route].items() if k != param)
    response = intact.client.get(f"{route}?{param}={raw}{others}", headers=intact.account.headers)
    assert_400_naming(response, param)


def test_non_utf8_parameter_name_is_400_naming_the_query(intact: World) -> None:
    response = intact.client.get(f"{EVENTS}?%ff=1", headers=intact.account.headers)
    assert_400_naming(response, "query")


@pytest.mark.parametrize(("route", "param"), ALL_PARAMS)
def test_nul_character_is_400_naming_it(intact: World, route: str, param: str) -> None:
    # NUL cannot be stored or compared in PostgreSQL text; refusing it keeps both backends alike.
    others = "".join(f"&{k}={quote(v)}" for k, v in BASE[route].items() if k != param)
    response = intact.client.get(f"{route}?{param}=a%00b{others}", headers=intact.account.headers)
    assert_400_naming(response, param)


@pytest.mark.parametrize(
    ("route", "value"),
    [
        *[("/external/events/{}", v) for v in ["abc", "' OR 1=1 --", "<script>alert(1)</script>", "%ff", "%00"]],
        *[("/external/events/{}", v) for v in ["NEAR(", "*", "1 OR 1", "1.0", "-1", "9" * 100]],
        *[(f"{PERSONNEL}?event_id={{}}", v) for v in ["abc", "' OR 1=1 --", "<script>", "*", "-1", "9" * 100]],
    ],
)
def test_malformed_event_id_is_404_without_echoing_it(intact: World, route: str, value: str) -> None:
    # Event ids are opaque strings (1-100 characters) in the contract; one that cannot exist is simply unknown.
    url = route.format(value if value.startswith("%") else quote(value, safe=""))
    response = intact.client.get(url, headers=intact.account.headers)
    assert response.status_code == 404, response.text
    body = response.json()
    assert (body["errorKey"], body["code"]) == ("NOT_FOUND", 404)
    assert value not in body["message"]
    assert "\x00" not in body["message"]


def test_unknown_query_parameters_are_ignored(intact: World) -> None:
    assert assert_valid_page(intact.get(EVENTS, {"foo": "bar", "pagesize": "abc"}))["total"] == 2


def test_repeated_parameter_is_400(intact: World) -> None:
    response = intact.client.get(f"{EVENTS}?pageSize=1&pageSize=2", headers=intact.account.headers)
    assert response.status_code == 400
    assert response.json()["details"]["field"] == "pageSize"


def test_html_is_never_reflected_in_an_error(intact: World) -> None:
    for route, param in [(PROFILE, "personnel_id"), (PERSONNEL, "exhibitor_id"), (EVENTS, "date_start_from")]:
        response = intact.get(route, {**BASE[route], param: "<script>alert(1)</script>"})
        assert response.status_code == 400
        assert "<script>" not in response.text
        assert response.headers["content-type"] == "application/json"


# -- bodies ------------------------------------------------------------------------------------------------------

UNLOCK = "/external/contacts/unlock"
PRECHECK = "/external/actions/precheck"
JSON_HEADERS = {"Content-Type": "application/json"}
UNPARSEABLE_BODIES = {
    "deeply nested array": b"[" * 100_000 + b"]" * 100_000,
    "deeply nested object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "deep inside params": b'{"action_type":"x","params":{"a":' + b"[" * 5_000 + b"]" * 5_000 + b"}}",
    "nesting just past the limit": b'{"action_type":"x","params":' + b'{"a":' * 32 + b"1" + b"}" * 33,
    "syntax error": b"{not json",
    "trailing comma": b'{"event_id": "100", "personnel_ids": ["1"],}',
    "truncated": b'{"event_id": "100", "personnel_ids": ["1"',
    "trailing garbage": b'{"event_id": "100", "personnel_ids": ["1"]} x',
    "single quotes": b"{'event_id': '100'}",
    "a number of 5,000 digits": b'{"event_id":"100","personnel_ids":["1"],"max_credits":' + b"9" * 5_000 + b"}",
    "NaN": b'{"event_id":"100","personnel_ids":["1"],"max_credits":NaN}',
    "-Infinity": b'{"event_id":"100","personnel_ids":["1"],"max_credits":-Infinity}',
    "duplicate key": b'{"event_id":"100","event_id":"200","personnel_ids":["1"]}',
    "invalid UTF-8": b'{"event_id":"100","personnel_ids":["\xff\xfe"]}',
    "overlong UTF-8": b'{"event_id":"100","personnel_ids":["\xc0\xaf"]}',
    "UTF-8 encoded surrogate": b'{"event_id":"100","personnel_ids":["\xed\xa0\x80"]}',
    "escaped lone surrogate": b'{"event_id":"100","personnel_ids":["\\ud800"]}',
    "escaped lone low surrogate in a key": b'{"event_id":"100","personnel_ids":["1"],"\\udc00":1}',
    "lone surrogate in action_type": b'{"action_type":"\\ud800","params":{}}',
    "UTF-16": '{"event_id":"100","personnel_ids":["1"]}'.encode("utf-16"),
    "control character in a string": b'{"event_id":"10\x010","personnel_ids":["1"]}',
}


def _stored(world: World) -> dict[str, int]:
    with world.rt.db.read() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (tables.tasks, tables.task_items, tables.idempotency_keys, tables.ledger_entries)
        }


@pytest.mark.parametrize("route", [UNLOCK, PRECHECK])
@pytest.mark.parametrize("name", list(UNPARSEABLE_BODIES))
def test_an_unparseable_body_is_400_naming_the_body_with_one_log_line(
    intact: World, caplog: pytest.LogCaptureFixture, route: str, name: str
) -> None:
    before = _stored(intact)
    headers = {**intact.account.headers, **JSON_HEADERS, "Idempotency-Key": f"bad-{name}"}
    with caplog.at_level("DEBUG"):
        response = intact.client.post(route, content=UNPARSEABLE_BODIES[name], headers=headers)
    assert_400_naming(response, "body")
    assert _stored(intact) == before
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info], caplog.text
    assert [r for r in caplog.records if r.name == "contactvault.access"], "the request is logged once"


@pytest.mark.parametrize("route", [UNLOCK, PRECHECK])
def test_nesting_up_to_the_limit_is_parsed(intact: World, route: str) -> None:
    body = b'{"action_type":"x","params":' + b'{"a":' * 31 + b"1" + b"}" * 32
    response = intact.client.post(route, content=body, headers={**intact.account.headers, **JSON_HEADERS})
    if route == PRECHECK:
        assert response.status_code == 200, response.text
        assert response.json()["reason_code"] == "unsupported_action"
    else:
        assert_400_naming(response, "event_id")  # parsed, then refused for its fields


@pytest.mark.parametrize(
    ("ids", "echoed"),
    [
        (["\U0001f642"], ["\U0001f642"]),  # a proper surrogate pair in the JSON text is one character
        (["a\x00b"], ["a\x00b"]),  # NUL inside a JSON string is data: classified, echoed escaped, never stored
        (["\u202e1"], ["\u202e1"]),
        (["1e3", "-1", "+1", " 1", "1.0", "0", "9" * 20], ["1e3", "-1", "+1", " 1", "1.0", "0", "9" * 20]),
    ],
)
def test_odd_strings_in_personnel_ids_are_classified_invalid(intact: World, ids: list[str], echoed: list[str]) -> None:
    before = _stored(intact)
    response = intact.client.post(
        UNLOCK, json={"event_id": "100", "personnel_ids": ids}, headers=intact.account.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["skipped_detail"]["invalid_personnel_ids"] == echoed
    assert _stored(intact) == before


@pytest.mark.parametrize("value", ["1e999", "1.5", "true", '"1"', "[]", "-1", "1" * 20])
def test_a_bad_max_credits_is_400_naming_it(intact: World, value: str) -> None:
    body = b'{"event_id":"100","personnel_ids":["1"],"max_credits":' + value.encode() + b"}"
    response = intact.client.post(UNLOCK, content=body, headers={**intact.account.headers, **JSON_HEADERS})
    assert_400_naming(response, "max_credits")


def test_leading_zeros_in_a_profile_id_name_the_person(intact: World) -> None:
    response = intact.get(PROFILE, {"personnel_id": "0007"})
    assert response.status_code == 200, response.text
    assert response.json()["id"] == "7"


@pytest.mark.parametrize("route", ["/external/contacts/unlock-tasks/", "/external/contacts/unlock-phone-tasks/"])
@pytest.mark.parametrize("value", ["abc", "0", "-1", "1e3", "%00", "%ff", "9223372036854775808", "9" * 40])
def test_a_task_id_that_cannot_exist_is_404_without_echoing_it(intact: World, route: str, value: str) -> None:
    response = intact.client.get(route + value, headers=intact.account.headers)
    assert response.status_code == 404, response.text
    assert response.json()["message"] == "Task not found."


def test_a_task_id_over_40_characters_is_400_naming_it(intact: World) -> None:
    assert_400_naming(intact.get("/external/contacts/unlock-tasks/" + "9" * 41), "task_id")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"],
)
@pytest.mark.parametrize("route", [UNLOCK, PRECHECK])
def test_a_body_that_is_not_json_is_400_naming_the_body(intact: World, route: str, content_type: str) -> None:
    before = _stored(intact)
    body = b'{"event_id":"100","personnel_ids":["1"]}'
    response = intact.client.post(route, content=body, headers={**intact.account.headers, "Content-Type": content_type})
    assert_400_naming(response, "body")
    assert _stored(intact) == before


@pytest.mark.parametrize(
    ("method", "url", "header", "value"),
    [
        ("POST", UNLOCK, "x-call-source", "a" * 51),
        ("GET", "/external/contacts/unlock-tasks/1", "If-None-Match", "a" * 201),
        ("POST", UNLOCK, "Idempotency-Key", "k" * 256),
        ("POST", UNLOCK, "Idempotency-Key", "new\tline"),
        ("POST", UNLOCK, "Idempotency-Key", ""),
    ],
)
def test_an_over_long_or_unprintable_header_is_400_naming_it(
    intact: World, method: str, url: str, header: str, value: str
) -> None:
    before = _stored(intact)
    response = intact.client.request(
        method,
        url,
        json={"event_id": "100", "personnel_ids": ["1"]} if method == "POST" else None,
        headers={**intact.account.headers, header: value},
    )
    assert_400_naming(response, header)
    assert not value or value not in response.text
    assert _stored(intact) == before


@pytest.mark.parametrize("value", ["\u0663", "\uff11", "\u00b2", "1\u0663"])
@pytest.mark.parametrize("param", ["page", "pageSize"])
def test_non_ascii_digits_are_not_numbers(intact: World, param: str, value: str) -> None:
    assert_400_naming(intact.get(SEARCH, {**BASE[SEARCH], param: value}), param)
