"""External providers: what is sent to one, and how its answer is read (pure rules, standard library only).

An operator describes a provider as data (``worker/resolvers/provider_config.py``): a request template whose
placeholders name a person's fields, and a response mapping (dotted paths to the email, the status and the score;
the vendor's status words mapped to ours). These rules render the request, read the answer, decide what an HTTP
status means (``answer_for``) and how long a ``Retry-After`` asks to wait. No vendor's terms live here.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from urllib.parse import quote

from contactvault.server.domain.names import UnusableName, parse_name
from contactvault.server.domain.scoring import CAPS, VerificationStatus, score

# What a template may name: the person's fields (what may be sent), and the provider's key.
PERSON_FIELDS = ("full_name", "first_name", "last_name", "company_name", "company_domain")
API_KEY = "api_key"


class TemplateError(ValueError):
    """A template names something it may not, or is not a plain ``{name}`` template."""


@dataclass(frozen=True, slots=True)
class PersonFields:
    """What a provider may be told about a person; empty strings for what is unknown. Personal data: no repr."""

    full_name: str = field(repr=False)
    first_name: str = field(repr=False)
    last_name: str = field(repr=False)
    company_name: str = field(repr=False)
    company_domain: str = field(repr=False)

    def get(self, name: str) -> str:
        """One field by its placeholder name."""
        return str(getattr(self, name))


def person_fields(full_name: str, company_name: str | None, company_domain: str | None) -> PersonFields:
    """A person's fields: first and last name from ``names.parse_name`` (as written, particles kept with the last
    name); both empty when the name cannot be parsed."""
    try:
        parsed = parse_name(full_name)
        first, last = parsed.given, " ".join(parsed.family)
    except UnusableName:
        first, last = "", ""
    domain = (company_domain or "").strip().rstrip(".").lower()
    return PersonFields(full_name.strip(), first, last, (company_name or "").strip(), domain)


def placeholders(template: str, allowed: tuple[str, ...]) -> frozenset[str]:
    """The names a template uses; ``TemplateError`` for anything but plain ``{name}`` fields among ``allowed``
    (``{{`` and ``}}`` are literal braces)."""
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError("has unbalanced braces") from exc
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if spec or conversion or name not in allowed:
            raise TemplateError(f"has an unknown placeholder {{{name}}}; allowed: {', '.join(allowed)}")
        names.add(name)
    return frozenset(names)


def render(template: str, values: Mapping[str, str], *, in_url: bool) -> str:
    """The template with its placeholders filled; in a URL each value is percent-encoded (a name with ``&`` or
    ``/`` stays one parameter)."""
    filled = {name: quote(value, safe="") if in_url else value for name, value in values.items()}
    return template.format_map(filled)


def dig(document: object, path: str) -> object:
    """The value at a dotted path (``data.emails.0.value``: keys of objects, indexes of lists), or None."""
    node = document
    for step in path.split("."):
        if isinstance(node, Mapping):
            node = node.get(step)
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return None
    return node


@dataclass(frozen=True, slots=True)
class ResponseMapping:
    """Where a provider's answer keeps the email, its status and score, and what its status words mean to us."""

    email: str
    status: str | None = None
    score: str | None = None
    status_map: Mapping[str, VerificationStatus] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A provider's answer in our vocabulary: the address (personal data: no repr), its status and score 0-100."""

    email: str = field(repr=False)
    status: VerificationStatus
    score: int


def read_verdict(document: object, mapping: ResponseMapping) -> Verdict | None:
    """The verdict in a provider's JSON answer, or None when it holds no address.

    The vendor's status word goes through ``status_map`` (a word it lacks, or no status at all, reads as
    ``unknown``: nothing we understood says the mailbox exists). The vendor's score is kept but capped per status
    (``scoring.CAPS``), so weaker evidence never looks like stronger; without one the score is ours for that status
    with nothing else known (``scoring.score`` at a certain pattern): valid 99, accept_all 59, unknown 50.
    """
    email = dig(document, mapping.email)
    if not isinstance(email, str) or not email.strip():
        return None
    word = dig(document, mapping.status) if mapping.status else None
    status = mapping.status_map.get(str(word).strip().lower(), VerificationStatus.UNKNOWN) if word is not None else None
    status = status or VerificationStatus.UNKNOWN
    raw_score = dig(document, mapping.score) if mapping.score else None
    value = _as_score(raw_score)
    if value is None:
        value = score(status, p_pattern=1.0)
    return Verdict(email.strip(), status, min(value, CAPS[status]))


def _as_score(raw: object) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        number = float(raw)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return min(max(math.floor(number + 0.5), 0), 100)


class Answer(StrEnum):
    """What an HTTP status from a provider means."""

    READ = "read"  # 200: read the body
    NOT_FOUND = "not_found"  # 404, 410, and other client errors about this request: this provider cannot say
    INELIGIBLE = "ineligible"  # 451: a personal-data restriction
    RETRY = "retry"  # 429, 5xx: retried, then transient
    TRANSIENT = "transient"  # 401, 403, 407 (our key or quota), other 2xx/3xx (e.g. 202 "still verifying")


def answer_for(status_code: int) -> Answer:
    """The meaning of a provider's HTTP status. Only 429 and 5xx are retried; no other 4xx ever is."""
    if status_code == 200:
        return Answer.READ
    if status_code == 451:
        return Answer.INELIGIBLE
    if status_code == 429 or status_code >= 500:
        return Answer.RETRY
    if status_code in (401, 403, 407) or status_code < 400:
        return Answer.TRANSIENT
    return Answer.NOT_FOUND


def is_breaker_failure(status_code: int | None) -> bool:
    """Whether an outcome counts against the provider's circuit: a transport error or timeout (None) or a 5xx.
    Client errors (4xx, 429 included: the provider is up and answering) never do."""
    return status_code is None or status_code >= 500


def retry_after_seconds(header: str | None, now: datetime) -> float | None:
    """The wait a ``Retry-After`` header asks for: delay-seconds, or an HTTP date (seconds from ``now``, 0 when it
    is past); None when absent or unreadable."""
    if header is None:
        return None
    text = header.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)
