"""Candidate addresses for one person at one domain, ranked by how likely each is theirs (pure rules).

Every name form and every pattern the domain uses gives a local part with probability ``P(pattern) * weight(form)``
(the same local part reached twice adds up). Role mailboxes (``info``, ``sales``…) are never a person's address;
free-mail and disposable domains are refused outright (a person's work address is not guessed there). A local part
a known colleague already holds is theirs, not this person's: the person's own, if the pattern holds, is the
numbered one (``jsmith2``), with half the mass. Namesakes lower the identity factor (see ``Candidate.identity``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from contactvault.server.domain.names import NameForm
from contactvault.server.domain.patterns import (
    VOCABULARY,
    DomainPatterns,
    Pattern,
    form_parts,
    is_valid_local_part,
)

DEFAULT_TOP_K = 5
# The share of a pattern's mass left to a numbered address when the plain one belongs to a colleague.
COLLISION_SHARE = 0.5
_MAX_NUMBER = 9


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


ROLE_WORDS = _words(
    """
    info sales admin administrator support contact contacts hr jobs careers career recruiting recruitment noreply
    no-reply donotreply do-not-reply office hello help helpdesk billing accounts accounting finance invoices orders
    marketing press media pr team webmaster postmaster hostmaster abuse security privacy legal compliance enquiries
    inquiries mail email service services feedback newsletter root it ops general reception bookings partners
    investors ir sysadmin all staff everyone
    """
)
FREE_MAIL = _words(
    """
    gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr ymail.com rocketmail.com outlook.com hotmail.com
    hotmail.co.uk hotmail.fr live.com msn.com aol.com icloud.com me.com mac.com proton.me protonmail.com pm.me
    gmx.de gmx.net gmx.com web.de mail.ru yandex.ru yandex.com qq.com 163.com 126.com zoho.com mail.com
    fastmail.com tutanota.com orange.fr free.fr laposte.net libero.it t-online.de naver.com hanmail.net
    rediffmail.com seznam.cz wp.pl o2.pl
    """
)
DISPOSABLE = _words(
    """
    mailinator.com guerrillamail.com guerrillamail.net sharklasers.com 10minutemail.com tempmail.com temp-mail.org
    yopmail.com trashmail.com getnada.com dispostable.com maildrop.cc throwawaymail.com fakeinbox.com mintemail.com
    mohmal.com emailondeck.com tempail.com mailnesia.com spamgourmet.com
    """
)


@dataclass(frozen=True, slots=True)
class DomainLists:
    """The domains refused for inference; the operator may replace either list (e.g. from a maintained package)."""

    free_mail: frozenset[str] = FREE_MAIL
    disposable: frozenset[str] = DISPOSABLE


DEFAULT_LISTS = DomainLists()


class IneligibleDomain(ValueError):
    """A domain where a person's work address is never guessed; ``reason`` is ``free_mail`` or ``disposable``."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"domain is not eligible for inference: {reason}")
        self.reason = reason


def domain_refusal(domain: str, lists: DomainLists = DEFAULT_LISTS) -> str | None:
    """``free_mail`` or ``disposable`` when the domain (or a parent of it) is on that list, else None."""
    labels = domain.strip().rstrip(".").lower().split(".")
    parents = {".".join(labels[i:]) for i in range(len(labels))}
    if parents & lists.disposable:
        return "disposable"
    if parents & lists.free_mail:
        return "free_mail"
    return None


