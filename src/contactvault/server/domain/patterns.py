"""Address patterns: the vocabulary, rendering a name form with one, and learning a domain's distribution of
patterns from addresses we know (pure rules, standard library only).

A pattern is a template over a name form: ``{first}``, ``{last}``, ``{f}`` / ``{l}`` (their initials), ``{m}``
(middle initials), joined by ``.``, ``_``, ``-`` or nothing. A domain has a *distribution* of patterns, learnt by
votes: each known address votes for the patterns that reproduce it (an ambiguous one splits its vote), and the
posterior is smoothed by a global prior, Dirichlet-style: ``P(p) = (votes_p + alpha * prior_p) / (n + alpha)``; the
mass of addresses no pattern explains (``jsmith2``, a nickname) stays with ``unexplained``. Only corroborated addresses
(vault imports, providers) may be evidence: the engine's own guesses never teach it (no self-reinforcement).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType

from contactvault.server.domain.names import NameForm

MAX_LOCAL_PART = 64
_VALID_LOCAL_PART = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
_PLACEHOLDER = re.compile(r"\{(first|last|f|l|m)\}")

DEFAULT_ALPHA = 2.0


def form_parts(form: NameForm) -> dict[str, str]:
    """What a pattern's placeholders stand for in ``form``."""
    return {"first": form.first, "last": form.last, "f": form.first[:1], "l": form.last[:1], "m": form.middle}


@cache
def _compiled(template: str) -> tuple[str, tuple[str, ...]]:
    """The template as a ``str.format`` layout (its other text escaped) and the placeholders it uses, made once:
    rendering is the resolver's innermost loop (every pattern for every spelling of every person)."""
    pieces = _PLACEHOLDER.split(template)  # text at even positions, placeholder names at odd ones
    layout = "".join(
        "{" + piece + "}" if i % 2 else piece.replace("{", "{{").replace("}", "}}") for i, piece in enumerate(pieces)
    )
    return layout, tuple(pieces[1::2])


def is_valid_local_part(local_part: str) -> bool:
    """ASCII ``[a-z0-9._-]``, at most 64 characters, no separator first, last or next to another."""
    return len(local_part) <= MAX_LOCAL_PART and _VALID_LOCAL_PART.fullmatch(local_part) is not None


@dataclass(frozen=True, slots=True)
class Pattern:
    """One address pattern, e.g. ``{first}.{last}``; ``identity`` is how surely the address it renders is this
    person's rather than a namesake's (1 for a full name; lower for initials and single names)."""

    template: str
    identity: float

    def render(self, form: NameForm) -> str | None:
        """The local part for ``form``, or None when the form lacks a part the pattern needs or the result is not a
        valid local part (never truncated: a cut address would be someone else's guess)."""
        return self.render_parts(form_parts(form))

    def render_parts(self, parts: Mapping[str, str]) -> str | None:
        """``render`` for a form's ``form_parts`` (made once per form when every pattern renders it)."""
        layout, names = _compiled(self.template)
        for name in names:
            if not parts[name]:
                return None
        local_part = layout.format_map(parts)
        return local_part if is_valid_local_part(local_part) else None

    @property
    def uses_initials(self) -> bool:
        """Whether the pattern abbreviates a name (``{f}``, ``{l}``, ``{m}``): where namesakes collide."""
        return any(p in self.template for p in ("{f}", "{l}", "{m}"))


# The vocabulary, with a weak global prior (vendor-claimed shares, to be replaced by counts from the vault through
# ``pooled_prior``): about half of companies use first.last, which with alpha = 2 makes three consistent known
# addresses the least that lifts a catch-all domain's best candidate to a deliverable score (see scoring.py).
_VOCABULARY: tuple[tuple[str, float, float], ...] = (
    ("{first}.{last}", 1.0, 0.50),
    ("{f}{last}", 0.9, 0.14),
    ("{first}", 0.8, 0.06),
    ("{first}{last}", 1.0, 0.05),
    ("{f}.{last}", 0.9, 0.04),
    ("{first}{l}", 0.9, 0.03),
    ("{first}_{last}", 1.0, 0.03),
    ("{first}.{l}", 0.9, 0.02),
    ("{last}", 0.8, 0.02),
    ("{last}.{first}", 1.0, 0.02),
    ("{last}{f}", 0.9, 0.02),
    ("{first}-{last}", 1.0, 0.02),
    ("{f}{l}", 0.7, 0.01),
    ("{last}_{first}", 1.0, 0.01),
    ("{last}{first}", 1.0, 0.01),
    ("{first}.{m}.{last}", 1.0, 0.01),
    ("{f}{m}{last}", 0.95, 0.01),
)
VOCABULARY: tuple[Pattern, ...] = tuple(Pattern(t, identity) for t, identity, _ in _VOCABULARY)
PATTERNS: Mapping[str, Pattern] = MappingProxyType({p.template: p for p in VOCABULARY})
DEFAULT_PRIOR: Mapping[str, float] = MappingProxyType({t: share for t, _, share in _VOCABULARY})


