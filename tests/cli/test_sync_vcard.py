"""vCard 4.0 text (sync/vcard.py): escaping, folding, parsing, editing; ``vobject`` (Radicale's parser) as oracle."""

from __future__ import annotations

import pytest
import vobject  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from contactvault.cli.client.sync import vcard
from contactvault.cli.client.sync.carddav import new_card, property_name, uid_of
from contactvault.cli.client.sync.plan import Contact

# Any text but carriage returns (a vCard value has no way to keep a lone CR apart from a newline) and the C0
# controls vobject refuses.
TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r") | st.sampled_from('\n\\,;:"')
)


def card_with(**texts: str) -> vcard.Card:
    card = vcard.Card([vcard.Property("VERSION", "4.0"), vcard.Property("UID", "urn:uuid:1")])
    for name, text in texts.items():
        card.set(name.replace("_", "-"), text)
    return card


@settings(deadline=None)  # no timing: the machine is shared
@given(TEXT)
def test_escape_then_unescape_gives_the_text_back(text: str) -> None:
    assert vcard.unescape(vcard.escape(text)) == text


@settings(deadline=None)
@given(TEXT.filter(lambda t: t.strip() != ""))
def test_a_written_card_parses_back_the_same_here_and_in_vobject(text: str) -> None:
    serialized = card_with(FN=text, NOTE=text, X_CONTACTVAULT_SOURCE=text).serialize()
    assert all(len(line.encode("utf-8")) <= 75 for line in serialized.split("\r\n"))
    assert serialized.endswith("END:VCARD\r\n")
    ours = vcard.parse(serialized)
    assert ours.texts("FN") == ours.texts("NOTE") == ours.texts("X-CONTACTVAULT-SOURCE") == [text]
    theirs = vobject.readOne(serialized)
    assert theirs.note.value == text
    assert theirs.contents["x-contactvault-source"][0].value == text


def test_folding_never_splits_a_multibyte_character() -> None:
    line = "NOTE:" + "€" * 60  # 3 octets each
    pieces = vcard.fold(line).split("\r\n ")
    assert [len(p.encode()) for p in pieces] == [74, 72, 39]  # with the leading space, no line is over 75
    assert "".join(pieces) == line


def test_parse_keeps_groups_quoted_parameters_and_unknown_lines() -> None:
    text = (
        'BEGIN:VCARD\nVERSION:4.0\nitem1.EMAIL;TYPE="work,pref";X-LABEL="a:b":Jo@Example.com\n'
        "NOTE:long\n  folded\nX-OTHER;VALUE=text:kept\\, as is\nEND:VCARD\n"
    )
    card = vcard.parse(text)
    email = card.first("email")
    assert email is not None
    assert (email.group, email.params, email.value) == ("item1", ';TYPE="work,pref";X-LABEL="a:b"', "Jo@Example.com")
    assert card.texts("NOTE") == ["long folded"]
    card.set("EMAIL", "new@example.com")
    card.set("TEL", "+1 555 0100", ";TYPE=work")
    assert card.serialize() == (
        'BEGIN:VCARD\r\nVERSION:4.0\r\nitem1.EMAIL;TYPE="work,pref";X-LABEL="a:b":new@example.com\r\n'
        "NOTE:long folded\r\nX-OTHER;VALUE=text:kept\\, as is\r\nTEL;TYPE=work:+1 555 0100\r\nEND:VCARD\r\n"
    )


@pytest.mark.parametrize(
    "text",
    ["", "BEGIN:VCARD\nFN:x\n", "BEGIN:VCARD\nFN x\nEND:VCARD", "BEGIN:VCARD\nBEGIN:VCARD\nEND:VCARD\nEND:VCARD"],
    ids=["empty", "no-end", "no-colon", "nested"],
)
def test_parse_refuses_what_is_not_one_vcard(text: str) -> None:
    with pytest.raises(ValueError, match="vCard"):
        vcard.parse(text)


def test_a_new_card_is_vcard_4_with_a_stable_uid_and_the_name_when_known() -> None:
    contact = Contact(
        "42",
        {"email": "ana@example.com", "full_name": "Ana María de la Cruz", "title": "VP, Sales", "company_name": "Acme"},
    )
    values = {"email": "ana@example.com", "contactvault_id": "42", "contactvault_verification_score": "97"}
    parsed = vobject.readOne(new_card("42", contact, values).serialize())
    assert parsed.version.value == "4.0"
    assert parsed.uid.value == uid_of("42") == new_card("42", None, {}).first("UID").text  # type: ignore[union-attr]
    assert parsed.fn.value == "Ana María de la Cruz"
    assert (parsed.n.value.family, parsed.n.value.given) == ("Cruz", "Ana María de la")
    assert parsed.title.value == "VP, Sales"
    assert parsed.org.value == ["Acme"]
    assert parsed.email.value == "ana@example.com"
    assert parsed.email.params["TYPE"] == ["work"]
    assert parsed.contents["x-contactvault-verification-score"][0].value == "97"
    assert vobject.readOne(new_card("7", Contact("7", {"email": "x@example.com"}), {}).serialize()).fn.value == (
        "x@example.com"
    )


def test_mapped_field_names_become_property_names_never_the_card_s_own() -> None:
    assert property_name("email") == "EMAIL"
    assert property_name("note") == "NOTE"
    assert property_name("x_crm_id") == "X-CRM-ID"
    assert property_name("uid") == "X-UID"
