"""The API's routes as plain request descriptions, shared by the sync and async clients.

A route builder returns a ``Call``: method, path, query, body, headers and how to parse the answer. It does no
I/O, so ``Client`` and ``AsyncClient`` (and the unlock workflow, which yields calls) stay one thin loop each.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import OrderedDict
from collections.abc import Callable, Generator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from ._errors import APIResponseValidationError
from ._models import (
    Channel,
    ContactItem,
    CreditBalance,
    ErasedContact,
    EventDetail,
    EventItem,
    LedgerPage,
    Page,
    PrecheckResult,
    UnlockedContact,
    UnlockSubmission,
    UnlockTask,
)

__all__ = ["CHANNELS", "Call", "ChannelSpec", "Effect", "Flow", "Sleep", "TaskCache"]

T = TypeVar("T")
R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)
Params = Mapping[str, str | int | None]


@dataclasses.dataclass(frozen=True)
class Call(Generic[T]):
    """One request to make and how to turn its response into ``T``."""

    method: Literal["GET", "POST"]
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, str | int] = dataclasses.field(default_factory=dict)
    json: dict[str, Any] | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    long_poll: float = 0.0

    @property
    def replay_safe(self) -> bool:
        """True when sending this request twice cannot do anything twice."""
        return self.method == "GET" or "Idempotency-Key" in self.headers


@dataclasses.dataclass(frozen=True)
class Sleep:
    """An instruction to the driving client: pause this long (tests inject a sleep that does not)."""

    seconds: float


# What a flow (a generator shared by both clients) asks its driver for: a request's parsed answer, or a pause.
Effect = Call[Any] | Sleep
Flow = Generator[Effect, Any, R]


@dataclasses.dataclass(frozen=True)
class ChannelSpec:
    """Everything that differs between unlocking emails and unlocking phones."""

    name: Channel
    submit_path: str
    task_path: str
    action_type: str
    unit_cost: int


CHANNELS: dict[str, ChannelSpec] = {
    "email": ChannelSpec(
        "email", "/external/contacts/unlock", "/external/contacts/unlock-tasks", "unlock_contact_emails", 15
    ),
    "phone": ChannelSpec(
        "phone",
        "/external/contacts/unlock-phone",
        "/external/contacts/unlock-phone-tasks",
        "unlock_contact_phones",
        150,
    ),
}


def channel_spec(channel: str) -> ChannelSpec:
    """Look up a channel, rejecting anything but email and phone."""
    try:
        return CHANNELS[channel]
    except KeyError:
        raise ValueError(f"channel must be 'email' or 'phone', not {channel!r}") from None


class TaskCache:
    """The last ETag and body per task, so polls can send If-None-Match and accept 304."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[str, UnlockTask]] = OrderedDict()

    def get(self, key: str) -> tuple[str, UnlockTask] | None:
        """The cached (etag, task) for a key, if any."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: str, etag: str, task: UnlockTask) -> None:
        """Remember a task's latest ETag and body, evicting the oldest entry beyond the size."""
        self._entries[key] = (etag, task)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


def parse_model(model: type[M], *, unwrap: str | None = None) -> Callable[[httpx.Response], M]:
    """A parser that validates the JSON body (or its ``unwrap`` member) as ``model``."""

    def parse(response: httpx.Response) -> M:
        body = _json_body(response)
        if unwrap is not None and isinstance(body, dict) and isinstance(body.get(unwrap), dict):
            body = body[unwrap]
        return _validate(model, body, response)

    return parse


def _json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise APIResponseValidationError(
            f"expected a JSON body from {response.request.url.path}", response=response
        ) from None


def _validate(model: type[M], body: Any, response: httpx.Response) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        # Only field locations and error kinds: pydantic's default message would quote the input (addresses).
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<body>'}: {err['type']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise APIResponseValidationError(
            f"unexpected body from {response.request.url.path}: {problems}", response=response
        ) from None


def _query(params: Params) -> dict[str, str | int]:
    return {k: v for k, v in params.items() if v is not None}


def credit_balance() -> Call[CreditBalance]:
    """GET /external/credits/balance."""
    return Call("GET", "/external/credits/balance", parse_model(CreditBalance))


def credit_transactions(
    *,
    task_id: str | None = None,
    kind: str | Sequence[str] | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    up_to_id: str | None = None,
    page: int = 1,
    page_size: int | None = None,
) -> Call[LedgerPage]:
    """GET /external/credits/transactions (extension): the account's ledger postings, newest first."""
    kinds = kind if kind is None or isinstance(kind, str) else ",".join(kind)
    params = _query(
        {
            "task_id": task_id,
            "kind": kinds,
            "since": since_param(since),
            "until": since_param(until),
            "up_to_id": up_to_id,
            "page": page,
            "pageSize": page_size,
        }
    )
    return Call("GET", "/external/credits/transactions", parse_model(LedgerPage), params=params)


def events_list(*, page: int = 1, page_size: int | None = None, **filters: str | None) -> Call[Page[EventItem]]:
    """GET /external/events/list with keyword/country/city/date filters."""
    params = _query({**filters, "page": page, "pageSize": page_size})
    return Call("GET", "/external/events/list", parse_model(Page[EventItem]), params=params)


def event_get(event_id: str) -> Call[EventDetail]:
    """GET /external/events/{id}, unwrapping ``{"event": ...}``."""
    return Call("GET", f"/external/events/{_segment(event_id)}", parse_model(EventDetail, unwrap="event"))


def personnel_list(
    event_id: str, *, page: int = 1, page_size: int | None = None, **filters: str | None
) -> Call[Page[ContactItem]]:
    """GET /external/personnel/list for one event."""
    params = _query({"event_id": event_id, **filters, "page": page, "pageSize": page_size})
    return Call("GET", "/external/personnel/list", parse_model(Page[ContactItem]), params=params)