def is_role_address(local_part: str, role_words: frozenset[str] = ROLE_WORDS) -> bool:
    """A mailbox of a function, not a person: a role word, or only role words joined (``sales.team``)."""
    words = local_part.replace("_", ".").replace("-", ".").split(".")
    return local_part in role_words or all(w in role_words for w in words)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One guessed address. ``probability`` is ``P(this is the address)`` from the domain's patterns and the name's
    spellings; ``identity`` how surely it is this person's and not a namesake's (the pattern's identity, divided by
    one plus the known colleagues it renders the same); ``support`` the known addresses behind its pattern."""

    local_part: str = field(repr=False)
    domain: str
    pattern: str
    probability: float
    identity: float
    support: float

    @property
    def address(self) -> str:
        """The full address."""
        return f"{self.local_part}@{self.domain}"


def _numbered(local_part: str, owners: Mapping[str, int]) -> str | None:
    """The first free numbered form of a taken local part (``jsmith2``), or None when none fits."""
    for number in range(2, _MAX_NUMBER + 1):
        candidate = f"{local_part}{number}"
        if candidate not in owners and is_valid_local_part(candidate):
            return candidate
    return None


@dataclass
class _Tally:
    probability: float = 0.0
    best: tuple[float, int] = (-1.0, 0)
    pattern: str = ""
    namesakes: int = 0


def _tally(
    forms: Iterable[NameForm],
    patterns: DomainPatterns,
    owner: int | None,
    role_words: frozenset[str],
    vocabulary: tuple[Pattern, ...],
) -> dict[str, _Tally]:
    """Every (pattern, form) rendering's mass, by local part; each local part keeps the pattern that gave it the
    most (and that pattern's namesakes), which labels the candidate and sets its identity and support."""
    tallies: dict[str, _Tally] = {}
    probabilities, owners, renderings = patterns.probabilities, patterns.owners, patterns.renderings
    spelt = [(form.weight, form_parts(form)) for form in forms]  # once per form, not per (pattern, form)
    for index, pattern in enumerate(vocabulary):
        p = probabilities.get(pattern.template, 0.0)
        for weight, parts in spelt if p > 0 else ():
            rendered = pattern.render_parts(parts)
            if rendered is None or is_role_address(rendered, role_words):
                continue
            local_part: str | None = rendered
            share = p * weight
            holder = owners.get(rendered)
            if holder is not None and holder != owner:
                local_part, share = _numbered(rendered, owners), share * COLLISION_SHARE
            if local_part is None:
                continue
            tally = tallies.setdefault(local_part, _Tally())
            tally.probability += share
            if (share, -index) > tally.best:
                # Known colleagues this pattern spells the same, and the one holding the address if it is taken.
                namesakes = set(renderings.get(pattern.template, {}).get(rendered, ())) | {holder}
                namesakes -= {owner, None}
                tally.best, tally.pattern, tally.namesakes = (share, -index), pattern.template, len(namesakes)
    return tallies


def rank_candidates(
    forms: Iterable[NameForm],
    domain: str,
    patterns: DomainPatterns,
    *,
    owner: int | None = None,
    k: int = DEFAULT_TOP_K,
    role_words: frozenset[str] = ROLE_WORDS,
    lists: DomainLists = DEFAULT_LISTS,
    vocabulary: tuple[Pattern, ...] = VOCABULARY,
) -> tuple[Candidate, ...]:
    """The ``k`` most probable addresses of the person with these name forms at ``domain`` (ties: the surer
    identity, then vocabulary order, then the local part). ``owner`` is the person's id, so their own known
    address is not mistaken for a colleague's. Raises ``IneligibleDomain`` for free-mail and disposable domains."""
    if reason := domain_refusal(domain, lists):
        raise IneligibleDomain(reason)
    domain = domain.strip().rstrip(".").lower()
    order = {p.template: i for i, p in enumerate(vocabulary)}
    by_template = {p.template: p for p in vocabulary}
    candidates = [
        Candidate(
            local_part=local_part,
            domain=domain,
            pattern=tally.pattern,
            probability=min(tally.probability, 1.0),
            identity=by_template[tally.pattern].identity / (1 + tally.namesakes),
            support=patterns.votes.get(tally.pattern, 0.0),
        )
        for local_part, tally in _tally(forms, patterns, owner, role_words, vocabulary).items()
    ]
    candidates.sort(key=lambda c: (-c.probability, -c.identity, order[c.pattern], c.local_part))
    return tuple(candidates[:k])
