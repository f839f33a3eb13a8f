"""What resolving a person can answer: the vocabulary shared by resolvers (worker) and settlement (services)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Outcome(StrEnum):
    """What a resolver can answer."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    INELIGIBLE = "ineligible"
    TRANSIENT = "transient"
    # Not now, and not a failure: the domain greylisted us or a politeness limit said wait. The item goes back
    # to the queue after ``Resolution.retry_after`` seconds without using up an attempt.
    DEFERRED = "deferred"


@dataclass(frozen=True, slots=True)
class Lookup:
    """One item to resolve."""

    item_id: int
    personnel_id: int
    channel: str
    # The task's floor for values the engine found (``scoring.VerificationMin`` value); None = operator default.
    verification_min: str | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    """A resolver's answer; a found value arrives sealed, with its keyed hash for suppression checks."""

    outcome: Outcome
    value_encrypted: bytes | None = None
    value_hash: bytes | None = None
    source: str | None = None
    verification_status: str | None = None
    verification_score: int | None = None
    checked_at: datetime | None = None
    retry_after: float | None = None  # seconds, for DEFERRED


def deferred(retry_after: float) -> Resolution:
    """Come back in ``retry_after`` seconds (at least one)."""
    return Resolution(Outcome.DEFERRED, retry_after=max(1.0, retry_after))


NOT_FOUND = Resolution(Outcome.NOT_FOUND)
INELIGIBLE = Resolution(Outcome.INELIGIBLE)
TRANSIENT = Resolution(Outcome.TRANSIENT)

# The source the pattern resolver gives the values it finds (docs/resolution.md); imports keep their own label.
INFERRED_SOURCE = "pattern"


def is_inferred(source: str | None) -> bool:
    """Whether a delivered value was found by the engine's inference rather than imported (labelled in the console)."""
    return source == INFERRED_SOURCE
