"""CSV exports: the formula-injection rule, the BOM option, a task's rows, everything unlocked (paged), and
another account's task refused."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from contactvault.csv_cells import FORMULA_STARTS, is_phone_number, safe_text
from contactvault.server.console import csv_export
from contactvault.server.console.pages import exports
from contactvault.server.db.tables import contact_points, personnel
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services.unlocks import ItemView
from tests.engine import drain, submit
from tests.factories import Account, email_of, phone_of

BOM = "\ufeff"


def _rows(body: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body)))


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_every_dangerous_start_gets_an_apostrophe(start: str) -> None:
    assert safe_text(f"{start}SUM(A1:A9)") == f"'{start}SUM(A1:A9)"


@pytest.mark.parametrize("text", ["Jane Doe", "CEO", "jane@acme.test", "", "'quoted", "a=b"])
def test_harmless_text_is_left_alone(text: str) -> None:
    assert safe_text(text) == text


@pytest.mark.parametrize("phone", ["+4930123456", "+1 (555) 010-0199", "+44 20 7946 0958"])
def test_a_phone_number_keeps_its_plus_and_is_quoted(phone: str) -> None:
    assert is_phone_number(phone)
    assert safe_text(phone, phone_column=True) == phone
    line = csv_export.encode([[7, csv_export.PhoneNumber(phone)]])
    assert line == f'7,"{phone}"\r\n'
    assert _rows(line) == [["7", phone]]


@pytest.mark.parametrize("text", ["+", "+1+1", "+1;cmd", "+SUM(1)", "+1\n=2", "+٣٣"])
def test_a_plus_that_is_not_a_phone_number_is_guarded(text: str) -> None:
    assert safe_text(text, phone_column=True) == "'" + text
    assert csv_export.encode([[csv_export.PhoneNumber(text)]]) == f'"\'{text}"\r\n'


def test_a_phone_number_outside_a_phone_column_is_guarded() -> None:
    assert csv_export.encode([["+49 30 1234"]]) == '"\'+49 30 1234"\r\n'


def test_names_with_commas_quotes_and_newlines_round_trip() -> None:
    names = ["Doe, Jane", 'Jane "JD" Doe', "Jane\nDoe", 'Zoë Ørsted, "Dr."\r\nCTO']
    assert _rows(csv_export.encode([[i, n] for i, n in enumerate(names)])) == [[str(i), n] for i, n in enumerate(names)]


def test_ids_and_numbers_are_written_as_they_are() -> None:
    assert csv_export.encode([[-15, 0, 12345678901234567, None, "-15"]]) == '-15,0,12345678901234567,"","\'-15"\r\n'


def test_outcomes_name_already_unlocked_and_the_failure_reason() -> None:
    def item(status: str, error: str | None = None, charged: int = 0) -> ItemView:
        return ItemView(1, status, error, charged, None, None)

    assert csv_export.outcome(item("unlocked", charged=15)) == "unlocked"
    assert csv_export.outcome(item("unlocked")) == "already_unlocked"
    assert csv_export.outcome(item("failed", "UNRESOLVED")) == "failed: no address found"
    assert csv_export.outcome(item("failed", "SOMETHING_NEW")) == "failed: SOMETHING_NEW"
    assert csv_export.outcome(item("pending")) == "in_progress"


def _task(rt: Runtime, account: Account, ids: list[int], channel: Channel = Channel.EMAIL) -> int:
    return int(str(submit(rt, account, ids, channel=channel)["task_id"]))


def test_a_tasks_export_has_one_row_per_person_with_its_outcome(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    with directory.db.write() as conn:
        conn.execute(update(personnel).where(personnel.c.id == 1).values(full_name='=HYPERLINK("x"), Jane'))
        # Person 2's address was found by the engine earlier: its source says so, in the export too.
        conn.execute(update(contact_points).where(contact_points.c.personnel_id == 2).values(source="pattern"))
    task = _task(directory, account, [1, 2, 10])  # person 10 has no email
    drain(directory)

    response = signed_in.get(f"/console/unlocks/{task}/export.csv")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="contactvault-task-{task}.csv"'
    assert not response.text.startswith(BOM)
    header, *rows = _rows(response.text)
    assert header == list(csv_export.task_columns(Channel.EMAIL))
    assert rows == [
        [
            "1",
            '\'=HYPERLINK("x"), Jane',
            "Sales Manager",
            "Acme Widgets GmbH",
            "unlocked",
            email_of(1),
            "vault",
            "valid",
            "95",
            "15",
        ],
        [
            "2",
            "Person 2 Example",
            "Sales Manager",
            "Northwind Logistics",
            "unlocked",
            email_of(2),
            "pattern",
            "valid",
            "95",
            "15",
        ],
        [
            "10",
            "Person 10 Example",
            "VP of Partnerships",
            "Northwind Logistics",
            "failed: no address found",
            "",
            "",
            "",
            "",
            "0",
        ],
    ]


def test_a_phone_tasks_export_quotes_the_number_with_its_plus(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    task = _task(directory, account, [3], Channel.PHONE)
    drain(directory)

    body = signed_in.get(f"/console/unlocks/{task}/export.csv").text

    assert f',"{phone_of(3)}",' in body
    assert f"'{phone_of(3)}" not in body
    assert _rows(body)[0][5] == "phone"


def test_the_bom_is_there_only_when_asked(signed_in: TestClient, directory: Runtime, account: Account) -> None:
    task = _task(directory, account, [1])
    drain(directory)

    for url in (f"/console/unlocks/{task}/export.csv", "/console/exports/unlocked.csv"):
        plain = signed_in.get(url)
        excel = signed_in.get(url + "?bom=1")
        assert plain.content.startswith(b'"person_id"'), url
        assert excel.content.startswith(BOM.encode("utf-8") + b'"person_id"'), url
        assert excel.content.removeprefix(BOM.encode("utf-8")) == plain.content, url


def test_another_accounts_task_or_an_unknown_one_is_not_found(
    signed_in: TestClient, directory: Runtime, other_account: Account
) -> None:
    theirs = _task(directory, other_account, [1])
    drain(directory)

    for task in (theirs, theirs + 1):
        response = signed_in.get(f"/console/unlocks/{task}/export.csv")
        assert response.status_code == 404
        assert email_of(1) not in response.text
        assert response.headers["content-type"].startswith("text/html")
    assert signed_in.get("/console/unlocks/abc/export.csv").status_code == 400


def test_exports_need_a_session(web: TestClient) -> None:
    assert web.get("/console/exports/unlocked.csv").status_code == 303


def test_everything_unlocked_is_exported_through_several_service_pages(
    signed_in: TestClient,
    directory: Runtime,
    account: Account,
    other_account: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exports, "EXPORT_PAGE_SIZE", 2)
    _task(directory, account, [1, 2, 3, 4, 5])
    _task(directory, account, [3], Channel.PHONE)
    _task(directory, other_account, [6])
    drain(directory)

    response = signed_in.get("/console/exports/unlocked.csv")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="contactvault-unlocked-')
    header, *rows = _rows(response.text)
    assert header == list(csv_export.UNLOCKED_COLUMNS)
    got = sorted((int(r[0]), r[4], r[5]) for r in rows)
    assert got == [(pid, "email", email_of(pid)) for pid in (1, 2, 3)] + [(3, "phone", phone_of(3))] + [
        (pid, "email", email_of(pid)) for pid in (4, 5)
    ]
    assert all(r[1].startswith("Person ") for r in rows)
    assert f'"phone","{phone_of(3)}"' in response.text  # the phone column keeps its +, quoted


def test_the_unlocked_export_labels_an_inferred_address_with_its_source_and_verification(
    signed_in: TestClient, directory: Runtime, account: Account
) -> None:
    with directory.db.write() as conn:
        conn.execute(
            update(contact_points)
            .where(contact_points.c.personnel_id == 2, contact_points.c.channel == "email")
            .values(source="pattern", verification_status="accept_all", verification_score=61)
        )
    _task(directory, account, [1, 2])
    drain(directory)

    header, *rows = _rows(signed_in.get("/console/exports/unlocked.csv").text)

    at = {name: header.index(name) for name in ("person_id", "contact", "source", "verification_status")}
    score = header.index("verification_score")
    got = sorted(
        (r[at["person_id"]], r[at["contact"]], r[at["source"]], r[at["verification_status"]], r[score]) for r in rows
    )
    assert got == [("1", email_of(1), "vault", "valid", "95"), ("2", email_of(2), "pattern", "accept_all", "61")]
