"""A seeded, labelled synthetic mail world for the resolution benchmark (a generator: no data is committed).

``generate(seed, companies, people)`` draws companies with a true address pattern (from the default prior; 10 % mix
two patterns), a spelling convention (``ü`` as ``u`` or ``ue``, particles joined or dropped) and a mail behaviour
(60 % normal, 20 % catch-all, 10 % greylisting, 5 % slow, 5 % no mail); people with plain and hard names
(diacritics, particles, hyphens, apostrophes, quoted nicknames, family name first); each person's true address
(``jsmith2`` when a colleague holds ``jsmith``; 5 % opaque addresses no pattern derives); and 0-5 people per company
whose address the vault already holds. ``layout(world, ...)`` serves it through ``demo.mailworld``.

The ground truth spells names with its own small table (not the engine's), so the benchmark does not grade the
engine's transliteration against itself.
"""

from __future__ import annotations

import random
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from dnslib import MX, QTYPE, RR, TXT, A

from contactvault.server.demo.mailworld import ZONE_TTL, CatchAll, Greylist, Mailbox, WorldLayout, Zone
from contactvault.server.demo.names import FIRST_NAMES, LAST_NAMES
from contactvault.server.domain.names import NameForm
from contactvault.server.domain.patterns import DEFAULT_PRIOR, PATTERNS

BEHAVIOURS = (("normal", 0.60), ("catch_all", 0.20), ("greylist", 0.10), ("slow", 0.05), ("no_mail", 0.05))
BEHAVIOUR_ADDRESSES = {"normal": "127.0.0.2", "catch_all": "127.0.0.3", "greylist": "127.0.0.4", "slow": "127.0.0.5"}
MIXED_SHARE = 0.10  # companies whose people follow two patterns
OPAQUE_SHARE = 0.05  # people whose address no pattern derives
MAX_VAULT = 5

HARD_GIVEN = ("Jürgen", "José", "François", "Søren", "Łukasz", "Zoë", "Björn", "Renée", "Jean-Luc", "Anne-Marie")
HARD_FAMILY = (
    "Müller", "Núñez", "Lefèvre", "Østergård", "Wróbel", "Große", "Schäfer", "Çelik", "Dvořák", "Åberg",
    "O'Brien", "D'Angelo", "O'Neill", "Smith-Jones", "García-López", "van der Berg", "de la Cruz", "von Weber",
    "da Silva", "di Stefano", "van Dijk", "de Groot",
)  # fmt: skip
NICKNAMES = (("William", "Bill"), ("Robert", "Bob"), ("Elizabeth", "Liz"), ("Katherine", "Kate"), ("James", "Jim"))
EAST_ASIAN = (("Wang", "Wei"), ("Li", "Na"), ("Zhang", "Min"), ("Tanaka", "Yuki"), ("Sato", "Haruto"), ("Kim", "Jisoo"))
PARTICLES = frozenset(["van", "von", "de", "da", "di", "der", "la", "le", "du"])
_TWO_WAYS = {"ä": ("a", "ae"), "ö": ("o", "oe"), "ü": ("u", "ue"), "ø": ("o", "oe"), "å": ("a", "aa")}
_ALWAYS = {"ß": "ss", "ł": "l", "æ": "ae"}


@dataclass(frozen=True, slots=True)
class Company:
    """One generated company: its domain, mail behaviour, true patterns and spelling conventions."""

    index: int
    domain: str
    behaviour: str
    patterns: tuple[str, ...]
    long_umlauts: bool
    drop_particles: bool


@dataclass(frozen=True, slots=True)
class Person:
    """One generated person. ``kind``: how the true address came about (``pattern``, ``nickname``, ``collision``
    when numbered after a colleague's, ``opaque`` when no pattern derives it); ``in_vault``: imported, so evidence."""

    id: int
    company: int
    full_name: str
    address: str
    kind: str
    in_vault: bool

    @property
    def derivable(self) -> bool:
        """A pattern over the person's name gives the address (numbered collisions included)."""
        return self.kind != "opaque"


@dataclass(frozen=True, slots=True)
class World:
    """A generated world."""

    seed: int
    companies: tuple[Company, ...]
    people: tuple[Person, ...]


def ascii_word(word: str, long_umlauts: bool) -> str:
    """The ground truth's spelling of a word: lower case, apostrophes gone, umlauts per the company's convention."""
    out = []
    for char in word.lower().replace("'", ""):
        if char in _ALWAYS:
            out.append(_ALWAYS[char])
        elif char in _TWO_WAYS:
            out.append(_TWO_WAYS[char][long_umlauts])
        else:
            out.append("".join(c for c in unicodedata.normalize("NFKD", char) if c.isascii()))
    return "".join(out)


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([w for w, _ in weighted], [s for _, s in weighted])[0]


def _company(rng: random.Random, index: int) -> Company:
    prior = tuple(DEFAULT_PRIOR.items())
    patterns = [_pick(rng, prior)]
    if rng.random() < MIXED_SHARE:
        patterns.append(_pick(rng, tuple((t, s) for t, s in prior if t != patterns[0])))
    slug = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=5))
    return Company(
        index,
        f"{slug}-{index:03d}.test",
        _pick(rng, BEHAVIOURS),
        tuple(patterns),
        rng.random() < 0.5,
        rng.random() < 0.3,
    )


