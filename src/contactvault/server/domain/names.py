"""People's names: a full name parsed into given, middle and family parts, then spelt as the ASCII name forms that
address patterns render (pure rules, standard library only).

``parse_name("Dr. Jürgen van der Müller-Lüdenscheidt Jr.")`` drops the title and the suffix and keeps the particles
with the family name; ``name_forms`` spells it every way a mailbox plausibly does (``vandermuller…``,
``mueller``, ``muller``, ...), each with a weight: how likely that spelling is the one the mailbox uses, before any
evidence from the domain. The weights of one name sum to 1.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from contactvault.server.domain.transliteration import spellings


def _listed(text: str) -> frozenset[str]:
    # Space-separated lists keep the tables short (the formatter would put each item of a literal on a line).
    return frozenset(text.split())


TITLES = _listed(
    "dr mr mrs ms miss mx prof professor sir dame lord lady rev revd fr herr frau mme mlle dott ing mag dipl"
)
# After the family name only; roman numerals beyond iv would read names ("Malcolm X") or initials ("V") as suffixes.
SUFFIXES = _listed(
    "jr jnr sr snr ii iii iv 2nd 3rd phd md mba esq cpa dds jd msc bsc ma ba mphil dphil ceng pe rn obe mbe cbe"
)
# Two-letter family names (Chinese, Korean, Vietnamese romanisations): written in capitals before the given name
# ("LI Na", "WU Jing") they are the family name, not initials ("AJ Smith" stays given-first).
SHORT_FAMILY_NAMES = _listed(
    "li wu xu hu he lu yu ma gu mo qi xi yi ye fu du su bi ji ni an oh ko jo ha so ng vu do le ly ho to la"
)
PARTICLES = _listed("van von de da di le la del der ter ten bin al du dos das des den della dei el ibn bint zu dal lo")

# How a spelling's weight is shared: a compound word ("Jean-Luc", "Smith-Jones") is written joined, as its first
# part, or with the hyphen; a family name with particles ("van der Berg") joined or as its base ("berg").
COMPOUND_SHARES = (("joined", 0.5), ("first", 0.3), ("hyphen", 0.2))
PARTICLE_SHARES = (("joined", 0.6), ("base", 0.4))
# What nicknames take from the given name's weight: an explicit one ("William 'Bill' Gates") and looked-up ones.
EXPLICIT_NICKNAME_SHARE = 0.2
LOOKED_UP_NICKNAME_SHARE = 0.1
# What the middle name takes when the given name is only an initial.
MIDDLE_NAME_SHARE = 0.5

_NICKNAME = re.compile(r"""["“”„«»]([^"“”„«»]+)["“”„«»]|\(([^()]+)\)""")
# ASCII, right and left single quotes, modifier letter apostrophe, grave and acute accents.
_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018\u02bc`\u00b4")
_WORD_EDGES = '.,;:!?()[]{}"“”„«»/\\'


class UnusableName(ValueError):
    """A full name with no letter that can be spelt in ASCII (the message never repeats the name)."""

    def __init__(self) -> None:
        super().__init__("full_name has no letters that can be spelt in ASCII")


@dataclass(frozen=True, slots=True)
class ParsedName:
    """A full name's parts, as written (titles and suffixes dropped): ``family`` keeps its particles,
    ``family_base`` is the family name without them ("van der Berg" → "Berg")."""

    given: str = field(repr=False)
    middle: tuple[str, ...] = field(repr=False)
    family: tuple[str, ...] = field(repr=False)
    family_base: tuple[str, ...] = field(repr=False)
    nickname: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class NameForm:
    """One ASCII spelling of a name, as patterns render it: ``first``/``last`` are ``[a-z0-9]`` words (a kept
    hyphen aside), ``middle`` the middle initials ("" when none), ``weight`` the prior of this spelling. A name is
    personal data: the repr shows only the weight, so a log line that prints a form reveals nobody."""

    first: str = field(repr=False)
    last: str = field(repr=False)
    middle: str = field(repr=False)
    weight: float


def _key(token: str) -> str:
    return token.casefold().strip(".")


def _clean(token: str) -> str:
    return token.strip(_WORD_EDGES + "-").strip()


def _words(text: str) -> list[str]:
    """The words of ``text`` that have an ASCII spelling (a name's unromanised script is dropped)."""
    return [t for t in (_clean(w) for w in text.split()) if t and spellings(t)[0]]


def _split_nickname(text: str) -> tuple[str, str | None]:
    """The name without a quoted or bracketed nickname, and that nickname's first word."""
    match = _NICKNAME.search(text)
    if match is None:
        return text, None
    words = (match.group(1) or match.group(2)).split()
    rest = text[: match.start()] + " " + text[match.end() :]
    return rest, (_clean(words[0]) or None) if words else None


def _strip_titles_and_suffixes(tokens: list[str]) -> tuple[list[str], bool]:
    """Leading titles and trailing suffixes go (and whether a title went); a name made only of them is kept whole
    (nothing else to use)."""
    start, end = 0, len(tokens)
    while start < end - 1 and _key(tokens[start]) in TITLES:
        start += 1
    while end - 1 > start and _key(tokens[end - 1]) in SUFFIXES:
        end -= 1
    return tokens[start:end], start > 0


def _is_upper_family(token: str) -> bool:
    """A word written in capitals among mixed-case words marks the family name ("WANG Wei", "Marie CURIE")."""
    letters = [c for c in token if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def _family_first_by_case(tokens: Sequence[str]) -> bool | None:
    """True when the capitalised word leads, False when it ends the name, None when case says nothing. A leading
    two-letter capital word may be initials ("AJ Smith"), so it needs three letters to count, unless it is a known
    two-letter family name ("LI Na")."""
    upper = [_is_upper_family(t) for t in tokens]
    if len(tokens) < 2 or all(upper) or not any(upper):
        return None
    leading = sum(c.isalpha() for c in tokens[0]) >= 3 or _key(tokens[0]) in SHORT_FAMILY_NAMES
    if upper[0] and not any(upper[1:]) and leading:
        return True
    if upper[-1] and not any(upper[:-1]):
        return False
    return None


def _split_family(tokens: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Given-first order: (middle, family). The family name starts at the first particle that is followed by
    another word ("Ludwig van Beethoven"), else it is the last word."""
    for index in range(1, len(tokens) - 1):
        if _key(tokens[index]) in PARTICLES:
            return tuple(tokens[1:index]), tuple(tokens[index:])
    return tuple(tokens[1:-1]), (tokens[-1],) if len(tokens) > 1 else ()


def _family_base(family: tuple[str, ...]) -> tuple[str, ...]:
    """The family name without leading particles, and without a particle prefix joined by a hyphen ("al-Rashid")."""
    index = 0
    while index < len(family) - 1 and _key(family[index]) in PARTICLES:
        index += 1
    base = list(family[index:])
    if base:
        head, _, rest = base[0].partition("-")
        if rest and _key(head) in PARTICLES:
            base[0] = rest
    return tuple(base)


def parse_name(full_name: str, *, family_first: bool | None = None) -> ParsedName:
    """Parse a full name. ``family_first`` says the name is written family name first (Chinese, Japanese, Korean,
    Hungarian order); None lets the name say so itself: "Family, Given" with a comma, or a capitalised family name
    ("WANG Wei"). Raises ``UnusableName`` when nothing in it can be spelt in ASCII."""
    text, nickname = _split_nickname(unicodedata.normalize("NFC", full_name))
    parts = [p.strip() for p in text.split(",") if p.strip()]
    while len(parts) > 1 and all(_key(t) in SUFFIXES | TITLES for t in parts[-1].split()):
        parts.pop()
    if len(parts) > 1:
        family_tokens = _words(parts[0])
        given_tokens, _ = _strip_titles_and_suffixes(_words(" ".join(parts[1:])))
        tokens = [*family_tokens, *given_tokens]
        family_first, family_size = True, len(family_tokens)
    else:
        tokens, titled = _strip_titles_and_suffixes(_words(text))
        family_size = 1
        if titled and len(tokens) == 1:
            # "Mr. Smith", "Dr House": a title is followed by the family name.
            return ParsedName("", (), tuple(tokens), _family_base(tuple(tokens)), nickname)
        if family_first is None:
            family_first = _family_first_by_case(tokens)
    if not tokens:
        raise UnusableName
    if family_first and len(tokens) > family_size:
        family = tuple(tokens[:family_size])
        given, middle = tokens[family_size], tuple(tokens[family_size + 1 :])
    else:
        given = tokens[0]
        middle, family = _split_family(tokens)
    return ParsedName(given, middle, family, _family_base(family), nickname)


Weighted = list[tuple[str, float]]


def _spelt(parts: Sequence[str], weight: float, separator: str = "") -> Weighted:
    """``parts`` joined by ``separator`` in each of their spellings: the short spelling of every part, then the
    long one (a word with a two-way letter is spelt one way throughout), the weight shared between them."""
    short = [spellings(p)[0] for p in parts]
    long_ = [spellings(p)[-1] for p in parts]
    words = [w for w in (separator.join(filter(None, short)), separator.join(filter(None, long_))) if w]
    unique = list(dict.fromkeys(words))
    return [(w, weight / len(unique)) for w in unique]


def _word_forms(words: Sequence[str], *, particles: bool = False, base: Sequence[str] = ()) -> Weighted:
    """The spellings of a given or family name: joined, first part and hyphenated for a compound; joined and base
    for a family name with particles. Apostrophes vanish ("O'Brien" → "obrien")."""
    # A piece with no ASCII spelling ("李-Anna") is not a part of the compound: it would take weight and spell nothing.
    pieces = [p for w in words for p in w.translate(_APOSTROPHES).split("-") if spellings(p)[0]]
    if not pieces:
        return []
    if particles and base and list(base) != list(words):
        shares = dict(PARTICLE_SHARES)
        return [*_spelt(pieces, shares["joined"]), *((w, s * shares["base"]) for w, s in _word_forms(base))]
    if len(pieces) == 1:
        return _spelt(pieces, 1.0)
    shares = dict(COMPOUND_SHARES)
    return [
        *_spelt(pieces, shares["joined"]),
        *_spelt(pieces[:1], shares["first"]),
        *_spelt(pieces, shares["hyphen"], "-"),
    ]


def _with_nicknames(forms: Weighted, explicit: str | None, looked_up: Iterable[str]) -> Weighted:
    """Give nicknames a share of the given name's weight: they are plausible, never the first guess."""
    extra: Weighted = []
    if explicit:
        extra += [(w, EXPLICIT_NICKNAME_SHARE * s) for w, s in _word_forms([explicit])]
    others = [n for n in dict.fromkeys(looked_up) if n]
    for nickname in others:
        extra += [(w, LOOKED_UP_NICKNAME_SHARE * s / len(others)) for w, s in _word_forms([nickname])]
    if not extra:
        return forms
    if not forms:
        # No given name to share with ("Dr. 'Bill' Smith"): the nicknames are all there is.
        total = sum(s for _, s in extra)
        return [(w, s / total) for w, s in extra]
    kept = 1.0 - sum(s for _, s in extra)
    return [(w, s * kept) for w, s in forms] + extra


def _merge(weighted: Weighted) -> Weighted:
    totals: dict[str, float] = {}
    for word, weight in weighted:
        totals[word] = totals.get(word, 0.0) + weight
    return list(totals.items())


def name_forms(name: ParsedName, *, nicknames: Mapping[str, Sequence[str]] | None = None) -> tuple[NameForm, ...]:
    """Every ASCII spelling of ``name``, most likely first (ties in alphabetical order); weights sum to 1.
    ``nicknames`` maps a spelt given name to its short forms ("william" → ["bill", "will"]); optional."""
    given = _word_forms([name.given])
    looked_up = [n for word, _ in given for n in (nicknames or {}).get(word, ())]
    given = _merge(_with_nicknames(given, name.nickname, looked_up)) or [("", 1.0)]
    family = _merge(_word_forms(name.family, particles=True, base=name.family_base)) or [("", 1.0)]
    initials = [spellings(m)[0][:1] for m in (name.given, *name.middle)]
    # (first spellings with their weight, the middle initials that go with them)
    firsts = [(given, "".join(initials[1:]))]
    if len(given) == 1 and len(given[0][0]) == 1 and name.middle:
        # An initial for a given name ("J. Robert Oppenheimer"): the person likely goes by the middle name.
        by_middle = [(w, s * MIDDLE_NAME_SHARE) for w, s in _word_forms(name.middle[:1])]
        firsts = [([(w, s * (1 - MIDDLE_NAME_SHARE)) for w, s in given], "".join(initials[1:]))]
        firsts.append((by_middle, "".join([initials[0], *initials[2:]])))
    forms = [
        NameForm(g, f, middle, gw * fw) for spelt_given, middle in firsts for g, gw in spelt_given for f, fw in family
    ]
    return tuple(sorted(forms, key=lambda f: (-f.weight, f.first, f.last)))
