"""domain/patterns: the vocabulary, rendering, and learning a domain's pattern distribution from known addresses."""

from __future__ import annotations

import math

import pytest

from contactvault.server.domain.names import NameForm, name_forms, parse_name
from contactvault.server.domain.patterns import (
    DEFAULT_ALPHA,
    DEFAULT_PRIOR,
    PATTERNS,
    VOCABULARY,
    Evidence,
    UncorroboratedEvidence,
    is_valid_local_part,
    learn,
    pooled_prior,
)

JOHN = NameForm("john", "smith", "q", 1.0)


def known(owner: int, full_name: str, local_part: str, *, corroborated: bool = True) -> Evidence:
    return Evidence(owner, name_forms(parse_name(full_name)), local_part, corroborated)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{first}.{last}", "john.smith"),
        ("{f}{last}", "jsmith"),
        ("{first}", "john"),
        ("{first}{l}", "johns"),
        ("{last}.{first}", "smith.john"),
        ("{first}_{last}", "john_smith"),
        ("{first}-{last}", "john-smith"),
        ("{f}.{last}", "j.smith"),
        ("{last}{f}", "smithj"),
        ("{first}{last}", "johnsmith"),
        ("{last}", "smith"),
        ("{f}{l}", "js"),
        ("{first}.{m}.{last}", "john.q.smith"),
        ("{f}{m}{last}", "jqsmith"),
    ],
)
def test_each_pattern_renders_a_name_form(template: str, expected: str) -> None:
    assert PATTERNS[template].render(JOHN) == expected


def test_a_pattern_needing_a_missing_part_renders_nothing() -> None:
    no_middle = NameForm("john", "smith", "", 1.0)
    mononym = NameForm("madonna", "", "", 1.0)
    assert PATTERNS["{first}.{m}.{last}"].render(no_middle) is None
    assert PATTERNS["{first}.{last}"].render(mononym) is None
    assert PATTERNS["{first}"].render(mononym) == "madonna"


def test_a_rendering_too_long_for_a_local_part_is_refused_not_cut() -> None:
    long_name = NameForm("a" * 40, "b" * 30, "", 1.0)
    assert PATTERNS["{first}.{last}"].render(long_name) is None
    assert PATTERNS["{f}{last}"].render(long_name) == "a" + "b" * 30


def test_a_kept_hyphen_next_to_a_separator_is_refused() -> None:
    # "jean-.picard" never; "jean-luc.picard" yes.
    assert PATTERNS["{first}.{last}"].render(NameForm("jean-luc", "picard", "", 1.0)) == "jean-luc.picard"
    assert PATTERNS["{first}-{last}"].render(NameForm("jean-", "picard", "", 1.0)) is None


@pytest.mark.parametrize(
    ("local_part", "valid"),
    [
        ("john.smith", True),
        ("j_s-1", True),
        (".john", False),
        ("john.", False),
        ("jo..hn", False),
        ("jo.-hn", False),
        ("", False),
        ("John", False),
        ("jöhn", False),
        ("a" * 64, True),
        ("a" * 65, False),
    ],
)
def test_valid_local_parts(local_part: str, valid: bool) -> None:
    assert is_valid_local_part(local_part) is valid


def test_the_vocabulary_and_its_prior_agree() -> None:
    assert [p.template for p in VOCABULARY] == list(DEFAULT_PRIOR)
    assert math.isclose(sum(DEFAULT_PRIOR.values()), 1.0)
    assert DEFAULT_PRIOR["{first}.{last}"] == 0.5
    assert {p.template for p in VOCABULARY if p.uses_initials} >= {"{f}{last}", "{first}{l}", "{f}{l}", "{f}.{last}"}
    assert all(
        p.identity == 1.0
        for p in VOCABULARY
        if not p.uses_initials and "{first}" in p.template and "{last}" in p.template
    )


def test_with_no_evidence_the_distribution_is_the_prior() -> None:
    learnt = learn([])
    assert learnt.evidence == 0
    assert dict(learnt.probabilities) == pytest.approx(dict(DEFAULT_PRIOR))
    template, probability = learnt.top()
    assert template == "{first}.{last}"
    assert probability == pytest.approx(0.5)


