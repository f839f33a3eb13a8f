"""Every grant, key change, hold, capture, release and reveal has an audit row; none holds a secret or a value."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from contactvault.cli.main import app as cli
from contactvault.server.db.tables import audit_log, task_items, tasks
from contactvault.server.runtime import Runtime
from contactvault.server.services import audit_view
from tests.security.workflow import Workflow


def rows(rt: Runtime) -> list[Any]:
    """Every audit row, oldest first."""
    with rt.db.read() as conn:
        return list(conn.execute(select(audit_log).order_by(audit_log.c.id)))


def test_a_workflow_leaves_an_audit_row_for_every_money_and_data_event(workflow: Workflow, directory: Runtime) -> None:
    audit = rows(directory)
    by_action = Counter(r.action for r in audit)
    with directory.db.read() as conn:
        items = conn.execute(select(task_items)).all()
        task_rows = conn.execute(select(tasks)).all()
    unlocked = [i for i in items if i.status == "unlocked"]
    charged = [i for i in items if i.credits_charged]
    assert by_action["account.create"] == by_action["key.create"] == by_action["credits.grant"] == 2
    assert by_action["credits.hold"] == len(task_rows) == 4
    assert by_action["contact.reveal"] == len(unlocked)
    assert by_action["credits.release"] >= 1
    assert by_action["suppression.add"] == 1
    # A reveal row records the delivery and the credits it captured (0 for a person delivered before).
    reveals = [r for r in audit if r.action == "contact.reveal"]
    assert {json.loads(r.detail)["item"]: r.credits for r in reveals} == {
        str(i.id): i.credits_charged for i in unlocked
    }
    assert Counter((r.account_id, r.subject_id) for r in reveals) == Counter(
        (i.account_id, str(i.personnel_id)) for i in unlocked
    )
    assert sum(r.credits for r in reveals) == sum(i.credits_charged for i in charged)
    for task in task_rows:
        held = sum(r.credits for r in audit if r.action == "credits.hold" and r.subject_id == str(task.id))
        released = sum(
            r.credits for r in audit if r.action == "credits.release" and json.loads(r.detail)["task"] == str(task.id)
        )
        assert held == task.credits_held
        assert released == task.credits_released
    holds = {r.subject_id: r.trace_id for r in audit if r.action == "credits.hold"}
    assert sorted(holds.values()) == sorted(workflow.submission_traces)


def test_audit_rows_hold_no_secret_and_no_personal_value(workflow: Workflow, directory: Runtime) -> None:
    text = "\n".join(repr(tuple(r)) for r in rows(directory)).lower()
    assert not {s for s in workflow.secrets if s.lower() in text}


def test_the_audit_view_gives_worker_rows_the_trace_of_their_submission(workflow: Workflow, directory: Runtime) -> None:
    account = workflow.accounts[0]
    entries = audit_view.list_entries(directory, account_id=account.id, limit=1000)
    assert entries == sorted(entries, key=lambda e: int(e["id"]), reverse=True)
    assert {e["accountId"] for e in entries} == {str(account.id)}
    reveals = [e for e in entries if e["action"] == "contact.reveal"]
    assert reveals
    assert {e["traceId"] for e in reveals} <= set(workflow.submission_traces)
    assert all(e["traceId"] for e in entries if e["action"].startswith("credits.") and e["action"] != "credits.grant")


def test_the_cli_lists_audit_rows_as_json(workflow: Workflow, directory: Runtime, database_url: str) -> None:
    account = workflow.accounts[1]
    result = CliRunner().invoke(
        cli,
        [
            "admin",
            "audit",
            "--account",
            str(account.id),
            "--since",
            "2000-01-01T00:00:00+00:00",
            "--limit",
            "5",
            "--db",
            database_url,
        ],
        env={"CONTACTVAULT_ENCRYPTION_KEY_FILE": str(directory.settings.encryption_key_file)},
    )
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert len(listed) == 5
    assert {e["accountId"] for e in listed} == {str(account.id)}
    future = CliRunner().invoke(
        cli,
        ["admin", "audit", "--since", "2999-01-01T00:00:00Z", "--db", database_url],
        env={"CONTACTVAULT_ENCRYPTION_KEY_FILE": str(directory.settings.encryption_key_file)},
    )
    assert json.loads(future.stdout) == []
    naive = CliRunner().invoke(cli, ["admin", "audit", "--since", "2026-01-01T00:00:00", "--db", database_url])
    assert naive.exit_code == 2
