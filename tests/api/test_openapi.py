"""/openapi.json documents every directory route: parameters, the 200 schema with an example, the error body."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from contactvault.server.api import schemas
from tests.api.test_events_routes import EVENT_DETAIL_FIELDS
from tests.api.test_personnel_routes import BACKENDS, CONTACT_FIELDS, World, open_world

# Each directory route, its documented query/path parameters and the component its 200 answer refers to.
ROUTES: dict[str, tuple[set[str], str]] = {
    "/external/credits/balance": (set(), "CreditBalancePublic"),
    "/external/events/list": (
        {"keyword", "country", "city", "date_start_from", "date_start_to", "page", "pageSize"},
        "EventPage",
    ),
    "/external/events/{event_id}": ({"event_id"}, "EventEnvelope"),
    "/external/personnel/list": (
        {"event_id", "exhibitor_id", "department", "level", "search_query", "page", "pageSize"},
        "PersonnelPage",
    ),
    "/external/personnel/profile": ({"personnel_id"}, "ContactItemPublic"),
    "/external/contacts/search": ({"company_name", "role", "person_name", "page", "pageSize"}, "ContactPage"),
}
REQUIRED = {
    "/external/events/{event_id}": {"event_id"},
    "/external/personnel/list": {"event_id"},
    "/external/personnel/profile": {"personnel_id"},
    "/external/contacts/search": {"company_name"},
}
# Errors each route can answer besides the ones every authenticated route can (401, 429, 503).
ROUTE_ERRORS = {
    "/external/credits/balance": set(),
    "/external/events/list": {"400"},
    "/external/events/{event_id}": {"404"},
    "/external/personnel/list": {"400", "404"},
    "/external/personnel/profile": {"400", "404"},
    "/external/contacts/search": {"400"},
}


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The app whose document is read."""
    yield from open_world(request, tmp_path_factory)


@pytest.fixture(scope="module")
def spec(world: World) -> dict[str, Any]:
    """The published OpenAPI document."""
    response = world.client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def resolve(spec: dict[str, Any], ref: str) -> dict[str, Any]:
    """The component a ``$ref`` points at."""
    assert ref.startswith("#/components/schemas/"), ref
    component: dict[str, Any] = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return component


def test_openapi_is_served_without_a_key(world: World) -> None:
    response = world.client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_every_path_is_the_external_api_or_the_operator_api(spec: dict[str, Any]) -> None:
    paths = set(spec["paths"])
    assert set(ROUTES) <= paths
    assert all(p.startswith(("/external/", "/admin/v1/")) for p in paths)
    assert "/healthz" not in paths


@pytest.mark.parametrize("path", ROUTES)
def test_route_documents_its_parameters(spec: dict[str, Any], path: str) -> None:
    operation = spec["paths"][path]["get"]
    params = {p["name"]: p for p in operation.get("parameters", []) if p["in"] in ("query", "path")}
    expected, _ = ROUTES[path]
    assert set(params) == expected
    assert {n for n, p in params.items() if p.get("required")} == REQUIRED.get(path, set())
    for name, param in params.items():
        assert param["in"] == ("path" if name == "event_id" and "{" in path else "query")
        assert "schema" in param, name


def test_page_size_limits_are_published(spec: dict[str, Any]) -> None:
    def page_size(path: str) -> dict[str, Any]:
        param = next(p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == "pageSize")
        schema: dict[str, Any] = param["schema"]
        return schema

    assert (page_size("/external/events/list")["maximum"], page_size("/external/events/list")["default"]) == (100, 20)
    personnel = page_size("/external/personnel/list")
    assert (personnel["minimum"], personnel["maximum"], personnel["default"]) == (1, 50, 50)


@pytest.mark.parametrize("path", ROUTES)
def test_route_documents_its_200_schema(spec: dict[str, Any], path: str) -> None:
    ok = spec["paths"][path]["get"]["responses"]["200"]
    schema = ok["content"]["application/json"]["schema"]
    assert schema["$ref"] == f"#/components/schemas/{ROUTES[path][1]}"
    assert resolve(spec, schema["$ref"])["type"] == "object"


