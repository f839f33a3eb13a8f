"""Personnel ids typed by a user or passed to the SDK are de-duplicated by the person they name, as the server does:
``"7"``, ``"07"`` and ``7`` are one person, answered as ``"7"``."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from contactvault.cli.client.common import digits
from contactvault.cli.client.unlock import parse_ids, read_id_file
from contactvault.client._models import UnlockSubmission
from contactvault.client._workflow import deduplicate, server_skips


def test_sdk_dedupes_by_the_person_and_sends_the_canonical_form() -> None:
    assert deduplicate(["7", "07", 7, " 007 ", "0008", "8"]) == ["7", "8"]


def test_sdk_passes_other_strings_through_for_the_server_to_classify() -> None:
    assert deduplicate(["abc", "abc", "0", "00", "1" * 21, "9" * 20]) == ["abc", "0", "00", "1" * 21, "9" * 20]


def test_cli_ids_are_deduplicated_in_canonical_form() -> None:
    assert parse_ids("7, 07 007,0009 9", "--ids") == ["7", "9"]


def test_cli_id_file_is_deduplicated_in_canonical_form(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("id,name\n007,a\n7,b\n0012,c\n", encoding="utf-8")
    assert read_id_file(str(path)) == ["7", "12"]


@pytest.mark.parametrize("bad", ["0", "000", "9223372036854775808", "²", "١٢", "1" * 21])
def test_cli_refuses_ids_no_person_can_have(bad: str) -> None:
    with pytest.raises(typer.Exit):
        parse_ids(f"1,{bad}", "--ids")


@pytest.mark.parametrize("bad", ["²", "0", "9223372036854775808"])
def test_cli_digits_refuses_non_ascii_and_out_of_range(bad: str) -> None:
    with pytest.raises(typer.Exit):
        digits(bad, "--event")


def test_cli_digits_gives_the_canonical_form() -> None:
    assert digits(" 0100 ", "--event") == "100"


def test_sdk_reports_malformed_ids_listed_only_in_skipped_detail() -> None:
    submission = UnlockSubmission(
        status="accepted",
        task_id="5",
        skipped_personnel_ids=["99999"],
        skipped_detail={"invalid_personnel_ids": ["abc"], "missing_personnel_ids": ["99999"]},
    )
    skips = {(s.personnel_id, s.reason) for s in server_skips(submission, ["1", "99999", "abc"])}
    assert skips == {("99999", "not_found"), ("abc", "invalid_id")}


def test_a_submission_parses_each_person_id_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from contactvault.server.domain import tasks as task_rules

    calls: list[str] = []
    real = task_rules.parse_person_id

    def counting(raw: str) -> int | None:
        calls.append(raw)
        return real(raw)

    monkeypatch.setattr(task_rules, "parse_person_id", counting)
    people = task_rules.parse_person_ids(["7", "07", "x", "8"])
    result = task_rules.classify(people, known={7, 8}, linked={7, 8}, unlocked=set(), in_flight=set())
    assert (result.chargeable, result.chargeable_pks, result.invalid) == (["7", "8"], [7, 8], ["x"])
    assert calls == ["7", "07", "x", "8"]  # once each: classify reuses the parse


def test_event_and_task_ids_have_their_own_parsers() -> None:
    from contactvault.server.domain.tasks import parse_event_id, parse_task_id

    assert parse_event_id("00139574") == 139574
    assert parse_task_id("4611686018427387904") == 4611686018427387904
    assert parse_event_id("x") is None
    assert parse_task_id("0") is None
