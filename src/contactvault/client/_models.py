"""Typed views of the API's JSON bodies.

Every model ignores fields it does not know but keeps them (``model.model_extra`` or attribute access), so a
newer server never breaks an older client. Ids are strings even when a server sends numbers, and the shapes
seen in Lensmor 0.24-0.27 are accepted: ``sourceType`` as a string or an array, submissions with
``status: "success"`` and no ``task_id``, ``skipped_detail`` present or absent, extension fields missing.
Email and phone fields are left out of reprs so that logging a model never leaks an address.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "Channel",
    "ContactItem",
    "CreditBalance",
    "ErasedContact",
    "EventDetail",
    "EventItem",
    "Page",
    "PrecheckDetail",
    "PrecheckResult",
    "TaskCounts",
    "UnlockSubmission",
    "UnlockTask",
    "UnlockTaskItem",
    "UnlockedContact",
    "Verification",
]

Channel = Literal["email", "phone"]

TERMINAL_TASK_STATUSES = frozenset({"completed", "failed"})


def _as_id(value: object) -> object:
    # Older servers send numeric ids; the contract says strings, and comparing "7" with 7 would bite later.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _as_id_list(value: object) -> object:
    if value is None:
        return []
    if isinstance(value, list):
        return [_as_id(v) for v in value]
    return value


def _as_str_list(value: object) -> object:
    # Lensmor 0.24 sent sourceType as one string; later versions send an array.
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return value


Id = Annotated[str, BeforeValidator(_as_id)]
OptionalId = Annotated[str | None, BeforeValidator(_as_id)]
IdList = Annotated[list[str], BeforeValidator(_as_id_list)]
StrList = Annotated[list[str], BeforeValidator(_as_str_list)]


class _CamelModel(BaseModel):
    """Base for camelCase bodies: Python names are snake_case, the wire is camelCase."""

    model_config = ConfigDict(extra="allow", alias_generator=to_camel, validate_by_name=True, validate_by_alias=True)


class _SnakeModel(BaseModel):
    """Base for the few snake_case bodies (unlock submission, precheck)."""

    model_config = ConfigDict(extra="allow")


class CreditBalance(_CamelModel):
    """The account's credits; ``total_balance`` is what can be spent now."""

    total_balance: int
    total_amount: int = 0
    subscription_amount: int = 0
    subscription_balance: int = 0
    addon_amount: int = 0
    addon_balance: int = 0
    addon_expire_at: int | None = None
    gift_amount: int = 0
    gift_balance: int = 0
    reset_at: int | None = None
    reserved_balance: int | None = None


class EventItem(_CamelModel):
    """One event as it appears in lists."""

    id: Id
    event_id: OptionalId = None
    name: str | None = None
    nickname: str | None = None
    description: str | None = None
    url: str | None = None
    date_start: str | None = None
    date_end: str | None = None
    venue: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    exhibitor_count: int | None = None
    image: str | None = None
    data_source: str | None = None


class EventDetail(EventItem):
    """One event with its detail fields."""

    attendee_count: int | None = None
    personnel_count: int | None = None
    event_type: str | None = None
    topics: StrList = Field(default_factory=list)


class ContactItem(_CamelModel):
    """A person as the caller sees them (email/phone only once this caller unlocked them)."""

    id: Id
    full_name: str | None = None
    title: str | None = None
    department: str | None = None
    seniority_level: str | None = None
    linkedin_url: str | None = None
    company_name: str | None = None
    source_type: StrList = Field(default_factory=list)
    email: str | None = Field(default=None, repr=False)
    contact_unlock_status: str | None = None
    phone: str | None = Field(default=None, repr=False)
    phone_unlock_status: str | None = None
    event_count: int | None = None
    # Extension: where a shown email/phone came from (``pattern`` when the server inferred it) and its verification.
    email_source: str | None = None
    email_verification: Verification | None = None
    phone_source: str | None = None
    phone_verification: Verification | None = None


T = TypeVar("T")


class Page(_CamelModel, Generic[T]):
    """One page of a list; ``next_page`` says which page comes next, if any."""

    items: list[T] = Field(default_factory=list)
    total: int | None = None
    page: int = 1
    page_size: int | None = None
    total_pages: int | None = None
    has_more: bool | None = None

    @property
    def next_page(self) -> int | None:
        """The number of the following page, or None when this is the last one."""
        if not self.items:
            # An empty page ends the walk whatever the counters claim, so a confused server cannot loop us.
            return None
        if self.has_more is not None:
            return self.page + 1 if self.has_more else None
        if self.total_pages is not None:
            return self.page + 1 if self.page < self.total_pages else None
        return None


