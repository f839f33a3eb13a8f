"""``contactvault sync --to salesforce`` against the Salesforce contract fake (tests/cli/salesforce_fake.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from contactvault.cli.client.sync import engine
from contactvault.cli.client.sync.checkpoint import Checkpoint
from contactvault.cli.client.sync.http import TargetError
from contactvault.cli.client.sync.plan import Contact, FieldMap, load_mapping
from contactvault.cli.client.sync.salesforce import SalesforceSession, SalesforceTarget
from contactvault.server.services import erasure
from tests.factories import email_of

from . import salesforce_fake
from .conftest import CLI, LiveServer
from .sync_helpers import EPOCH, doc_commands, plan_of, retry_waits, sync, unlock

IDS = (251, 252, 253)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[salesforce_fake.SalesforceFake]:
    """The fake, with the connected app's credentials in the environment."""
    monkeypatch.setenv("SALESFORCE_CLIENT_ID", salesforce_fake.CLIENT_ID)
    monkeypatch.setenv("SALESFORCE_CLIENT_SECRET", salesforce_fake.CLIENT_SECRET)
    with salesforce_fake.serve() as running:
        yield running


@pytest.fixture
def unlocked(connected: CLI) -> CLI:
    """The CLI with 251..253's emails delivered to its account."""
    return unlock(connected, IDS)


def to_salesforce(cli: CLI, fake: salesforce_fake.SalesforceFake, point: Path, *args: str, code: int = 0) -> Any:
    """Sync into the fake."""
    return sync(cli, point, "--to", "salesforce", "--url", fake.url, *args, code=code)


@contextmanager
def target(fake: salesforce_fake.SalesforceFake, sobject: str = "Lead") -> Iterator[SalesforceTarget]:
    """The adapter on the fake, for engine-level tests."""
    with httpx.Client(base_url=fake.url) as http:
        session = SalesforceSession(http, salesforce_fake.CLIENT_ID, salesforce_fake.CLIENT_SECRET)
        yield SalesforceTarget(session, sobject)


def people(n: int) -> list[Contact]:
    """``n`` contacts with made-up emails, oldest first."""
    return [Contact(str(i), {"email": f"p{i}@example.com", "contactvault_id": str(i)}, f"{i:04}") for i in range(n)]


def test_create_skip_update_and_dry_run_plan(
    unlocked: CLI, fake: salesforce_fake.SalesforceFake, tmp_path: Path
) -> None:
    point = tmp_path / "cp.json"
    planned = to_salesforce(unlocked, fake, point, "--dry-run")
    assert fake.writes() == []
    done = to_salesforce(unlocked, fake, point)
    assert plan_of(planned) == plan_of(done)
    assert done["counts"]["create"] == 3
    assert done["calls"] == ["POST /services/data/v62.0/composite/sobjects (3 Lead record(s))"]
    assert fake.emails("Lead") == sorted(email_of(i) for i in IDS)
    lead = fake.records[fake.by_email(email_of(251))]
    assert (lead["LastName"], lead["Company"], lead["ContactVault_Id__c"]) == (
        "[not provided]",
        "[not provided]",
        "251",
    )
    assert fake.requests[-1][1]["allOrNone"] is False
    assert sorted(Checkpoint.load(point).created) == ["251", "252", "253"]

    again = to_salesforce(unlocked, fake, point, "--since", EPOCH)
    assert again["counts"]["skip"] == 3
    assert fake.writes() == ["create"]

    rid = fake.by_email(email_of(252))
    fake.records[rid]["ContactVault_Verification_Status__c"] = "unknown"
    fake.records[rid]["Title"] = "theirs"
    third = to_salesforce(unlocked, fake, point, "--since", EPOCH)
    assert [(a, pid, list(ch)) for a, pid, ch in plan_of(third) if a != "skip"] == [
        ("update", "252", ["contactvault_verification_status"])
    ]
    status = fake.records[rid]["ContactVault_Verification_Status__c"]
    assert status != "unknown"
    assert fake.requests[-1] == (
        "update",
        {
            "allOrNone": False,
            "records": [{"attributes": {"type": "Lead"}, "id": rid, "ContactVault_Verification_Status__c": status}],
        },
    )
    assert fake.records[rid]["Title"] == "theirs"


