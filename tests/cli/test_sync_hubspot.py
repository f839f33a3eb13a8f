"""``contactvault sync --to hubspot`` against the HubSpot contract fake (tests/cli/hubspot_fake.py) on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contactvault.cli.client.sync import engine
from contactvault.cli.client.sync.checkpoint import Checkpoint
from contactvault.cli.client.sync.hubspot import HubSpotTarget
from contactvault.cli.client.sync.plan import Contact, FieldMap
from contactvault.server.services import erasure
from tests.factories import email_of

from . import hubspot_fake
from .conftest import CLI, LiveServer
from .sync_helpers import EPOCH, plan_of, retry_waits, sync, unlock

IDS = (251, 252, 253)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[hubspot_fake.HubSpotFake]:
    """The fake, with its token in the environment."""
    monkeypatch.setenv("HUBSPOT_TOKEN", hubspot_fake.TOKEN)
    with hubspot_fake.serve() as running:
        yield running


@pytest.fixture
def unlocked(connected: CLI) -> CLI:
    """The CLI with 251..253's emails delivered to its account."""
    return unlock(connected, IDS)


def to_hubspot(cli: CLI, fake: hubspot_fake.HubSpotFake, point: Path, *args: str, code: int = 0) -> Any:
    """Sync into the fake."""
    return sync(cli, point, "--to", "hubspot", "--url", fake.url, *args, code=code)


def emails(fake: hubspot_fake.HubSpotFake) -> list[str]:
    """The email of every record in the fake, sorted."""
    return sorted(props["email"] for props in fake.records.values())


def test_create_skip_update_and_dry_run_plan(unlocked: CLI, fake: hubspot_fake.HubSpotFake, tmp_path: Path) -> None:
    point = tmp_path / "cp.json"
    planned = to_hubspot(unlocked, fake, point, "--dry-run")
    assert fake.writes() == []
    done = to_hubspot(unlocked, fake, point)
    assert plan_of(planned) == plan_of(done)
    assert done["counts"]["create"] == 3
    assert emails(fake) == sorted(email_of(i) for i in IDS)
    assert fake.writes() == ["create"]
    assert sorted(Checkpoint.load(point).created) == ["251", "252", "253"]

    again = to_hubspot(unlocked, fake, point, "--since", EPOCH)
    assert again["counts"]["skip"] == 3
    assert fake.writes() == ["create"]

    rid = fake.by_email(email_of(252))
    assert rid is not None
    fake.records[rid]["contactvault_verification_status"] = "unknown"
    fake.records[rid]["jobtitle"] = "theirs"
    third = to_hubspot(unlocked, fake, point, "--since", EPOCH)
    assert [(a, pid, list(ch)) for a, pid, ch in plan_of(third) if a != "skip"] == [
        ("update", "252", ["contactvault_verification_status"])
    ]
    assert fake.requests[-1] == (
        "update",
        {
            "inputs": [
                {
                    "id": rid,
                    "properties": {
                        "contactvault_verification_status": fake.records[rid]["contactvault_verification_status"]
                    },
                }
            ]
        },
    )
    assert fake.records[rid]["jobtitle"] == "theirs"


def test_a_record_owned_by_another_contactvault_id_is_a_conflict(
    unlocked: CLI, fake: hubspot_fake.HubSpotFake, tmp_path: Path
) -> None:
    fake.records["77"] = {"email": email_of(251), "contactvault_id": "999"}
    report = to_hubspot(unlocked, fake, tmp_path / "cp.json")
    assert [(a, pid) for a, pid, _ in plan_of(report)] == [("conflict", "251"), ("create", "252"), ("create", "253")]
    assert fake.records["77"] == {"email": email_of(251), "contactvault_id": "999"}
    assert len(fake.records) == 3


def test_429_waits_for_retry_after(unlocked: CLI, fake: hubspot_fake.HubSpotFake, tmp_path: Path) -> None:
    fake.rate_limit_next = 2
    with retry_waits() as waits:
        to_hubspot(unlocked, fake, tmp_path / "cp.json")
    assert waits == [1.0, 1.0]
    assert fake.statuses[:3] == [429, 429, 207]
    assert len(fake.records) == 3