def _name(rng: random.Random) -> tuple[str, str, str, str | None, str]:
    """(full name as written, given, family, nickname used in the address or None, middle)."""
    roll = rng.random()
    given, family, middle = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), ""
    if roll < 0.06:
        family, given = rng.choice(EAST_ASIAN)
        written = f"{family.upper()} {given}" if rng.random() < 0.5 else f"{family}, {given}"
        return written, given, family, None, ""
    if roll < 0.11:
        given, nickname = rng.choice(NICKNAMES)
        return f'{given} "{nickname}" {family}', given, family, nickname if rng.random() < 0.5 else None, ""
    if roll < 0.21:
        given = rng.choice(HARD_GIVEN)
    elif roll < 0.38:
        family = rng.choice(HARD_FAMILY)
    elif roll < 0.43:
        middle = rng.choice(FIRST_NAMES)
    written = " ".join(w for w in (given, middle, family) if w)
    return written, given, family, None, middle


def _true_form(company: Company, given: str, family: str, nickname: str | None, middle: str) -> NameForm:
    words = family.split()
    if len(words) > 1 and company.drop_particles:
        words = [w for w in words if w.lower() not in PARTICLES] or words
    last = "".join(ascii_word(w.replace("-", ""), company.long_umlauts) for w in words)
    first = ascii_word((nickname or given).replace("-", ""), company.long_umlauts)
    return NameForm(first, last, ascii_word(middle[:1], False), 1.0)


def _address(rng: random.Random, company: Company, form: NameForm, taken: set[str]) -> tuple[str, str]:
    """(local part, kind) for one person at ``company``; ``taken`` is updated."""
    if rng.random() < OPAQUE_SHARE:
        local, kind = "x" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=7)), "opaque"
    else:
        template = company.patterns[0] if len(company.patterns) == 1 or rng.random() < 0.7 else company.patterns[1]
        local = PATTERNS[template].render(form) or PATTERNS["{first}.{last}"].render(form) or "unnamed"
        kind = "pattern"
        if local in taken:
            local = next(f"{local}{n}" for n in range(2, 100) if f"{local}{n}" not in taken)
            kind = "collision"
    taken.add(local)
    return local, kind


def generate(seed: int, companies: int, people: int) -> World:
    """A world of ``companies`` companies and ``people`` people (spread unevenly), reproducible from ``seed``."""
    rng = random.Random(seed)
    made = tuple(_company(rng, i) for i in range(companies))
    taken: dict[int, set[str]] = {c.index: set() for c in made}
    drawn: list[Person] = []
    for pid in range(1, people + 1):
        company = made[pid - 1] if pid <= companies else rng.choice(made)  # every company has someone
        written, given, family, nickname, middle = _name(rng)
        local, kind = _address(rng, company, _true_form(company, given, family, nickname, middle), taken[company.index])
        if nickname is not None and kind == "pattern":
            kind = "nickname"
        drawn.append(Person(pid, company.index, written, f"{local}@{company.domain}", kind, False))
    vault: set[int] = set()
    for company in made:
        staff = [p.id for p in drawn if p.company == company.index]
        vault |= set(rng.sample(staff, min(len(staff) - 1, rng.randint(0, MAX_VAULT))))
    final = tuple(
        Person(p.id, p.company, p.full_name, p.address, p.kind, p.id in vault) for p in drawn
    )  # fmt: skip
    return World(seed, made, final)


@dataclass(frozen=True)
class AddressBook:
    """One MX for many generated domains: 250 for the addresses it knows, ``550 5.1.1`` for every other."""

    addresses: frozenset[str]

    def rcpt(self, peer: str, mail_from: str, rcpt: str, index_in_transaction: int) -> str:
        """Known or unknown."""
        if rcpt.lower() in self.addresses:
            return "250 2.1.5 Ok"
        return "550 5.1.1 <" + rcpt + ">: Recipient address rejected: User unknown in local recipient table"


def _add(zone: Zone, name: str, rtype: str, rdata: object) -> None:
    zone.setdefault(name, []).append(RR(name, getattr(QTYPE, rtype), rdata=rdata, ttl=ZONE_TTL))


def layout(world: World, greylist_wait: float, now: Callable[[], float] = time.monotonic) -> WorldLayout:
    """The world's DNS zone and MX servers: each company has its own MX host name (so its own politeness key),
    pointing at the loopback address of its behaviour; no-mail companies get a null MX, no records, or NXDOMAIN."""
    zone: Zone = {}
    for company in world.companies:
        host = f"mx.{company.domain}"
        if company.behaviour != "no_mail":
            _add(zone, company.domain, "MX", MX(host, 10))
            _add(zone, host, "A", A(BEHAVIOUR_ADDRESSES[company.behaviour]))
        elif company.index % 3 == 0:
            _add(zone, company.domain, "MX", MX(".", 0))
        elif company.index % 3 == 1:
            _add(zone, company.domain, "TXT", TXT("v=spf1 -all"))
    behaviour = {c.index: c.behaviour for c in world.companies}

    def book(kind: str) -> AddressBook:
        return AddressBook(frozenset(p.address for p in world.people if behaviour[p.company] == kind))

    boxes: dict[str, Mailbox] = {
        BEHAVIOUR_ADDRESSES["normal"]: book("normal"),
        BEHAVIOUR_ADDRESSES["catch_all"]: CatchAll(),
        BEHAVIOUR_ADDRESSES["greylist"]: Greylist(greylist_wait, now, inner=book("greylist")),
    }
    names = {address: f"mx.{kind}.world.test" for kind, address in BEHAVIOUR_ADDRESSES.items()}
    return WorldLayout(zone, frozenset(), boxes, names, (BEHAVIOUR_ADDRESSES["slow"],))
