"""The webhook delivery loop: claim due outbox messages, sign each attempt afresh, POST, record the outcome.

Runs as a thread beside the worker (``serve`` with its in-process worker, and ``contactvault worker``). Every
attempt sends the attempt's body (the stored one, or a full payload rendered for this attempt) byte for byte, as
signed, with the message's ``webhook-id``, a fresh ``webhook-timestamp`` and a
signature per active secret; 15 s timeout, no redirects (a 3xx is a failure), connections through the SSRF guard.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from contactvault.server import metrics
from contactvault.server.domain.webhooks import ABORT_HEADER, is_abort
from contactvault.server.runtime import Runtime
from contactvault.server.services import webhook_delivery
from contactvault.server.services.webhook_delivery import AttemptResult, Outgoing
from contactvault.server.worker.webhook_transport import Resolver, guarded_transport, system_resolver
from contactvault.webhooks import webhook_headers

log = logging.getLogger("contactvault.webhooks")

TIMEOUT_SECONDS = 15.0
BATCH = 20
IDLE_SECONDS = 1.0
USER_AGENT = "contactvault-webhooks/1"


def send(client: httpx.Client, out: Outgoing, timestamp: int) -> AttemptResult:
    """One HTTP attempt for a claimed message (never raises for network trouble: it is the attempt's result)."""
    message, body = out.message, out.body  # the bytes signed are the bytes sent
    if not out.secrets:
        return AttemptResult(None, 0, error="no signing secret")
    headers = {
        **webhook_headers(message.id, timestamp, body, out.secrets),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
    started = time.monotonic()
    try:
        with client.stream("POST", message.url, content=body, headers=headers) as response:
            head = b""
            for chunk in response.iter_bytes():
                head += chunk
                if len(head) >= 256:
                    break
            elapsed = int((time.monotonic() - started) * 1000)
            return AttemptResult(
                response.status_code,
                elapsed,
                head,
                response.headers.get("retry-after"),
                abort=is_abort(response.headers.get(ABORT_HEADER)),
            )
    except httpx.TimeoutException:
        error = "timeout"
    except httpx.HTTPError as exc:
        # The message names the failure class (refused address, connection refused, TLS); never the body.
        error = f"{exc.__class__.__name__}: {str(exc)[:150]}"
    return AttemptResult(None, int((time.monotonic() - started) * 1000), error=error)


class WebhookSender:
    """Delivers outbox messages until ``stop``; ``run_once`` does one claim (tests drive it directly)."""

    def __init__(
        self,
        rt: Runtime,
        *,
        sender_id: str | None = None,
        rng: random.Random | None = None,
        resolve: Resolver = system_resolver,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.rt = rt
        self.sender_id = sender_id or f"{socket.gethostname()}:{os.getpid()}:webhooks"
        self.rng = rng or random.Random()
        self.client = httpx.Client(
            transport=guarded_transport(allow_private=rt.settings.webhooks_allow_private, resolve=resolve),
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
        )
        self._stopping = threading.Event()
        self._claims = 0
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="contactvault-webhook")

    def stop(self) -> None:
        """Finish the attempts in hand, then return from ``run``."""
        self._stopping.set()

    def close(self) -> None:
        """Release the HTTP connections and the attempt threads."""
        self._pool.shutdown(wait=True)
        self.client.close()

    def run_once(self) -> int:
        """Claim due messages and attempt each once; returns how many were claimed."""
        self._claims += 1
        claimed = webhook_delivery.claim_due(self.rt, f"{self.sender_id}#{self._claims}", BATCH)
        timestamp = int(self.rt.clock.now().timestamp())
        results = list(self._pool.map(lambda out: send(self.client, out, timestamp), claimed))
        for out, result in zip(claimed, results, strict=True):
            webhook_delivery.record_attempt(self.rt, out.message, result, self.rng)
            metrics.WEBHOOK_DELIVERIES.labels(outcome=metrics.webhook_outcome(result.status_code)).inc()
        return len(claimed)

    def run(self) -> None:
        """Loop until stopped, idling a second when nothing is due; a failing iteration is logged and retried."""
        log.info("webhook sender %s started", self.sender_id)
        try:
            while not self._stopping.is_set():
                try:
                    claimed = self.run_once()
                except Exception as exc:  # the loop must outlive a database outage
                    log.warning("webhook delivery iteration failed (%s); retrying", exc.__class__.__name__)
                    claimed = 0
                if claimed == 0:
                    self._stopping.wait(IDLE_SECONDS)
        finally:
            self.close()
            log.info("webhook sender %s stopped", self.sender_id)
