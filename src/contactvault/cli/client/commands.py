"""The client commands of ``contactvault``: login, credits, events, people, contacts (and, registered from their
own modules, unlock, tasks, export and demo).

``main.py`` calls ``register(app)``. Every command here reads the API through the SDK;
see ``common`` for the connection options, output rules and exit codes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, TypeVar

import typer
from rich.console import RenderableType

from contactvault.cli.client import demo, mcp, tasks, unlock, webhooks
from contactvault.cli.client.common import (
    ApiKeyOpt,
    BaseUrlOpt,
    InsecureOpt,
    JsonOpt,
    connect,
    digits,
    err,
    handled_errors,
    is_interactive,
    out,
    wire,
)
from contactvault.cli.client.credits import credits_app
from contactvault.cli.client.render import (
    contact_table,
    events_table,
    page_footer,
    people_table,
    plural,
)
from contactvault.cli.client.sync import command as sync_command
from contactvault.cli.common import EXIT_USAGE, emit, fail
from contactvault.client import Client, Page
from contactvault.client.config import default_config_path, load_config, save_config

__all__ = ["register"]

T = TypeVar("T")

events_app = typer.Typer(help="Browse the event directory.", no_args_is_help=True)
people_app = typer.Typer(help="Browse the people at an event.", no_args_is_help=True)
contacts_app = typer.Typer(help="Search people across all events.", no_args_is_help=True)

PageOpt = Annotated[int, typer.Option("--page", min=1, help="Page number.")]
AllOpt = Annotated[bool, typer.Option("--all", help="Every page (ignores --page).")]


def register(app: typer.Typer) -> None:
    """Add the client commands to the ``contactvault`` app."""
    app.command(rich_help_panel="Client")(login)
    app.add_typer(credits_app, name="credits", rich_help_panel="Client")
    app.add_typer(events_app, name="events", rich_help_panel="Client")
    app.add_typer(people_app, name="people", rich_help_panel="Client")
    app.add_typer(contacts_app, name="contacts", rich_help_panel="Client")
    unlock.register(app)
    tasks.register(app)
    sync_command.register(app)
    app.command(rich_help_panel="Client")(demo.demo)
    app.command(rich_help_panel="Client")(mcp.mcp)
    webhooks.register(app)


def login(
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    insecure: InsecureOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Check an API key against the server and save it with the base URL in your config file (mode 600).

    Without --api-key the key is asked for with hidden input (or read from stdin when piped).
    """
    if base_url is None:
        with handled_errors():
            base_url = load_config().base_url
    if not api_key:
        api_key = read_key()
    with handled_errors(base_url, api_key), connect(base_url, api_key, insecure=insecure) as client:
        balance = client.credits.balance()
        path = save_config(client.base_url, api_key, default_config_path())
        server = client.base_url
    if json_output:
        emit({"baseUrl": server, "configPath": str(path), "totalBalance": balance.total_balance})
        return
    out().print(f"Logged in to {server}: {plural(balance.total_balance, 'credit')} available.")
    err().print(f"Saved the base URL and key to {path} (mode 600).", style="dim")


def read_key() -> str:
    """The key from a hidden prompt at a terminal, else the first line of stdin (``... | contactvault login``)."""
    with handled_errors():  # Ctrl-C at the prompt: an error line and 130, not click's "Aborted."
        typed = typer.prompt("API key", hide_input=True, err=True) if is_interactive() else sys.stdin.readline()
    key = str(typed).strip()
    if not key:
        fail("no API key given: pass --api-key, type it at the prompt, or pipe it on stdin", EXIT_USAGE)
    return key


def _listing(
    base_url: str | None,
    api_key: str | None,
    *,
    insecure: bool,
    all_pages: bool,
    json_output: bool,
    one_page: Callable[[Client], Page[T]],
    every_page: Callable[[Client], Iterator[T]],
    table: Callable[[Sequence[T], str], RenderableType],
    title: str,
    noun: str,
) -> None:
    """Fetch one page (or all of them with --all) and print a table, or JSON: the page as the API sent it,
    or ``{"items": [...], "total": n}`` with --all."""
    with handled_errors(base_url, api_key), connect(base_url, api_key, insecure=insecure) as client:
        if all_pages:
            items = list(every_page(client))
            if json_output:
                emit({"items": [wire(item) for item in items], "total": len(items)})
            else:
                out().print(table(items, f"{title} ({len(items):,})"))
            return
        page = one_page(client)
    if json_output:
        emit(wire(page))
        return
    console = out()
    console.print(table(page.items, title))
    console.print(page_footer(page, noun))