def test_learning_is_dirichlet_smoothing_of_the_votes() -> None:
    learnt = learn([known(1, "Anna Berg", "aberg"), known(2, "Tom Weiss", "tweiss"), known(3, "Eva Lind", "eva.lind")])
    n, alpha = 3, DEFAULT_ALPHA
    assert learnt.probabilities["{f}{last}"] == pytest.approx((2 + alpha * DEFAULT_PRIOR["{f}{last}"]) / (n + alpha))
    assert learnt.probabilities["{first}.{last}"] == pytest.approx((1 + alpha * 0.5) / (n + alpha))
    assert learnt.top()[0] == "{f}{last}"
    assert math.isclose(sum(learnt.probabilities.values()) + learnt.unexplained, 1.0)


def test_alpha_sets_how_much_one_example_moves_the_distribution() -> None:
    one = [known(1, "Anna Berg", "aberg")]
    assert learn(one, alpha=0.5).probabilities["{f}{last}"] > learn(one, alpha=8).probabilities["{f}{last}"]
    with pytest.raises(ValueError, match="alpha"):
        learn(one, alpha=0)


def test_an_ambiguous_address_splits_its_vote() -> None:
    # "Li Lu" -> "ll": {f}{l} only; "Chen Chen" -> "chen.chen": first.last and last.first alike.
    learnt = learn([known(1, "Chen Chen", "chen.chen")], alpha=1)
    assert learnt.votes["{first}.{last}"] == learnt.votes["{last}.{first}"] == 0.5


def test_an_address_no_pattern_explains_stays_unexplained() -> None:
    learnt = learn([known(1, "John Smith", "jsmith2"), known(2, "Eva Lind", "eva.lind")])
    assert learnt.unexplained == pytest.approx(1 / (2 + DEFAULT_ALPHA))
    assert sum(learnt.votes.values()) == 1.0


def test_ties_are_broken_by_the_vocabulary_order() -> None:
    learnt = learn([known(1, "Anna Berg", "aberg"), known(2, "Tom Weiss", "tom_weiss")], prior={})
    # A flat prior: flast and first_last have the same posterior; flast comes first in the vocabulary.
    assert learnt.probabilities["{f}{last}"] == learnt.probabilities["{first}_{last}"]
    assert [t for t, _ in learnt.ranked()[:2]] == ["{f}{last}", "{first}_{last}"]


def test_a_transliterated_address_is_explained_by_either_spelling() -> None:
    learnt = learn([known(1, "Jürgen Müller", "juergen.mueller"), known(2, "Björn Borg", "bjorn.borg")], alpha=1)
    assert learnt.votes["{first}.{last}"] == 2


def test_the_same_person_and_address_count_once() -> None:
    twice = learn([known(1, "Anna Berg", "aberg"), known(1, "Anna Berg", "ABERG")])
    assert twice.evidence == 1


def test_uncorroborated_evidence_is_refused_and_nothing_is_learnt() -> None:
    guess = known(2, "Tom Weiss", "tweiss", corroborated=False)
    with pytest.raises(UncorroboratedEvidence) as raised:
        learn([known(1, "Anna Berg", "aberg"), guess])
    assert raised.value.count == 1
    assert "tweiss" not in str(raised.value)


def test_learning_records_who_holds_each_address_and_namesake_renderings() -> None:
    learnt = learn([known(1, "Jane Smith", "jane.smith"), known(2, "Joe Smith", "joe.smith")])
    assert learnt.owners == {"jane.smith": 1, "joe.smith": 2}
    assert learnt.renderings["{f}{last}"]["jsmith"] == {1, 2}
    assert learnt.colliding_owners("{f}{last}", "jsmith", owner=1) == 1
    assert learnt.colliding_owners("{f}{last}", "jsmith", owner=3) == 2
    assert learnt.colliding_owners("{first}.{last}", "john.smith", owner=3) == 0


def test_evidence_and_learnt_patterns_keep_addresses_out_of_their_repr() -> None:
    evidence = known(1, "Jane Smith", "jane.smith")
    assert "jane" not in repr(evidence)
    assert "jane" not in repr(learn([evidence]))


def test_a_pooled_prior_moves_from_the_fallback_towards_the_vault() -> None:
    domains = [learn([known(i, "Anna Berg", "aberg")]) for i in range(40)]
    few, many = pooled_prior(domains[:1]), pooled_prior(domains)
    assert DEFAULT_PRIOR["{f}{last}"] < few["{f}{last}"] < many["{f}{last}"]
    assert math.isclose(sum(many.values()), 1.0)
    assert pooled_prior([]) == pytest.approx(dict(DEFAULT_PRIOR))
