"""Canonical forms: email-validator and phonenumbers decide, the value never appears in an error."""

from __future__ import annotations

import pytest

from contactvault.server.addresses import (
    AddressError,
    canonical_email,
    canonical_phone,
    legacy_form,
    region_of_country,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("Ann.Smith@Example.COM", "ann.smith@example.com", id="uppercase"),
        pytest.param("  ann@example.com\t\n", "ann@example.com", id="whitespace"),
        pytest.param("Ann+Newsletter@example.com", "ann+newsletter@example.com", id="plus-addressing-kept"),
        pytest.param("ann@Bücher.example", "ann@xn--bcher-kva.example", id="idna-domain-to-ascii"),
        pytest.param("ann@XN--BCHER-KVA.example", "ann@xn--bcher-kva.example", id="idna-already-ascii"),
        pytest.param("José@example.com", "josé@example.com", id="unicode-local-part"),
        # NFC: "e" + combining acute accent is the same mailbox as the precomposed "é".
        pytest.param("Jose\u0301@example.com", "jos\u00e9@example.com", id="unicode-local-part-nfc"),
        pytest.param("person1@acme-widgets.test", "person1@acme-widgets.test", id="reserved-test-tld"),
    ],
)
def test_canonical_email(raw: str, expected: str) -> None:
    assert canonical_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "no-at-sign.example.com",
        "two..dots@example.com",
        "ann@",
        "@example.com",
        "ann@localhost",
        "ann@exa mple.com",
        '"quoted"@example.com',
        "ann@[192.0.2.1]",
        "",
        "   ",
        "a" * 65 + "@example.com",
    ],
)
def test_invalid_emails_are_refused_without_the_value(raw: str) -> None:
    with pytest.raises(AddressError) as caught:
        canonical_email(raw)
    assert caught.value.kind == "email"
    text = str(caught.value)
    assert text == "is not a valid email address"
    for part in (p for p in raw.replace("@", " ").split() if len(p) > 2):
        assert part not in text


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        pytest.param("01 23 45 67 89", "FR", "+33123456789", id="FR-national"),
        pytest.param("06.12.34.56.78", "FR", "+33612345678", id="FR-dots"),
        pytest.param("030 1234567", "DE", "+49301234567", id="DE-national"),
        pytest.param("(030) 123-4567", "de", "+49301234567", id="DE-lowercase-region"),
        pytest.param("(202) 555-0143", "US", "+12025550143", id="US-national"),
        pytest.param("020 7946 0958", "GB", "+442079460958", id="GB-national"),
        pytest.param("03-1234-5678", "JP", "+81312345678", id="JP-national"),
        pytest.param("+44 (0)20 7946 0958", None, "+442079460958", id="GB-international-with-trunk"),
        pytest.param("0044 20 7946 0958", None, "+442079460958", id="00-prefix"),
        pytest.param("+33 1 23 45 67 89", "DE", "+33123456789", id="international-ignores-region"),
        pytest.param(" +47 912 34 567 ", None, "+4791234567", id="NO-spaces"),
    ],
)
def test_canonical_phone_is_e164(raw: str, region: str | None, expected: str) -> None:
    assert canonical_phone(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        pytest.param("+1 555 0100", None, id="too-short"),
        pytest.param("+33 1 23", None, id="FR-too-short"),
        pytest.param("+49 0000 000000", None, id="impossible-DE"),
        pytest.param("+999 123456789", None, id="no-such-country-code"),
        pytest.param("01 23 45 67 89 12 34", "FR", id="FR-too-long"),
        pytest.param("123", "US", id="US-too-short"),
        pytest.param("call me", "GB", id="not-a-number"),
        pytest.param("01 23 45 67 89", None, id="national-without-country"),
        pytest.param("", "FR", id="empty"),
    ],
)
def test_impossible_phones_are_refused_without_the_value(raw: str, region: str | None) -> None:
    with pytest.raises(AddressError) as caught:
        canonical_phone(raw, region)
    assert caught.value.kind == "phone"
    digits = "".join(c for c in raw if c.isdigit())
    if len(digits) > 2:
        assert digits not in "".join(c for c in str(caught.value) if c.isdigit())
    assert raw.strip() not in str(caught.value) or not raw.strip()


def test_legacy_form_is_what_the_hashes_were_taken_of() -> None:
    # Before canonical forms: trimmed, emails lower-cased, phones without spaces, dots, dashes and brackets.
    assert legacy_form("email", "  Ann.Smith@Example.COM ") == "ann.smith@example.com"
    assert legacy_form("phone", " +44 (0)20 7946-0958 ") == "+4402079460958"


@pytest.mark.parametrize(
    ("country", "region"),
    [("France", "FR"), ("germany", "DE"), ("United States", "US"), ("United Kingdom", "GB"), ("JP", "JP")],
)
def test_region_of_country_by_name_or_code(country: str, region: str) -> None:
    assert region_of_country(country) == region


@pytest.mark.parametrize("country", [None, "", "Narnia", "XX"])
def test_unknown_countries_have_no_region(country: str | None) -> None:
    assert region_of_country(country) is None
