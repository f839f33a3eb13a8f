"""An event's people (filters, a selection carried in the query string, the estimate bar) and one person's page.

The whole people page is ONE ``<form method="get">``: its filters, its row checkboxes (``selected``), hidden
inputs for the selected people on other pages, and its pagination buttons (``page``), so the selection travels
in the URL. "Review and unlock" submits the same form to ``/console/unlocks/new`` (its own ``event_id`` + ``selected``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from contactvault.server.api.deps import RuntimeDep
from contactvault.server.console.auth import SignedIn
from contactvault.server.console.query_input import Checked, path_id, query_url
from contactvault.server.console.render import is_htmx, page
from contactvault.server.console.selection import MAX_SELECTION, estimate
from contactvault.server.domain.errors import NotFound
from contactvault.server.domain.resolution import is_inferred
from contactvault.server.runtime import Runtime
from contactvault.server.services import directory
from contactvault.server.services.console_sessions import Principal
from contactvault.server.services.directory import PeopleFilters, Provenance

router = APIRouter(prefix="/console", include_in_schema=False)
PAGE_SIZE = 25
MAX_PAGE_SIZE = 50
MAX_PAGE = 1_000_000
FILTER_FIELDS = ("q", "seniority", "department", "company", "hide_unlocked")

Text = Annotated[str | None, Query()]


@dataclass(frozen=True, slots=True)
class PeopleSearch:
    """The filters as typed (to fill the form again) and as understood, the page, and the selection."""

    event_id: int
    raw: dict[str, str]
    filters: PeopleFilters
    page: int
    size: int
    selected: list[int]

    def url(self, *, page: int = 1, selected: list[int] | None = None) -> str:
        """This search at another page (and with another selection)."""
        params: dict[str, str | int | list[int] | None] = {k: self.raw.get(k) for k in (*FILTER_FIELDS, "size")}
        params.update(page=page if page > 1 else None, selected=self.selected if selected is None else selected)
        return query_url(f"/console/events/{self.event_id}/people", params)

    def clear_url(self) -> str:
        """No filters, the same selection."""
        return query_url(f"/console/events/{self.event_id}/people", {"selected": self.selected})


def _event_id(raw: str) -> int:
    event_id = path_id(raw)
    if event_id is None:
        raise NotFound("Event not found.")
    return event_id


def read_people_search(request: Request, event_id: int) -> tuple[PeopleSearch, dict[str, str]]:
    """The people search of this request's query string, and the field errors."""
    params = request.query_params
    raw = {k: v.strip() for k in (*FILTER_FIELDS, "page", "size") if (v := params.get(k)) and v.strip()}
    check = Checked()
    filters = PeopleFilters(
        search_query=check.text("q", raw.get("q"), "Title or name"),
        level=check.text("seniority", raw.get("seniority"), "Seniority"),
        department=check.text("department", raw.get("department"), "Department"),
        company=check.text("company", raw.get("company"), "Company"),
        hide_unlocked=raw.get("hide_unlocked") == "1",
    )
    search = PeopleSearch(
        event_id=event_id,
        raw=raw,
        filters=filters,
        page=check.number("page", raw.get("page"), "Page", default=1, low=1, high=MAX_PAGE),
        size=check.number("size", raw.get("size"), "Page size", default=PAGE_SIZE, low=1, high=MAX_PAGE_SIZE),
        selected=check.ids("selected", params.getlist("selected"), "Selected people"),
    )
    return search, check.errors


def _select_all(rt: Runtime, principal: Principal, search: PeopleSearch) -> tuple[list[int] | None, str | None]:
    """The selection plus every matching person, or a message saying why not (over the limit)."""
    matching = directory.matching_ids(rt, principal.account_id, search.event_id, search.filters, limit=MAX_SELECTION)
    if matching.total > MAX_SELECTION:
        return None, (
            f"{matching.total:,} people match: one unlock takes at most {MAX_SELECTION}, so they cannot all be "
            "selected at once. Narrow the filters first, or select people on each page."
        )
    chosen = list(dict.fromkeys([*search.selected, *matching.ids]))
    if len(chosen) > MAX_SELECTION:
        return None, (
            f"Adding the {matching.total:,} matching people would make {len(chosen):,} selected: one unlock takes "
            f"at most {MAX_SELECTION}. Clear some of the selection first."
        )
    return chosen, None


