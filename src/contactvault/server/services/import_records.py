"""The records of a directory import file: one pydantic model per ``"type"``, validated strictly.

The format is documented in ``docs/import-format.md``; ``importer.py`` reads files into these and writes them.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from contactvault.server.addresses import canonical_email, canonical_phone, is_international

MAX_ID = 2**63 - 1
SOURCE_ORDER = ("exhibitor", "social", "visitors")


def _record_id(value: object) -> int:
    # Ids are digit strings, as on the wire: a JSON number would silently lose digits in other tools.
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 19:
        raise ValueError("must be a string of 1-19 digits")
    number = int(value)
    if not 0 < number <= MAX_ID:
        raise ValueError("must be between 1 and 9223372036854775807")
    return number


def _optional_record_id(value: object) -> int | None:
    return None if value is None else _record_id(value)


RecordId = Annotated[int, BeforeValidator(_record_id)]
OptionalId = Annotated[int | None, BeforeValidator(_optional_record_id)]


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500, pattern=r"^https?://\S+$")]
Domain = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        max_length=255,
        pattern=r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
    ),
]
SourceType = Literal["exhibitor", "social", "visitors"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class EventRecord(_Record):
    """An event; its personnel and exhibitor counts are computed from attendance, never imported."""

    type: Literal["event"]
    id: RecordId
    name: Name
    nickname: Short | None = None
    description: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    url: Url | None = None
    date_start: date | None = None
    date_end: date | None = None
    venue: Name | None = None
    city: Short | None = None
    region: Short | None = None
    country: Short | None = None
    image: Url | None = None
    data_source: Label | None = None
    event_type: Label | None = None
    topics: Annotated[list[Short], Field(max_length=50)] = []
    attendee_count: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> EventRecord:
        if self.date_start and self.date_end and self.date_end < self.date_start:
            raise ValueError("date_end is before date_start")
        return self


class CompanyRecord(_Record):
    """An (exhibiting) company."""

    type: Literal["company"]
    id: RecordId
    name: Name
    domain: Domain | None = None
    industry: Short | None = None
    country: Short | None = None


class PersonRecord(_Record):
    """A person of the directory."""

    type: Literal["person"]
    id: RecordId
    full_name: Name
    title: Name | None = None
    department: Short | None = None
    seniority_level: Label | None = None
    linkedin_url: Url | None = None
    company_id: OptionalId = None


class AttendanceRecord(_Record):
    """A person at an event, with how they appear there."""

    type: Literal["attendance"]
    event_id: RecordId
    personnel_id: RecordId
    source_types: Annotated[list[SourceType], Field(min_length=1, max_length=3)]
    exhibitor_id: OptionalId = None

    @field_validator("source_types")
    @classmethod
    def _distinct_sources(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists a source type twice")
        return value

    @field_validator("exhibitor_id")
    @classmethod
    def _exhibitor_needs_source(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and "exhibitor" not in info.data.get("source_types", ["exhibitor"]):
            raise ValueError('is only allowed when source_types includes "exhibitor"')
        return value


class ContactPointRecord(_Record):
    """A known email or phone of a person, in plaintext (sealed on import).

    ``value`` stays as written (trimmed): the importer stores its canonical form (``server/addresses.py``) and keys
    the legacy hash on what was written. A national phone number is checked by the importer, with the country of the
    person's company or event as its region.
    """

    type: Literal["contact_point"]
    personnel_id: RecordId
    channel: Literal["email", "phone"]
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320)]
    source: Label = "import"
    verification_status: Literal["valid", "accept_all", "unknown"] | None = None
    verification_score: Annotated[int, Field(ge=0, le=100)] | None = None
    checked_at: AwareDatetime | None = None

    @field_validator("value")
    @classmethod
    def _well_formed(cls, value: str, info: ValidationInfo) -> str:
        # AddressError is a ValueError whose message never includes the value (personal data; errors reach logs).
        channel = info.data.get("channel")
        if channel == "email":
            canonical_email(value)
        elif channel == "phone" and is_international(value):
            canonical_phone(value)
        return value


Record = EventRecord | CompanyRecord | PersonRecord | AttendanceRecord | ContactPointRecord
RECORDS = TypeAdapter[Record](Annotated[Record, Field(discriminator="type")])
