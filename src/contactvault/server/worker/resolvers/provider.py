"""The external provider resolver: one operator-configured HTTP provider asked for a person's work email.

Per lookup: the person's details (one read per batch), the request rendered from the provider's templates, calls
retried with ``stamina`` on transport errors, 5xx and 429 (a ``Retry-After`` is the wait; never another 4xx), all
within the batch's deadline; a circuit breaker and a call budget in front of every call. Answers: 200 with a
deliverable address → found (sealed, with the provider's verdict and ``source`` = the provider's name); 404 or no
address → not found; 451 → ineligible; 429 after retries, 5xx, a timeout, an open circuit or a spent budget →
transient. The key, the URL and the person's data are never logged and never put in an error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import httpx
import stamina

from contactvault.server.clock import Clock
from contactvault.server.crypto import Cipher
from contactvault.server.db.engine import Database
from contactvault.server.db.person_details import PersonDetails, person_details
from contactvault.server.domain.circuit import BreakerState, CallBudget, CircuitBreaker
from contactvault.server.domain.providers import (
    API_KEY,
    Answer,
    answer_for,
    is_breaker_failure,
    person_fields,
    read_verdict,
    render,
    retry_after_seconds,
)
from contactvault.server.domain.scoring import delivery
from contactvault.server.runtime import Runtime
from contactvault.server.services.suppressions import normal_value
from contactvault.server.worker.resolvers.base import (
    INELIGIBLE,
    NOT_FOUND,
    TRANSIENT,
    Lookup,
    Outcome,
    Resolution,
    Resolver,
)
from contactvault.server.worker.resolvers.provider_config import Provider, load_providers

log = logging.getLogger("contactvault.worker.provider")


class _QuietHttpx(logging.Filter):
    """httpx logs every request's full URL at INFO; a provider's URL holds a person's name and may hold the key."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("HTTP Request")


def _quiet_httpx() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _QuietHttpx) for f in logger.filters):
        logger.addFilter(_QuietHttpx())


