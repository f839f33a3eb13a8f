"""domain/scoring: the 0-100 score, its caps per status, and the delivery rule."""

from __future__ import annotations

import pytest

from contactvault.server.domain.candidates import rank_candidates
from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.domain.names import name_forms, parse_name
from contactvault.server.domain.patterns import Evidence, learn
from contactvault.server.domain.scoring import (
    ACCEPT_ALL_DELIVERY_MIN,
    Delivery,
    VerificationMin,
    VerificationStatus,
    delivery,
    parse_verification_min,
    score,
    score_candidate,
)

V = VerificationStatus
PEOPLE = ["Anna Berg", "Tom Weiss", "Eva Lind", "Omar Haddad", "Lena Vogt", "Ivan Petrov", "Sara Holm", "Paul Kern"]


def first_dot_last(n: int):
    """A domain with ``n`` known first.last addresses."""
    known = [
        Evidence(i, name_forms(parse_name(p)), ".".join(p.lower().split()), True) for i, p in enumerate(PEOPLE[:n])
    ]
    return learn(known)


@pytest.mark.parametrize(
    ("status", "p_pattern", "identity", "support", "expected"),
    [
        (V.VALID, 1.0, 1.0, 9, 100),
        (V.VALID, 0.0, 1.0, 0, 98),
        (V.VALID, 0.5, 0.5, 0, 97),
        (V.UNKNOWN, 0.25, 1.0, 0, 43),
        (V.UNKNOWN, 0.1, 0.5, 0, 16),
        (V.ACCEPT_ALL, 1.0, 1.0, 9, 90),
        (V.ACCEPT_ALL, 1.0, 1.0, 2.5, 59),
        (V.ACCEPT_ALL, 0.8, 1.0, 3, 90),
        (V.ACCEPT_ALL, 0.5, 0.9, 3, 63),
        (V.ACCEPT_ALL, 0.4, 1.0, 3, 56),
        (V.ACCEPT_ALL, 0.1, 1.0, 9, 32),
        (V.UNKNOWN, 1.0, 1.0, 9, 50),
        (V.UNKNOWN, 0.5, 1.0, 9, 50),
        (V.INVALID, 1.0, 1.0, 9, 0),
    ],
)
def test_score_table(
    status: VerificationStatus, p_pattern: float, identity: float, support: float, expected: int
) -> None:
    assert score(status, p_pattern=p_pattern, p_identity=identity, support=support) == expected


@pytest.mark.parametrize(("status", "cap"), [(V.VALID, 100), (V.ACCEPT_ALL, 90), (V.UNKNOWN, 50), (V.INVALID, 0)])
def test_each_status_is_capped_and_out_of_range_inputs_are_clamped(status: VerificationStatus, cap: int) -> None:
    assert 0 <= score(status, p_pattern=7.0, p_identity=3.0, support=100) <= cap
    assert score(status, p_pattern=-1.0, p_identity=-1.0) == score(status, p_pattern=0.0, p_identity=0.0)


def test_a_weaker_status_never_scores_above_a_stronger_one() -> None:
    for p in (0.0, 0.3, 0.8, 1.0):
        valid, accept_all, unknown = (score(s, p_pattern=p, support=9) for s in (V.VALID, V.ACCEPT_ALL, V.UNKNOWN))
        assert valid >= accept_all >= unknown


@pytest.mark.parametrize(("known", "expected"), [(0, 59), (1, 59), (2, 59), (3, 90), (4, 90), (8, 90)])
def test_a_catch_all_candidate_reaches_60_with_three_consistent_known_addresses(known: int, expected: int) -> None:
    # Alpha 2, prior 0.5: 3 known give 0.8 -> 1.4 * 0.8 caps at 90; fewer stay below the threshold whatever p.
    best = rank_candidates(name_forms(parse_name("John Doe")), "acme.test", first_dot_last(known))[0]
    assert best.local_part == "john.doe"
    assert score_candidate(best, V.ACCEPT_ALL) == expected


def test_fewer_than_three_known_addresses_keep_accept_all_below_60_whatever_the_prior() -> None:
    # A prior that puts everything on first.last would reach 75 on two examples; support caps it.
    two = learn(
        [Evidence(i, name_forms(parse_name(p)), ".".join(p.lower().split()), True) for i, p in enumerate(PEOPLE[:2])],
        prior={"{first}.{last}": 1.0},
    )
    best = rank_candidates(name_forms(parse_name("John Doe")), "acme.test", two)[0]
    assert best.probability == pytest.approx(1.0)
    assert score_candidate(best, V.ACCEPT_ALL) == ACCEPT_ALL_DELIVERY_MIN - 1
    assert score_candidate(best, V.VALID) == 100


@pytest.mark.parametrize(
    ("status", "score_", "inferred", "minimum", "deliver", "reason"),
    [
        (V.VALID, 80, True, None, True, "valid"),
        (V.VALID, 80, True, VerificationMin.VALID, True, "valid"),
        (V.VALID, 80, True, VerificationMin.ACCEPT_ALL, True, "valid"),
        (V.ACCEPT_ALL, 60, True, None, True, "accept_all"),
        (V.ACCEPT_ALL, 75, True, VerificationMin.ACCEPT_ALL, True, "accept_all"),
        (V.ACCEPT_ALL, 59, True, None, False, "accept_all_below_threshold"),
        (V.ACCEPT_ALL, 59, True, VerificationMin.ACCEPT_ALL, False, "accept_all_below_threshold"),
        (V.ACCEPT_ALL, 75, True, VerificationMin.VALID, False, "accept_all_not_allowed"),
        (V.UNKNOWN, 50, True, None, False, "unknown_not_delivered"),
        (V.UNKNOWN, 50, True, VerificationMin.ACCEPT_ALL, False, "unknown_not_delivered"),
        (None, 0, True, None, False, "unknown_not_delivered"),
        (V.INVALID, 0, True, None, False, "invalid"),
        (V.VALID, 97, False, VerificationMin.VALID, True, "vault"),
        (V.ACCEPT_ALL, 20, False, VerificationMin.VALID, True, "vault"),
        (V.UNKNOWN, 0, False, VerificationMin.VALID, True, "vault"),
        (None, 0, False, None, True, "vault"),
    ],
)
def test_the_delivery_rule(
    status: VerificationStatus | None,
    score_: int,
    inferred: bool,
    minimum: VerificationMin | None,
    deliver: bool,
    reason: str,
) -> None:
    assert delivery(status, score_, inferred=inferred, verification_min=minimum) == Delivery(deliver, reason)


@pytest.mark.parametrize(
    ("raw", "parsed"), [(None, None), ("valid", VerificationMin.VALID), ("accept_all", VerificationMin.ACCEPT_ALL)]
)
def test_verification_min_parses_the_two_floors(raw: str | None, parsed: VerificationMin | None) -> None:
    assert parse_verification_min(raw) is parsed


@pytest.mark.parametrize("raw", ["VALID", "unknown", "", 1, ["valid"]])
def test_a_bad_verification_min_is_refused_naming_the_field(raw: object) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_verification_min(raw)
    assert raised.value.details is not None
    assert raised.value.details["field"] == "verification_min"
