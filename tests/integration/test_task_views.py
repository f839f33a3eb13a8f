"""Finished tasks' views come from memory, and a change to what a task shows is never hidden by it."""

from __future__ import annotations

import pytest

from contactvault.server.api.routes.contacts import view_task
from contactvault.server.domain.errors import NotFound
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import erasure
from contactvault.server.services.task_views import TaskViews
from tests.engine import drain, submit
from tests.factories import Account, email_of


def test_a_finished_task_is_served_from_memory_until_it_changes(directory: Runtime, account: Account) -> None:
    body = submit(directory, account, [1, 2])
    task_id = int(str(body["task_id"]))
    _, pending = view_task(directory, account.id, task_id, Channel.EMAIL)
    assert pending["taskStatus"] == "pending"
    assert len(directory.task_views) == 0  # an unfinished task is never kept
    drain(directory)
    _, first = view_task(directory, account.id, task_id, Channel.EMAIL)
    _, second = view_task(directory, account.id, task_id, Channel.EMAIL)
    assert second is first  # the same object: no query, no decryption
    assert first["items"][0]["email"] == email_of(1)

    erasure.erase_person(directory, 1)
    _, after = view_task(directory, account.id, task_id, Channel.EMAIL)
    assert after is not first
    assert "email" not in after["items"][0]
    assert after["items"][1]["email"] == email_of(2)


def test_views_are_per_account_and_channel(directory: Runtime, account: Account, other_account: Account) -> None:
    task_id = int(str(submit(directory, account, [3])["task_id"]))
    drain(directory)
    view_task(directory, account.id, task_id, Channel.EMAIL)
    with pytest.raises(NotFound):
        view_task(directory, other_account.id, task_id, Channel.EMAIL)
    with pytest.raises(NotFound):
        view_task(directory, account.id, task_id, Channel.PHONE)


def test_the_lru_keeps_at_most_its_capacity() -> None:
    views = TaskViews(capacity=2)
    for n in range(3):
        views.put((1, n, "email", 0), {"n": n})
    assert len(views) == 2
    assert views.get((1, 0, "email", 0)) is None
    assert views.get((1, 2, "email", 0)) == {"n": 2}
