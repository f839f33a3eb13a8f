"""domain/names and domain/transliteration: full names parsed into parts and spelt as ASCII name forms."""

from __future__ import annotations

import math

import pytest

from contactvault.server.domain.names import NameForm, ParsedName, UnusableName, name_forms, parse_name
from contactvault.server.domain.transliteration import spellings


def spelt(full_name: str, **kwargs: object) -> list[tuple[str, str]]:
    """(first, last) of every form, most likely first."""
    return [(f.first, f.last) for f in name_forms(parse_name(full_name, **kwargs))]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Müller", ("muller", "mueller")),
        ("Jürgen", ("jurgen", "juergen")),
        ("Östberg", ("ostberg", "oestberg")),
        ("Jørgensen", ("jorgensen", "joergensen")),
        ("Åsa", ("asa", "aasa")),
        ("Straße", ("strasse",)),
        ("Ærø", ("aero", "aeroe")),
        ("Łukasz", ("lukasz",)),
        ("Żółć", ("zolc",)),
        ("Þór", ("thor",)),
        ("Ñúñez", ("nunez",)),
        ("François", ("francois",)),
        ("Дмитрий", ("dmitriy",)),
        ("Щукин", ("shchukin",)),
        ("Ἀλέξανδρος", ("alexandros",)),
        ("O'Brien", ("obrien",)),
        ("李小龍", ("",)),
    ],
)
def test_spellings_of_a_word_give_both_transliterations_where_they_differ(word: str, expected: tuple[str, ...]) -> None:
    assert spellings(word) == expected


def test_every_two_way_letter_of_a_word_takes_the_same_way() -> None:
    # Two spellings, not four: a mailbox writes "Müllerstöß" one way throughout.
    assert spellings("Müllerstöß") == ("mullerstoss", "muellerstoess")


@pytest.mark.parametrize(
    ("full_name", "given", "middle", "family", "base"),
    [
        ("John Smith", "John", (), ("Smith",), ("Smith",)),
        ("Ludwig van Beethoven", "Ludwig", (), ("van", "Beethoven"), ("Beethoven",)),
        ("Juan Q. Xavier de la Vega", "Juan", ("Q", "Xavier"), ("de", "la", "Vega"), ("Vega",)),
        ("Anna von der Heide", "Anna", (), ("von", "der", "Heide"), ("Heide",)),
        ("Luca di Marco", "Luca", (), ("di", "Marco"), ("Marco",)),
        ("Joao da Silva", "Joao", (), ("da", "Silva"), ("Silva",)),
        ("Marie le Pen", "Marie", (), ("le", "Pen"), ("Pen",)),
        ("Jan ter Horst", "Jan", (), ("ter", "Horst"), ("Horst",)),
        ("Anwar bin Ibrahim", "Anwar", (), ("bin", "Ibrahim"), ("Ibrahim",)),
        ("Omar al-Rashid", "Omar", (), ("al-Rashid",), ("Rashid",)),
        ("Dick Van Dyke", "Dick", (), ("Van", "Dyke"), ("Dyke",)),
        ("Dr. Jane Doe", "Jane", (), ("Doe",), ("Doe",)),
        ("Prof. Dr. Karl Weiß", "Karl", (), ("Weiß",), ("Weiß",)),
        ("Martin Luther King Jr.", "Martin", ("Luther",), ("King",), ("King",)),
        ("John Smith III", "John", (), ("Smith",), ("Smith",)),
        ("Ada Lovelace, PhD", "Ada", (), ("Lovelace",), ("Lovelace",)),
        ("Mr. Tom Hanks Sr., MBA", "Tom", (), ("Hanks",), ("Hanks",)),
        ("Smith, John A.", "John", ("A",), ("Smith",), ("Smith",)),
        ("García Márquez, Gabriel José", "Gabriel", ("José",), ("García", "Márquez"), ("García", "Márquez")),
        ("WANG Wei", "Wei", (), ("WANG",), ("WANG",)),
        ("Marie CURIE", "Marie", (), ("CURIE",), ("CURIE",)),
        ("AJ Smith", "AJ", (), ("Smith",), ("Smith",)),
        ("LI Na", "Na", (), ("LI",), ("LI",)),
        ("WU Jing Hua", "Jing", ("Hua",), ("WU",), ("WU",)),
        ("NG Kai", "Kai", (), ("NG",), ("NG",)),
        ("JR Ewing", "JR", (), ("Ewing",), ("Ewing",)),
        ("李小龍 Bruce Lee", "Bruce", (), ("Lee",), ("Lee",)),
        ("Madonna", "Madonna", (), (), ()),
    ],
)
def test_parse_name_splits_given_middle_and_family(
    full_name: str, given: str, middle: tuple[str, ...], family: tuple[str, ...], base: tuple[str, ...]
) -> None:
    assert parse_name(full_name) == ParsedName(given, middle, family, base)


@pytest.mark.parametrize(
    ("full_name", "family_first", "given", "family"),
    [
        ("Wang Wei", True, "Wei", ("Wang",)),
        ("Wang Wei", False, "Wang", ("Wei",)),
        ("Wang Wei", None, "Wang", ("Wei",)),
        ("Tanaka Hiroshi", True, "Hiroshi", ("Tanaka",)),
        ("Kim Min-jun", True, "Min-jun", ("Kim",)),
        ("Nagy János Péter", True, "János", ("Nagy",)),
    ],
)
def test_the_family_first_flag_reads_the_order(
    full_name: str, family_first: bool | None, given: str, family: tuple[str, ...]
) -> None:
    parsed = parse_name(full_name, family_first=family_first)
    assert (parsed.given, parsed.family) == (given, family)