@router.get("/events/{event_id}/people")
def event_people(request: Request, rt: RuntimeDep, principal: SignedIn, event_id: str) -> Response:
    """The people of an event, filtered, a page at a time, with the selection and its estimate."""
    event = directory.get_event(rt, _event_id(event_id)).event
    search, errors = read_people_search(request, event.event_id)
    notice = None
    if not errors and request.query_params.get("select_all") == "1":
        chosen, notice = _select_all(rt, principal, search)
        if chosen is not None:  # a clean URL holding the new selection: reload and Back show the same
            return RedirectResponse(search.url(selected=chosen), status_code=303)
    context: dict[str, object] = {"event": event, "search": search, "errors": errors, "notice": notice}
    context.update(max_selection=MAX_SELECTION, selection_error=errors.get("selected"))
    if errors:
        context.update(found=None, hidden=[], estimate=estimate(rt, principal.account_id, event.event_id, []))
        return page(request, "people/list.html", context, status_code=422)
    found = directory.list_personnel(
        rt,
        principal.account_id,
        event.event_id,
        directory.PageRequest(search.page, search.size),
        department=search.filters.department,
        level=search.filters.level,
        search_query=search.filters.search_query,
        company=search.filters.company,
        hide_unlocked=search.filters.hide_unlocked,
    )
    on_page = {p.personnel_id for p in found.items}
    context.update(
        found=found,
        hidden=[i for i in search.selected if i not in on_page],
        estimate=estimate(rt, principal.account_id, event.event_id, search.selected),
    )
    beyond = found.total > 0 and search.page > found.total_pages
    return page(request, "people/list.html", context, status_code=422 if notice else 404 if beyond else 200)


@router.get("/events/{event_id}/estimate")
def selection_estimate(request: Request, rt: RuntimeDep, principal: SignedIn, event_id: str) -> Response:
    """The estimate bar for the form's selection (htmx, on every checkbox change); a browser gets the page."""
    event = directory.get_event(rt, _event_id(event_id)).event
    if not is_htmx(request):
        query = request.url.query
        return RedirectResponse(f"/console/events/{event.event_id}/people" + (f"?{query}" if query else ""), 303)
    search, errors = read_people_search(request, event.event_id)
    context = {
        "event": event,
        "estimate": estimate(rt, principal.account_id, event.event_id, search.selected),
        "max_selection": MAX_SELECTION,
        "selection_error": errors.get("selected"),
    }
    return page(request, "people/list.html", context, block="estimate", status_code=422 if errors else 200)


@router.get("/people/{person_id}")
def person(request: Request, rt: RuntimeDep, principal: SignedIn, person_id: str) -> Response:
    """One person as this account sees them: the email and phone only if this account unlocked them."""
    pid = path_id(person_id)
    if pid is None:
        raise NotFound("Person not found.")
    view = directory.profile(rt, principal.account_id, pid)
    linkedin = view.linkedin_url if (view.linkedin_url or "").startswith(("https://", "http://")) else None
    inferred = {"email": inferred_words(view.email_provenance), "phone": inferred_words(view.phone_provenance)}
    return page(request, "people/detail.html", {"person": view, "linkedin": linkedin, "inferred": inferred})


def inferred_words(provenance: Provenance | None) -> str:
    """The verification of a shown value the engine inferred, in words ("accept-all, score 61"); "" otherwise."""
    if provenance is None or not is_inferred(provenance.source):
        return ""
    check = provenance.verification
    status = ((check.status if check else None) or "unknown").replace("_", "-")
    return f"{status}, score {check.score}" if check and check.score is not None else status
