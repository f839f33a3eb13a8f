"""``contactvault sync --to carddav`` against a real CardDAV server: Radicale on loopback (``radicale_server.py``).

Everything but the 429 is Radicale's own behaviour; Radicale never sends a 429, so the layer in front of it
answers that one (and drops a connection after a stored write, for the crash test).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import vobject  # type: ignore[import-untyped]

from contactvault.cli.client.sync import engine, vcard
from contactvault.cli.client.sync.carddav import CardDAVTarget, uid_of
from contactvault.cli.client.sync.checkpoint import Checkpoint
from contactvault.cli.client.sync.plan import ID_FIELD, Contact, FieldMap, decide
from contactvault.server.services import erasure
from tests.factories import email_of

from . import radicale_server
from .conftest import CLI, LiveServer
from .radicale_server import PASSWORD, USER, Radicale
from .sync_helpers import EPOCH, plan_of, retry_waits, sync, unlock

IDS = (251, 252, 253)
BOOK = f"/{USER}/contacts/"


@pytest.fixture
def dav(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Radicale]:
    """Radicale with an empty address book at BOOK, its credentials in the environment."""
    monkeypatch.setenv("CARDDAV_USERNAME", USER)
    monkeypatch.setenv("CARDDAV_PASSWORD", PASSWORD)
    (tmp_path / "radicale").mkdir()
    with radicale_server.serve(tmp_path / "radicale") as running:
        running.make_book()
        yield running


@pytest.fixture
def unlocked(connected: CLI) -> CLI:
    """The CLI with 251..253's emails delivered to its account."""
    return unlock(connected, IDS)


def to_carddav(cli: CLI, dav: Radicale, point: Path, *args: str, code: int = 0) -> Any:
    """Sync into the address book."""
    return sync(cli, point, "--to", "carddav", "--url", dav.url + BOOK, *args, code=code)


def cards(dav: Radicale) -> dict[str, Any]:
    """Every card in the address book parsed by vobject (Radicale's parser), by path."""
    return {path: vobject.readOne(text) for path, text in dav.cards(dav.url + BOOK).items()}


def x(card: Any, name: str) -> str:
    """The value of an X- property."""
    return str(card.contents[name.lower()][0].value)


def own(pid: int | str) -> str:
    """The path of the card the sync writes for a person."""
    return f"{BOOK}contactvault-{pid}.vcf"


def test_create_skip_update_and_dry_run_plan(unlocked: CLI, dav: Radicale, tmp_path: Path) -> None:
    point = tmp_path / "cp.json"
    planned = to_carddav(unlocked, dav, point, "--dry-run")
    assert dav.writes() == []
    done = to_carddav(unlocked, dav, point)
    assert plan_of(planned) == plan_of(done)
    assert planned["calls"] == done["calls"] == [f"PUT 3 new card(s) into {BOOK} (If-None-Match: *)"]
    assert done["counts"]["create"] == 3
    assert dav.writes() == ["PUT"] * 3
    written = cards(dav)
    assert sorted(written) == [own(i) for i in IDS]
    for i in IDS:
        card = written[own(i)]
        assert (card.version.value, card.uid.value, card.fn.value) == ("4.0", uid_of(str(i)), email_of(i))
        assert card.email.value == email_of(i)
        assert x(card, "X-CONTACTVAULT-ID") == str(i)
        assert x(card, "X-CONTACTVAULT-SOURCE") == "contactvault"
        assert x(card, "X-CONTACTVAULT-VERIFICATION-STATUS")
        assert x(card, "X-CONTACTVAULT-UNLOCKED-AT")
    assert Checkpoint.load(point).created == {str(i): own(i) for i in IDS}

    again = to_carddav(unlocked, dav, point, "--since", EPOCH)
    assert again["counts"]["skip"] == 3
    assert dav.writes() == ["PUT"] * 3

    # Someone edits a card in their address book app: a field of ours, and a note of theirs.
    path = dav.url + own(252)
    card = vcard.parse(dav.cards(dav.url + BOOK)[own(252)])
    status = card.texts("X-CONTACTVAULT-VERIFICATION-STATUS")
    card.set("X-CONTACTVAULT-VERIFICATION-STATUS", "tampered")
    card.set("NOTE", "met at the fair; call after 5")
    dav.put_card(path, card.serialize())
    third = to_carddav(unlocked, dav, point, "--since", EPOCH)
    assert [(a, pid, list(ch)) for a, pid, ch in plan_of(third) if a != "skip"] == [
        ("update", "252", ["contactvault_verification_status"])
    ]
    assert third["calls"] == ["PUT 1 changed card(s) (If-Match: <etag>)"]
    after = cards(dav)[own(252)]
    assert [x(after, "X-CONTACTVAULT-VERIFICATION-STATUS")] == status
    assert after.note.value == "met at the fair; call after 5"
    assert len(cards(dav)) == 3