def test_object_contact_writes_contacts(unlocked: CLI, fake: salesforce_fake.SalesforceFake, tmp_path: Path) -> None:
    report = to_salesforce(unlocked, fake, tmp_path / "cp.json", "--object", "contact")
    assert report["counts"]["create"] == 3
    assert fake.of_type("Lead") == []
    assert fake.emails("Contact") == sorted(email_of(i) for i in IDS)
    assert "Company" not in fake.records[fake.by_email(email_of(253))]


def test_another_owner_a_shared_email_and_a_converted_lead_are_conflicts(
    unlocked: CLI, fake: salesforce_fake.SalesforceFake, tmp_path: Path
) -> None:
    theirs = fake.add("Lead", LastName="X", Company="Y", Email=email_of(251).upper(), ContactVault_Id__c="999")
    fake.add("Lead", LastName="A", Company="Y", Email=email_of(252))
    fake.add("Lead", LastName="B", Company="Y", Email=email_of(252))
    fake.add("Lead", LastName="C", Company="Y", Email=email_of(253), IsConverted=True)
    before = {rid: dict(r) for rid, r in fake.records.items()}
    report = to_salesforce(unlocked, fake, tmp_path / "cp.json")
    assert [(a, pid) for a, pid, _ in plan_of(report)] == [
        ("conflict", "251"),
        ("conflict", "252"),
        ("conflict", "253"),
    ]
    reasons = [item["reason"] for item in report["plan"]]
    assert reasons == [
        "record belongs to 999",
        "2 Lead records match (Salesforce does not keep emails unique)",
        reasons[2],
    ]
    assert "converted" in reasons[2]
    assert fake.records == before
    assert fake.writes() == []
    assert fake.records[theirs]["ContactVault_Id__c"] == "999"


def test_a_duplicate_rule_is_a_conflict_not_a_failure(
    unlocked: CLI, fake: salesforce_fake.SalesforceFake, tmp_path: Path
) -> None:
    fake.duplicate_rule = {email_of(252)}
    point = tmp_path / "cp.json"
    report = to_salesforce(unlocked, fake, point)
    assert [(a, pid) for a, pid, _ in plan_of(report)] == [("create", "251"), ("conflict", "252"), ("create", "253")]
    assert report["plan"][1]["reason"] == "a Salesforce duplicate rule matched an existing record"
    assert report["failed"] == {}
    assert fake.emails("Lead") == [email_of(251), email_of(253)]
    assert sorted(Checkpoint.load(point).created) == ["251", "253"]


@pytest.mark.parametrize("status", [429, 403], ids=["429", "403-REQUEST_LIMIT_EXCEEDED"])
def test_rate_limits_wait_for_retry_after(
    unlocked: CLI, fake: salesforce_fake.SalesforceFake, tmp_path: Path, status: int
) -> None:
    fake.limit_next, fake.limit_status = 2, status
    with retry_waits() as waits:
        to_salesforce(unlocked, fake, tmp_path / "cp.json")
    assert waits == [1.0, 1.0]
    assert fake.statuses[:4] == [200, status, status, 200]  # token, two refusals, then the query
    assert len(fake.of_type("Lead")) == 3


def test_the_daily_limit_without_retry_after_stops_with_its_code(
    unlocked: CLI, fake: salesforce_fake.SalesforceFake, tmp_path: Path
) -> None:
    fake.limit_next, fake.limit_status, fake.retry_after = 1, 403, None
    result = unlocked("sync", "--to", "salesforce", "--url", fake.url, "--checkpoint", str(tmp_path / "cp.json"))
    assert result.exit_code == 1
    assert "403 REQUEST_LIMIT_EXCEEDED" in result.stderr
    assert fake.records == {}


def test_usage_near_the_daily_limit_stops_before_writing(fake: salesforce_fake.SalesforceFake, tmp_path: Path) -> None:
    fake.api_used = 94_999
    with target(fake) as sf, pytest.raises(TargetError, match="95000 of its 100000 daily API requests"):
        engine.run(people(3), sf, FieldMap.default(), Checkpoint(tmp_path / "cp.json"), dry_run=False)
    assert fake.writes() == []


