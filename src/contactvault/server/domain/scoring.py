"""How sure we are that a found address is this person's deliverable address, and whether to deliver it (pure rules).

The score (0-100) is meant as a probability: of 100 values scored 80, about 80 are this person's deliverable
address. It combines the pattern posterior (is this the person's address pattern and spelling), the verification
evidence (does the mailbox exist: what the status says) and the identity risk (is it theirs and not a namesake's),
per status, with factors fitted on the resolution benchmark's labelled world (seed 7; checked on seed 21, see
docs/benchmarks.md "Resolution" and ``bench/calibrate.py``), each status capped so that weaker evidence never looks
like stronger:

    valid        100 * (0.98 + 0.02 * p_pattern) * (1 - 0.05 * (1 - identity))   <= 100: the mailbox exists on a
                                                            domain that refuses strangers; whose it is barely matters
                                                            (a namesake's gets a numbered address)
    accept_all   100 * identity * max(1.4 * p_pattern, 0.25 + 0.70 * p_pattern)
                                                            <= 90, and <= 59 while fewer than 3 known addresses at
                                                            the domain support the pattern
    unknown      100 * identity * (0.25 + 0.70 * p_pattern) <= 50: nothing said the mailbox exists
    invalid      0

Every factor only grows with consistent evidence, so the score is monotone: another known address following the
candidate's pattern never lowers it. The delivery rule then decides, for values the engine found: deliver
``valid``; deliver ``accept_all`` only at a score of at least 60 and when the task's ``verification_min`` allows
it; never deliver an inferred ``unknown`` (or ``invalid``). Vault values are always delivered with their stored
verification, as before the engine existed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from contactvault.server.domain.candidates import Candidate
from contactvault.server.domain.errors import InvalidRequest


class VerificationStatus(StrEnum):
    """What verification concluded about an address."""

    VALID = "valid"
    ACCEPT_ALL = "accept_all"
    UNKNOWN = "unknown"
    INVALID = "invalid"


class VerificationMin(StrEnum):
    """A task's floor for found values (the request extension ``verification_min``)."""

    VALID = "valid"
    ACCEPT_ALL = "accept_all"


# Fitted on the benchmark's labelled world (bench/calibrate.py, seed 7), checked on another seed.
VALID_BASE, VALID_PATTERN_SHARE, VALID_IDENTITY_SHARE = 0.98, 0.02, 0.05
ACCEPT_ALL_FACTOR = 1.4
UNKNOWN_BASE, UNKNOWN_PATTERN_SHARE = 0.25, 0.70
CAPS = {
    VerificationStatus.VALID: 100,
    VerificationStatus.ACCEPT_ALL: 90,
    VerificationStatus.UNKNOWN: 50,
    VerificationStatus.INVALID: 0,
}
# An accept_all domain answers yes to anything, so only the domain's known addresses speak for a candidate: fewer
# than this many behind its pattern keep it below the delivery threshold, whatever the prior and alpha.
ACCEPT_ALL_MIN_SUPPORT = 3
ACCEPT_ALL_DELIVERY_MIN = 60


def _clamp(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def score(status: VerificationStatus, *, p_pattern: float, p_identity: float = 1.0, support: float = 0.0) -> int:
    """The 0-100 score of an address with this status, pattern posterior, identity factor and ``support`` (the
    known addresses at the domain behind its pattern). Inputs outside [0, 1] are clamped."""
    p, identity = _clamp(p_pattern), _clamp(p_identity)
    if status is VerificationStatus.VALID:
        evidence = (VALID_BASE + VALID_PATTERN_SHARE * p) * (1 - VALID_IDENTITY_SHARE * (1 - identity))
        identity = 1.0  # already in the evidence, softened
    elif status is VerificationStatus.ACCEPT_ALL:
        # Never below what ``unknown`` would say: a catch-all answer is no weaker evidence than no answer.
        evidence = max(ACCEPT_ALL_FACTOR * p, UNKNOWN_BASE + UNKNOWN_PATTERN_SHARE * p)
    elif status is VerificationStatus.UNKNOWN:
        evidence = UNKNOWN_BASE + UNKNOWN_PATTERN_SHARE * p
    else:
        return 0
    cap = CAPS[status]
    if status is VerificationStatus.ACCEPT_ALL and support < ACCEPT_ALL_MIN_SUPPORT:
        cap = ACCEPT_ALL_DELIVERY_MIN - 1
    # Half up, after dropping float noise: 75 * 0.8 lands a hair under 60 in binary and must still score 60, and
    # 62.5 scores 63 (round() would give 62: banker's rounding).
    return min(math.floor(round(100 * identity * evidence, 9) + 0.5), cap)


def score_candidate(candidate: Candidate, status: VerificationStatus) -> int:
    """The score of a ranked candidate once verification gave ``status``."""
    return score(status, p_pattern=candidate.probability, p_identity=candidate.identity, support=candidate.support)


def parse_verification_min(raw: object) -> VerificationMin | None:
    """The request's ``verification_min``: absent (None) or ``"valid"`` / ``"accept_all"``; anything else is refused
    with an error naming the field."""
    if raw is None:
        return None
    if isinstance(raw, str) and raw in {m.value for m in VerificationMin}:
        return VerificationMin(raw)
    raise InvalidRequest(
        "verification_min must be 'valid' or 'accept_all'.",
        {"field": "verification_min", "allowed": ["valid", "accept_all"]},
    )


@dataclass(frozen=True, slots=True)
class Delivery:
    """Whether to deliver (and charge) a found value, and why."""

    deliver: bool
    reason: str


def delivery(
    status: VerificationStatus | None,
    score_: int,
    *,
    inferred: bool,
    verification_min: VerificationMin | None = None,
) -> Delivery:
    """The delivery rule. ``inferred`` is True for a value the engine found (pattern or provider), False for a vault
    value, which is delivered whatever its stored verification (None reads as ``unknown``)."""
    if not inferred:
        return Delivery(True, "vault")
    if status is VerificationStatus.VALID:
        return Delivery(True, "valid")
    if status is VerificationStatus.ACCEPT_ALL:
        if verification_min is VerificationMin.VALID:
            return Delivery(False, "accept_all_not_allowed")
        if score_ < ACCEPT_ALL_DELIVERY_MIN:
            return Delivery(False, "accept_all_below_threshold")
        return Delivery(True, "accept_all")
    if status is VerificationStatus.INVALID:
        return Delivery(False, "invalid")
    return Delivery(False, "unknown_not_delivered")
