"""``contactvault demo``: walk the whole client workflow visibly, against an embedded server or yours.

Embedded mode starts the API with an in-process worker on a temporary SQLite database (uvicorn on a free
127.0.0.1 port, in a background thread), seeds a synthetic directory and an account with demo credits, and
throws all of it away at the end. Server modules are imported inside ``embedded_server`` only, so the client
commands work with just the ``cli`` extra installed; the demo's embedded mode needs the ``server`` extra.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from contactvault.cli.client.common import (
    ApiKeyOpt,
    BaseUrlOpt,
    InsecureOpt,
    JsonOpt,
    connect,
    err,
    handled_errors,
    is_interactive,
    out,
)
from contactvault.cli.client.export import ExportFormat, export_rows, render, write_private
from contactvault.cli.client.render import (
    balance_table,
    estimate_table,
    event_table,
    events_table,
    page_footer,
    people_table,
    plural,
    result_summary,
)
from contactvault.cli.client.unlock import ProgressBar, classify, max_spend, progress_bar, result_json
from contactvault.cli.common import EXIT_FAILED, EXIT_INSUFFICIENT, EXIT_USAGE, emit, fail
from contactvault.client import Client, ContactItem, StateStore, UnlockEstimate, UnlockProgress, UnlockResult

__all__ = ["EmbeddedServer", "demo", "embedded_server"]

DEMO_CREDITS = 100_000
# Titles tried in turn until enough people are picked; None means anyone still locked.
PICK_QUERIES: tuple[str | None, ...] = ("VP", "Director", "Head", None)
STARTUP_TIMEOUT = 30.0
# What embedded mode imports beyond the cli extra.
SERVER_MODULES = ("uvicorn", "fastapi", "sqlalchemy", "pydantic_settings", "cryptography")


@dataclasses.dataclass(frozen=True)
class EmbeddedServer:
    """A running embedded server and the demo account on it."""

    base_url: str
    api_key: str = dataclasses.field(repr=False)
    account_id: int
    people: int
    events: int
    workdir: Path
    # The demo's simulated mail world: what it says, and who (id -> name) only the engine can find.
    world_lines: tuple[str, ...] = ()
    inferred: Mapping[str, str] = dataclasses.field(default_factory=dict)


@contextmanager
def embedded_server(
    *,
    people: int,
    events: int = 5,
    credits: int = DEMO_CREDITS,
    seed: int = 0,
    settings: Mapping[str, Any] | None = None,
    mail_world: bool = False,
) -> Iterator[EmbeddedServer]:
    """Seed a temporary database, serve it with a worker on 127.0.0.1, and remove everything afterwards.

    ``settings`` overrides server settings (e.g. ``{"rate_limit_per_key": 0}`` for benchmarks); ``mail_world``
    starts the demo's simulated mail world and points the engine at it (server/demo/inference.py).
    """
    import uvicorn

    from contactvault.server.api.app import create_app
    from contactvault.server.bootstrap import build_runtime
    from contactvault.server.config import Settings
    from contactvault.server.demo.inference import DemoWorld, open_demo_world
    from contactvault.server.demo.provisioning import provision_account
    from contactvault.server.demo.seeding import seed_directory

    with tempfile.TemporaryDirectory(prefix="contactvault-demo-") as tmp:
        workdir = Path(tmp)
        config = Settings(
            **{
                "database_url": f"sqlite:///{workdir}/demo.db",
                "encryption_key_file": workdir / "keys.json",
                **(settings or {}),
            }
        )
        rt = build_runtime(config)
        world = DemoWorld(None, [], [])
        try:
            seed_directory(rt, people=people, events=events, seed=seed)
            account = provision_account(rt, "demo", credits)
            if mail_world:
                world = open_demo_world(rt, seeded=True)
                rt.settings = rt.settings.model_copy(update=world.settings())
            # Our own socket: the port is ours from bind to shutdown, no race with another process.
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
            server_config = uvicorn.Config(
                create_app(runtime=rt, run_worker=True),
                log_level="warning",
                access_log=False,
                ws="none",
                lifespan="on",
            )
            server = uvicorn.Server(server_config)
            thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="demo-server", daemon=True)
            thread.start()
            try:
                deadline = time.monotonic() + STARTUP_TIMEOUT
                while not server.started:
                    if not thread.is_alive() or time.monotonic() > deadline:
                        raise RuntimeError("the embedded server did not start")
                    time.sleep(0.02)
                yield EmbeddedServer(
                    f"http://127.0.0.1:{port}",
                    account.api_key,
                    account.account_id,
                    people,
                    events,
                    workdir,
                    tuple(world.lines),
                    {str(p.person_id): p.full_name for p in world.planted},
                )
            finally:
                server.should_exit = True
                thread.join(timeout=30)
                sock.close()
        finally:
            world.stop()
            rt.db.dispose()


# Why someone is not picked, in the order the note lists them.
PASSED_OVER = {
    "failed": "whose unlock failed before (it would fail again)",
    "unlocking": "unlocking",
    "unlocked": "already unlocked",
}


@dataclasses.dataclass
class Pick:
    """The people the demo will unlock, the searches that found them, and how many it passed over and why."""

    people: list[ContactItem]
    searches: list[str]
    passed_over: Counter[str]

    def shortfall(self, event_id: str, wanted: int) -> str | None:
        """A note when fewer than ``wanted`` people could be picked, saying who was passed over; else None."""
        if len(self.people) >= wanted:
            return None
        reasons = [f"{self.passed_over[s]:,} {text}" for s, text in PASSED_OVER.items() if self.passed_over[s]]
        found = {0: "Nobody", 1: "Only 1 person"}.get(len(self.people), f"Only {len(self.people)} people")
        found += f" at event {event_id} {'are' if len(self.people) > 1 else 'is'}"
        because = f"; passed over: {', '.join(reasons)}" if reasons else ""
        return f"{found} still locked{because}."


def _featured(client: Client, event_id: str, featured: Mapping[str, str], count: int) -> dict[str, ContactItem]:
    """The featured people (id -> name) at this event who are still locked, found by searching their names."""
    found: dict[str, ContactItem] = {}
    for person_id, name in featured.items():
        if len(found) == count:
            break
        for person in client.personnel.iter(event_id, search_query=name):
            if person.id == person_id and (person.contact_unlock_status or "locked") == "locked":
                found[person_id] = person
                break
    return found


def pick_people(client: Client, event_id: str, count: int, featured: Mapping[str, str] | None = None) -> Pick:
    """Up to ``count`` people likely to deliver: the ``featured`` ones first (those only the engine can find), then
    the best titles.

    Only people still locked for this caller: an earlier failed unlock (no deliverable address, opted out) would
    fail again, and unlocked or unlocking people would be skipped, so the walkthrough would show nothing delivered.
    """
    chosen = _featured(client, event_id, featured or {}, count)
    if len(chosen) == count:
        return Pick(list(chosen.values()), ["featured"], Counter())
    passed: dict[str, str] = {}
    used: list[str] = []
    for query in PICK_QUERIES:
        used.append(f'"{query}"' if query else "anyone")
        for person in client.personnel.iter(event_id, search_query=query):
            status = person.contact_unlock_status or "locked"
            if status != "locked":
                passed[person.id] = status
            elif person.id not in chosen:
                chosen[person.id] = person
                if len(chosen) == count:
                    return Pick(list(chosen.values()), used, Counter(passed.values()))
    return Pick(list(chosen.values()), used, Counter(passed.values()))


@dataclasses.dataclass
class Walkthrough:
    """One run of the demo against one server."""

    client: Client
    console: Console
    quiet: bool
    auto_confirm: bool
    confirm_note: str
    state_file: Path
    export_file: Path
    pick: int
    refused: tuple[str, int] | None = None
    unlocking: bool = False
    featured: Mapping[str, str] = dataclasses.field(default_factory=dict)  # id -> name, found only by inference

    def step(self, title: str) -> None:
        """A numbered section heading."""
        if not self.quiet:
            self.console.rule(f"[bold]{title}", align="left")

    def show(self, *renderables: Any) -> None:
        """Print unless --json."""
        if not self.quiet:
            for renderable in renderables:
                self.console.print(renderable)

    def confirm(self, estimate: UnlockEstimate) -> bool:
        """Show the estimate and confirm it: automatically in embedded mode or with --yes-all, else ask."""
        self.show(estimate_table(estimate))
        question = f"Unlock {plural(estimate.count, 'email')} for up to {plural(max_spend(estimate), 'credit')}? [y/N]:"
        if not estimate.is_affordable:
            self.refused = ("the balance does not cover the estimate", EXIT_INSUFFICIENT)
            return False
        if self.auto_confirm:
            self.show(f"{escape(question)} [bold green]y[/] [dim]({self.confirm_note})[/]")
            return True
        if not is_interactive():
            self.refused = ("no terminal to confirm on: pass --yes-all to spend real credits", EXIT_USAGE)
            return False
        if typer.confirm(question.removesuffix(" [y/N]:"), default=False, err=True):
            return True
        self.refused = ("declined, nothing was spent", EXIT_FAILED)
        return False

    def progress(self, event: UnlockProgress, bar: ProgressBar) -> None:
        """Open the unlock step at the first submission, then feed the progress bar."""
        if event.stage == "submitted" and not self.unlocking:
            self.unlocking = True
            self.step("6. Unlock")
        bar(event)

    def run(self) -> dict[str, Any]:
        """Credits, event, people, pick, estimate, confirm, unlock, results, export."""
        client = self.client
        self.step("1. Your credits")
        self.show(balance_table(client.credits.balance()))

        self.step("2. Find an event")
        events = client.events.list(page_size=10)
        if not events.items:
            fail("the server has no events", EXIT_FAILED)
        details = [client.events.get(item.id) for item in events.items[:5]]
        event = max(details, key=lambda d: d.personnel_count or 0)
        self.show(events_table(events.items), f"Picked the event with the most people: {event.name} ({event.id})")
        self.show(event_table(event))

        self.step("3. People at the event")
        people = client.personnel.list(event.id, page_size=10)
        self.show(people_table(people.items, title=f"People at {event.name}"), page_footer(people, "person"))

        self.step(f"4. Pick {plural(self.pick, 'person')} by title")
        pick = pick_people(client, event.id, self.pick, self.featured)
        chosen, note = pick.people, pick.shortfall(event.id, self.pick)
        if not chosen:
            fail(f"{note} Nothing was spent: try another server or account.", EXIT_FAILED)
        self.show(people_table(chosen, title=f"Picked {len(chosen)} (searched {', then '.join(pick.searches)})"))
        if note:
            self.show(note)

        self.step("5. Estimate and confirm")
        with progress_bar(self.console, enabled=not self.quiet) as bar:
            result = client.unlock_emails(
                event.id,
                [p.id for p in chosen],
                confirm=self.confirm,
                state_file=self.state_file,
                on_progress=lambda p: self.progress(p, bar),
            )
        if result.is_cancelled:
            message, code = self.refused or ("cancelled", EXIT_FAILED)
            fail(f"not unlocking: {message}", code)

        self.step("7. Results and reconciliation")
        # The demo's state file is temporary (embedded) or its own: `contactvault export` would not find these.
        self.show(result_summary(result, more="all are in the CSV export of step 8"))
        inferred = [c.personnel_id for c in result.delivered if c.personnel_id in self.featured]
        if inferred:
            names = ", ".join(f"{self.featured[i]} ({i})" for i in inferred)
            self.show(f"Found by inference (not in the vault; pattern + SMTP verification): {names}")

        self.step("8. Export")
        lines = self.export(result)
        self.show(f"Wrote {plural(len(lines) - 1, 'contact')} to [bold]{self.export_file}[/] (mode 600). First lines:")
        if not self.quiet:
            for line in lines[:6]:
                self.console.print(f"  {line}", markup=False, soft_wrap=True)
        return {
            "eventId": event.id,
            "picked": [p.id for p in chosen],
            "result": result_json(result, classify([result])),
            "inferred": inferred,
            "exportFile": str(self.export_file),
        }

    def export(self, result: UnlockResult) -> list[str]:
        """Write the run's delivered contacts as CSV; return its lines."""
        with StateStore(self.state_file) as store:
            contacts = store.delivered_contacts(run_id=result.run_id, channel="email")
        text = render(export_rows(contacts, "email"), "email", ExportFormat.CSV)
        write_private(self.export_file, text)
        return text.splitlines()