@events_app.command("list")
def events_list(
    keyword: Annotated[str | None, typer.Option(help="Words in the event's name or description.")] = None,
    country: Annotated[str | None, typer.Option(help="Country, e.g. Germany.")] = None,
    city: Annotated[str | None, typer.Option(help="City, e.g. Berlin.")] = None,
    date_from: Annotated[str | None, typer.Option(help="Starting on or after (YYYY-MM-DD).")] = None,
    date_to: Annotated[str | None, typer.Option(help="Starting on or before (YYYY-MM-DD).")] = None,
    page: PageOpt = 1,
    page_size: Annotated[int, typer.Option(min=1, max=100, help="Events per page (1-100).")] = 20,
    all_pages: AllOpt = False,
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    insecure: InsecureOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """List events, filtered by keyword, country, city or start date."""
    filters = {
        "keyword": keyword,
        "country": country,
        "city": city,
        "date_start_from": date_from,
        "date_start_to": date_to,
    }
    _listing(
        base_url,
        api_key,
        insecure=insecure,
        all_pages=all_pages,
        json_output=json_output,
        one_page=lambda client: client.events.list(**filters, page=page, page_size=page_size),
        every_page=lambda client: client.events.iter(**filters, page_size=100),
        table=events_table,
        title="Events",
        noun="event",
    )


@people_app.command("list")
def people_list(
    event: Annotated[str, typer.Option("--event", "-e", help="Event id.", show_default=False)],
    search: Annotated[str | None, typer.Option(help="Words in the title or name, e.g. 'VP'.")] = None,
    department: Annotated[str | None, typer.Option(help="Department, e.g. Sales.")] = None,
    level: Annotated[str | None, typer.Option(help="Seniority level, e.g. VP or Director.")] = None,
    page: PageOpt = 1,
    page_size: Annotated[int, typer.Option(min=1, max=50, help="People per page (1-50).")] = 50,
    all_pages: AllOpt = False,
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    insecure: InsecureOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """List the people at an event (their email/phone shows once you unlocked it)."""
    event_id = digits(event, "--event")
    filters = {"search_query": search, "department": department, "level": level}
    _listing(
        base_url,
        api_key,
        insecure=insecure,
        all_pages=all_pages,
        json_output=json_output,
        one_page=lambda client: client.personnel.list(event_id, **filters, page=page, page_size=page_size),
        every_page=lambda client: client.personnel.iter(event_id, **filters, page_size=50),
        table=people_table,
        title=f"People at event {event_id}",
        noun="person",
    )


@people_app.command("show")
def people_show(
    personnel_id: Annotated[str, typer.Argument(help="Personnel id.", show_default=False)],
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    insecure: InsecureOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Show one person (with their email/phone if you unlocked it)."""
    pid = digits(personnel_id, "personnel id")
    with handled_errors(base_url, api_key), connect(base_url, api_key, insecure=insecure) as client:
        person = client.personnel.profile(pid)
    if json_output:
        emit(wire(person))
    else:
        out().print(contact_table(person))


@contacts_app.command("search")
def contacts_search(
    company: Annotated[str, typer.Option("--company", help="Company name (required).", show_default=False)],
    role: Annotated[str | None, typer.Option(help="Words in the title, e.g. 'Head of Sales'.")] = None,
    person_name: Annotated[str | None, typer.Option(help="Words in the person's name.")] = None,
    page: PageOpt = 1,
    page_size: Annotated[int, typer.Option(min=1, max=100, help="People per page (1-100).")] = 20,
    all_pages: AllOpt = False,
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    insecure: InsecureOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Find people at a company across all events, optionally by role or name."""
    if not company.strip() or len(company) > 200:
        fail("--company must be 1-200 characters", EXIT_USAGE)
    _listing(
        base_url,
        api_key,
        insecure=insecure,
        all_pages=all_pages,
        json_output=json_output,
        one_page=lambda client: client.contacts.search(
            company, role=role, person_name=person_name, page=page, page_size=page_size
        ),
        every_page=lambda client: client.contacts.iter_search(company, role=role, person_name=person_name),
        table=people_table,
        title=f"People at {company}",
        noun="person",
    )