def test_an_expired_token_is_fetched_again_once(fake: salesforce_fake.SalesforceFake, tmp_path: Path) -> None:
    point = Checkpoint(tmp_path / "cp.json")
    with target(fake) as sf:
        engine.run(people(2), sf, FieldMap.default(), point, dry_run=False)
        fake.expire_tokens()
        report = engine.run(people(3), sf, FieldMap.default(), point, dry_run=False)
    assert report.counts() == {"create": 1, "update": 0, "skip": 2, "conflict": 0}
    assert [op for op, _ in fake.requests if op == "token"] == ["token", "token"]
    assert 401 in fake.statuses


def test_refused_credentials_fail_without_the_secret(
    unlocked: CLI, fake: salesforce_fake.SalesforceFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SALESFORCE_CLIENT_SECRET", "wrong-secret-value")
    result = unlocked("sync", "--to", "salesforce", "--url", fake.url, "--checkpoint", str(tmp_path / "cp.json"))
    assert result.exit_code == 1
    assert "invalid_client" in result.stderr
    assert "wrong-secret-value" not in result.stderr + result.stdout


def test_missing_credentials_or_url_are_usage_errors(
    unlocked: CLI, fake: salesforce_fake.SalesforceFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert unlocked("sync", "--to", "salesforce").exit_code == 2
    monkeypatch.delenv("SALESFORCE_CLIENT_ID")
    result = unlocked("sync", "--to", "salesforce", "--url", fake.url)
    assert result.exit_code == 2
    assert "$SALESFORCE_CLIENT_ID" in result.stderr
    assert fake.requests == []


def test_a_connection_lost_after_the_write_then_a_rerun_duplicates_nothing(
    unlocked: CLI, fake: salesforce_fake.SalesforceFake, tmp_path: Path
) -> None:
    point = tmp_path / "cp.json"
    fake.drop_after_commit = True
    lost = unlocked("sync", "--to", "salesforce", "--url", fake.url, "--checkpoint", str(point))
    assert lost.exit_code == 1
    assert "rerun" in lost.stderr
    assert len(fake.records) == 3
    rerun = to_salesforce(unlocked, fake, point)
    assert rerun["counts"]["skip"] == 3
    assert fake.writes() == ["create"]
    assert fake.emails("Lead") == sorted(email_of(i) for i in IDS)


def test_a_refused_record_fails_alone_and_its_value_stays_out_of_the_report(
    unlocked: CLI, fake: salesforce_fake.SalesforceFake, tmp_path: Path
) -> None:
    fake.invalid_emails = {email_of(252)}
    point = tmp_path / "cp.json"
    report = to_salesforce(unlocked, fake, point, code=4)
    assert report["failed"] == {"252": "Salesforce refused the record (INVALID_EMAIL_ADDRESS on Email)"}
    assert email_of(252) not in str(report["failed"])
    assert fake.emails("Lead") == [email_of(251), email_of(253)]
    assert Checkpoint.load(point).since is None  # the refused record is retried next time
    assert sorted(Checkpoint.load(point).created) == ["251", "253"]


def test_an_unknown_field_is_named_and_the_query_is_not_echoed(
    unlocked: CLI, fake: salesforce_fake.SalesforceFake, tmp_path: Path
) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text('[fields.phone]\nto = "Fax__c"\n')
    result = unlocked(
        "sync", "--to", "salesforce", "--url", fake.url, "--mapping", str(mapping), "--checkpoint", str(tmp_path / "c")
    )
    assert result.exit_code == 1
    assert "400 INVALID_FIELD (no field Fax__c on Lead)" in result.stderr
    assert "@" not in result.stderr
    assert fake.writes() == []


def test_erasures_touch_only_records_the_sync_created(
    unlocked: CLI, live: LiveServer, fake: salesforce_fake.SalesforceFake, tmp_path: Path
) -> None:
    point = tmp_path / "cp.json"
    unlocked.json("unlock", "--event", "100", "--ids", "271,272,273", "--yes")  # no other test erases these people
    theirs = fake.add("Lead", LastName="T", Company="Y", Email=email_of(273), Title="theirs")  # updated, not created
    to_salesforce(unlocked, fake, point)
    assert "273" not in Checkpoint.load(point).created
    flagged, deleted = fake.by_email(email_of(271)), fake.by_email(email_of(272))
    for pid in (271, 272, 273):
        erasure.erase_person(live.rt, pid)
    base = ("--to", "salesforce", "--url", fake.url, "--erasures")
    planned = sync(unlocked, point, *base, "--erasure-action", "delete", "--dry-run")
    assert planned["calls"] == ["delete 2 record(s)"]  # 273 was theirs
    ledger = Checkpoint.load(point)
    ledger.created = {"271": ledger.created["271"]}  # one flagged, the other deleted
    ledger.save()
    sync(unlocked, point, *base, "--erasure-action", "flag")
    assert fake.records[flagged]["HasOptedOutOfEmail"] is True
    assert fake.records[flagged]["DoNotCall"] is True
    assert fake.records[flagged]["ContactVault_Erased__c"] is True
    ledger = Checkpoint.load(point)
    ledger.created = {"272": deleted}
    ledger.save()
    sync(unlocked, point, *base, "--erasure-action", "delete")
    assert deleted not in fake.records
    assert deleted in fake.deleted
    assert fake.records[theirs]["Title"] == "theirs"
    assert "HasOptedOutOfEmail" not in fake.records[theirs]
    assert fake.writes() == ["create", "update", "update", "delete"]


def test_batches_of_200_and_quotes_in_emails(fake: salesforce_fake.SalesforceFake, tmp_path: Path) -> None:
    contacts = people(250)
    contacts[7] = Contact("7", {"email": "o'brien\\7@example.com", "contactvault_id": "7"}, "0007")
    point = Checkpoint(tmp_path / "cp.json")
    with target(fake) as sf:
        first = engine.run(contacts, sf, FieldMap.default(), point, dry_run=False)
        second = engine.run(contacts, sf, FieldMap.default(), point, dry_run=False)
    assert first.counts()["create"] == 250
    assert second.counts()["skip"] == 250
    writes = [len(body["records"]) for op, body in fake.requests if op == "create"]
    assert writes == [200, 50]
    # Per batch: the Leads, the Contacts holding those emails (no Lead for a Contact), then the writes.
    assert [op for op, _ in fake.requests if op != "token"] == ["query", "query", "create"] * 2 + ["query"] * 4
    assert fake.by_email("o'brien\\7@example.com")
    assert point.since == "0249"


def test_query_pages_are_followed(fake: salesforce_fake.SalesforceFake, tmp_path: Path) -> None:
    fake.page_size = 2
    point = Checkpoint(tmp_path / "cp.json")
    with target(fake) as sf:
        engine.run(people(5), sf, FieldMap.default(), point, dry_run=False)
        again = engine.run(people(5), sf, FieldMap.default(), point, dry_run=False)
    assert again.counts()["skip"] == 5
    assert [op for op, _ in fake.requests][-4:] == ["query", "query-more", "query-more", "query"]


def test_leads_and_contacts_keep_separate_checkpoints(
    unlocked: CLI, fake: salesforce_fake.SalesforceFake, state_file: Path
) -> None:
    unlocked.json("sync", "--to", "salesforce", "--url", fake.url)
    unlocked.json("sync", "--to", "salesforce", "--url", fake.url, "--object", "contact")
    lead = Checkpoint.load(state_file.parent / "sync-salesforce-lead.json")
    contact = Checkpoint.load(state_file.parent / "sync-salesforce-contact.json")
    assert sorted(lead.created) == sorted(contact.created) == ["251", "252", "253"]
    assert {lead.created["251"][:3], contact.created["251"][:3]} == {"00Q", "003"}


def test_the_docs_salesforce_examples_run_against_the_fake(
    unlocked: CLI, fake: salesforce_fake.SalesforceFake, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    commands = doc_commands("salesforce", {"https://acme.my.salesforce.com": fake.url})
    assert len(commands) == 4
    results = [unlocked(*command) for command in commands]
    assert [r.exit_code for r in results] == [0] * 4, [r.stderr for r in results]
    assert "would call: POST /services/data/v62.0/composite/sobjects (3 Lead record(s))" in results[0].stdout
    assert len(fake.of_type("Lead")) == len(fake.of_type("Contact")) == 3


def test_the_fake_refuses_what_salesforce_refuses(fake: salesforce_fake.SalesforceFake) -> None:
    collections = "/services/data/v62.0/composite/sobjects"
    soql = {"q": "SELECT Id FROM Lead WHERE Email IN ('a@example.com')"}
    with httpx.Client(base_url=fake.url) as http:
        assert http.get("/services/data/v62.0/query", params=soql).status_code == 401
        form = {"grant_type": "client_credentials", "client_id": salesforce_fake.CLIENT_ID}
        assert (
            http.post("/services/oauth2/token", data={**form, "client_secret": "no"}).json()["error"]
            == "invalid_client"
        )
        token = http.post("/services/oauth2/token", data={**form, "client_secret": salesforce_fake.CLIENT_SECRET})
        auth = {"authorization": f"Bearer {token.json()['access_token']}"}
        assert http.get("/services/data/v41.0/query", params=soql, headers=auth).status_code == 404
        lead = {"attributes": {"type": "Lead"}, "LastName": "X", "Company": "Y"}
        bad = {
            "INVALID_BATCH_SIZE": {"allOrNone": False, "records": [lead] * 201},
            "INVALID_FIELD": {"allOrNone": False, "records": [{**lead, "Nickname__c": "x"}]},
            "INVALID_TYPE": {"allOrNone": False, "records": [{"LastName": "X"}]},
            "JSON_PARSER_ERROR": {"allOrNone": False, "records": [lead], "extra": 1},
        }
        for code, body in bad.items():
            answer = http.post(collections, json=body, headers=auth)
            assert (answer.status_code, answer.json()[0]["errorCode"]) == (400, code)
        no_company = {"attributes": {"type": "Lead"}, "LastName": "X"}
        answer = http.post(collections, json={"allOrNone": False, "records": [no_company]}, headers=auth).json()
        assert answer == [
            salesforce_fake.record_error(
                "REQUIRED_FIELD_MISSING", "Required fields are missing: ['Company']", ["Company"]
            )
        ]
    assert fake.records == {}


def test_a_mapped_name_that_is_no_api_name_stops_before_any_call(
    fake: salesforce_fake.SalesforceFake, tmp_path: Path
) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text('[fields.phone]\nto = "Phone FROM Contact WHERE Id != null OR Phone"\n')
    with target(fake) as sf, pytest.raises(TargetError, match="not a Salesforce field API name"):
        engine.run(people(1), sf, load_mapping(mapping), Checkpoint(tmp_path / "cp.json"), dry_run=True)
    assert fake.requests == []


def test_a_lead_is_not_created_for_a_person_who_is_a_contact(
    unlocked: CLI, fake: salesforce_fake.SalesforceFake, tmp_path: Path
) -> None:
    customer = fake.add("Contact", LastName="Z", Email=email_of(251).upper())
    fake.add("Lead", LastName="Y", Company="C", Email=email_of(252))
    fake.add("Contact", LastName="Y", Email=email_of(252))  # a Lead exists too: that Lead is updated
    planned = to_salesforce(unlocked, fake, tmp_path / "cp.json", "--dry-run")
    report = to_salesforce(unlocked, fake, tmp_path / "cp.json")
    assert plan_of(planned) == plan_of(report)
    assert [(a, pid) for a, pid, _ in plan_of(report)] == [("conflict", "251"), ("update", "252"), ("create", "253")]
    assert report["plan"][0]["reason"] == "a Contact holds this email: sync this person with --object contact"
    assert report["plan"][0]["targetId"] == customer
    assert fake.emails("Lead") == [email_of(252), email_of(253)]
    contacts = to_salesforce(unlocked, fake, tmp_path / "contacts.json", "--object", "contact")
    assert [(a, pid) for a, pid, _ in plan_of(contacts)] == [("update", "251"), ("update", "252"), ("create", "253")]
