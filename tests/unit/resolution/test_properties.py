"""Properties of names, patterns and scoring over generated names (Hypothesis)."""

from __future__ import annotations

import math
import random

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from contactvault.server.domain.candidates import is_role_address, rank_candidates
from contactvault.server.domain.names import UnusableName, name_forms, parse_name
from contactvault.server.domain.patterns import VOCABULARY, Evidence, explaining_patterns, is_valid_local_part, learn
from contactvault.server.domain.scoring import VerificationStatus, score, score_candidate

# No deadline: the machine is shared and a slow example is not a failure of these rules.
PROPERTY = settings(deadline=None, max_examples=150)

# Letters of the scripts names arrive in (ASCII, Latin accents and two-way letters, Greek, Cyrillic, CJK), and the
# punctuation names carry.
LETTERS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    + "äöüßøåæœéèêçñłžšðþÄÖÜØÅÆÉİı"
    + "αβγδλπωάΩ"
    + "дмитрийЖЩ"
    + "李小龍王"
)
PUNCTUATION = "-'\u2019.,()\"0123456789"
words = st.text(st.sampled_from(LETTERS + PUNCTUATION), min_size=1, max_size=30)
full_names = st.lists(words, min_size=1, max_size=5).map(" ".join)
titled_names = st.tuples(
    st.sampled_from(["", "Dr. ", "Prof. Dr. ", "Mr "]), full_names, st.sampled_from(["", " Jr.", ", PhD", " III"])
).map("".join)
order = st.sampled_from([None, True, False])
simple_words = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz"), min_size=2, max_size=12)
patterns = st.sampled_from(VOCABULARY)


@PROPERTY
@given(full_name=titled_names, family_first=order)
def test_every_rendered_local_part_is_valid_ascii_of_at_most_64_characters_and_weights_sum_to_1(
    full_name: str, family_first: bool | None
) -> None:
    try:
        forms = name_forms(parse_name(full_name, family_first=family_first))
    except UnusableName:
        return
    assert forms
    assert math.isclose(sum(f.weight for f in forms), 1.0)
    for form in forms:
        assert (form.first + form.last + form.middle).isascii()
        for pattern in VOCABULARY:
            local_part = pattern.render(form)
            if local_part is not None:
                assert is_valid_local_part(local_part)
                assert len(local_part) <= 64
                assert all(c in "abcdefghijklmnopqrstuvwxyz0123456789._-" for c in local_part)


@PROPERTY
@given(full_name=titled_names, family_first=order, seed=st.integers(0, 2**32))
def test_rendering_and_ranking_are_deterministic(full_name: str, family_first: bool | None, seed: int) -> None:
    try:
        forms = name_forms(parse_name(full_name, family_first=family_first))
    except UnusableName:
        return
    again = name_forms(parse_name(full_name, family_first=family_first))
    assert forms == again
    evidence = [
        Evidence(i, name_forms(parse_name(n)), lp, True)
        for i, (n, lp) in enumerate([("Anna Berg", "aberg"), ("Tom Weiss", "tom.weiss"), ("Eva Lind", "elind")])
    ]
    shuffled = evidence[:]
    random.Random(seed).shuffle(shuffled)
    learnt, relearnt = learn(evidence), learn(shuffled)
    assert learnt == relearnt
    assert rank_candidates(forms, "acme.test", learnt, k=50) == rank_candidates(again, "acme.test", relearnt, k=50)


@PROPERTY
@given(full_name=titled_names, family_first=order, pattern=patterns, pick=st.integers(0, 1000))
def test_learning_an_address_then_rendering_the_person_with_the_top_pattern_reproduces_it(
    full_name: str, family_first: bool | None, pattern, pick: int
) -> None:
    try:
        forms = name_forms(parse_name(full_name, family_first=family_first))
    except UnusableName:
        return
    form = forms[pick % len(forms)]
    local_part = pattern.render(form)
    assume(local_part is not None and not is_role_address(local_part))
    assert local_part is not None
    evidence = Evidence(7, forms, local_part, True)
    # An address two patterns explain splits its vote, and the prior may then outweigh half a vote (see
    # test_patterns.test_an_ambiguous_address_splits_its_vote); one unambiguous address always decides.
    assume(explaining_patterns(evidence) == (pattern.template,))
    learnt = learn([evidence])
    top = next(p for p in VOCABULARY if p.template == learnt.top()[0])
    assert top == pattern
    assert local_part in {top.render(f) for f in forms}
    ranked = rank_candidates(forms, "acme.test", learnt, owner=7, k=len(forms) * len(VOCABULARY))
    # Among the candidates, with the top pattern (not always the first: with a one-letter given name
    # "{first}.{last}" and "{f}.{last}" spell one address, whose probabilities add up).
    assert local_part in {c.local_part for c in ranked if c.pattern == top.template}


