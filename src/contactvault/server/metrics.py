"""Prometheus metrics (docs/operations.md, "What to watch"): the process's counters, and the exposition.

Labels carry only bounded, non-personal values: route templates, status codes, channels, states, error codes,
outcomes. Never an id, an email, a phone, a key or a raw path.

With ``PROMETHEUS_MULTIPROC_DIR`` set (several ``serve`` processes on one host, started with the directory empty),
each process writes its values there and a scrape of any of them sums every process (prometheus-client's
multi-process mode).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY

HTTP_REQUESTS = Counter(
    "contactvault_http_requests_total",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "contactvault_http_request_duration_seconds",
    "HTTP request latency, by method and route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
CREDITS = Counter(
    "contactvault_credits_total",
    "Credits moved by ledger postings (hold, capture, release), by channel",
    ["kind", "channel"],
)
CREDITS_EXPIRED = Counter(
    "contactvault_credits_expired_total", "Credits left in expired buckets, posted as expire entries"
)
HOUSEKEEPING_RUNS = Counter(
    "contactvault_housekeeping_runs_total",
    "Housekeeping job runs in this process, by job and outcome (ok, failed)",
    ["job", "outcome"],
)
ITEMS_PROCESSED = Counter(
    "contactvault_items_processed_total", "Task items that reached a final state, by status", ["status"]
)
ITEMS_FAILED = Counter("contactvault_items_failed_total", "Task items failed, by error code", ["error_code"])
ITEM_RETRIES = Counter("contactvault_item_retries_total", "Task item attempts that will be retried later")
LEASES_LOST = Counter(
    "contactvault_worker_leases_lost_total", "Claimed items whose lease expired before the worker recorded them"
)
LONG_POLLS_OPEN = Gauge("contactvault_long_polls_open", "Long-polls waiting now", multiprocess_mode="livesum")
RATE_LIMITED = Counter("contactvault_rate_limit_refusals_total", "Requests refused by a rate limit", ["policy"])
WEBHOOK_DELIVERIES = Counter(
    "contactvault_webhook_deliveries_total", "Webhook delivery attempts, by outcome", ["outcome"]
)
RESOLVER_CALLS = Counter(
    "contactvault_resolver_answers_total",
    "Resolver answers about items, by resolver and outcome",
    ["resolver", "outcome"],
)
WORKER_LOOPS = Counter("contactvault_worker_iterations_total", "Worker loop iterations completed")


def credits_moved(moves: Iterable[tuple[str, str, int]]) -> None:
    """Count committed postings: (kind, channel, credits) each."""
    for kind, channel, amount in moves:
        if amount:
            CREDITS.labels(kind=kind, channel=channel).inc(amount)


def webhook_outcome(status_code: int | None) -> str:
    """A bounded outcome label for one delivery attempt."""
    if status_code is None:
        return "no_answer"
    if 200 <= status_code < 300:
        return "delivered"
    return f"http_{status_code // 100}xx"


def exposition(extra: CollectorRegistry | None = None) -> bytes:
    """The text exposition of every process's metrics (or this one's), then ``extra``'s (scrape-time reads)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    return text + (generate_latest(extra) if extra is not None else b"")
