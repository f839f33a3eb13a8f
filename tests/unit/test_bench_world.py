"""The resolution benchmark's world generator: reproducible, labelled, and drawn with the research's mix."""

from __future__ import annotations

from collections import Counter

import pytest
from bench._world import AddressBook, World, ascii_word, generate, layout


@pytest.fixture(scope="module")
def world() -> World:
    return generate(13, 300, 4000)


def test_a_seed_gives_the_same_world_and_another_seed_another() -> None:
    assert generate(3, 20, 200) == generate(3, 20, 200)
    assert generate(3, 20, 200).people != generate(4, 20, 200).people


def test_the_mix_of_domain_behaviours_and_address_kinds_follows_the_research(world: World) -> None:
    behaviours = Counter(c.behaviour for c in world.companies)
    for behaviour, share in (("normal", 0.6), ("catch_all", 0.2), ("greylist", 0.1), ("slow", 0.05)):
        assert behaviours[behaviour] / 300 == pytest.approx(share, abs=0.05)
    assert behaviours["no_mail"] > 0
    kinds = Counter(p.kind for p in world.people)
    assert kinds["opaque"] / 4000 == pytest.approx(0.05, abs=0.015)
    assert kinds["collision"] > 0
    assert kinds["nickname"] > 0
    assert sum(len(c.patterns) == 2 for c in world.companies) / 300 == pytest.approx(0.1, abs=0.05)


def test_the_vault_holds_zero_to_five_addresses_per_company_and_leaves_someone_to_find(world: World) -> None:
    vault = Counter(p.company for p in world.people if p.in_vault)
    staff = Counter(p.company for p in world.people)
    assert max(vault.values()) <= 5
    assert {vault[c] for c in staff} >= {0, 1, 2, 3, 4, 5}
    assert all(vault[c] < staff[c] for c in staff)


def test_names_carry_the_hard_cases(world: World) -> None:
    names = [p.full_name for p in world.people]
    assert any(not n.isascii() for n in names)
    assert any("'" in n for n in names)
    assert any('"' in n for n in names)
    assert any(" van " in n or " de " in n for n in names)
    assert any("," in n or n.split()[0].isupper() for n in names)
    assert len({p.address for p in world.people}) == len(world.people)


def test_the_truth_spells_names_by_the_companys_convention() -> None:
    assert (ascii_word("Müller", False), ascii_word("Müller", True)) == ("muller", "mueller")
    assert (ascii_word("Østergård", False), ascii_word("Østergård", True)) == ("ostergard", "oestergaard")
    assert ascii_word("O'Brien", False) == "obrien"
    assert ascii_word("Łukasz", True) == "lukasz"


def test_the_layout_routes_each_behaviour_and_leaves_no_mail_domains_without_a_route(world: World) -> None:
    served = layout(world, greylist_wait=0.5)
    for company in world.companies:
        records = served.zone.get(company.domain, [])
        has_route = any(r.rtype == 15 and str(r.rdata.label) != "." for r in records)  # MX
        assert has_route == (company.behaviour != "no_mail")
    book = served.boxes["127.0.0.2"]
    assert isinstance(book, AddressBook)
    known = next(p.address for p in world.people if p.address in book.addresses)
    assert book.rcpt("127.0.0.1", "a@b.test", known.upper(), 0).startswith("250")
    assert book.rcpt("127.0.0.1", "a@b.test", "nobody." + known, 0).startswith("550 5.1.1")
    assert served.tarpits == ("127.0.0.5",)
