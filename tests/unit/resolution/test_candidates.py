"""domain/candidates: ranking a person's candidate addresses at a domain."""

from __future__ import annotations

import pytest

from contactvault.server.domain.candidates import (
    COLLISION_SHARE,
    DEFAULT_LISTS,
    DomainLists,
    IneligibleDomain,
    domain_refusal,
    is_role_address,
    rank_candidates,
)
from contactvault.server.domain.names import NameForm, name_forms, parse_name
from contactvault.server.domain.patterns import PATTERNS, Evidence, learn


def forms(full_name: str) -> tuple[NameForm, ...]:
    return name_forms(parse_name(full_name))


def known(owner: int, full_name: str, local_part: str) -> Evidence:
    return Evidence(owner, forms(full_name), local_part, True)


FIRST_DOT_LAST = learn(
    [known(1, "Anna Berg", "anna.berg"), known(2, "Tom Weiss", "tom.weiss"), known(3, "Eva Lind", "eva.lind")]
)


def test_candidates_come_by_probability_from_the_domains_patterns() -> None:
    ranked = rank_candidates(forms("John Doe"), "Acme.TEST.", FIRST_DOT_LAST)
    assert [c.address for c in ranked[:2]] == ["john.doe@acme.test", "jdoe@acme.test"]
    assert ranked[0].pattern == "{first}.{last}"
    assert ranked[0].probability == pytest.approx(FIRST_DOT_LAST.probabilities["{first}.{last}"])
    assert ranked[0].support == 3
    assert [c.probability for c in ranked] == sorted((c.probability for c in ranked), reverse=True)


def test_top_k_limits_the_candidates() -> None:
    assert len(rank_candidates(forms("John Doe"), "acme.test", FIRST_DOT_LAST, k=3)) == 3
    assert len(rank_candidates(forms("John Doe"), "acme.test", FIRST_DOT_LAST)) == 5


def test_a_probability_is_the_patterns_times_the_spellings() -> None:
    ranked = rank_candidates(forms("Jürgen Müller"), "acme.test", FIRST_DOT_LAST, k=4)
    p = FIRST_DOT_LAST.probabilities["{first}.{last}"]
    assert {c.local_part for c in ranked} == {"jurgen.muller", "jurgen.mueller", "juergen.muller", "juergen.mueller"}
    assert all(c.probability == pytest.approx(p / 4) for c in ranked)


def test_the_same_address_from_two_patterns_adds_up() -> None:
    ranked = rank_candidates(forms("Chen Chen"), "acme.test", FIRST_DOT_LAST)
    expected = FIRST_DOT_LAST.probabilities["{first}.{last}"] + FIRST_DOT_LAST.probabilities["{last}.{first}"]
    assert ranked[0].local_part == "chen.chen"
    assert ranked[0].probability == pytest.approx(expected)
    assert len({c.local_part for c in ranked}) == len(ranked)


@pytest.mark.parametrize("full_name", ["Info Desk", "Sales", "Support Team", "Admin"])
def test_role_words_are_never_a_persons_address(full_name: str) -> None:
    ranked = rank_candidates(forms(full_name), "acme.test", learn([]), k=20)
    assert all(not is_role_address(c.local_part) for c in ranked)
    assert {"info", "sales", "support", "admin", "support.team"}.isdisjoint(c.local_part for c in ranked)


@pytest.mark.parametrize(
    ("local_part", "role"),
    [("info", True), ("no-reply", True), ("sales.team", True), ("anna.berg", False), ("hrabal", False)],
)
def test_role_addresses(local_part: str, role: bool) -> None:
    assert is_role_address(local_part) is role


@pytest.mark.parametrize(
    ("domain", "reason"),
    [
        ("gmail.com", "free_mail"),
        ("GMAIL.COM.", "free_mail"),
        ("mail.yahoo.co.uk", "free_mail"),
        ("notgmail.com", None),
        ("yahoo.co.uk", "free_mail"),
        ("mailinator.com", "disposable"),
        ("x.mailinator.com", "disposable"),
        ("acme.test", None),
    ],
)
def test_free_mail_and_disposable_domains_are_refused(domain: str, reason: str | None) -> None:
    assert domain_refusal(domain) == reason
    if reason is None:
        assert rank_candidates(forms("John Doe"), domain, FIRST_DOT_LAST)
    else:
        with pytest.raises(IneligibleDomain) as raised:
            rank_candidates(forms("John Doe"), domain, FIRST_DOT_LAST)
        assert raised.value.reason == reason


def test_the_lists_can_be_overridden() -> None:
    own = DomainLists(free_mail=frozenset({"acme.test"}), disposable=frozenset())
    assert domain_refusal("acme.test", own) == "free_mail"
    assert domain_refusal("gmail.com", own) is None
    assert domain_refusal("gmail.com", DEFAULT_LISTS) == "free_mail"


def test_a_colleagues_address_is_never_offered_the_numbered_one_is_with_half_the_mass() -> None:
    # The domain writes flast; Jane Smith holds jsmith, so John Smith's can only be jsmith2.
    flast = learn([known(1, "Jane Smith", "jsmith"), known(2, "Tom Weiss", "tweiss"), known(3, "Eva Lind", "elind")])
    ranked = rank_candidates(forms("John Smith"), "acme.test", flast, owner=9)
    assert "jsmith" not in {c.local_part for c in ranked}
    numbered = next(c for c in ranked if c.local_part == "jsmith2")
    assert numbered.pattern == "{f}{last}"
    assert numbered.probability == pytest.approx(flast.probabilities["{f}{last}"] * COLLISION_SHARE)
    assert numbered.identity == pytest.approx(PATTERNS["{f}{last}"].identity / 2)


def test_namesakes_lower_the_identity_of_initial_based_patterns() -> None:
    # Jane and Joe Smith are known (first.last); John Smith's jsmith would render theirs too.
    domain = learn([known(1, "Jane Smith", "jane.smith"), known(2, "Joe Smith", "joe.smith")])
    ranked = {c.local_part: c for c in rank_candidates(forms("John Smith"), "acme.test", domain, owner=9, k=20)}
    assert ranked["john.smith"].identity == 1.0
    assert ranked["jsmith"].identity == pytest.approx(PATTERNS["{f}{last}"].identity / 3)
    lone = {c.local_part: c for c in rank_candidates(forms("John Smith"), "acme.test", learn([]), owner=9, k=20)}
    assert lone["jsmith"].identity == PATTERNS["{f}{last}"].identity


def test_a_persons_own_known_address_is_not_a_collision() -> None:
    domain = learn([known(1, "Jane Smith", "jsmith"), known(2, "Tom Weiss", "tweiss")])
    ranked = rank_candidates(forms("Jane Smith"), "acme.test", domain, owner=1)
    assert ranked[0].local_part == "jsmith"
    assert ranked[0].identity == PATTERNS["{f}{last}"].identity


def test_ranking_is_deterministic() -> None:
    first = rank_candidates(forms("Åsa van der Berg-Lind"), "acme.test", FIRST_DOT_LAST, k=20)
    assert first == rank_candidates(forms("Åsa van der Berg-Lind"), "acme.test", FIRST_DOT_LAST, k=20)


def test_a_candidate_keeps_its_address_out_of_its_repr() -> None:
    candidate = rank_candidates(forms("John Doe"), "acme.test", FIRST_DOT_LAST)[0]
    assert "john" not in repr(candidate)
    assert candidate.address == "john.doe@acme.test"
