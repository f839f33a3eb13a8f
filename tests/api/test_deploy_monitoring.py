"""deploy/: the Grafana dashboard and the Prometheus alert rules name only metrics (and labels) the service exports.

Not `promtool check rules`: Debian's `prometheus` package is the whole server (about 100 MB with its web assets)
for one syntax check. Instead every expression is parsed here for its metric names, label matchers, brackets and
range durations, and checked against the names a real scrape shows after a real unlock and a housekeeping pass.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from contactvault.server.api.app import create_app
from contactvault.server.runtime import Runtime
from contactvault.server.worker.housekeeping import Housekeeper
from tests.engine import worker
from tests.factories import BIG_EVENT, Account

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "contactvault.json"
METRIC = re.compile(r"\bcontactvault_[a-z0-9_]+")
SELECTOR = re.compile(r"\b(contactvault_[a-z0-9_]+)\s*\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*\"[^\"]*\"")
DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"), "gauge": ("",)}


def _exported(rt: Runtime, account: Account) -> dict[str, set[str]]:
    """Every series name a scrape may show, with the label names seen on it, after a real unlock and housekeeping."""
    with TestClient(create_app(runtime=rt), client=("127.0.0.1", 50000)) as client:
        body = {"event_id": str(BIG_EVENT), "personnel_ids": ["1", "2", "10"]}
        assert client.post("/external/contacts/unlock", json=body, headers=account.headers).status_code == 201
        w = worker(rt)
        try:
            while w.step():  # records the outcomes, then a heartbeat
                pass
        finally:
            w.close()
        Housekeeper(rt).run_due()
        response = client.get("/metrics")
    assert response.status_code == 200
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(response.text):
        for suffix in SUFFIXES.get(family.type, ("",)):
            names.setdefault(family.name + suffix, set())
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def _alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    assert all(p["title"] and p["targets"] for p in panels)
    return [t["expr"] for p in panels for t in p["targets"]]


def _check_expr(expr: str, exported: dict[str, set[str]]) -> None:
    used = METRIC.findall(expr)
    assert used, f"names no contactvault metric: {expr}"
    unknown = sorted(set(used) - set(exported))
    assert not unknown, f"not exported: {unknown} in {expr}"
    for name, matchers in SELECTOR.findall(expr):
        wanted = {label for label, _ in MATCHER.findall(matchers)}
        if exported[name]:  # the series had samples: its label names are known
            assert wanted <= exported[name], f"{name} has no label {sorted(wanted - exported[name])}: {expr}"
    for opening, closing in ("()", "[]", "{}"):
        assert expr.count(opening) == expr.count(closing), f"unbalanced {opening}{closing}: {expr}"
    for duration in re.findall(r"\[([^\]]*)\]", expr):
        assert DURATION.match(duration), f"bad range {duration!r}: {expr}"


def test_every_alert_names_only_exported_metrics(directory: Runtime, account: Account) -> None:
    exported = _exported(directory, account)
    rules = _alert_rules()
    for rule in rules:
        _check_expr(rule["expr"], exported)
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]
        assert "for" not in rule or DURATION.match(rule["for"])
    names = {rule["alert"] for rule in rules}
    assert len(names) == len(rules)
    assert {
        "ContactvaultQueueBacklog",
        "ContactvaultWorkerLoopStale",
        "ContactvaultHigh5xxRate",
        "ContactvaultLedgerDoesNotReconcile",
    } <= names


def test_every_dashboard_query_names_only_exported_metrics(directory: Runtime, account: Account) -> None:
    exported = _exported(directory, account)
    exprs = _dashboard_exprs()
    for expr in exprs:
        _check_expr(expr, exported)
    shown = {m for expr in exprs for m in METRIC.findall(expr)}
    for topic in (
        "contactvault_http_requests_total",
        "contactvault_http_request_duration_seconds_bucket",
        "contactvault_queue_items",
        "contactvault_queue_oldest_pending_seconds",
        "contactvault_credits_total",
        "contactvault_worker_iterations_total",
        "contactvault_worker_last_loop_age_seconds",
        "contactvault_webhook_deliveries_total",
        "contactvault_resolver_answers_total",
        "contactvault_ledger_reconcile_problems",
    ):
        assert topic in shown, f"the dashboard shows no {topic}"


@pytest.mark.parametrize(
    "expr",
    [
        "sum(rate(contactvault_no_such_metric_total[5m]))",  # not exported
        "up",  # names no metric of ours
        'rate(contactvault_http_requests_total{colour="red"}[5m])',  # no such label
        "rate(contactvault_http_requests_total[5 m])",  # not a range
        "sum(rate(contactvault_http_requests_total[5m])",  # unbalanced
    ],
)
def test_the_check_refuses_what_is_not_exported(expr: str) -> None:
    with pytest.raises(AssertionError):
        _check_expr(expr, {"contactvault_http_requests_total": {"method", "route", "status"}})
