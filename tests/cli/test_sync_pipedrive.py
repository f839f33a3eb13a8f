"""``contactvault sync --to pipedrive`` against the Pipedrive contract fake (tests/cli/pipedrive_fake.py)."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from contactvault.cli.client.sync import engine
from contactvault.cli.client.sync.checkpoint import Checkpoint
from contactvault.cli.client.sync.http import TargetError
from contactvault.cli.client.sync.pipedrive import PipedriveTarget
from contactvault.cli.client.sync.plan import Contact, FieldMap, load_mapping
from contactvault.server.services import erasure
from tests.factories import email_of

from . import pipedrive_fake
from .conftest import CLI, LiveServer
from .sync_helpers import DOC, EPOCH, doc_commands, plan_of, retry_waits, sync, unlock

IDS = (251, 252, 253)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[pipedrive_fake.PipedriveFake]:
    """The fake, with its token in the environment."""
    monkeypatch.setenv("PIPEDRIVE_TOKEN", pipedrive_fake.TOKEN)
    with pipedrive_fake.serve() as running:
        yield running


@pytest.fixture
def unlocked(connected: CLI) -> CLI:
    """The CLI with 251..253's emails (and 252's phone) delivered to its account."""
    return unlock(connected, IDS)


def to_pipedrive(cli: CLI, fake: pipedrive_fake.PipedriveFake, point: Path, *args: str, code: int = 0) -> Any:
    """Sync into the fake."""
    return sync(cli, point, "--to", "pipedrive", "--url", fake.url, *args, code=code)


@contextmanager
def target(fake: pipedrive_fake.PipedriveFake, point: Checkpoint, waits: list[float]) -> Iterator[PipedriveTarget]:
    """The adapter on the fake, its waits recorded instead of slept."""
    with httpx.Client(base_url=fake.url, headers={"x-api-token": pipedrive_fake.TOKEN}) as http:
        yield PipedriveTarget(http, point, sleep=waits.append)


def people(n: int) -> list[Contact]:
    """``n`` contacts with made-up emails, oldest first."""
    return [Contact(str(i), {"email": f"p{i}@example.com", "contactvault_id": str(i)}, f"{i:04}") for i in range(n)]


def test_create_skip_update_and_dry_run_plan(unlocked: CLI, fake: pipedrive_fake.PipedriveFake, tmp_path: Path) -> None:
    unlocked.json("unlock", "--event", "100", "--ids", "252", "--phone", "--yes")
    point = tmp_path / "cp.json"
    planned = to_pipedrive(unlocked, fake, point, "--dry-run")
    assert fake.writes() == []
    assert planned["calls"] == ["POST /api/v2/persons x 3 (30 tokens)"]
    done = to_pipedrive(unlocked, fake, point)
    assert plan_of(planned) == plan_of(done)
    assert fake.emails() == sorted(email_of(i) for i in IDS)
    person = fake.by_email(email_of(252))
    assert person["name"] == email_of(252)
    assert person["emails"] == [{"value": email_of(252), "primary": True, "label": "work"}]
    assert person["phones"][0]["primary"] is True
    assert fake.custom(person, "contactvault_id") == "252"
    assert fake.custom(person, "contactvault_source") == "contactvault"
    assert sorted(Checkpoint.load(point).created) == ["251", "252", "253"]

    before = len(fake.requests)
    again = to_pipedrive(unlocked, fake, point, "--since", EPOCH)
    assert again["counts"]["skip"] == 3
    assert fake.ops()[before:] == ["fields"] * 5 + ["list"]  # ids from the checkpoint: no search (40 tokens each)

    code = fake.custom_fields["contactvault_verification_status"]
    person["custom_fields"][code] = "unknown"
    person["emails"].append({"value": "private@example.org", "primary": False, "label": "home"})
    third = to_pipedrive(unlocked, fake, point, "--since", EPOCH)
    assert [(a, pid, list(ch)) for a, pid, ch in plan_of(third) if a != "skip"] == [
        ("update", "252", ["contactvault_verification_status"])
    ]
    assert fake.requests[-1] == ("update", {"custom_fields": {code: person["custom_fields"][code]}})
    assert person["custom_fields"][code] != "unknown"
    assert len(person["emails"]) == 2
    assert fake.writes() == ["create"] * 3 + ["update"]


def test_a_person_found_by_email_is_updated_and_keeps_their_other_addresses(
    unlocked: CLI, fake: pipedrive_fake.PipedriveFake, tmp_path: Path
) -> None:
    unlocked.json("unlock", "--event", "100", "--ids", "252", "--phone", "--yes")
    theirs = fake.add("Ann", emails=("ann@home.example", email_of(252)), phones=("+44 20 0000 0000",))
    report = to_pipedrive(unlocked, fake, tmp_path / "cp.json")
    assert [(a, pid) for a, pid, _ in plan_of(report)] == [("create", "251"), ("create", "253"), ("update", "252")]
    person = fake.persons[theirs]
    assert fake.custom(person, "contactvault_id") == "252"
    assert [e["value"] for e in person["emails"]] == ["ann@home.example", email_of(252)]
    phones = person["phones"]
    assert phones[0]["primary"] is True
    assert phones[1] == {"value": "+44 20 0000 0000", "primary": False, "label": "work"}
    assert "252" not in Checkpoint.load(tmp_path / "cp.json").created  # updated, not created: never erased


def test_another_owner_a_shared_email_and_a_loose_hit_are_told_apart(
    unlocked: CLI, fake: pipedrive_fake.PipedriveFake, tmp_path: Path
) -> None:
    fake.loose_search = True
    fake.add("Theirs", emails=(email_of(251),), contactvault_id="999")
    fake.add("A", emails=(email_of(252),))
    fake.add("B", emails=(email_of(252),))
    near = fake.add("Near", emails=("x" + email_of(253),))  # "exact" search that once matched substrings
    report = to_pipedrive(unlocked, fake, tmp_path / "cp.json")
    assert [(a, pid) for a, pid, _ in plan_of(report)] == [("conflict", "251"), ("conflict", "252"), ("create", "253")]
    assert report["plan"][1]["reason"] == "2 Pipedrive persons match (emails are not unique in Pipedrive)"
    assert fake.writes() == ["create"]
    assert fake.custom(fake.persons[near], "contactvault_id") is None


def test_429_waits_for_retry_after(unlocked: CLI, fake: pipedrive_fake.PipedriveFake, tmp_path: Path) -> None:
    fake.rate_limit_next = 2
    with retry_waits() as waits:
        to_pipedrive(unlocked, fake, tmp_path / "cp.json")
    assert waits == [1.0, 1.0]
    assert fake.statuses[:3] == [429, 429, 200]
    assert len(fake.persons) == 3


def test_a_low_burst_budget_slows_the_sync_down(fake: pipedrive_fake.PipedriveFake, tmp_path: Path) -> None:
    waits: list[float] = []
    with target(fake, Checkpoint(tmp_path / "cp.json"), waits) as pd:
        engine.run(people(2), pd, FieldMap.default(), Checkpoint(tmp_path / "cp.json"), dry_run=False)
        assert waits == []
        fake.remaining = 1
        engine.run(people(3), pd, FieldMap.default(), Checkpoint(tmp_path / "cp.json"), dry_run=False)
    assert waits
    assert set(waits) == {2.0}
    assert 429 not in fake.statuses


def test_a_connection_lost_after_the_write_then_a_rerun_duplicates_nothing(
    unlocked: CLI, fake: pipedrive_fake.PipedriveFake, tmp_path: Path
) -> None:
    point = tmp_path / "cp.json"
    fake.drop_after_commit = True
    lost = unlocked("sync", "--to", "pipedrive", "--url", fake.url, "--checkpoint", str(point))
    assert lost.exit_code == 1
    assert "rerun" in lost.stderr
    assert len(fake.persons) == 1
    rerun = to_pipedrive(unlocked, fake, point)
    assert [a for a, _, _ in plan_of(rerun)] == ["skip", "create", "create"]
    assert fake.emails() == sorted(email_of(i) for i in IDS)


def test_a_search_index_lagging_behind_creates_no_duplicate_on_rerun(
    fake: pipedrive_fake.PipedriveFake, tmp_path: Path
) -> None:
    fake.index_lag = 1000  # nothing created is searchable during this test
    waits: list[float] = []
    point = Checkpoint(tmp_path / "cp.json")
    with target(fake, point, waits) as pd:
        engine.run(people(3), pd, FieldMap.default(), point, dry_run=False)
        again = engine.run(people(3), pd, FieldMap.default(), Checkpoint.load(point.path), dry_run=False)
    assert again.counts()["skip"] == 3
    assert len(fake.persons) == 3


def test_a_person_whose_email_changed_is_found_by_the_contactvault_id_field(
    unlocked: CLI, fake: pipedrive_fake.PipedriveFake, tmp_path: Path
) -> None:
    to_pipedrive(unlocked, fake, tmp_path / "first.json")
    person = fake.by_email(email_of(251))
    person["emails"] = [{"value": "renamed@example.com", "primary": True, "label": "work"}]
    report = to_pipedrive(unlocked, fake, tmp_path / "second.json")  # a new checkpoint: no ids known
    assert plan_of(report)[0][:2] == ("update", "251")
    assert list(plan_of(report)[0][2]) == ["email"]
    assert ("search", {"term": "251", "fields": "custom_fields", "exact_match": "true", "limit": "10"}) in fake.requests
    assert [e["value"] for e in person["emails"]] == [email_of(251), "renamed@example.com"]
    assert len(fake.persons) == 3


def test_a_refused_person_fails_alone(unlocked: CLI, fake: pipedrive_fake.PipedriveFake, tmp_path: Path) -> None:
    fake.invalid_emails = {email_of(252)}
    point = tmp_path / "cp.json"
    report = to_pipedrive(unlocked, fake, point, code=4)
    assert report["failed"] == {"252": "Pipedrive refused the person (400)"}
    assert fake.emails() == [email_of(251), email_of(253)]
    assert Checkpoint.load(point).since is None
    assert sorted(Checkpoint.load(point).created) == ["251", "253"]


def test_a_missing_custom_field_stops_before_any_write(
    unlocked: CLI, fake: pipedrive_fake.PipedriveFake, tmp_path: Path
) -> None:
    del fake.custom_fields["contactvault_unlocked_at"]
    result = unlocked("sync", "--to", "pipedrive", "--url", fake.url, "--checkpoint", str(tmp_path / "cp.json"))
    assert result.exit_code == 1
    assert "no person field 'contactvault_unlocked_at'" in result.stderr
    assert fake.writes() == []
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        f'[fields.email]\n[fields.contactvault_id]\nto = "{pipedrive_fake.code_of("contactvault_id")}"\n'
    )
    report = to_pipedrive(unlocked, fake, tmp_path / "cp.json", "--mapping", str(mapping))
    assert report["counts"]["create"] == 3
    assert fake.custom(fake.by_email(email_of(253)), "contactvault_id") == "253"


def test_a_missing_token_is_a_usage_error(connected: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPEDRIVE_TOKEN", raising=False)
    result = connected("sync", "--to", "pipedrive")
    assert result.exit_code == 2
    assert "$PIPEDRIVE_TOKEN" in result.stderr


def test_erasures_touch_only_records_the_sync_created(
    unlocked: CLI, live: LiveServer, fake: pipedrive_fake.PipedriveFake, tmp_path: Path
) -> None:
    point = tmp_path / "cp.json"
    unlocked.json("unlock", "--event", "100", "--ids", "274,275,276", "--yes")  # no other test erases these people
    theirs = fake.add("Theirs", emails=(email_of(276),), phones=("+1 555 0100",))  # updated, not created
    to_pipedrive(unlocked, fake, point)
    created = Checkpoint.load(point).created
    assert sorted(created) == sorted(["274", "275", *(str(i) for i in IDS)])
    for pid in (274, 275, 276):
        erasure.erase_person(live.rt, pid)
    base = ("--to", "pipedrive", "--url", fake.url, "--erasures")
    assert sync(unlocked, point, *base, "--dry-run")["calls"] == ["flag 2 record(s)"]
    ledger = Checkpoint.load(point)
    ledger.created = {"274": created["274"]}
    ledger.save()
    sync(unlocked, point, *base, "--erasure-action", "flag")
    flagged = fake.persons[int(created["274"])]
    assert flagged["phones"] == []
    assert fake.custom(flagged, "contactvault_erased") == "true"
    ledger = Checkpoint.load(point)
    ledger.created = {"275": created["275"]}
    ledger.save()
    sync(unlocked, point, *base, "--erasure-action", "delete")
    assert int(created["275"]) not in fake.persons
    assert fake.persons[theirs]["phones"] == [{"value": "+1 555 0100", "primary": True, "label": "work"}]
    assert fake.custom(fake.persons[theirs], "contactvault_erased") is None


def test_the_docs_pipedrive_examples_run_against_the_fake(
    unlocked: CLI, fake: pipedrive_fake.PipedriveFake, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (mapping,) = re.findall(r"^  ```toml\n(.*?)^  ```", DOC.read_text(), flags=re.S | re.M)
    (tmp_path / "pipedrive.toml").write_text(textwrap.dedent(mapping))
    fake.custom_fields["ContactVault ID"] = pipedrive_fake.code_of("ContactVault ID")
    commands = doc_commands("pipedrive", {"https://acme.pipedrive.com": fake.url})
    assert len(commands) == 3
    results = [unlocked(*command) for command in commands]
    assert [r.exit_code for r in results] == [0] * 3, [r.stderr for r in results]
    assert "would call: POST /api/v2/persons x 3 (30 tokens)" in results[0].stdout
    assert fake.custom(fake.by_email(email_of(251)), "ContactVault ID") == "251"
    assert fake.custom(fake.by_email(email_of(251)), "contactvault_id") is None


def test_the_fake_refuses_what_pipedrive_refuses(fake: pipedrive_fake.PipedriveFake) -> None:
    key = pipedrive_fake.code_of("contactvault_id")
    with httpx.Client(base_url=fake.url, headers={"x-api-token": pipedrive_fake.TOKEN}) as http:
        assert httpx.get(f"{fake.url}/api/v2/persons", params={"ids": "1"}).status_code == 401
        assert http.get("/v1/persons").status_code == 404
        refused = {
            "v1 email field": http.post("/api/v2/persons", json={"name": "A", "email": "a@example.com"}),
            "no name": http.post("/api/v2/persons", json={"emails": [{"value": "a@example.com"}]}),
            "a string boolean": http.post(
                "/api/v2/persons", json={"name": "A", "emails": [{"value": "a@example.com", "primary": "true"}]}
            ),
            "unknown custom field": http.post("/api/v2/persons", json={"name": "A", "custom_fields": {"f00": "1"}}),
            "101 ids": http.get("/api/v2/persons", params={"ids": ",".join(map(str, range(101)))}),
            "unknown parameter": http.get("/api/v2/persons/search", params={"term": "ab", "search_by_email": "1"}),
            "short term": http.get("/api/v2/persons/search", params={"term": "a", "exact_match": "false"}),
        }
        assert {why: r.status_code for why, r in refused.items()} == dict.fromkeys(refused, 400)
        assert refused["no name"].json()["success"] is False
        created = http.post("/api/v2/persons", json={"name": "A", "custom_fields": {key: "7"}})
        assert created.status_code == 200
    assert len(fake.persons) == 1


def test_a_standard_field_is_no_place_for_a_custom_value(fake: pipedrive_fake.PipedriveFake, tmp_path: Path) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text('[fields.contactvault_source]\nto = "name"\n')
    point = Checkpoint(tmp_path / "cp.json")
    with target(fake, point, []) as pd, pytest.raises(TargetError, match="no person field 'name'"):
        engine.run(people(1), pd, load_mapping(mapping), point, dry_run=False)
    assert fake.writes() == []


def test_a_loose_email_hit_does_not_hide_the_person_holding_the_contactvault_id(
    unlocked: CLI, fake: pipedrive_fake.PipedriveFake, tmp_path: Path
) -> None:
    fake.loose_search = True
    near = fake.add("Near", emails=("x" + email_of(253),))
    ours = fake.add("Ours", emails=("renamed@example.com",), contactvault_id="253")
    report = to_pipedrive(unlocked, fake, tmp_path / "cp.json")
    assert [(a, pid) for a, pid, _ in plan_of(report)] == [("create", "251"), ("create", "252"), ("update", "253")]
    assert [e["value"] for e in fake.persons[ours]["emails"]] == [email_of(253), "renamed@example.com"]
    assert fake.custom(fake.persons[near], "contactvault_id") is None
    assert len(fake.persons) == 4