def test_a_quoted_or_bracketed_nickname_is_kept_apart() -> None:
    assert parse_name('William "Bill" Gates III').nickname == "Bill"
    assert parse_name("Robert (Bob) Dylan") == ParsedName("Robert", (), ("Dylan",), ("Dylan",), "Bob")


@pytest.mark.parametrize("full_name", ["", "   ", "李小龍", "---", "'.'"])
def test_a_name_without_ascii_letters_is_unusable_and_the_error_does_not_repeat_it(full_name: str) -> None:
    with pytest.raises(UnusableName) as raised:
        parse_name(full_name)
    assert "full_name" in str(raised.value)
    assert full_name.strip() == "" or full_name not in str(raised.value)


@pytest.mark.parametrize(
    ("full_name", "expected"),
    [
        ("Jürgen Müller", {("jurgen", "muller"), ("jurgen", "mueller"), ("juergen", "muller"), ("juergen", "mueller")}),
        ("Søren Kierkegaard", {("soren", "kierkegaard"), ("soeren", "kierkegaard")}),
        ("Åsa Ångström", {("asa", "angstrom"), ("aasa", "aangstroem"), ("asa", "aangstroem"), ("aasa", "angstrom")}),
        ("Hans Groß", {("hans", "gross")}),
        ("Ægir Kærgaard", {("aegir", "kaergaard")}),
        ("Sean O'Brien", {("sean", "obrien")}),
        ("Sean O\u2019Brien", {("sean", "obrien")}),
        ("Jean-Luc Picard", {("jeanluc", "picard"), ("jean", "picard"), ("jean-luc", "picard")}),
        ("Mary Smith-Jones", {("mary", "smithjones"), ("mary", "smith"), ("mary", "smith-jones")}),
        ("Ludwig van Beethoven", {("ludwig", "vanbeethoven"), ("ludwig", "beethoven")}),
        ("Omar al-Rashid", {("omar", "alrashid"), ("omar", "rashid")}),
        ("Dr. Jane Doe PhD", {("jane", "doe")}),
    ],
)
def test_name_forms_spell_every_variant(full_name: str, expected: set[tuple[str, str]]) -> None:
    assert set(spelt(full_name)) == expected


def test_name_forms_come_most_likely_first_with_weights_summing_to_one() -> None:
    forms = name_forms(parse_name("Jean-Luc van der Berg"))
    assert [(f.first, f.last) for f in forms[:2]] == [("jeanluc", "vanderberg"), ("jeanluc", "berg")]
    assert [f.weight for f in forms] == sorted((f.weight for f in forms), reverse=True)
    assert math.isclose(sum(f.weight for f in forms), 1.0)


def test_two_way_letters_share_the_weight_equally() -> None:
    forms = name_forms(parse_name("Jürgen Weiss"))
    assert [(f.first, f.weight) for f in forms] == [("juergen", 0.5), ("jurgen", 0.5)]


def test_middle_names_become_initials() -> None:
    assert {f.middle for f in name_forms(parse_name("Juan Q. Xavier de la Vega"))} == {"qx"}
    assert {f.middle for f in name_forms(parse_name("John Smith"))} == {""}


def test_nicknames_are_optional_and_never_the_first_guess() -> None:
    assert spelt("William Gates") == [("william", "gates")]
    with_table = name_forms(parse_name("William Gates"), nicknames={"william": ["bill", "will"]})
    assert [(f.first, round(f.weight, 2)) for f in with_table] == [("william", 0.9), ("bill", 0.05), ("will", 0.05)]
    explicit = name_forms(parse_name('William "Bill" Gates'))
    assert [(f.first, f.weight) for f in explicit] == [("william", 0.8), ("bill", 0.2)]


def test_a_mononym_has_no_family_part() -> None:
    assert name_forms(parse_name("Madonna")) == (NameForm("madonna", "", "", 1.0),)


def test_name_forms_keep_names_out_of_their_repr() -> None:
    # A form is a person's name: a log line that prints one must not reveal it.
    assert "jane" not in repr(name_forms(parse_name("Jane Doe"))[0])
    assert "Jane" not in repr(parse_name("Jane Doe"))


@pytest.mark.parametrize(("full_name", "family"), [("Mr. Smith", ("Smith",)), ("Dr House", ("House",))])
def test_a_title_before_a_single_word_marks_a_family_name(full_name: str, family: tuple[str, ...]) -> None:
    parsed = parse_name(full_name)
    assert (parsed.given, parsed.family) == ("", family)
    assert [(f.first, f.last) for f in name_forms(parsed)] == [("", family[0].lower())]


def test_a_given_initial_adds_the_middle_name_as_the_name_used() -> None:
    # "J. Robert Oppenheimer" goes by Robert: both j.r.oppenheimer-style and robert.oppenheimer-style forms.
    forms = name_forms(parse_name("J. Robert Oppenheimer"))
    assert {(f.first, f.middle, f.last, f.weight) for f in forms} == {
        ("j", "r", "oppenheimer", 0.5),
        ("robert", "j", "oppenheimer", 0.5),
    }


@pytest.mark.parametrize("full_name", ["李-Anna Berg", "Anna Berg-李", "Anna 李-Berg"])
def test_a_compound_part_without_an_ascii_spelling_loses_no_weight(full_name: str) -> None:
    forms = name_forms(parse_name(full_name))
    assert [(f.first, f.last) for f in forms] == [("anna", "berg")]
    assert math.isclose(sum(f.weight for f in forms), 1.0)


def test_a_nickname_without_a_given_name_takes_all_the_weight() -> None:
    forms = name_forms(parse_name('Dr. "Bill" Smith'))
    assert [(f.first, f.last, f.weight) for f in forms] == [("bill", "smith", 1.0)]