@pytest.mark.parametrize("path", ROUTES)
def test_route_200_schema_carries_an_example_that_fits_it(spec: dict[str, Any], path: str) -> None:
    name = ROUTES[path][1]
    examples = resolve(spec, f"#/components/schemas/{name}").get("examples")
    assert examples, f"{name} has no example"
    model: type[BaseModel] = getattr(schemas, name)
    for example in examples:
        assert model.model_validate(example).model_dump(mode="json") == example


@pytest.mark.parametrize("path", ROUTES)
def test_route_documents_the_error_body(spec: dict[str, Any], path: str) -> None:
    responses = spec["paths"][path]["get"]["responses"]
    documented = {s for s in responses if s != "200"}
    assert documented >= {"401", "429", "503"} | ROUTE_ERRORS[path]
    for status in documented:
        content = responses[status]["content"]["application/json"]["schema"]
        # The error body, or a narrower form of it (the 400's details name a field).
        assert set(resolve(spec, content["$ref"])["required"]) >= {"code", "message", "errorKey", "traceId"}, status


@pytest.mark.parametrize("path", ROUTES)
def test_route_does_not_promise_a_422_it_never_sends(spec: dict[str, Any], path: str) -> None:
    # Validation failures are 400 with the error body; FastAPI's default 422 schema would mislead clients.
    assert "422" not in spec["paths"][path]["get"]["responses"]


def test_error_body_schema_matches_the_contract(spec: dict[str, Any]) -> None:
    error = spec["components"]["schemas"]["ErrorPublic"]
    assert set(error["required"]) == {"code", "message", "errorKey", "traceId"}
    assert set(error["properties"]) == {"code", "message", "errorKey", "traceId", "details"}


@pytest.mark.parametrize(
    ("component", "fields"),
    [
        ("EventPage", {"items", "total", "page", "pageSize", "totalPages", "hasMore"}),
        ("ContactPage", {"items", "total", "page", "pageSize", "totalPages", "hasMore"}),
        ("PersonnelPage", {"items", "total", "page", "pageSize", "totalPages", "hasMore", "semantics"}),
        ("EventEnvelope", {"event"}),
    ],
)
def test_page_components_require_every_field(spec: dict[str, Any], component: str, fields: set[str]) -> None:
    schema = spec["components"]["schemas"][component]
    assert set(schema["required"]) == fields


def test_contact_item_component_lists_every_contract_field(spec: dict[str, Any]) -> None:
    schema = spec["components"]["schemas"]["ContactItemPublic"]
    assert set(schema["properties"]) == set(CONTACT_FIELDS)
    assert set(schema["required"]) == set(CONTACT_FIELDS)  # nullable, but never omitted


def test_event_detail_component_lists_every_contract_field(spec: dict[str, Any]) -> None:
    schema = spec["components"]["schemas"]["EventDetailPublic"]
    assert set(schema["properties"]) == set(EVENT_DETAIL_FIELDS)
    assert set(schema["required"]) == set(EVENT_DETAIL_FIELDS)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/external/credits/balance", {}),
        ("/external/events/list", {"pageSize": "1"}),
        ("/external/events/100", {}),
        ("/external/personnel/list", {"event_id": "100", "pageSize": "2"}),
        ("/external/personnel/profile", {"personnel_id": "3"}),
        ("/external/contacts/search", {"company_name": "acme", "pageSize": "2"}),
    ],
)
def test_live_answers_fit_their_published_models(world: World, path: str, params: dict[str, str]) -> None:
    template = "/external/events/{event_id}" if path == "/external/events/100" else path
    model: type[BaseModel] = getattr(schemas, ROUTES[template][1])
    body = world.get(path, params).json()
    assert model.model_validate(body).model_dump(mode="json") == body