@st.composite
def colleagues(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Distinct (first, last) pairs: the target person first, then the known colleagues."""
    firsts = draw(st.lists(simple_words, min_size=2, max_size=8, unique=True))
    lasts = draw(st.lists(simple_words, min_size=len(firsts), max_size=len(firsts), unique=True))
    return list(zip(firsts, lasts, strict=True))


@PROPERTY
@given(people=colleagues(), pattern=patterns, status=st.sampled_from(list(VerificationStatus)))
def test_more_consistent_evidence_never_lowers_the_patterns_probability_or_the_score(
    people: list[tuple[str, str]], pattern, status: VerificationStatus
) -> None:
    (target_first, target_last), known = people[0], people[1:]
    target = name_forms(parse_name(f"{target_first.title()} {target_last.title()}"))
    target_local = pattern.render(target[0])
    assume(target_local is not None and not is_role_address(target_local))
    evidence: list[Evidence] = []
    for owner, (first, last) in enumerate(known, start=1):
        forms = name_forms(parse_name(f"{first.title()} {last.title()}"))
        local_part = pattern.render(forms[0])
        # Consistent evidence: the pattern alone explains it, and it is not the target's rendering (a namesake).
        assume(local_part is not None and local_part != target_local)
        assert local_part is not None
        assume(explaining_patterns(Evidence(owner, forms, local_part, True)) == (pattern.template,))
        evidence.append(Evidence(owner, forms, local_part, True))
    before = None
    for n in range(len(evidence) + 1):
        learnt = learn(evidence[:n])
        candidate = next(c for c in rank_candidates(target, "acme.test", learnt, k=100) if c.local_part == target_local)
        now = (learnt.probabilities[pattern.template], candidate.probability, score_candidate(candidate, status))
        if before is not None:
            assert now[0] >= before[0] - 1e-12
            assert now[1] >= before[1] - 1e-12
            assert now[2] >= before[2]
        before = now


@PROPERTY
@given(
    status=st.sampled_from(list(VerificationStatus)),
    p=st.tuples(st.floats(0, 1), st.floats(0, 1)).map(sorted),
    identity=st.tuples(st.floats(0, 1), st.floats(0, 1)).map(sorted),
    support=st.tuples(st.floats(0, 20), st.floats(0, 20)).map(sorted),
)
def test_the_score_is_monotone_in_every_factor_and_within_0_to_100(status, p, identity, support) -> None:
    low = score(status, p_pattern=p[0], p_identity=identity[0], support=support[0])
    high = score(status, p_pattern=p[1], p_identity=identity[1], support=support[1])
    assert 0 <= low <= high <= 100


known_rows = st.lists(
    st.tuples(
        st.integers(0, 6),
        st.tuples(simple_words, simple_words).map(" ".join),
        st.text(st.sampled_from("abcdefjs.-_2"), min_size=1, max_size=12),
    ),
    max_size=8,
)


@PROPERTY
@given(rows=known_rows, target=st.tuples(simple_words, simple_words).map(" ".join), alpha=st.floats(0.1, 10))
def test_a_ranking_never_offers_a_colleagues_address_nor_more_mass_than_was_explained(rows, target, alpha) -> None:
    evidence = [Evidence(owner, name_forms(parse_name(name)), local_part, True) for owner, name, local_part in rows]
    learnt = learn(evidence, alpha=alpha)
    assert math.isclose(sum(learnt.probabilities.values()) + learnt.unexplained, 1.0)
    ranked = rank_candidates(name_forms(parse_name(target)), "acme.test", learnt, owner=99, k=30)
    assert ranked
    assert all(learnt.owners.get(c.local_part) is None for c in ranked)
    assert all(0 < c.identity <= 1 for c in ranked)
    assert sum(c.probability for c in ranked) <= 1 - learnt.unexplained + 1e-9