def test_a_connection_lost_after_the_write_then_a_rerun_duplicates_nothing(
    unlocked: CLI, fake: hubspot_fake.HubSpotFake, tmp_path: Path
) -> None:
    point = tmp_path / "cp.json"
    fake.drop_after_commit = True
    lost = unlocked("sync", "--to", "hubspot", "--url", fake.url, "--checkpoint", str(point))
    assert lost.exit_code == 1
    assert "rerun" in lost.stderr
    assert len(fake.records) == 3
    rerun = to_hubspot(unlocked, fake, point)
    assert rerun["counts"]["skip"] == 3
    assert fake.writes() == ["create"]
    assert emails(fake) == sorted(email_of(i) for i in IDS)


@pytest.mark.parametrize("multi_status", [False, True], ids=["whole-batch-400-bisected", "207"])
def test_a_row_refused_for_a_bad_email_fails_alone(
    unlocked: CLI, fake: hubspot_fake.HubSpotFake, tmp_path: Path, multi_status: bool
) -> None:
    fake.invalid_emails, fake.multi_status = {email_of(252)}, multi_status
    report = to_hubspot(unlocked, fake, tmp_path / "cp.json", code=4)
    assert list(report["failed"]) == ["252"]
    assert emails(fake) == [email_of(251), email_of(253)]
    assert email_of(252) not in str(report)
    assert Checkpoint.load(tmp_path / "cp.json").since is None  # the refused record is retried next time
    assert sorted(Checkpoint.load(tmp_path / "cp.json").created) == ["251", "253"]
    # Bisection: [251 252 253] 400, [251] ok, [252 253] 400, [252] 400, [253] ok.
    assert fake.writes() == ["create"] * (1 if multi_status else 5)


def test_erasures_touch_only_records_the_sync_created(
    unlocked: CLI, live: LiveServer, fake: hubspot_fake.HubSpotFake, tmp_path: Path
) -> None:
    point = tmp_path / "cp.json"
    unlocked.json("unlock", "--event", "100", "--ids", "247,248", "--yes")
    fake.records["55"] = {"email": email_of(248), "jobtitle": "theirs"}  # theirs before the sync: updated, not created
    to_hubspot(unlocked, fake, point)
    assert "248" not in Checkpoint.load(point).created
    erasure.erase_person(live.rt, 247)
    erasure.erase_person(live.rt, 248)
    planned = sync(
        unlocked, point, "--to", "hubspot", "--url", fake.url, "--erasures", "--erasure-action", "delete", "--dry-run"
    )
    assert planned["calls"] == ["delete 1 record(s)"]
    sync(unlocked, point, "--to", "hubspot", "--url", fake.url, "--erasures", "--erasure-action", "delete")
    assert email_of(247) not in emails(fake)
    assert fake.records["55"]["email"] == email_of(248)
    assert "247" not in Checkpoint.load(point).created


def test_more_than_100_contacts_go_in_batches_of_100(fake: hubspot_fake.HubSpotFake, tmp_path: Path) -> None:
    contacts = [
        Contact(str(i), {"email": f"p{i}@example.com", "contactvault_id": str(i)}, f"{i:04}") for i in range(250)
    ]
    with httpx.Client(base_url=fake.url, headers={"authorization": f"Bearer {hubspot_fake.TOKEN}"}) as http:
        target = HubSpotTarget(http)
        point = Checkpoint(tmp_path / "cp.json")
        first = engine.run(contacts, target, FieldMap.default(), point, dry_run=False)
        second = engine.run(contacts, target, FieldMap.default(), point, dry_run=False)
    assert first.counts()["create"] == 250
    assert second.counts()["skip"] == 250
    assert [len(body["inputs"]) for _, body in fake.requests] == [100, 100, 100, 100, 50, 50, 100, 100, 50]
    assert [op for op, _ in fake.requests] == ["read", "create"] * 3 + ["read"] * 3
    assert point.since == "0249"


def test_the_rolling_window_rate_limit_is_waited_out(fake: hubspot_fake.HubSpotFake, tmp_path: Path) -> None:
    fake.window_max, fake.window_seconds = 3, 1.0
    contacts = [
        Contact(str(i), {"email": f"p{i}@example.com", "contactvault_id": str(i)}, f"{i:04}") for i in range(250)
    ]
    with (
        retry_waits() as waits,
        httpx.Client(base_url=fake.url, headers={"authorization": f"Bearer {hubspot_fake.TOKEN}"}) as http,
    ):
        report = engine.run(
            contacts, HubSpotTarget(http), FieldMap.default(), Checkpoint(tmp_path / "cp.json"), dry_run=False
        )
    assert report.counts()["create"] == 250
    assert report.failed == {}
    assert 429 in fake.statuses
    assert waits
    assert set(waits) == {1.0}
    assert len(fake.records) == 250
