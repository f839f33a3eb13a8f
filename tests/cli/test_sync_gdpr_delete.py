"""``contactvault sync --erasures --erasure-action gdpr-delete``: HubSpot's permanent delete, by the record id this
tool created, one call per record, against the HubSpot contract fake (tests/cli/hubspot_fake.py) on loopback."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contactvault.cli.client.sync.checkpoint import Checkpoint
from contactvault.server.services import erasure
from tests.factories import email_of

from . import hubspot_fake
from .conftest import CLI, LiveServer
from .sync_helpers import doc_commands, retry_waits, sync

GDPR = ("--erasures", "--erasure-action", "gdpr-delete")
# Erasure is for good on the session's one server: each test takes three people no other test unlocks.
PEOPLE = iter(
    [
        (211, 212, 213),
        (214, 215, 216),
        (217, 218, 219),
        (221, 222, 223),
        (224, 225, 226),
        (227, 228, 229),
        (231, 232, 233),
    ]
)


@dataclasses.dataclass(frozen=True)
class Synced:
    """The CLI after the sync: ``a`` and ``b`` created by it, ``theirs`` held by HubSpot before; all three erased."""

    cli: CLI
    a: str
    theirs: str
    b: str


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[hubspot_fake.HubSpotFake]:
    """The fake, with its token in the environment."""
    monkeypatch.setenv("HUBSPOT_TOKEN", hubspot_fake.TOKEN)
    with hubspot_fake.serve() as running:
        yield running


@pytest.fixture
def synced(connected: CLI, live: LiveServer, fake: hubspot_fake.HubSpotFake, tmp_path: Path) -> Synced:
    """Three people synced into the fake (one of them was there before, so updated, not created), then erased."""
    a, theirs, b = next(PEOPLE)
    connected.json("unlock", "--event", "100", "--ids", f"{a},{theirs},{b}", "--yes")
    fake.records["55"] = {"email": email_of(theirs), "jobtitle": "theirs"}
    sync(connected, tmp_path / "cp.json", "--to", "hubspot", "--url", fake.url)
    for pid in (a, theirs, b):
        erasure.erase_person(live.rt, pid)
    return Synced(connected, str(a), str(theirs), str(b))


def created(point: Path) -> dict[str, str]:
    """Personnel id → HubSpot record id, as the checkpoint holds them."""
    return Checkpoint.load(point).created


def gdpr_bodies(fake: hubspot_fake.HubSpotFake) -> list[object]:
    """The bodies of the gdpr-delete requests the fake received."""
    return [body for op, body in fake.requests if op == "gdpr-delete"]


def test_gdpr_delete_removes_only_created_records_by_record_id(
    synced: Synced, fake: hubspot_fake.HubSpotFake, tmp_path: Path
) -> None:
    point = tmp_path / "cp.json"
    mine = created(point)
    assert sorted(mine) == [synced.a, synced.b]
    planned = sync(synced.cli, point, "--to", "hubspot", "--url", fake.url, *GDPR, "--dry-run")
    assert planned["calls"] == [
        f"POST /crm/v3/objects/contacts/gdpr-delete (objectId {mine[pid]})" for pid in (synced.a, synced.b)
    ]
    assert gdpr_bodies(fake) == []
    assert created(point) == mine  # a dry run forgets nothing

    done = sync(synced.cli, point, "--to", "hubspot", "--url", fake.url, *GDPR)
    assert done["calls"] == planned["calls"]
    assert gdpr_bodies(fake) == [{"objectId": mine[synced.a]}, {"objectId": mine[synced.b]}]  # never by email
    assert mine[synced.a] not in fake.records
    assert mine[synced.b] not in fake.records
    assert fake.records["55"]["email"] == email_of(int(synced.theirs))  # not ours: untouched
    assert fake.blocklist == set()
    assert created(point) == {}
    assert email_of(int(synced.a)) not in str(done)


def test_a_record_already_gone_is_dropped_from_the_ledger(
    synced: Synced, fake: hubspot_fake.HubSpotFake, tmp_path: Path
) -> None:
    point = tmp_path / "cp.json"
    mine = created(point)
    del fake.records[mine[synced.a]]  # deleted in HubSpot by hand
    done = sync(synced.cli, point, "--to", "hubspot", "--url", fake.url, *GDPR)
    assert fake.statuses[-2:] == [404, 204]
    assert done["calls"][0] == f"POST /crm/v3/objects/contacts/gdpr-delete (objectId {mine[synced.a]}): already gone"
    assert created(point) == {}
    assert mine[synced.b] not in fake.records


def test_a_connection_lost_after_a_delete_then_a_rerun_finishes(
    synced: Synced, fake: hubspot_fake.HubSpotFake, tmp_path: Path
) -> None:
    point = tmp_path / "cp.json"
    mine = created(point)
    fake.drop_after_commit = True  # the first gdpr-delete lands, its answer is lost
    lost = synced.cli("sync", "--to", "hubspot", "--url", fake.url, *GDPR, "--checkpoint", str(point))
    assert lost.exit_code == 1
    assert "rerun" in lost.stderr
    assert mine[synced.a] not in fake.records
    assert created(point) == mine
    sync(synced.cli, point, "--to", "hubspot", "--url", fake.url, *GDPR)
    assert gdpr_bodies(fake) == [
        {"objectId": mine[synced.a]},
        {"objectId": mine[synced.a]},
        {"objectId": mine[synced.b]},
    ]
    assert created(point) == {}
    assert list(fake.records) == ["55"]  # theirs only


def test_a_failed_delete_keeps_the_rest_in_the_ledger(
    synced: Synced, fake: hubspot_fake.HubSpotFake, tmp_path: Path
) -> None:
    point = tmp_path / "cp.json"
    mine = created(point)
    fake.failing_ids = {mine[synced.b]}  # HubSpot errs on this one
    failed = synced.cli("sync", "--to", "hubspot", "--url", fake.url, *GDPR, "--checkpoint", str(point))
    assert failed.exit_code == 1
    assert "HubSpot answered 500" in failed.stderr
    assert mine[synced.a] not in fake.records
    assert mine[synced.b] in fake.records
    assert created(point) == {synced.b: mine[synced.b]}  # a is gone for good; b is retried by the next run


def test_429_waits_for_retry_after(synced: Synced, fake: hubspot_fake.HubSpotFake, tmp_path: Path) -> None:
    point = tmp_path / "cp.json"
    fake.rate_limit_next = 1
    with retry_waits() as waits:
        sync(synced.cli, point, "--to", "hubspot", "--url", fake.url, *GDPR)
    assert waits == [1.0]
    assert fake.statuses[-3:] == [429, 204, 204]
    assert created(point) == {}


def test_the_docs_gdpr_delete_examples_run_against_the_fake(
    synced: Synced, fake: hubspot_fake.HubSpotFake, tmp_path: Path
) -> None:
    point = tmp_path / "cp.json"
    mine = created(point)
    commands = [c for c in doc_commands("hubspot", {}) if "gdpr-delete" in c]
    assert len(commands) == 2
    planned, done = (synced.cli(*c, "--url", fake.url, "--checkpoint", str(point)) for c in commands)
    assert [planned.exit_code, done.exit_code] == [0, 0], [planned.stderr, done.stderr]
    assert f"POST /crm/v3/objects/contacts/gdpr-delete (objectId {mine[synced.a]})" in planned.stdout
    assert gdpr_bodies(fake) == [{"objectId": mine[synced.a]}, {"objectId": mine[synced.b]}]
    assert created(point) == {}


@pytest.mark.parametrize(
    "body",
    [{}, {"objectId": 5}, {"objectId": "1", "idProperty": "firstname"}, {"objectId": "1", "extra": "x"}],
    ids=["no-objectId", "objectId-not-a-string", "idProperty-not-unique", "unknown-key"],
)
def test_the_fake_refuses_a_malformed_gdpr_delete(fake: hubspot_fake.HubSpotFake, body: dict[str, object]) -> None:
    fake.records["7"] = {"email": "a@example.com"}
    headers = {"authorization": f"Bearer {hubspot_fake.TOKEN}"}
    response = httpx.post(fake.url + hubspot_fake.GDPR_DELETE, json=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert "7" in fake.records


def test_the_fake_blocklists_an_email_it_does_not_hold(fake: hubspot_fake.HubSpotFake) -> None:
    headers = {"authorization": f"Bearer {hubspot_fake.TOKEN}"}
    body = {"objectId": "nobody@example.com", "idProperty": "email"}
    response = httpx.post(fake.url + hubspot_fake.GDPR_DELETE, json=body, headers=headers)
    assert response.status_code == 204
    assert fake.blocklist == {"nobody@example.com"}


@pytest.mark.parametrize(
    "target",
    [
        ["--to", "salesforce", "--url", "http://127.0.0.1:9"],
        ["--to", "pipedrive", "--url", "http://127.0.0.1:9"],
        ["--to", "carddav", "--url", "http://127.0.0.1:9/book/"],
        ["--to", "csv", "--out", "out.csv"],
        ["--to", "jsonl", "--out", "out.jsonl"],
        ["--to", "webhook", "--url", "http://127.0.0.1:9"],
    ],
    ids=lambda args: args[1],
)
def test_gdpr_delete_is_a_usage_error_where_there_is_no_permanent_path(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    # A server nobody listens on: the refusal has to come before any call.
    monkeypatch.setenv("CONTACTVAULT_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CONTACTVAULT_API_KEY", "cv_live_never_used")
    result = cli("sync", *target, *GDPR, "--checkpoint", str(tmp_path / "cp.json"))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "--erasure-action gdpr-delete" in result.stderr
    assert "hubspot" in result.stderr
    assert "cv_live_never_used" not in result.stderr
    assert not (tmp_path / "out.csv").exists()
    assert not (tmp_path / "out.jsonl").exists()