def test_a_card_of_another_contactvault_id_with_the_email_is_a_conflict(
    unlocked: CLI, dav: Radicale, tmp_path: Path
) -> None:
    theirs = f"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:t1\r\nFN:Theirs\r\nEMAIL:{email_of(251)}\r\nX-CONTACTVAULT-ID:999\r\n"
    theirs += "END:VCARD\r\n"
    dav.put_card(dav.url + BOOK + "theirs.vcf", theirs)
    before = dav.cards(dav.url + BOOK)[BOOK + "theirs.vcf"]
    report = to_carddav(unlocked, dav, tmp_path / "cp.json")
    assert [(a, pid) for a, pid, _ in plan_of(report)] == [("conflict", "251"), ("create", "252"), ("create", "253")]
    assert report["plan"][0]["reason"] == "record belongs to 999"
    assert dav.cards(dav.url + BOOK)[BOOK + "theirs.vcf"] == before
    assert sorted(cards(dav)) == sorted([BOOK + "theirs.vcf", own(252), own(253)])


def test_a_card_made_by_hand_is_updated_and_erasures_touch_only_created_cards(
    unlocked: CLI, live: LiveServer, dav: Radicale, tmp_path: Path
) -> None:
    point = tmp_path / "cp.json"
    unlocked.json("unlock", "--event", "100", "--ids", "277,278", "--yes")  # no other test erases these
    mine = f"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:m1\r\nFN:Person 278\r\nEMAIL:{email_of(278).upper()}\r\nEND:VCARD\r\n"
    dav.put_card(dav.url + BOOK + "mine.vcf", mine)
    report = to_carddav(unlocked, dav, point)
    assert ("update", "278") in [(a, pid) for a, pid, _ in plan_of(report)]
    hand_made = cards(dav)[BOOK + "mine.vcf"]
    assert (hand_made.fn.value, x(hand_made, "X-CONTACTVAULT-ID")) == ("Person 278", "278")
    assert len(cards(dav)) == 5  # 277, 251..253 created; 278 updated in place
    assert "278" not in Checkpoint.load(point).created

    erasure.erase_person(live.rt, 277)
    erasure.erase_person(live.rt, 278)
    args = ("--erasures", "--erasure-action", "delete")
    planned = to_carddav(unlocked, dav, point, *args, "--dry-run")
    assert planned["calls"] == ["delete 1 record(s)"]
    done = to_carddav(unlocked, dav, point, *args)
    assert done["calls"] == [f"DELETE {own(277)} (If-Match: <etag>)"]
    assert own(277) not in cards(dav)
    assert x(cards(dav)[BOOK + "mine.vcf"], "X-CONTACTVAULT-ID") == "278"
    assert "277" not in Checkpoint.load(point).created


def test_429_waits_for_retry_after(unlocked: CLI, dav: Radicale, tmp_path: Path) -> None:
    dav.rate_limit_next = 1  # Radicale never sends a 429: the layer in front of it answers this one
    with retry_waits() as waits:
        to_carddav(unlocked, dav, tmp_path / "cp.json")
    assert waits == [1.0]
    assert [(method, status) for method, _, status in dav.requests[:2]] == [("REPORT", 429), ("REPORT", 207)]
    assert len(cards(dav)) == 3


