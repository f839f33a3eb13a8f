"""The resumable unlock workflow against a stateful fake server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from contactvault import (
    Client,
    NotFoundError,
    SkippedContact,
    StateStore,
    UnlockEstimate,
    UnlockProgress,
    UnlockTask,
)
from contactvault.client._routes import CHANNELS
from contactvault.client._workflow import credits_charged

from .conftest import FakeClock
from .fake_api import FakeAPI, SimulatedCrash

ClientFactory = Callable[..., Client]


def recorder(estimates: list[UnlockEstimate], answer: bool) -> Callable[[UnlockEstimate], bool]:
    """A confirm callback that records each estimate and gives the same answer."""

    def confirm(estimate: UnlockEstimate) -> bool:
        estimates.append(estimate)
        return answer

    return confirm


def body_of(request: httpx.Request) -> dict[str, object]:
    return json.loads(request.content)


def test_separates_delivered_failed_and_skipped(client: Client, fake: FakeAPI, state_file: Path) -> None:
    fake.people["3"].outcome = "UNRESOLVED"
    fake.people["4"].outcome = "INELIGIBLE"
    fake.people["5"].status["email"] = "unlocked"
    fake.people["6"].status["email"] = "unlocking"
    estimates: list[UnlockEstimate] = []

    def confirm(estimate: UnlockEstimate) -> bool:
        estimates.append(estimate)
        return True

    ids: list[str | int] = ["1", "2", "3", "4", "5", "6", "999", "1", 2]
    result = client.unlock_emails("100", ids, confirm=confirm, state_file=state_file)

    assert result.status == "completed"
    assert [c.personnel_id for c in result.delivered] == ["1", "2"]
    assert [c.email for c in result.delivered] == ["person1@example.com", "person2@example.com"]
    assert result.delivered[0].full_name == "Person 1"
    assert result.delivered[0].verification is not None
    assert {code: [f.personnel_id for f in group] for code, group in result.failed.items()} == {
        "UNRESOLVED": ["3"],
        "INELIGIBLE": ["4"],
    }
    assert set(result.skipped) == {
        SkippedContact("999", "not_found"),
        SkippedContact("5", "already_unlocked"),
        SkippedContact("6", "unlock_in_progress"),
    }
    (estimate,) = estimates
    assert (estimate.count, estimate.credits, estimate.balance, estimate.balance_after) == (
        4,
        60,
        10_000,
        9_940,
    )
    assert result.reconciliation is not None
    assert (result.reconciliation.before, result.reconciliation.after) == (10_000, 9_970)
    assert result.reconciliation.charged == 30
    assert result.reconciliation.ok
    assert len(fake.submissions()) == 1
    assert body_of(fake.submissions()[0])["personnel_ids"] == ["1", "2", "3", "4"]


def test_confirm_returning_false_spends_nothing(client: Client, fake: FakeAPI, state_file: Path) -> None:
    result = client.unlock_emails("100", ["1", "2"], confirm=lambda e: False, state_file=state_file)
    assert result.is_cancelled
    assert result.delivered == ()
    assert fake.submissions() == []
    assert fake.balance == 10_000
    with StateStore(state_file) as store:
        assert store.list_runs() == []


def test_nothing_to_unlock_skips_confirm_and_submission(client: Client, fake: FakeAPI, state_file: Path) -> None:
    fake.people["1"].status["email"] = "unlocked"
    result = client.unlock_emails("100", ["1"], confirm=lambda e: pytest.fail("asked"), state_file=state_file)
    assert result.status == "nothing_to_unlock"
    assert result.skipped == (SkippedContact("1", "already_unlocked"),)
    assert fake.submissions() == []


def test_250_ids_are_submitted_in_batches_of_at_most_100(make_client: ClientFactory, state_file: Path) -> None:
    fake = FakeAPI(people=250)
    client = make_client(fake.handle)
    result = client.unlock_emails("100", [str(i) for i in range(1, 251)], state_file=state_file)
    sizes = [len(body_of(r)["personnel_ids"]) for r in fake.submissions()]  # type: ignore[arg-type]
    assert sizes == [100, 100, 50]
    assert len({r.headers["Idempotency-Key"] for r in fake.submissions()}) == 3
    assert len(result.delivered) == 250
    assert len(result.task_ids) == 3
    assert result.reconciliation is not None
    assert result.reconciliation.charged == 250 * 15
    assert result.reconciliation.ok
    # The event list was walked (5 pages of 50) instead of 250 profile lookups.
    assert not any(r.url.path.endswith("/profile") for r in fake.requests)


def test_reconciliation_reports_a_difference_when_the_server_overcharges(
    client: Client, fake: FakeAPI, state_file: Path
) -> None:
    fake.overcharge = 5
    result = client.unlock_emails("100", ["1", "2"], state_file=state_file)
    reconciliation = result.reconciliation
    assert reconciliation is not None
    assert (reconciliation.before, reconciliation.after, reconciliation.charged) == (10_000, 9_965, 30)
    assert reconciliation.difference == 5
    assert not reconciliation.ok


def test_resume_after_crash_before_task_id_resubmits_with_the_same_key(
    client: Client, fake: FakeAPI, state_file: Path
) -> None:
    fake.crash_after_submit = True
    with pytest.raises(SimulatedCrash):
        client.unlock_emails("100", ["1", "2"], state_file=state_file)
    with StateStore(state_file) as store:
        (run,) = store.unfinished_runs()
        (batch,) = store.batches(run.run_id)
        assert batch.task_id is None
        assert batch.idempotency_key

    fake.crash_after_submit = False
    (result,) = client.resume(state_file)

    first, second = fake.submissions()
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == batch.idempotency_key
    assert first.content == second.content
    assert len(fake.tasks) == 1
    assert [c.personnel_id for c in result.delivered] == ["1", "2"]
    assert result.reconciliation is not None
    assert result.reconciliation.ok
    with StateStore(state_file) as store:
        assert store.unfinished_runs() == []


def test_resume_with_a_task_id_only_waits_for_it(client: Client, fake: FakeAPI, state_file: Path) -> None:
    fake.crash_on_poll = True
    with pytest.raises(SimulatedCrash):
        client.unlock_emails("100", ["1", "2"], state_file=state_file)
    with StateStore(state_file) as store:
        (run,) = store.unfinished_runs()
        (batch,) = store.batches(run.run_id)
        assert batch.task_id in fake.tasks

    fake.crash_on_poll = False
    (result,) = client.resume(state_file)
    assert len(fake.submissions()) == 1
    assert result.task_ids == (batch.task_id,)
    assert len(result.delivered) == 2


def test_resume_continues_later_batches_of_an_interrupted_run(make_client: ClientFactory, state_file: Path) -> None:
    fake = FakeAPI(people=150)
    client = make_client(fake.handle)
    submitted = {"n": 0}
    original = fake.handle

    def crash_on_second_submission(request):
        if request.url.path == "/external/contacts/unlock":
            submitted["n"] += 1
            if submitted["n"] == 2:
                raise SimulatedCrash
        return original(request)

    crashing = make_client(crash_on_second_submission)
    with pytest.raises(SimulatedCrash):
        crashing.unlock_emails("100", [str(i) for i in range(1, 151)], state_file=state_file)
    (result,) = client.resume(state_file)
    assert len(fake.tasks) == 2
    assert len(result.delivered) == 150
    assert client.resume(state_file) == []


def test_resume_ignores_runs_for_another_server(
    client: Client, make_client: ClientFactory, fake: FakeAPI, state_file: Path
) -> None:
    fake.crash_after_submit = True
    with pytest.raises(SimulatedCrash):
        client.unlock_emails("100", ["1"], state_file=state_file)
    fake.crash_after_submit = False
    other = make_client(fake.handle, base_url="https://other.test")
    assert other.resume(state_file) == []


def test_insufficient_credits_rejects_the_batch_without_spending(make_client: ClientFactory, state_file: Path) -> None:
    fake = FakeAPI(balance=20)
    client = make_client(fake.handle)
    estimates: list[UnlockEstimate] = []
    result = client.unlock_emails("100", ["1", "2"], confirm=recorder(estimates, True), state_file=state_file)
    assert not estimates[0].is_affordable
    assert result.delivered == ()
    assert set(result.skipped) == {
        SkippedContact("1", "insufficient_credits"),
        SkippedContact("2", "insufficient_credits"),
    }
    assert fake.balance == 20
    assert result.reconciliation is not None
    assert result.reconciliation.ok


def test_max_credits_caps_spend_across_batches(make_client: ClientFactory, state_file: Path) -> None:
    fake = FakeAPI(people=250)
    client = make_client(fake.handle)
    result = client.unlock_emails("100", [str(i) for i in range(1, 251)], max_credits=1800, state_file=state_file)
    caps = [body_of(r).get("max_credits") for r in fake.submissions()]
    assert caps == [1800, 300]
    assert len(result.delivered) == 120
    assert len(result.failed["CREDIT_CAP_REACHED"]) == 130
    assert result.reconciliation is not None
    assert result.reconciliation.charged == 1800
    assert result.estimate is not None
    assert result.estimate.balance_after == 10_000 - 1800


def test_a_cap_below_one_unit_is_refused_before_any_request(client: Client, fake: FakeAPI, state_file: Path) -> None:
    with pytest.raises(ValueError, match=r"max_credits=100 is below the price of one phone \(150 credits\)"):
        client.unlock_phones("100", ["3", "6"], max_credits=100, state_file=state_file)
    assert fake.requests == []


def test_the_estimate_spends_whole_units_only_under_a_cap(client: Client, fake: FakeAPI, state_file: Path) -> None:
    estimates: list[UnlockEstimate] = []
    client.unlock_emails(
        "100", ["1", "2", "3"], max_credits=40, confirm=recorder(estimates, False), state_file=state_file
    )
    # 40 credits buy two emails (30): the balance can never end 40 lower.
    assert estimates[0].balance_after == 10_000 - 30


def test_unlock_phones_uses_phone_routes_and_prices(client: Client, fake: FakeAPI, state_file: Path) -> None:
    result = client.unlock_phones("100", ["1", "2"], state_file=state_file)
    assert [r.url.path for r in fake.submissions()] == ["/external/contacts/unlock-phone"]
    assert [c.phone for c in result.delivered] == ["+15550000001", "+15550000002"]
    assert result.delivered[0].email is None
    assert result.reconciliation is not None
    assert result.reconciliation.charged == 300
    assert fake.balance == 10_000 - 300


def test_unknown_event_raises_before_anything_is_spent(client: Client, fake: FakeAPI, state_file: Path) -> None:
    with pytest.raises(NotFoundError):
        client.unlock_emails("404", ["1"], state_file=state_file)
    assert fake.submissions() == []


def test_server_skips_at_submission_are_reported_with_their_reason(
    client: Client, fake: FakeAPI, state_file: Path
) -> None:
    def unlock_elsewhere(estimate: UnlockEstimate) -> bool:
        # Someone else's run unlocks person 2 between the estimate and the submission.
        fake.people["2"].status["email"] = "unlocked"
        return True

    result = client.unlock_emails("100", ["1", "2"], confirm=unlock_elsewhere, state_file=state_file)
    assert [c.personnel_id for c in result.delivered] == ["1"]
    assert result.skipped == (SkippedContact("2", "already_unlocked"),)


def test_server_ignoring_wait_falls_back_to_sleeping(
    client: Client, fake: FakeAPI, clock: FakeClock, state_file: Path
) -> None:
    fake.ignore_wait = True
    fake.polls_to_finish = 4
    result = client.unlock_emails("100", ["1"], state_file=state_file)
    assert len(result.delivered) == 1
    assert clock.sleeps == [3.0, 5.0]


def test_progress_callback_sees_every_stage(client: Client, state_file: Path) -> None:
    seen: list[UnlockProgress] = []
    client.unlock_emails("100", ["1", "2"], state_file=state_file, on_progress=seen.append)
    stages = [p.stage for p in seen]
    assert stages[:4] == ["lookup", "estimate", "started", "submitted"]
    assert seen[2].run_id is not None  # the run is in the state file: an interruption can name it
    assert "task" in stages
    assert stages[-2:] == ["batch_done", "done"]


def test_delivered_contacts_are_kept_for_export(client: Client, state_file: Path) -> None:
    client.unlock_emails("100", ["1"], state_file=state_file)
    client.unlock_phones("100", ["1"], state_file=state_file)
    with StateStore(state_file) as store:
        exported = store.delivered_contacts(event_id="100")
        assert sorted((c.channel, c.value) for c in exported) == [
            ("email", "person1@example.com"),
            ("phone", "+15550000001"),
        ]
        assert {c.title for c in exported} == {"VP Partnerships"}


def test_state_file_defaults_to_the_user_data_dir(client: Client, tmp_path: Path) -> None:
    client.unlock_emails("100", ["1"])
    assert (tmp_path / "xdg-data" / "contactvault" / "state.db").exists()


def test_credits_charged_prefers_task_then_items_then_unit_cost() -> None:
    items = [
        {"personnelId": "1", "status": "unlocked", "email": "a@b.c", "creditsCharged": 15},
        {"personnelId": "2", "status": "failed", "errorCode": "UNRESOLVED", "creditsCharged": 0},
    ]
    spec = CHANNELS["email"]
    task = UnlockTask.model_validate({"taskId": "1", "taskStatus": "completed", "items": items, "creditsCharged": 99})
    assert credits_charged(task, spec) == 99
    assert credits_charged(task.model_copy(update={"credits_charged": None}), spec) == 15
    bare = [{k: v for k, v in item.items() if k != "creditsCharged"} for item in items]
    bare_task = UnlockTask.model_validate({"taskId": "1", "taskStatus": "completed", "items": bare})
    assert credits_charged(bare_task, spec) == 15


def test_resuming_a_finished_run_changes_nothing(client: Client, fake: FakeAPI, state_file: Path) -> None:
    first = client.unlock_emails("100", ["1"], state_file=state_file)
    assert first.run_id is not None
    requests_before = len(fake.requests)
    fake.balance -= 1000  # spent elsewhere afterwards: must not leak into this run's reconciliation
    (again,) = client.resume(state_file, run_id=first.run_id)
    assert len(fake.requests) == requests_before
    assert again.reconciliation == first.reconciliation
    assert again.delivered == first.delivered