class PrecheckDetail(_SnakeModel):
    """The per-person breakdown of an unlock precheck."""

    requested_count: int | None = None
    chargeable_count: int | None = None
    already_unlocked_count: int | None = None
    unlocking_count: int | None = None
    personnel_ids: IdList | None = None
    missing_personnel_ids: IdList = Field(default_factory=list)
    invalid_personnel_ids: IdList = Field(default_factory=list)
    available_balance: int | None = None


class PrecheckResult(_SnakeModel):
    """What an action would cost and whether it is allowed; reserves nothing."""

    ok: bool = True
    action_type: str | None = None
    allowed: bool = False
    should_charge: bool | None = None
    credits: int | None = None
    reason_code: str | None = None
    biz_code: str | int | None = None
    detail: PrecheckDetail = Field(default_factory=PrecheckDetail)


class UnlockSubmission(_SnakeModel):
    """The answer to an unlock submission; ``task_id`` is None when nothing was chargeable."""

    status: str
    task_id: OptionalId = None
    job_id: OptionalId = None
    skipped_personnel_ids: IdList = Field(default_factory=list)
    skipped_detail: dict[str, Any] | None = None

    @property
    def has_task(self) -> bool:
        """True when the server started a task to poll."""
        return self.task_id is not None


class Verification(_CamelModel):
    """How sure the resolver is that an address delivers."""

    status: str | None = None
    score: int | None = None
    checked_at: str | int | None = None


class UnlockTaskItem(_CamelModel):
    """One person's outcome inside an unlock task."""

    personnel_id: Id
    status: str
    email: str | None = Field(default=None, repr=False)
    phone: str | None = Field(default=None, repr=False)
    error_code: str | None = None
    credits_charged: int | None = None
    verification: Verification | None = None
    source: str | None = None
    completed_at: str | int | None = None

    @property
    def address(self) -> str | None:
        """The unlocked email or phone, whichever this item carries."""
        return self.email or self.phone

    @property
    def is_delivered(self) -> bool:
        """True only when the item is unlocked AND carries an address."""
        return self.status == "unlocked" and bool(self.address)


class TaskCounts(_CamelModel):
    """How many items of a task are in each state."""

    pending: int = 0
    processing: int = 0
    unlocked: int = 0
    failed: int = 0


class UnlockTask(_CamelModel):
    """An unlock task as returned by the poll routes."""

    task_id: Id
    task_status: str
    items: list[UnlockTaskItem] = Field(default_factory=list)
    counts: TaskCounts | None = None
    credits_held: int | None = None
    credits_charged: int | None = None
    credits_released: int | None = None
    created_at: str | int | None = None
    completed_at: str | int | None = None

    @property
    def is_terminal(self) -> bool:
        """True once the task is completed or failed and will not change again."""
        return self.task_status in TERMINAL_TASK_STATUSES


class UnlockedContact(_CamelModel):
    """A contact the account unlocked (``GET /external/contacts/unlocked``, an extension).

    ``value`` is None once the server no longer shows it: erased, past retention, or on the opt-out list.
    """

    personnel_id: Id
    channel: str
    value: str | None = Field(default=None, repr=False)
    verification: Verification | None = None
    # Where the value came from: the import's label, ``pattern`` when the server inferred it, a provider's name
    # (None from servers that do not send it).
    source: str | None = None
    unlocked_at: str | int | None = None
    task_id: OptionalId = None


class ErasedContact(_CamelModel):
    """An unlocked person to delete from local copies (``GET /external/contacts/erased``, an extension).

    ``reason`` is ``erased`` or ``opted_out``; ``channel`` None means every channel of the person, else only that
    address was put on the opt-out list. ``at`` is when it happened.
    """

    personnel_id: Id
    reason: str
    channel: str | None = None
    at: str | int | None = None

    def covers(self, channel: str) -> bool:
        """True when the person's contact on ``channel`` must go."""
        return self.channel is None or self.channel == channel


class LedgerEntry(_CamelModel):
    """One posting of the account's credit ledger (``GET /external/credits/transactions``, an extension).

    ``kind`` is ``grant``, ``hold``, ``capture``, ``release`` or ``expire``; ``available_delta``/``held_delta`` are
    what it did to the spendable and held credits of its ``bucket``; ``task_id`` and ``call_source`` are set on a
    task's postings.
    """

    entry_id: Id
    kind: str
    available_delta: int
    held_delta: int
    bucket: str
    cause_type: str
    cause_id: Id
    task_id: OptionalId = None
    call_source: str | None = None
    created_at: str | None = None


class LedgerPage(Page[LedgerEntry]):
    """A page of ledger postings, newest first, read up to the posting ``up_to_id``: pass it back for the next pages
    so postings made meanwhile neither shift nor repeat entries."""

    up_to_id: OptionalId = None
