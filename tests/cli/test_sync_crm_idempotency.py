"""Idempotency of the Salesforce and Pipedrive adapters as a property: any sequence of syncs, some cut off by a lost
connection right after the CRM committed a write, ends with one record per person, and a final rerun writes nothing.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from contactvault.cli.client.sync import engine
from contactvault.cli.client.sync.checkpoint import Checkpoint
from contactvault.cli.client.sync.engine import Target
from contactvault.cli.client.sync.pipedrive import PipedriveTarget
from contactvault.cli.client.sync.plan import Contact, FieldMap
from contactvault.cli.client.sync.salesforce import SalesforceSession, SalesforceTarget

from . import pipedrive_fake, salesforce_fake


def runs_of_up_to(n: int) -> st.SearchStrategy[list[tuple[int, bool]]]:
    """Runs: how many people each syncs (across a batch boundary), and whether its connection drops after a write."""
    return st.lists(st.tuples(st.integers(1, n), st.booleans()), min_size=1, max_size=4)


def people(n: int) -> list[Contact]:
    """The first ``n`` of one fixed population, oldest first."""
    return [Contact(str(i), {"email": f"p{i}@example.com", "contactvault_id": str(i)}, f"{i:04}") for i in range(n)]


@contextmanager
def salesforce(point: Checkpoint) -> Iterator[tuple[Any, Target, Callable[[], list[str]]]]:
    """The Salesforce fake, an adapter on it, and the contactvault ids of its records."""
    with salesforce_fake.serve() as fake, httpx.Client(base_url=fake.url) as http:
        session = SalesforceSession(http, salesforce_fake.CLIENT_ID, salesforce_fake.CLIENT_SECRET)
        yield fake, SalesforceTarget(session), lambda: [str(r["ContactVault_Id__c"]) for r in fake.of_type("Lead")]


@contextmanager
def pipedrive(point: Checkpoint) -> Iterator[tuple[Any, Target, Callable[[], list[str]]]]:
    """The Pipedrive fake, an adapter on it, and the contactvault ids of its persons."""
    with (
        pipedrive_fake.serve() as fake,
        httpx.Client(base_url=fake.url, headers={"x-api-token": pipedrive_fake.TOKEN}) as http,
    ):
        ids = lambda: [str(fake.custom(p, "contactvault_id")) for p in fake.persons.values()]  # noqa: E731
        fake.budget = 10**9  # the daily token budget is not what this test is about
        yield fake, PipedriveTarget(http, point, sleep=lambda _: None), ids


Crm = Callable[[Checkpoint], AbstractContextManager[tuple[Any, Target, Callable[[], list[str]]]]]


@settings(max_examples=8, deadline=None)
@given(runs=runs_of_up_to(230))
def test_salesforce_crashes_and_reruns_leave_one_record_per_person(runs: list[tuple[int, bool]]) -> None:
    check(salesforce, runs)


@settings(max_examples=8, deadline=None)
@given(runs=runs_of_up_to(120))
def test_pipedrive_crashes_and_reruns_leave_one_record_per_person(runs: list[tuple[int, bool]]) -> None:
    check(pipedrive, runs)


def check(crm: Crm, runs: list[tuple[int, bool]]) -> None:
    """Run the syncs, then one clean sync of everyone, then assert one record per person and a write-free rerun."""
    with tempfile.TemporaryDirectory() as tmp:
        point = Checkpoint(Path(tmp) / "cp.json")
        with crm(point) as (fake, target, owners):
            for n, crash in runs:
                fake.drop_after_commit = crash
                with contextlib.suppress(httpx.HTTPError):  # the write landed; the next run must find it
                    engine.run(people(n), target, FieldMap.default(), point, dry_run=False)
            fake.drop_after_commit = False
            widest = max(n for n, _ in runs)
            engine.run(people(widest), target, FieldMap.default(), point, dry_run=False)
            writes = len(fake.writes())
            final = engine.run(people(widest), target, FieldMap.default(), point, dry_run=False)
            assert sorted(owners(), key=int) == [str(i) for i in range(widest)]
            assert final.counts()["skip"] == widest
            assert len(fake.writes()) == writes
