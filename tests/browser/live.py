"""The browser tests' live server: the real app on a temporary SQLite file, served by uvicorn in a daemon thread on
127.0.0.1, with a small seeded catalogue and an unlock worker that runs only when a test tells it to.

SQLite only: the browser tests check what a person sees and does in the console; the storage layer under it is
tested on SQLite and PostgreSQL by the tests below the browser (tests/console, tests/api, tests/integration).
A PostgreSQL run here would repeat those checks at browser speed and tie the browser job to a database server.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import uvicorn
from sqlalchemy import insert, update

from contactvault.server.api.app import create_app
from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.db.tables import contact_points, event_personnel, events, personnel
from contactvault.server.demo.names import FIRST_NAMES, LAST_NAMES
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import unlocks
from contactvault.server.worker.runner import Worker
from tests.factories import BIG_EVENT, Account, email_of, make_account, make_directory

THIRD_EVENT = 300
PEOPLE = 250
# Person ids with a role in the flows. The rest are ordinary people with a work email.
FORMULA_PERSON = 7  # a name starting with "=": a CSV export must not let a spreadsheet run it
MISSING_EMAIL = 10  # no email anywhere: unlocking them fails, uncharged
ALREADY_UNLOCKED = (2, 4, 6)  # unlocked by the account before the test: free to unlock again
FORMULA_NAME = "=Robin Formula"
START_CREDITS = 10_000
EMAIL_PRICE = 15
START_BALANCE = START_CREDITS - EMAIL_PRICE * len(ALREADY_UNLOCKED)
# Small batches, so that one worker step moves a task part of the way (a "running" state a test can see).
WORKER_BATCH = 10
DEADLINE_SECONDS = 20.0
GRACE_SECONDS = 3


def person_name(pid: int) -> str:
    """The seeded full name of person ``pid`` (stable: tests look people up by it)."""
    if pid == FORMULA_PERSON:
        return FORMULA_NAME
    return f"{FIRST_NAMES[(pid * 7) % len(FIRST_NAMES)]} {LAST_NAMES[(pid * 13) % len(LAST_NAMES)]}"


def seed_catalogue(rt: Runtime) -> Account:
    """Three events (250 people at the first), readable names, every email but one; an account with credits that
    has already unlocked a few people. Returns the account."""
    make_directory(rt, people=PEOPLE)
    with rt.db.write() as conn:
        conn.execute(
            insert(events).values(
                id=THIRD_EVENT,
                name="Nordic SaaS Forum",
                date_start=date(2026, 10, 13),
                date_end=date(2026, 10, 14),
                city="Stockholm",
                country="Sweden",
                exhibitor_count=1,
                personnel_count=20,
            )
        )
        conn.execute(
            insert(event_personnel),
            [
                {"event_id": THIRD_EVENT, "personnel_id": pid, "source_types": "exhibitor", "exhibitor_id": 1}
                for pid in range(11, 31)
            ],
        )
        for pid in range(1, PEOPLE + 1):
            conn.execute(update(personnel).where(personnel.c.id == pid).values(full_name=person_name(pid)))
        # make_directory leaves every 10th person without an email; here only one is left so.
        conn.execute(
            insert(contact_points),
            [
                {
                    "personnel_id": pid,
                    "channel": "email",
                    "value_encrypted": rt.cipher.seal(email_of(pid)),
                    "value_hash": rt.cipher.lookup_hash("email", email_of(pid)),
                    "source": "vault",
                    "verification_status": "valid",
                    "verification_score": 95,
                }
                for pid in range(20, PEOPLE + 1, 10)
            ],
        )
    account = make_account(rt, credit=START_CREDITS, name="Acme Sales")
    unlocks.submit(
        rt,
        unlocks.UnlockRequest(
            account_id=account.id,
            channel=Channel.EMAIL,
            event_id=str(BIG_EVENT),
            personnel_ids=[str(p) for p in ALREADY_UNLOCKED],
            max_credits=None,
        ),
    )
    work = WorkerControl(rt)
    try:
        work.finish()
    finally:
        work.close()
    return account


class WorkerControl:
    """The unlock worker, run only when a test asks: ``step`` settles one small batch (so a test can see a task
    part-way), ``finish`` runs until nothing is due.

    The worker runs its resolvers on an asyncio loop of its own, and Playwright's sync API keeps a loop running in
    the test's thread, so the worker lives on a thread of its own; each call waits for it to return.
    """

    def __init__(self, rt: Runtime) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="browser-worker")
        self.worker = self._thread.submit(Worker, rt, worker_id="browser-tests").result()

    def step(self) -> int:
        """Claim and settle one batch (at most ``WORKER_BATCH`` items); returns how many it claimed."""
        return self._thread.submit(self.worker.step).result(timeout=DEADLINE_SECONDS)

    def finish(self, deadline_seconds: float = DEADLINE_SECONDS) -> int:
        """Run until no item is due; fails if work is still due at the deadline."""
        deadline = time.monotonic() + deadline_seconds
        total = 0
        while (claimed := self.step()) > 0:
            total += claimed
            if time.monotonic() > deadline:
                raise AssertionError(f"the worker still had work after {deadline_seconds} s")
        return total

    def close(self) -> None:
        """Release the worker's event loop and its thread."""
        self._thread.submit(self.worker.close).result(timeout=DEADLINE_SECONDS)
        self._thread.shutdown()


@dataclass(frozen=True)
class LiveServer:
    """A running console: its origin, the runtime under it (tests may read the database), the seeded account,
    and the worker under the test's control."""

    url: str
    rt: Runtime
    account: Account
    work: WorkerControl
    new_account: Callable[[int], Account]

    def at(self, path: str) -> str:
        """An absolute URL on this server."""
        return self.url + path


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def live_server(tmp: Path) -> Iterator[LiveServer]:
    """Build, seed and serve the app; stop it and release the database afterwards."""
    settings = Settings(
        database_url=f"sqlite:///{tmp}/console.db",
        encryption_key_file=tmp / "keys.json",
        worker_batch_size=WORKER_BATCH,
        # One browser makes many requests a minute (pages, assets, polls): the limits are tested below the browser.
        rate_limit_per_key=0,
        rate_limit_per_ip=0,
    )
    rt = build_runtime(settings)
    account = seed_catalogue(rt)
    app = create_app(runtime=rt, run_worker=False)
    # A request still open when the module ends is cut off after a few seconds, not waited for.
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", ws="none", timeout_graceful_shutdown=GRACE_SECONDS
    )
    server = uvicorn.Server(config)
    sock = _free_socket()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="browser-live-server", daemon=True)
    thread.start()
    work = WorkerControl(rt)
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)  # polling uvicorn's start flag (it has no event to wait on), with a deadline
        host, port = sock.getsockname()
        yield LiveServer(
            url=f"http://{host}:{port}",
            rt=rt,
            account=account,
            work=work,
            new_account=lambda credit: make_account(rt, credit=credit, name=f"Account {credit}"),
        )
    finally:
        try:
            work.finish()  # what tests left running ends, and so do the pages' progress long-polls
        finally:
            server.should_exit = True
            thread.join(timeout=DEADLINE_SECONDS)
            sock.close()
            work.close()
            rt.db.dispose()