def test_a_connection_lost_after_the_write_then_a_rerun_duplicates_nothing(
    unlocked: CLI, dav: Radicale, tmp_path: Path
) -> None:
    point = tmp_path / "cp.json"
    dav.drop_after_commit = True
    lost = unlocked("sync", "--to", "carddav", "--url", dav.url + BOOK, "--checkpoint", str(point))
    assert lost.exit_code == 1
    assert "rerun" in lost.stderr
    assert sorted(cards(dav)) == [own(251)]  # stored, though the client never heard
    rerun = to_carddav(unlocked, dav, point)
    assert [(a, pid) for a, pid, _ in plan_of(rerun)] == [("skip", "251"), ("create", "252"), ("create", "253")]
    assert sorted(cards(dav)) == [own(i) for i in IDS]
    assert dav.writes() == ["PUT"] * 3
    # The card the lost answer never reported is still known as this tool's (its name and UID say so).
    assert sorted(Checkpoint.load(point).created) == ["251", "252", "253"]


def test_from_a_state_file_cards_carry_name_title_and_company(
    connected: CLI, dav: Radicale, state_file: Path, tmp_path: Path
) -> None:
    connected.json("unlock", "--event", "100", "--ids", "255,252", "--yes")
    report = to_carddav(connected, dav, tmp_path / "cp.json", "--from-state", str(state_file))
    assert report["counts"]["create"] == 2
    card = cards(dav)[own(255)]
    assert (card.fn.value, card.n.value.family, card.n.value.given) == ("Person 255 Example", "Example", "Person 255")
    assert (card.title.value, card.org.value) == ("VP of Partnerships", ["Acme Widgets GmbH"])
    assert card.email.value == email_of(255)
    assert (cards(dav)[own(252)].title.value, cards(dav)[own(252)].org.value) == (
        "Sales Manager",
        ["Northwind Logistics"],
    )


def person(pid: str, status: str = "valid") -> Contact:
    """A contact as the source gives it."""
    values = {"email": f"p{pid}@example.com", ID_FIELD: pid, "contactvault_verification_status": status}
    return Contact(pid, values, f"2026-01-01T00:00:{int(pid) % 60:02}Z")


@pytest.fixture
def target(dav: Radicale, tmp_path: Path) -> Iterator[CardDAVTarget]:
    """The adapter on the address book, used directly (below the CLI)."""
    with httpx.Client(auth=(USER, PASSWORD)) as http:
        yield CardDAVTarget(http, dav.url + BOOK, Checkpoint(tmp_path / "cp.json"))


def test_a_card_changed_since_it_was_read_is_read_again_and_updated(dav: Radicale, target: CardDAVTarget) -> None:
    fields = FieldMap.default()
    engine.run([person("1")], target, fields, target.point, dry_run=False)
    changed = person("1", status="accept_all")
    actions = [decide(changed, target.read([changed], fields).get("1"), fields)]
    card = vcard.parse(dav.cards(dav.url + BOOK)[own(1)])
    card.set("NOTE", "theirs")
    dav.put_card(dav.url + own(1), card.serialize())  # after our read: the ETag we hold is stale
    result = target.apply(actions)
    assert result.failed == {}
    assert [(m, s) for m, _, s in dav.requests[-3:]] == [("PUT", 412), ("REPORT", 207), ("PUT", 204)]
    after = cards(dav)[own(1)]
    assert (x(after, "X-CONTACTVAULT-VERIFICATION-STATUS"), after.note.value) == ("accept_all", "theirs")


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ("NOTE", "conflict: the card changed on the server again while syncing (412 twice)"),
        ("X-CONTACTVAULT-ID", "conflict: record belongs to 999"),
    ],
    ids=["changed-twice", "now-another-person-s"],
)
def test_a_card_that_keeps_changing_or_changes_owner_is_a_refused_conflict(
    dav: Radicale, target: CardDAVTarget, edit: str, reason: str
) -> None:
    fields = FieldMap.default()
    engine.run([person("1")], target, fields, target.point, dry_run=False)
    since = target.point.since
    counter = itertools.count()

    def someone_edits(path: str) -> None:
        card = vcard.parse(dav.cards(dav.url + BOOK)[path])
        card.set(edit, "999" if edit.startswith("X-") else f"edit {next(counter)}")
        dav.put_card(dav.url + path, card.serialize())

    dav.before_put = someone_edits
    report = engine.run([person("1", status="accept_all")], target, fields, target.point, dry_run=False)
    assert report.failed == {"1": reason}
    assert target.point.since == since  # held: the next run tries again
    assert x(cards(dav)[own(1)], "X-CONTACTVAULT-VERIFICATION-STATUS") == "valid"


