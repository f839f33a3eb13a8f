"""Domain opt-outs: one canonical form of a company domain (IDNA, lower case, no root dot), the same form an
email's domain takes, and a refusal that never quotes the value."""

from __future__ import annotations

import pytest

from contactvault.server.addresses import AddressError, canonical_domain, canonical_email, domain_of_email


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("example.com", "example.com", id="plain"),
        pytest.param("  Example.COM \n", "example.com", id="case-and-whitespace"),
        pytest.param("example.com.", "example.com", id="root-dot"),
        pytest.param("Bücher.example", "xn--bcher-kva.example", id="idna-to-ascii"),
        pytest.param("BÜCHER.example.", "xn--bcher-kva.example", id="idna-upper-case-root-dot"),
        pytest.param("XN--BCHER-KVA.example", "xn--bcher-kva.example", id="a-label-upper-case"),
        pytest.param("acme-widgets.test", "acme-widgets.test", id="reserved-test-tld"),
    ],
)
def test_canonical_domain(raw: str, expected: str) -> None:
    assert canonical_domain(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        ".",
        "example..com",
        "exa mple.com",
        "-example.com",
        "example",
        "http://example.com",
        "x" * 300 + ".com",
    ],
)
def test_a_malformed_domain_is_refused_without_quoting_it(raw: str) -> None:
    with pytest.raises(AddressError) as caught:
        canonical_domain(raw)
    assert caught.value.kind == "domain"
    assert caught.value.message == "is not a valid domain name"


@pytest.mark.parametrize("raw", ["jane@example.com", "@example.com", "Jane.Doe@Bücher.example"])
def test_an_email_given_as_a_domain_is_refused_as_such(raw: str) -> None:
    with pytest.raises(AddressError) as caught:
        canonical_domain(raw)
    assert caught.value.kind == "domain"
    assert "email address" in caught.value.message
    assert "jane" not in caught.value.message.lower()


@pytest.mark.parametrize(
    "email", ["ann@Bücher.example", "ann@xn--bcher-kva.example", "Ann@EXAMPLE.com", "person1@acme-widgets.test"]
)
def test_an_emails_domain_has_the_domains_canonical_form(email: str) -> None:
    domain = email.rpartition("@")[2]
    assert domain_of_email(email) == canonical_domain(domain)
    assert domain_of_email(canonical_email(email)) == canonical_domain(domain)


def test_an_unreadable_email_has_no_domain() -> None:
    assert domain_of_email("not an address") is None
    assert domain_of_email("ann@exa mple.com") is None
