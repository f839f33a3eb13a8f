"""/metrics: the Prometheus exposition moves by the right amounts during a real unlock, never carries an id, an
email or a key in a label, and answers only loopback scrapers or holders of the metrics token."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from contactvault.server.api.app import create_app
from contactvault.server.runtime import Runtime
from tests.api.test_long_poll import Poller
from tests.engine import drain, submit
from tests.factories import BIG_EVENT, Account, email_of

LOCAL = ("127.0.0.1", 50000)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@contextmanager
def _app(rt: Runtime, *, run_worker: bool = False, client: tuple[str, int] = LOCAL) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=rt, run_worker=run_worker), raise_server_exceptions=False, client=client) as c:
        yield c


def _scrape(client: TestClient, **headers: str) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return _value(after, name, **labels) - _value(before, name, **labels)


def _completed_unlock(client: TestClient, account: Account, ids: list[str]) -> str:
    submitted = client.post(
        "/external/contacts/unlock", json={"event_id": str(BIG_EVENT), "personnel_ids": ids}, headers=account.headers
    )
    assert submitted.status_code == 201, submitted.text
    task_id = str(submitted.json()["task_id"])
    deadline = time.monotonic() + 30
    while True:
        task = client.get(f"/external/contacts/unlock-tasks/{task_id}", headers=account.headers)
        if task.json()["taskStatus"] == "completed":
            return task_id
        assert time.monotonic() < deadline, task.text
        time.sleep(0.02)  # polling the in-process worker thread with a deadline


def _after_items_counted(client: TestClient, before: Samples, items: int) -> Samples:
    """A scrape once ``items`` more items have been counted: the worker thread counts right after its commit, which a
    poll of the task may see first."""
    deadline = time.monotonic() + 10
    while True:
        after = _scrape(client)
        done = sum(
            _delta(before, after, "contactvault_items_processed_total", status=s) for s in ("unlocked", "failed")
        )
        if done >= items:
            return after
        assert time.monotonic() < deadline, f"{done} of {items} items counted"
        time.sleep(0.01)  # polling another thread's counters with a deadline


def test_a_real_unlock_moves_the_counters_by_its_credits(directory: Runtime, account: Account) -> None:
    with _app(directory, run_worker=True) as client:
        before = _scrape(client)
        # People 1 and 2 have an email (captured), person 10 has none (failed, released).
        _completed_unlock(client, account, ["1", "2", "10"])
        after = _after_items_counted(client, before, 3)
    held = _delta(before, after, "contactvault_credits_total", kind="hold", channel="email")
    captured = _delta(before, after, "contactvault_credits_total", kind="capture", channel="email")
    released = _delta(before, after, "contactvault_credits_total", kind="release", channel="email")
    assert (held, captured, released) == (45, 30, 15)
    assert held == captured + released
    assert _delta(before, after, "contactvault_items_processed_total", status="unlocked") == 2
    assert _delta(before, after, "contactvault_items_processed_total", status="failed") == 1
    failed = [
        k for k in after if k[0] == "contactvault_items_failed_total" and _delta(before, after, k[0], **dict(k[1]))
    ]
    assert len(failed) == 1
    assert _delta(before, after, failed[0][0], **dict(failed[0][1])) == 1
    assert (
        _delta(
            before,
            after,
            "contactvault_http_requests_total",
            method="POST",
            route="/external/contacts/unlock",
            status="201",
        )
        == 1
    )
    polls = "/external/contacts/unlock-tasks/{task_id}"
    assert _delta(before, after, "contactvault_http_request_duration_seconds_count", method="GET", route=polls) >= 1
    assert _value(after, "contactvault_queue_items", state="pending") == 0
    assert _value(after, "contactvault_queue_items", state="processing") == 0
    assert _value(after, "contactvault_queue_oldest_pending_seconds") == 0
    assert _delta(before, after, "contactvault_worker_iterations_total") >= 1
    assert _delta(before, after, "contactvault_resolver_answers_total", resolver="vault", outcome="found") == 2


def test_the_queue_gauges_read_the_database_at_scrape_time(directory: Runtime, account: Account) -> None:
    with _app(directory) as client:  # no worker: the items wait
        client.post(
            "/external/contacts/unlock",
            json={"event_id": str(BIG_EVENT), "personnel_ids": ["1", "2", "3"]},
            headers=account.headers,
        )
        directory.clock.advance(90)  # type: ignore[attr-defined]
        samples = _scrape(client)
    assert _value(samples, "contactvault_queue_items", state="pending") == 3
    assert _value(samples, "contactvault_queue_oldest_pending_seconds") == 90


BOUNDED = re.compile(r"[A-Za-z0-9_./{}+\-]{1,80}")


def test_no_label_carries_an_id_an_email_a_path_value_or_a_key(directory: Runtime, account: Account) -> None:
    email = email_of(1)
    with _app(directory, run_worker=True) as client:
        task_id = _completed_unlock(client, account, ["1"])
        client.get(f"/external/contacts/unlock-tasks/{task_id}", headers=account.headers)
        client.get(f"/nowhere/{email}/{account.api_key}")
        client.get(
            f"/external/contacts/unlock-tasks/{task_id}", headers={"Authorization": f"Bearer {account.api_key}x"}
        )
        samples = _scrape(client)
    secrets = [task_id, email, account.api_key, account.key_id, str(account.id) + "/"]
    for name, labels in samples:
        for label, value in labels:
            assert BOUNDED.fullmatch(value), (name, label, value)
            assert not any(s in value for s in secrets), (name, label, value)
            if label == "route":
                assert value == "unmatched" or value.startswith("/"), value
            if label not in ("le", "status"):
                assert not re.search(r"\d{4,}", value), (name, label, value)  # no ids
    assert (
        "contactvault_http_requests_total",
        frozenset({("method", "GET"), ("route", "unmatched"), ("status", "404")}),
    ) in samples


def test_without_a_token_only_loopback_scrapers_are_answered(directory: Runtime) -> None:
    with _app(directory, client=("203.0.113.9", 40000)) as remote:
        refused, unknown = remote.get("/metrics"), remote.get("/no-such-route")
        assert refused.status_code == unknown.status_code == 404
        assert refused.json() | {"traceId": ""} == unknown.json() | {"traceId": ""}  # nothing says it exists
    with _app(directory, client=("::1", 40000)) as local:
        assert local.get("/metrics").status_code == 200


def test_with_a_token_every_scraper_must_send_it(directory: Runtime) -> None:
    directory.settings = directory.settings.model_copy(update={"metrics_token": "scrape-secret"})
    with _app(directory, client=("203.0.113.9", 40000)) as remote:
        assert remote.get("/metrics").status_code == 404
        assert remote.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
        response = remote.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert response.status_code == 200
        assert "scrape-secret" not in response.text
    with _app(directory) as local:  # a token binds loopback too
        assert local.get("/metrics").status_code == 404


def test_rate_limit_refusals_are_counted_by_policy(directory: Runtime) -> None:
    directory.settings = directory.settings.model_copy(update={"rate_limit_per_ip": 2})
    with _app(directory) as client:
        before = _scrape(client)
        statuses = [client.get("/external/credits/balance").status_code for _ in range(3)]
        after = _scrape(client)
    assert statuses[-1] == 429
    assert _delta(before, after, "contactvault_rate_limit_refusals_total", policy="ip") == 1


def test_open_long_polls_are_a_gauge_that_comes_back_down(directory: Runtime, account: Account) -> None:
    task_id = submit(directory, account, [1, 2])["task_id"]
    with _app(directory) as client:
        directory.notifier.worker_in_process = True  # as in `serve`: the poll waits for a wake-up
        try:
            before = _value(_scrape(client), "contactvault_long_polls_open")
            poll = Poller(client, account, task_id)
            deadline = time.monotonic() + 10
            while _value(_scrape(client), "contactvault_long_polls_open") != before + 1:
                assert time.monotonic() < deadline, "the long-poll never showed"
                time.sleep(0.01)  # polling another thread's state with a deadline
            drain(directory)
            assert poll.result().status_code == 200
            assert _value(_scrape(client), "contactvault_long_polls_open") == before
        finally:
            directory.notifier.worker_in_process = False


def test_metrics_stay_out_of_the_openapi_document(client: TestClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]