def test_flag_marks_a_created_card_erased_and_drops_the_person_s_data(dav: Radicale, target: CardDAVTarget) -> None:
    engine.run([person("1"), person("2")], target, FieldMap.default(), target.point, dry_run=False)
    calls = engine.erase(["1"], target, target.point, "flag", dry_run=False)
    assert calls == [f"PUT (flagged erased) {own(1)} (If-Match: <etag>)"]
    flagged, kept = cards(dav)[own(1)], cards(dav)[own(2)]
    assert (x(flagged, "X-CONTACTVAULT-ERASED"), flagged.fn.value) == ("true", "Erased contact")
    assert "email" not in flagged.contents
    assert "p1@example.com" not in dav.cards(dav.url + BOOK)[own(1)]
    assert kept.email.value == "p2@example.com"


def test_more_than_100_contacts_go_in_batches(dav: Radicale, target: CardDAVTarget) -> None:
    people = [person(str(i)) for i in range(1, 102)]
    first = engine.run(people, target, FieldMap.default(), target.point, dry_run=False)
    assert first.counts()["create"] == 101
    reads = [m for m, _, _ in dav.requests if m == "REPORT"]
    assert len(reads) == 4  # per batch of 100: a multiget by href, then a query by email for the rest
    second = engine.run(people, target, FieldMap.default(), target.point, dry_run=False)
    assert second.counts()["skip"] == 101
    assert [m for m, _, _ in dav.requests].count("REPORT") == 6  # a rerun finds every card by href
    assert len(dav.cards(dav.url + BOOK)) == 101


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ((), {}, "--to carddav needs --url"),
        (("--url", "http://127.0.0.1:9/u/c/"), {"CARDDAV_USERNAME": "alice"}, "set both $CARDDAV_USERNAME"),
    ],
    ids=["no-url", "user-without-password"],
)
def test_usage_errors(
    connected: CLI, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    for name in ("CARDDAV_USERNAME", "CARDDAV_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = connected("sync", "--to", "carddav", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_wrong_password_is_one_clear_line(
    unlocked: CLI, dav: Radicale, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARDDAV_PASSWORD", "wrong")
    result = unlocked("sync", "--to", "carddav", "--url", dav.url + BOOK, "--checkpoint", str(tmp_path / "cp.json"))
    assert result.exit_code == 1
    assert "CardDAV answered 401 to REPORT (check $CARDDAV_USERNAME and $CARDDAV_PASSWORD)" in result.stderr
    assert "wrong" not in result.stderr


def test_cards_a_server_names_outside_the_address_book_are_ignored(tmp_path: Path) -> None:
    card = "BEGIN:VCARD\nVERSION:4.0\nUID:u\nFN:x\nEMAIL:p1@example.com\nEND:VCARD\n"
    found = "".join(
        f'<D:response><D:href>{href}</D:href><D:propstat><D:prop><D:getetag>"e"</D:getetag>'
        f"<C:address-data>{card}</C:address-data></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"
        "</D:response>"
        for href in ("https://elsewhere.test/x.vcf", "/alice/other/x.vcf", f"{BOOK}../other/y.vcf")
    )
    body = f'<D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">{found}</D:multistatus>'
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url}")
        return httpx.Response(207, text=body)

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        target = CardDAVTarget(http, "https://dav.test" + BOOK, Checkpoint(tmp_path / "cp.json"))
        assert target.read([person("1")], FieldMap.default()) == {}
    assert seen == [f"REPORT https://dav.test{BOOK}"] * 2
