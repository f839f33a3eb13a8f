"""Sync benchmark (issue 14): contacts/s into each ``contactvault sync`` target and API calls per 1,000 contacts.

For every target: a **first sync** of N delivered contacts into an empty target, then an **unchanged re-sync** of
the same N (a new target object, the same checkpoint: everything must come back ``skip``). Each target runs with
its own batch limits (HubSpot 100, Salesforce 200, Pipedrive 100, CardDAV 100, webhook 100, files 500) and its
real adapter code (``engine.run`` with the target class ``contactvault sync --to`` builds).

The engine is fed directly with the contacts, not read from a server: the source (paging
``GET /external/contacts/unlocked`` and the erased list) is the same for every target and is measured with the
server's benchmarks; feeding the engine isolates what differs between targets (reading the target, planning,
writing). The contacts are built by ``source.contacts_from`` from ``UnlockedContact`` objects shaped as the server
sends them, so they carry exactly the fields a real sync writes.

HTTP targets talk to loopback servers started by the bench: the webhook to a receiver that verifies every
signature (Standard Webhooks, ``verify_webhook``); HubSpot, Salesforce (Leads) and Pipedrive to the contract fakes of
the tests (``tests/cli/*_fake.py``: they validate every request and enforce the vendors' limits; plain Python with
no pytest; Pipedrive's burst window and daily budget are off here, so the adapter never waits); CardDAV to a real
Radicale (``tests/cli/radicale_server.py``, imported only when CardDAV is benched). API calls are counted on the wire
(an httpx request hook), retries and bisection included, and by kind (method and path, ids as ``{id}``); file
targets make no API calls, their "calls" are file rewrites.

Adding a target is one ``TargetSpec`` in ``SPECS``: a name and a context manager that starts its fake (or
nothing) and yields a builder ``(checkpoint, http_factory, workdir) -> Target``.

Run: ``python -m bench sync`` (N = 5,000, or ``$BENCH_SYNC_CONTACTS``), ``python -m bench.sync --quick`` (N = 300)
or ``python -m bench.sync --contacts N --targets csv,hubspot``. Writes bench/results/sync.json.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import json
import os
import platform
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from tests.cli import hubspot_fake, pipedrive_fake, salesforce_fake

from contactvault.cli.client.sync import engine, source
from contactvault.cli.client.sync.carddav import CardDAVTarget
from contactvault.cli.client.sync.checkpoint import Checkpoint
from contactvault.cli.client.sync.engine import Target
from contactvault.cli.client.sync.hubspot import HubSpotTarget
from contactvault.cli.client.sync.pipedrive import PipedriveTarget
from contactvault.cli.client.sync.plan import Contact, FieldMap
from contactvault.cli.client.sync.salesforce import SalesforceSession, SalesforceTarget
from contactvault.cli.client.sync.targets import FileTarget, WebhookTarget
from contactvault.client import UnlockedContact, Verification
from contactvault.webhooks import WebhookVerificationError, generate_secret, verify_webhook

ORDER = 140  # after the other client-side benchmarks, in issue order
RESULTS = Path(__file__).parent / "results"
DEFAULT_CONTACTS = 5_000
QUICK_CONTACTS = 300
TIMEOUT = 15.0  # as ``contactvault sync``
ID_IN_PATH = re.compile(r"\d{3,}")  # not the API version (v62.0)

HttpFactory = Callable[..., httpx.Client]
Builder = Callable[[Checkpoint, HttpFactory, Path], Target]


@dataclasses.dataclass(frozen=True)
class TargetSpec:
    """How to bench one target: ``start`` runs its fake or server (if any) and yields a target builder."""

    name: str
    start: Callable[[], contextlib.AbstractContextManager[Builder]]


@contextlib.contextmanager
def _files(fmt: str) -> Iterator[Builder]:
    yield lambda point, http, workdir: FileTarget(workdir / f"contacts.{fmt}", fmt)


class Receiver:
    """A loopback webhook receiver that verifies every delivery's signature; counts records and refusals."""

    def __init__(self, secret: str) -> None:
        self.secret, self.records, self.refused, self.url = secret, 0, 0, ""
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        """The request handler class bound to this receiver."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                try:
                    verify_webhook(body, dict(self.headers.items()), [receiver.secret])
                    records = len(json.loads(body)["data"]["records"])
                except (WebhookVerificationError, ValueError, KeyError):
                    with receiver.lock:
                        receiver.refused += 1
                    self.send_response(400)
                else:
                    with receiver.lock:
                        receiver.records += records
                    self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

        return Handler


@contextlib.contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def _webhook() -> Iterator[Builder]:
    receiver = Receiver(generate_secret())
    with _serving(receiver.handler()) as url:
        yield lambda point, http, workdir: WebhookTarget(f"{url}/hooks", receiver.secret, point, http())
    if receiver.refused:
        raise RuntimeError(f"the receiver refused {receiver.refused} delivery(ies): bad signature or body")


@contextlib.contextmanager
def _hubspot() -> Iterator[Builder]:
    with hubspot_fake.serve() as fake:
        headers = {"authorization": f"Bearer {hubspot_fake.TOKEN}"}
        yield lambda point, http, workdir: HubSpotTarget(http(base_url=fake.url, headers=headers))


@contextlib.contextmanager
def _salesforce() -> Iterator[Builder]:
    with salesforce_fake.serve() as fake:
        fake.api_limit = 10**9  # the org's daily allocation is not what is measured (calls per 1,000 are)

        def build(point: Checkpoint, http: HttpFactory, workdir: Path) -> Target:
            session = SalesforceSession(
                http(base_url=fake.url), salesforce_fake.CLIENT_ID, salesforce_fake.CLIENT_SECRET
            )
            return SalesforceTarget(session, "Lead")

        yield build


@contextlib.contextmanager
def _pipedrive() -> Iterator[Builder]:
    with pipedrive_fake.serve() as fake:
        # Unpaced: the fake reports a full burst window and an endless daily budget, so the adapter never waits
        # (a real account's 2-s window and token budget bound it far lower: see docs/benchmarks.md).
        fake.remaining, fake.budget = pipedrive_fake.BURST, 10**12
        headers = {"x-api-token": pipedrive_fake.TOKEN}
        yield lambda point, http, workdir: PipedriveTarget(http(base_url=fake.url, headers=headers), point)


@contextlib.contextmanager
def _carddav() -> Iterator[Builder]:
    from tests.cli import radicale_server  # Radicale is a dev dependency: imported only when CardDAV is benched

    with tempfile.TemporaryDirectory() as folder, radicale_server.serve(Path(folder)) as server:
        book = server.make_book()
        auth = (radicale_server.USER, radicale_server.PASSWORD)
        yield lambda point, http, workdir: CardDAVTarget(http(auth=auth), book, point)


SPECS: dict[str, TargetSpec] = {
    spec.name: spec
    for spec in (
        TargetSpec("csv", lambda: _files("csv")),
        TargetSpec("jsonl", lambda: _files("jsonl")),
        TargetSpec("webhook", _webhook),
        TargetSpec("hubspot", _hubspot),
        TargetSpec("salesforce", _salesforce),
        TargetSpec("pipedrive", _pipedrive),
        TargetSpec("carddav", _carddav),
    )
}


def contacts(n: int) -> list[Contact]:
    """``n`` delivered people as the sync source gives them: every one an email, every third a phone too."""
    unlocked = []
    for i in range(n):
        at = f"2026-11-{1 + i // 100_000:02d}T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z"
        verification = Verification(status="valid", score=80 + i % 20)
        unlocked.append(
            UnlockedContact(
                personnel_id=100_000 + i,
                channel="email",
                value=f"person{i}@company{i % 997}.example",
                verification=verification,
                unlocked_at=at,
            )
        )
        if i % 3 == 0:
            unlocked.append(
                UnlockedContact(personnel_id=100_000 + i, channel="phone", value=f"+1555{i:07d}", unlocked_at=at)
            )
    return source.contacts_from(unlocked, [])


def call_kind(request: httpx.Request) -> str:
    """The method and path of a request, record ids and card numbers as ``{id}`` (``PATCH /api/v2/persons/{id}``)."""
    return f"{request.method} {ID_IN_PATH.sub('{id}', request.url.path)}"


def run_phase(builder: Builder, items: Sequence[Contact], point: Checkpoint, workdir: Path) -> dict[str, Any]:
    """One sync of ``items`` through a freshly built target: time, calls on the wire, decisions."""
    kinds: collections.Counter[str] = collections.Counter()

    def count(request: httpx.Request) -> None:
        kinds[call_kind(request)] += 1

    with contextlib.ExitStack() as clients:

        def http(**kwargs: Any) -> httpx.Client:
            hooks = {"request": [count]}
            return clients.enter_context(
                httpx.Client(timeout=TIMEOUT, follow_redirects=False, event_hooks=hooks, **kwargs)
            )

        started = time.perf_counter()
        target = builder(point, http, workdir)
        report = engine.run(items, target, FieldMap.default(), point, dry_run=False)
        seconds = time.perf_counter() - started
    if report.failed:
        raise RuntimeError(f"{len(report.failed)} record(s) refused by the target")
    requests = sum(kinds.values())
    calls = requests if requests else len(report.calls)  # file targets: their rewrites
    return {
        "contacts": len(items),
        "seconds": round(seconds, 3),
        "contacts_per_s": round(len(items) / seconds) if seconds else None,
        "calls": calls,
        "calls_kind": "http requests" if requests else "file rewrites",
        "calls_by_kind": dict(sorted(kinds.items())),
        "calls_per_1000": round(calls * 1000 / len(items), 1),
        "batch_size": target.batch_size,
        "counts": report.counts(),
    }


def measure(spec: TargetSpec, items: Sequence[Contact]) -> dict[str, Any]:
    """A first sync into an empty target, then an unchanged re-sync of the same contacts (all skipped)."""
    with tempfile.TemporaryDirectory() as tmp, spec.start() as builder:
        workdir = Path(tmp)
        point = Checkpoint(workdir / f"sync-{spec.name}.json")
        first = run_phase(builder, items, point, workdir)
        point.since = None  # the re-sync reads everything again, as ``--since 1970-01-01T00:00:00Z`` would
        again = run_phase(builder, items, point, workdir)
    if first["counts"]["create"] != len(items) or again["counts"]["skip"] != len(items):
        raise RuntimeError(f"{spec.name}: expected {len(items)} creates then as many skips: {first}, {again}")
    return {"first_sync": first, "unchanged_resync": again}


def table(results: dict[str, Any]) -> str:
    """One row per target: first sync and unchanged re-sync side by side, as a Markdown table."""
    lines = [
        "| target | batch | first sync contacts/s | calls per 1,000 | unchanged re-sync contacts/s | calls per 1,000 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in results["targets"].items():
        first, again = row["first_sync"], row["unchanged_resync"]
        unit = "" if first["calls_kind"] == "http requests" else " (file rewrites)"
        lines.append(
            f"| {name} | {first['batch_size']} | {first['contacts_per_s']:,} | {first['calls_per_1000']}{unit} "
            f"| {again['contacts_per_s']:,} | {again['calls_per_1000']}{unit} |"
        )
    return "\n".join(lines)


def run(n: int, names: Sequence[str], out: Path | None) -> dict[str, Any]:
    """Bench the named targets on ``n`` contacts; print the table; write ``out`` (JSON) when given."""
    items = contacts(n)
    results: dict[str, Any] = {"contacts": n, "targets": {}}
    for name in names:
        print(f"sync of {n:,} contacts to {name}...", flush=True)
        results["targets"][name] = measure(SPECS[name], items)
    results.update({"python": sys.version.split()[0], "platform": platform.platform()})
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    return results


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m bench sync`` (options from the environment) or ``python -m bench.sync [--quick] ...``."""
    parser = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=int(os.environ.get("BENCH_SYNC_CONTACTS", DEFAULT_CONTACTS)))
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CONTACTS} contacts")
    parser.add_argument("--targets", default=",".join(SPECS), help=f"comma-separated, of: {', '.join(SPECS)}")
    args = parser.parse_args([] if argv is None else list(argv))
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        parser.error(f"--targets: unknown target(s) {', '.join(unknown)}; known: {', '.join(SPECS)}")
    n = QUICK_CONTACTS if args.quick else args.contacts
    if n < 1:
        parser.error("--contacts: must be at least 1")
    run(n, names, RESULTS / "sync.json")


if __name__ == "__main__":
    main(sys.argv[1:])