def personnel_profile(personnel_id: str) -> Call[ContactItem]:
    """GET /external/personnel/profile."""
    params: dict[str, str | int] = {"personnel_id": str(personnel_id)}
    return Call("GET", "/external/personnel/profile", parse_model(ContactItem), params=params)


def contacts_search(
    company_name: str,
    *,
    role: str | None = None,
    person_name: str | None = None,
    page: int = 1,
    page_size: int | None = None,
) -> Call[Page[ContactItem]]:
    """GET /external/contacts/search across all events."""
    params = _query(
        {
            "company_name": company_name,
            "role": role,
            "person_name": person_name,
            "page": page,
            "pageSize": page_size,
        }
    )
    return Call("GET", "/external/contacts/search", parse_model(Page[ContactItem]), params=params)


def since_param(since: str | datetime | None) -> str | None:
    """``since`` as the server reads it: ISO 8601 (a naive datetime is taken as UTC)."""
    if isinstance(since, datetime):
        moment = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
        return moment.isoformat().replace("+00:00", "Z")
    return since


def contacts_unlocked(
    *, since: str | datetime | None = None, page: int = 1, page_size: int | None = None
) -> Call[Page[UnlockedContact]]:
    """GET /external/contacts/unlocked (extension): every contact this account unlocked, oldest first."""
    params = _query({"since": since_param(since), "page": page, "pageSize": page_size})
    return Call("GET", "/external/contacts/unlocked", parse_model(Page[UnlockedContact]), params=params)


def contacts_erased(
    *, since: str | datetime | None = None, page: int = 1, page_size: int | None = None
) -> Call[Page[ErasedContact]]:
    """GET /external/contacts/erased (extension): unlocked people since erased or opted out, oldest first."""
    params = _query({"since": since_param(since), "page": page, "pageSize": page_size})
    return Call("GET", "/external/contacts/erased", parse_model(Page[ErasedContact]), params=params)


def precheck(action_type: str, params: Mapping[str, Any], *, create_quote: bool = False) -> Call[PrecheckResult]:
    """POST /external/actions/precheck (reserves nothing; keyed so that retries are allowed); with
    ``create_quote`` an allowed unlock answer carries a ``quote_id`` and ``expires_at`` (extension: quotes)."""
    body: dict[str, Any] = {"action_type": action_type, "params": dict(params)}
    if create_quote:
        body["create_quote"] = True
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    return Call("POST", "/external/actions/precheck", parse_model(PrecheckResult), json=body, headers=headers)


def unlock_create(
    event_id: str,
    personnel_ids: Sequence[str],
    *,
    channel: str = "email",
    max_credits: int | None = None,
    idempotency_key: str | None = None,
    call_source: str | None = None,
    quote_id: str | None = None,
) -> Call[UnlockSubmission]:
    """POST an unlock submission; retries replay, not repeat: under an Idempotency-Key, or under the quote (the
    server keys a confirmation by its quote id when no Idempotency-Key is sent, so confirming again is one task)."""
    spec = channel_spec(channel)
    # Field order is fixed so a resumed run sends byte-identical JSON under the same key.
    body: dict[str, Any] = {"event_id": str(event_id), "personnel_ids": [str(p) for p in personnel_ids]}
    if max_credits is not None:
        body["max_credits"] = max_credits
    if quote_id is not None:
        body["quote_id"] = quote_id
    headers = {}
    if idempotency_key is not None or quote_id is None:
        headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
    if call_source:
        headers["x-call-source"] = call_source
    return Call("POST", spec.submit_path, parse_model(UnlockSubmission), json=body, headers=headers)


def unlock_task(
    task_id: str, *, channel: str = "email", wait: float | None = None, cache: TaskCache | None = None
) -> Call[UnlockTask]:
    """GET one unlock task, long-polling with ``wait`` and revalidating with the cached ETag."""
    spec = channel_spec(channel)
    params: dict[str, str | int] = {}
    if wait:
        params["wait"] = max(0, min(60, round(wait)))
    key = f"{spec.name}:{task_id}"
    cached = cache.get(key) if cache is not None else None
    headers = {"If-None-Match": cached[0]} if cached is not None else {}
    validate = parse_model(UnlockTask)

    def parse(response: httpx.Response) -> UnlockTask:
        if response.status_code == 304 and cached is not None:
            return cached[1]
        task = validate(response)
        etag = response.headers.get("ETag")
        if cache is not None and etag:
            cache.put(key, etag, task)
        return task

    path = f"{spec.task_path}/{_segment(task_id)}"
    return Call("GET", path, parse, params=params, headers=headers, long_poll=float(params.get("wait", 0)))


def webhook_test(endpoint_id: str) -> Call[str]:
    """POST /external/webhooks/{id}/test (an extension): queue a ``webhook.test`` message; its ``webhook-id``."""

    def parse(response: httpx.Response) -> str:
        body = _json_body(response)
        if not isinstance(body, dict) or not isinstance(body.get("messageId"), str):
            raise APIResponseValidationError(
                f"unexpected body from {response.request.url.path}: messageId: missing", response=response
            )
        return str(body["messageId"])

    return Call("POST", f"/external/webhooks/{_segment(endpoint_id)}/test", parse)


def _segment(value: str) -> str:
    # Ids go into the path; refuse anything that could change which route is hit.
    text = str(value)
    if not text or "/" in text or text in {".", ".."} or "?" in text or "#" in text:
        raise ValueError(f"not a valid id: {text!r}")
    return text