class _Retryable(Exception):
    """A 429 or 5xx answer: retried (after ``retry_after`` seconds when the provider said so)."""

    def __init__(self, status_code: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.retry_after = retry_after


class _Refused(Exception):
    """No call made: the circuit is open or the budget is spent (never retried)."""


class PeopleSource(Protocol):
    """Where the resolver reads what it may send about people."""

    def details(self, personnel_ids: Sequence[int]) -> dict[int, PersonDetails]:
        """These people's details by id."""
        ...


class StoredPeople:
    """People's details from the directory (one read transaction per batch)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def details(self, personnel_ids: Sequence[int]) -> dict[int, PersonDetails]:
        """These people's details by id."""
        with self.db.read() as conn:
            return person_details(conn, personnel_ids)


class ProviderResolver(Resolver):
    """Asks one external provider; email only (a phone lookup is not found without a call)."""

    inferred = True

    def __init__(
        self,
        provider: Provider,
        people: PeopleSource,
        cipher: Cipher,
        clock: Clock,
        *,
        deadline_seconds: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        cfg = provider.config
        self.provider = provider
        self.name = cfg.name
        self.people = people
        self.cipher = cipher
        self.clock = clock
        self.mapping = cfg.mapping()
        self.needs = cfg.uses() - {API_KEY}
        # A batch's deadline at this provider (every call and wait): the worker's, or the provider's own if shorter.
        self.deadline = min(cfg.timeouts.total, deadline_seconds) if deadline_seconds else cfg.timeouts.total
        self.breaker = CircuitBreaker(cfg.breaker.failures, cfg.breaker.open_seconds)
        self.budget = CallBudget(cfg.budget.calls, cfg.budget.window_seconds) if cfg.budget else None
        self.transport = transport
        self.calls = 0  # HTTP calls made (observability and tests)
        _quiet_httpx()

    async def resolve(self, lookup: Lookup) -> Resolution:
        """Resolve one person."""
        return (await self.resolve_many([lookup], 1))[lookup.item_id]

    async def resolve_many(self, lookups: Sequence[Lookup], concurrency: int) -> dict[int, Resolution]:
        """Resolve a batch: one read for the people's details, one HTTP client, at most ``concurrency`` (and the
        provider's own ``concurrency``) calls at a time."""
        results = {lk.item_id: NOT_FOUND for lk in lookups if lk.channel != "email"}
        todo = [lk for lk in lookups if lk.channel == "email"]
        if not todo:
            return results
        people = self.people.details([lk.personnel_id for lk in todo])
        loop = asyncio.get_running_loop()
        # One deadline for the whole batch: the lease covers the batch, and lookups queued behind the gate must not
        # each get a full deadline of their own.
        deadline_at = loop.time() + self.deadline
        gate = asyncio.Semaphore(min(concurrency, self.provider.config.concurrency))
        cfg = self.provider.config.timeouts
        timeout = httpx.Timeout(connect=cfg.connect, read=cfg.read, write=cfg.read, pool=cfg.connect)
        async with httpx.AsyncClient(timeout=timeout, transport=self.transport, follow_redirects=False) as client:

            async def one(lookup: Lookup) -> tuple[int, Resolution]:
                async with gate:
                    if loop.time() >= deadline_at:
                        return lookup.item_id, TRANSIENT  # the batch's time is up: retried later, with no call
                    try:
                        person = people.get(lookup.personnel_id)
                        return lookup.item_id, await self._resolve_one(client, person, deadline_at)
                    except Exception as exc:  # a bug or an outage: retried later, never charged
                        log.warning("provider %s: item %d failed (%s)", self.name, lookup.item_id, type(exc).__name__)
                        return lookup.item_id, TRANSIENT

            results.update(await asyncio.gather(*(one(lk) for lk in todo)))
        return results

    def _values(self, person: PersonDetails) -> dict[str, str] | None:
        fields = person_fields(person.full_name, person.company_name, person.company_domain)
        values = {name: fields.get(name) for name in self.needs}
        if not all(values.values()):
            return None  # the request needs something we do not know about this person: nothing to ask
        if self.provider.api_key is not None:
            values[API_KEY] = self.provider.api_key.get_secret_value()
        return values

    def _request(self, client: httpx.AsyncClient, values: dict[str, str]) -> httpx.Request:
        cfg = self.provider.config
        headers = {name: render(template, values, in_url=False) for name, template in cfg.headers.items()}
        body = {k: render(v, values, in_url=False) for k, v in cfg.json_body.items()} if cfg.json_body else None
        return client.build_request(cfg.method, render(cfg.url, values, in_url=True), headers=headers, json=body)

    async def _resolve_one(
        self, client: httpx.AsyncClient, person: PersonDetails | None, deadline_at: float
    ) -> Resolution:
        values = self._values(person) if person is not None else None
        if values is None:
            return NOT_FOUND
        try:
            async with asyncio.timeout_at(deadline_at):
                response = await self._call_with_retries(client, values, deadline_at)
        except (_Retryable, _Refused, httpx.TransportError, TimeoutError) as exc:
            log.info("provider %s: transient (%s)", self.name, type(exc).__name__)
            return TRANSIENT
        return self._read(response)

    async def _call_with_retries(
        self, client: httpx.AsyncClient, values: dict[str, str], deadline_at: float
    ) -> httpx.Response:
        loop = asyncio.get_running_loop()
        retries = self.provider.config.retries

        def backoff(exc: Exception) -> bool | float:
            if isinstance(exc, _Retryable) and exc.retry_after is not None:
                if exc.retry_after > deadline_at - loop.time():
                    log.info("provider %s: Retry-After %.3g s is past the deadline", self.name, exc.retry_after)
                    return False
                log.info(
                    "provider %s answered %d; retrying in %.3g s (Retry-After)",
                    self.name,
                    exc.status_code,
                    exc.retry_after,
                )
                return exc.retry_after
            return isinstance(exc, _Retryable | httpx.TransportError)

        async for attempt in stamina.retry_context(
            on=backoff,
            attempts=retries.attempts,
            timeout=max(deadline_at - loop.time(), 0.0),
            wait_initial=retries.wait_initial,
            wait_max=retries.wait_max,
            wait_jitter=retries.wait_jitter,
        ):
            with attempt:
                return await self._call_once(client, values)
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    async def _call_once(self, client: httpx.AsyncClient, values: dict[str, str]) -> httpx.Response:
        now = self.clock.now()
        # The state first, without taking a half-open trial, so a spent budget never strands the trial.
        if self.breaker.state(now) is BreakerState.OPEN:
            raise _Refused("circuit open")
        if self.budget is not None and not self.budget.try_spend(now):
            raise _Refused("budget spent")
        if not self.breaker.allow(now):
            raise _Refused("circuit half-open, trial in flight")
        self.calls += 1
        status: int | None = None
        try:
            response = await client.send(self._request(client, values))
            status = response.status_code
        finally:
            # A transport error, a timeout or a cancellation (the batch's deadline) counts like a 5xx.
            if is_breaker_failure(status):
                self.breaker.record_failure(self.clock.now())
            else:
                self.breaker.record_success()
        if answer_for(response.status_code) is Answer.RETRY:
            raise _Retryable(response.status_code, retry_after_seconds(response.headers.get("retry-after"), now))
        return response

    def _read(self, response: httpx.Response) -> Resolution:
        answer = answer_for(response.status_code)
        if answer is Answer.INELIGIBLE:
            return INELIGIBLE
        if answer is Answer.NOT_FOUND:
            return NOT_FOUND
        if answer is not Answer.READ:
            log.warning("provider %s answered %d (its key or quota?); retried later", self.name, response.status_code)
            return TRANSIENT
        try:
            document: Any = response.json()
        except ValueError:
            log.warning("provider %s answered 200 with a body that is not JSON", self.name)
            return TRANSIENT
        verdict = read_verdict(document, self.mapping)
        if verdict is None:
            return NOT_FOUND
        email = normal_value("email", verdict.email)
        if email is None:
            log.warning("provider %s answered a value that is not an email address", self.name)
            return NOT_FOUND
        # The operator's default delivery rule for found values (no task floor yet): valid, or accept_all >= 60.
        if not delivery(verdict.status, verdict.score, inferred=True).deliver:
            return NOT_FOUND
        return Resolution(
            Outcome.FOUND,
            self.cipher.seal(email),
            self.cipher.lookup_hash("email", email),
            self.name,
            verdict.status.value,
            verdict.score,
            self.clock.now(),
        )


def configured_providers(rt: Runtime) -> list[ProviderResolver]:
    """The resolvers of ``CONTACTVAULT_PROVIDERS_FILE``, in its order (none when unset). A batch's calls to each
    must end within half the worker's lease, so that the batch is recorded while the lease is still ours."""
    path = rt.settings.providers_file
    if path is None:
        return []
    deadline = rt.settings.worker_lease_seconds / 2
    people = StoredPeople(rt.db)
    return [
        ProviderResolver(provider, people, rt.cipher, rt.clock, deadline_seconds=deadline)
        for provider in load_providers(path)
    ]