def missing_server_dependency() -> str | None:
    """The first package of the ``server`` extra that is not installed, if any."""
    for module in SERVER_MODULES:
        if importlib.util.find_spec(module) is None:
            return module
    return None


def _export_file() -> Path:
    # mkstemp creates the file with mode 0600; it outlives the demo so that it can be opened afterwards.
    handle, name = tempfile.mkstemp(prefix="contactvault-demo-", suffix=".csv")
    os.close(handle)
    return Path(name)


def demo(
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    insecure: InsecureOpt = False,
    people: Annotated[int, typer.Option("--people", min=30, max=200_000, help="People to seed (embedded).")] = 2000,
    events: Annotated[int, typer.Option("--events", min=1, max=100, help="Events to seed (embedded).")] = 5,
    pick: Annotated[int, typer.Option("--pick", min=1, max=100, help="How many people to unlock.")] = 25,
    yes_all: Annotated[
        bool,
        typer.Option("--yes-all", "--yes", "-y", help="Answer yes to every question (to spend real credits unasked)."),
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Walk the whole workflow: find an event, pick people, estimate, unlock, reconcile, export to CSV.

    Without --base-url: an embedded server on a temporary SQLite database, demo credits, automatic confirmation.

    With --base-url: that server and your key; it spends real credits and asks first unless --yes-all.
    """
    console = err() if json_output else out()
    missing = missing_server_dependency() if base_url is None else None
    if missing is not None:
        fail(
            f"the embedded demo needs the server extra ({missing} is not installed): "
            "pip install 'contactvault[server]', or pass --base-url",
            EXIT_FAILED,
        )
    export_file = _export_file()
    with handled_errors(base_url):
        if base_url is None:
            if not json_output:
                console.print(
                    f"Starting an embedded server with {people:,} synthetic people at {plural(events, 'event')}..."
                )
            with embedded_server(people=people, events=events, mail_world=True) as server:
                if not json_output:
                    for line in server.world_lines:
                        console.print(line, markup=False, soft_wrap=True)
                    console.print(
                        f"Serving on {server.base_url}; demo account {server.account_id} with "
                        f"{DEMO_CREDITS:,} credits (all thrown away at the end)."
                    )
                with connect(server.base_url, server.api_key) as client:
                    walk = Walkthrough(
                        client,
                        console,
                        json_output,
                        True,
                        "auto-confirmed: demo credits",
                        server.workdir / "state.db",
                        export_file,
                        pick,
                        featured=server.inferred,
                    )
                    summary = walk.run()
                summary["baseUrl"] = server.base_url
        else:
            state_file = Path(tempfile.mkdtemp(prefix="contactvault-demo-")) / "state.db"
            with connect(base_url, api_key, insecure=insecure) as client:
                walk = Walkthrough(client, console, json_output, yes_all, "--yes-all", state_file, export_file, pick)
                summary = walk.run()
                summary["baseUrl"] = client.base_url
            summary["stateFile"] = str(state_file)
            if not json_output:
                console.print(f"This run's state file: {state_file} (for `contactvault tasks list --state-file ...`).")
    if json_output:
        emit(summary)
    else:
        console.print("Done.", style="bold green")
