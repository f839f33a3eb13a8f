"""The asyncio/anyio client: ``AsyncClient``, with the same resources and method names as ``Client``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

import anyio
import httpx

from . import _routes
from ._base import (
    DEFAULT_LONG_POLL,
    DEFAULT_TASK_TIMEOUT,
    DEFAULT_TIMEOUT,
    BaseClient,
    StatePath,
    TimeoutTypes,
)
from ._errors import APIError
from ._models import (
    Channel,
    ContactItem,
    CreditBalance,
    ErasedContact,
    EventDetail,
    EventItem,
    LedgerEntry,
    LedgerPage,
    Page,
    PrecheckResult,
    UnlockedContact,
    UnlockSubmission,
    UnlockTask,
)
from ._polling import wait_for_task
from ._results import UnlockEstimate, UnlockProgress, UnlockResult
from ._retry import OnRetry, RetryPolicy
from ._routes import Call, Flow, Sleep
from ._workflow import resume_flow, unlock_flow

__all__ = ["AsyncClient"]

T = TypeVar("T")
R = TypeVar("R")


class AsyncClient(BaseClient):
    """Async client for the contactvault / Lensmor external API (same methods as ``Client``, awaited)."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_attempts: int = 4,
        retry: RetryPolicy | None = None,
        config_path: str | os.PathLike[str] | None = None,
        headers: Mapping[str, str] | None = None,
        call_source: str | None = "api",
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] | None = None,
        long_poll: float = DEFAULT_LONG_POLL,
        task_timeout: float = DEFAULT_TASK_TIMEOUT,
        on_retry: OnRetry | None = None,
        allow_insecure: bool = False,
    ) -> None:
        super().__init__(
            api_key,
            base_url=base_url,
            timeout=timeout,
            max_attempts=max_attempts,
            retry=retry,
            config_path=config_path,
            headers=headers,
            call_source=call_source,
            clock=clock,
            long_poll=long_poll,
            task_timeout=task_timeout,
            on_retry=on_retry,
            allow_insecure=allow_insecure,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(transport=transport, timeout=self.timeout)
        self._sleep = sleep
        self.credits = AsyncCredits(self)
        self.events = AsyncEvents(self)
        self.personnel = AsyncPersonnel(self)
        self.contacts = AsyncContacts(self)
        self.actions = AsyncActions(self)
        self.unlocks = AsyncUnlocks(self)
        self.webhooks = AsyncWebhooks(self)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying HTTP connection pool (unless it was passed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def _request(self, call: Call[T]) -> T:
        """Send one described request with retries and return its parsed answer."""
        async for attempt in self.retry_policy.async_attempts(replay_safe=call.replay_safe, on_retry=self.on_retry):
            with attempt:
                return await self._send_once(call)
        raise AssertionError("unreachable: stamina re-raises the last error")

    async def _send_once(self, call: Call[T]) -> T:
        request = self._build_request(self._http, call)
        try:
            response = await self._http.send(request)
        except httpx.TransportError as exc:
            raise self._transport_error(exc, request) from exc
        return self._parse(call, response)

    async def _drive(self, flow: Flow[R]) -> R:
        """Drive a flow: answer its calls with ``request`` and its sleeps with the injected sleep."""
        reply: Any = None
        error: APIError | None = None
        try:
            while True:
                try:
                    effect = flow.send(reply) if error is None else flow.throw(error)
                except StopIteration as stop:
                    return cast(R, stop.value)
                reply, error = None, None
                if isinstance(effect, Sleep):
                    await self._sleep(effect.seconds)
                    continue
                try:
                    reply = await self._request(effect)
                except APIError as exc:
                    error = exc
        finally:
            flow.close()

    async def _pages(self, first: Callable[[int], Call[Page[T]]]) -> AsyncIterator[T]:
        page_number: int | None = 1
        while page_number is not None:
            page = await self._request(first(page_number))
            for item in page.items:
                yield item
            page_number = page.next_page

    async def unlock_emails(
        self,
        event_id: str,
        personnel_ids: Iterable[str | int],
        *,
        confirm: Callable[[UnlockEstimate], bool] | None = None,
        max_credits: int | None = None,
        state_file: StatePath = None,
        on_progress: Callable[[UnlockProgress], None] | None = None,
    ) -> UnlockResult:
        """Unlock the emails of the still-locked people among ``personnel_ids``, resumably."""
        return await self._unlock("email", event_id, personnel_ids, confirm, max_credits, state_file, on_progress)

    async def unlock_phones(
        self,
        event_id: str,
        personnel_ids: Iterable[str | int],
        *,
        confirm: Callable[[UnlockEstimate], bool] | None = None,
        max_credits: int | None = None,
        state_file: StatePath = None,
        on_progress: Callable[[UnlockProgress], None] | None = None,
    ) -> UnlockResult:
        """Unlock the phone numbers of the still-locked people among ``personnel_ids``, resumably."""
        return await self._unlock("phone", event_id, personnel_ids, confirm, max_credits, state_file, on_progress)

    async def _unlock(
        self,
        channel: Channel,
        event_id: str,
        personnel_ids: Iterable[str | int],
        confirm: Callable[[UnlockEstimate], bool] | None,
        max_credits: int | None,
        state_file: StatePath,
        on_progress: Callable[[UnlockProgress], None] | None,
    ) -> UnlockResult:
        store, owned = self._open_state(state_file)
        try:
            ctx = self._workflow(store, confirm=confirm, on_progress=on_progress)
            flow = unlock_flow(
                ctx, event_id=event_id, personnel_ids=personnel_ids, channel=channel, max_credits=max_credits
            )
            return await self._drive(flow)
        finally:
            if owned:
                store.close()

    async def resume(
        self,
        state_file: StatePath = None,
        *,
        run_id: str | None = None,
        on_progress: Callable[[UnlockProgress], None] | None = None,
    ) -> list[UnlockResult]:
        """Finish every interrupted run for this server (or just ``run_id``) without creating a task twice."""
        store, owned = self._open_state(state_file)
        try:
            ctx = self._workflow(store, on_progress=on_progress)
            if run_id is not None:
                run_ids = [run_id]
            else:
                run_ids = [run.run_id for run in store.unfinished_runs(base_url=self.base_url)]
            return [await self._drive(resume_flow(ctx, rid)) for rid in run_ids]
        finally:
            if owned:
                store.close()


class _AsyncResource:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client


class AsyncCredits(_AsyncResource):
    """``client.credits``: the account balance and its ledger."""

    async def balance(self) -> CreditBalance:
        """Read the account's credit balance (free)."""
        return await self._client._request(_routes.credit_balance())

    async def transactions(
        self,
        *,
        task_id: str | None = None,
        kind: str | Sequence[str] | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        up_to_id: str | None = None,
        page: int = 1,
        page_size: int | None = None,
    ) -> LedgerPage:
        """One page of the account's ledger postings, newest first (an extension, free); pass the first page's
        ``up_to_id`` for the next pages."""
        call = _routes.credit_transactions(
            task_id=task_id, kind=kind, since=since, until=until, up_to_id=up_to_id, page=page, page_size=page_size
        )
        return await self._client._request(call)

    async def iter_transactions(
        self,
        *,
        task_id: str | None = None,
        kind: str | Sequence[str] | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[LedgerEntry]:
        """Every matching posting, newest first, as of the first page (later postings are not included)."""
        first = await self.transactions(task_id=task_id, kind=kind, since=since, until=until, page_size=page_size)
        for item in first.items:
            yield item
        number = first.next_page
        while number is not None:
            page = await self.transactions(
                task_id=task_id,
                kind=kind,
                since=since,
                until=until,
                up_to_id=first.up_to_id,
                page=number,
                page_size=page_size,
            )
            for item in page.items:
                yield item
            number = page.next_page


class AsyncEvents(_AsyncResource):
    """``client.events``: the event directory."""

    async def list(
        self,
        *,
        keyword: str | None = None,
        country: str | None = None,
        city: str | None = None,
        date_start_from: str | None = None,
        date_start_to: str | None = None,
        page: int = 1,
        page_size: int | None = None,
    ) -> Page[EventItem]:
        """One page of events matching the filters."""
        return await self._client._request(
            _routes.events_list(
                keyword=keyword,
                country=country,
                city=city,
                date_start_from=date_start_from,
                date_start_to=date_start_to,
                page=page,
                page_size=page_size,
            )
        )

    def iter(
        self,
        *,
        keyword: str | None = None,
        country: str | None = None,
        city: str | None = None,
        date_start_from: str | None = None,
        date_start_to: str | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[EventItem]:
        """Every matching event, fetching pages lazily (``async for``)."""
        filters = {"keyword": keyword, "country": country, "city": city}
        dates = {"date_start_from": date_start_from, "date_start_to": date_start_to}
        return self._client._pages(lambda n: _routes.events_list(page=n, page_size=page_size, **filters, **dates))

    async def get(self, event_id: str) -> EventDetail:
        """One event with its details; NotFoundError if unknown."""
        return await self._client._request(_routes.event_get(event_id))


class AsyncPersonnel(_AsyncResource):
    """``client.personnel``: the people of an event."""

    async def list(
        self,
        event_id: str,
        *,
        search_query: str | None = None,
        department: str | None = None,
        level: str | None = None,
        exhibitor_id: str | None = None,
        page: int = 1,
        page_size: int | None = None,
    ) -> Page[ContactItem]:
        """One page of an event's people."""
        filters = {
            "search_query": search_query,
            "department": department,
            "level": level,
            "exhibitor_id": exhibitor_id,
        }
        return await self._client._request(_routes.personnel_list(event_id, page=page, page_size=page_size, **filters))

    def iter(
        self,
        event_id: str,
        *,
        search_query: str | None = None,
        department: str | None = None,
        level: str | None = None,
        exhibitor_id: str | None = None,
        page_size: int = 50,
    ) -> AsyncIterator[ContactItem]:
        """Every matching person of an event, fetching pages lazily (``async for``)."""
        filters = {
            "search_query": search_query,
            "department": department,
            "level": level,
            "exhibitor_id": exhibitor_id,
        }
        return self._client._pages(lambda n: _routes.personnel_list(event_id, page=n, page_size=page_size, **filters))

    async def profile(self, personnel_id: str) -> ContactItem:
        """One person as this caller sees them; NotFoundError if unknown."""
        return await self._client._request(_routes.personnel_profile(personnel_id))


class AsyncContacts(_AsyncResource):
    """``client.contacts``: search across all events; what this account unlocked, and what was since erased."""

    async def search(
        self,
        company_name: str,
        *,
        role: str | None = None,
        person_name: str | None = None,
        page: int = 1,
        page_size: int | None = None,
    ) -> Page[ContactItem]:
        """One page of people at a company, optionally by role or name."""
        return await self._client._request(
            _routes.contacts_search(company_name, role=role, person_name=person_name, page=page, page_size=page_size)
        )

    def iter_search(
        self,
        company_name: str,
        *,
        role: str | None = None,
        person_name: str | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[ContactItem]:
        """Every matching person, fetching pages lazily (``async for``)."""
        return self._client._pages(
            lambda n: _routes.contacts_search(
                company_name, role=role, person_name=person_name, page=n, page_size=page_size
            )
        )

    async def unlocked(
        self, *, since: str | datetime | None = None, page: int = 1, page_size: int | None = None
    ) -> Page[UnlockedContact]:
        """One page of the contacts this account unlocked (at or after ``since``), oldest first (an extension)."""
        return await self._client._request(_routes.contacts_unlocked(since=since, page=page, page_size=page_size))

    def iter_unlocked(
        self, *, since: str | datetime | None = None, page_size: int = 100
    ) -> AsyncIterator[UnlockedContact]:
        """Every contact this account unlocked (at or after ``since``), fetching pages lazily (``async for``)."""
        return self._client._pages(lambda n: _routes.contacts_unlocked(since=since, page=n, page_size=page_size))

    async def erased(
        self, *, since: str | datetime | None = None, page: int = 1, page_size: int | None = None
    ) -> Page[ErasedContact]:
        """One page of unlocked people erased or opted out (at or after ``since``): delete them from local copies."""
        return await self._client._request(_routes.contacts_erased(since=since, page=page, page_size=page_size))

    def iter_erased(self, *, since: str | datetime | None = None, page_size: int = 100) -> AsyncIterator[ErasedContact]:
        """Every unlocked person erased or opted out (at or after ``since``), fetching pages lazily (``async for``)."""
        return self._client._pages(lambda n: _routes.contacts_erased(since=since, page=n, page_size=page_size))


class AsyncActions(_AsyncResource):
    """``client.actions``: ask what an action would cost before doing it."""

    async def precheck(
        self, action_type: str, params: Mapping[str, Any], *, create_quote: bool = False
    ) -> PrecheckResult:
        """Estimate an action (e.g. ``unlock_contact_emails``); reserves nothing. With ``create_quote`` an allowed
        unlock is priced server-side: ``model_extra`` carries ``quote_id`` and ``expires_at``."""
        return await self._client._request(_routes.precheck(action_type, params, create_quote=create_quote))


class AsyncUnlocks(_AsyncResource):
    """``client.unlocks``: the raw unlock task API (the workflow lives on the client)."""

    async def create(
        self,
        event_id: str,
        personnel_ids: Iterable[str | int],
        *,
        channel: Channel = "email",
        max_credits: int | None = None,
        idempotency_key: str | None = None,
        quote_id: str | None = None,
    ) -> UnlockSubmission:
        """Submit up to 100 people; an Idempotency-Key is generated unless one is given or ``quote_id`` confirms a
        quote (then the quote is the key: confirming it again returns the same task)."""
        return await self._client._request(
            _routes.unlock_create(
                event_id,
                [str(p) for p in personnel_ids],
                channel=channel,
                max_credits=max_credits,
                idempotency_key=idempotency_key,
                call_source=self._client.call_source,
                quote_id=quote_id,
            )
        )

    async def get(self, task_id: str, channel: Channel = "email", wait: float | None = None) -> UnlockTask:
        """Read a task, long-polling up to ``wait`` seconds (0-60) for a change."""
        return await self._client._request(
            _routes.unlock_task(task_id, channel=channel, wait=wait, cache=self._client._tasks)
        )

    async def wait(
        self,
        task_id: str,
        channel: Channel = "email",
        timeout: float | None = None,
        on_update: Callable[[UnlockTask], None] | None = None,
    ) -> UnlockTask:
        """Wait until the task is terminal; TaskTimeoutError after ``timeout`` seconds."""
        client = self._client
        flow = wait_for_task(
            task_id,
            channel=channel,
            timeout=client.task_timeout if timeout is None else timeout,
            long_poll=client.long_poll,
            clock=client.clock,
            cache=client._tasks,
            on_update=on_update,
        )
        return await client._drive(flow)


class AsyncWebhooks(_AsyncResource):
    """``client.webhooks``: the account's webhook endpoints (an extension, docs/webhooks.md)."""

    async def test(self, endpoint_id: str) -> str:
        """Queue a ``webhook.test`` message to the endpoint; returns its ``webhook-id`` (``msg_…``)."""
        return await self._client._request(_routes.webhook_test(endpoint_id))