class UncorroboratedEvidence(ValueError):
    """Evidence that is the engine's own guess: learning from it would let the engine confirm itself."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} evidence pair(s) not corroborated by the vault or a provider; nothing learnt")
        self.count = count


@dataclass(frozen=True, slots=True)
class Evidence:
    """A known (person, address) pair at one domain. ``owner`` identifies the person (their personnel id);
    ``corroborated`` is True only for vault or provider values, never for an address the engine inferred (even one
    SMTP accepted: the mailbox exists, but whose it is was our guess)."""

    owner: int
    forms: tuple[NameForm, ...]
    local_part: str = field(repr=False)
    corroborated: bool


@dataclass(frozen=True)
class DomainPatterns:
    """A domain's learnt distribution: ``probabilities`` per pattern (with ``unexplained`` they sum to 1),
    ``votes`` per pattern (the count of known addresses behind it, ambiguous ones split), ``evidence`` the number
    of known addresses, ``owners`` who holds each known local part, ``renderings`` per pattern which known people
    a local part renders to (namesakes collide there)."""

    probabilities: Mapping[str, float]
    votes: Mapping[str, float]
    evidence: int
    unexplained: float
    owners: Mapping[str, int] = field(default_factory=dict, repr=False)
    renderings: Mapping[str, Mapping[str, frozenset[int]]] = field(default_factory=dict, repr=False)

    def ranked(self) -> tuple[tuple[str, float], ...]:
        """Patterns by probability, ties by vocabulary order (which follows the default prior)."""
        order = {p.template: i for i, p in enumerate(VOCABULARY)}
        return tuple(sorted(self.probabilities.items(), key=lambda kv: (-kv[1], order.get(kv[0], len(order)))))

    def top(self) -> tuple[str, float]:
        """The most probable pattern and its probability."""
        return self.ranked()[0]

    def colliding_owners(self, template: str, local_part: str, owner: int) -> int:
        """How many known people other than ``owner`` the pattern renders to ``local_part``."""
        return len(self.renderings.get(template, {}).get(local_part, frozenset()) - {owner})


def _normalised(prior: Mapping[str, float], vocabulary: Iterable[Pattern]) -> dict[str, float]:
    shares = {p.template: max(prior.get(p.template, 0.0), 0.0) for p in vocabulary}
    total = sum(shares.values())
    if total <= 0:
        return {t: 1.0 / len(shares) for t in shares}
    return {t: s / total for t, s in shares.items()}


def explaining_patterns(evidence: Evidence, vocabulary: Iterable[Pattern] = VOCABULARY) -> tuple[str, ...]:
    """The patterns that reproduce the evidence's local part from one of the person's name forms."""
    local_part = evidence.local_part.lower()
    return tuple(p.template for p in vocabulary if any(p.render(f) == local_part for f in evidence.forms))


def learn(
    evidence: Iterable[Evidence],
    *,
    prior: Mapping[str, float] = DEFAULT_PRIOR,
    alpha: float = DEFAULT_ALPHA,
    vocabulary: tuple[Pattern, ...] = VOCABULARY,
) -> DomainPatterns:
    """Learn one domain's pattern distribution from its known addresses. Raises ``UncorroboratedEvidence`` (and
    learns nothing) if any pair is not corroborated. The same (person, address) counts once."""
    pairs = list({(e.owner, e.local_part.lower()): e for e in evidence}.values())
    if guesses := sum(not e.corroborated for e in pairs):
        raise UncorroboratedEvidence(guesses)
    if alpha <= 0:
        raise ValueError("alpha must be positive")
    base = _normalised(prior, vocabulary)
    votes = dict.fromkeys(base, 0.0)
    unexplained = 0.0
    owners: dict[str, int] = {}
    renderings: dict[str, dict[str, set[int]]] = {p.template: {} for p in vocabulary}
    for pair in pairs:
        explained = explaining_patterns(pair, vocabulary)
        for template in explained:
            votes[template] += 1.0 / len(explained)
        unexplained += 0.0 if explained else 1.0
        owners[pair.local_part.lower()] = pair.owner
        for pattern in vocabulary:
            for form in pair.forms:
                if (local_part := pattern.render(form)) is not None:
                    renderings[pattern.template].setdefault(local_part, set()).add(pair.owner)
    n = len(pairs)
    probabilities = {t: (votes[t] + alpha * base[t]) / (n + alpha) for t in base}
    return DomainPatterns(
        probabilities=MappingProxyType(probabilities),
        votes=MappingProxyType(votes),
        evidence=n,
        unexplained=unexplained / (n + alpha),
        owners=MappingProxyType(owners),
        renderings=MappingProxyType(
            {t: MappingProxyType({lp: frozenset(o) for lp, o in r.items()}) for t, r in renderings.items()}
        ),
    )


def pooled_prior(
    domains: Iterable[DomainPatterns], *, fallback: Mapping[str, float] = DEFAULT_PRIOR, strength: float = 10.0
) -> Mapping[str, float]:
    """A global prior from the votes of every domain in the vault, smoothed towards ``fallback`` as if it were
    ``strength`` addresses: with little data the fallback rules, with much the vault does."""
    base = _normalised(fallback, VOCABULARY)
    totals = dict.fromkeys(base, 0.0)
    for domain in domains:
        for template, votes in domain.votes.items():
            if template in totals:
                totals[template] += votes
    n = sum(totals.values())
    return MappingProxyType({t: (totals[t] + strength * base[t]) / (n + strength) for t in base})
