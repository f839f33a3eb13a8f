"""Events: search by name, start dates and place; a paginated table leading to each event's people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from contactvault.server.api.deps import RuntimeDep
from contactvault.server.console.auth import SignedIn
from contactvault.server.console.query_input import Checked, query_url
from contactvault.server.console.render import page
from contactvault.server.services import directory

router = APIRouter(prefix="/console", include_in_schema=False)
PATH = "/console/events"
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000

Text = Annotated[str | None, Query()]


@dataclass(frozen=True, slots=True)
class EventSearch:
    """The search as typed (to fill the form again) and as understood (to query)."""

    raw: dict[str, str]
    keyword: str | None
    country: str | None
    city: str | None
    date_from: date | None
    date_to: date | None
    page: int
    size: int

    def url(self, page: int) -> str:
        """This search at another page."""
        params: dict[str, str | int | list[int] | None] = {k: v for k, v in self.raw.items() if k != "page"}
        return query_url(PATH, {**params, "page": page if page > 1 else None})


def read_search(raw: dict[str, str]) -> tuple[EventSearch, dict[str, str]]:
    """The search and the field errors (a wrong field is left out of the search, and named)."""
    check = Checked()
    date_from = check.day("from", raw.get("from"), "Starting from")
    date_to = check.day("to", raw.get("to"), "Starting by")
    if date_from and date_to and date_to < date_from:
        check.errors["to"] = "Starting by: pick a date on or after the “Starting from” date."
    search = EventSearch(
        raw=raw,
        keyword=check.text("q", raw.get("q"), "Name"),
        country=check.text("country", raw.get("country"), "Country"),
        city=check.text("city", raw.get("city"), "City"),
        date_from=date_from,
        date_to=date_to,
        page=check.number("page", raw.get("page"), "Page", default=1, low=1, high=MAX_PAGE),
        size=check.number("size", raw.get("size"), "Page size", default=PAGE_SIZE, low=1, high=MAX_PAGE_SIZE),
    )
    return search, check.errors


@router.get("/events")
def events(
    request: Request,
    rt: RuntimeDep,
    principal: SignedIn,
    q: Text = None,
    country: Text = None,
    city: Text = None,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
    page_number: Annotated[str | None, Query(alias="page")] = None,
    size: Text = None,
) -> Response:
    """The events matching the search (htmx asks for the results block only, as the user types)."""
    typed = {"q": q, "country": country, "city": city, "from": date_from, "to": date_to, "page": page_number}
    raw = {k: v.strip() for k, v in {**typed, "size": size}.items() if v and v.strip()}
    search, errors = read_search(raw)
    context: dict[str, object] = {"search": search, "errors": errors, "found": None, "beyond": False}
    if errors:
        return page(request, "events/list.html", context, block="results", status_code=422)
    found = directory.list_events(
        rt,
        directory.PageRequest(search.page, search.size),
        keyword=search.keyword,
        country=search.country,
        city=search.city,
        date_from=search.date_from,
        date_to=search.date_to,
    )
    beyond = found.total > 0 and search.page > found.total_pages
    context.update(found=found, beyond=beyond)
    return page(request, "events/list.html", context, block="results", status_code=404 if beyond else 200)
