"""Canonical forms of emails, phone numbers and domains: one form for storing, hashing, suppression and dedupe.

Every value that enters (import, suppression, resolvers, providers) goes through ``canonical_email`` or
``canonical_phone``. They live in the kernel, not in ``domain/``, because they rest on the field's libraries
(``email-validator``, ``phonenumbers``) and the domain imports the standard library only; the worker's resolvers
use them as well as the services.

- **Email:** syntax checked by email-validator (no DNS: ``check_deliverability=False``); the whole address is
  lower-cased, as the keyed hash always did; the domain is kept in its ASCII (IDNA A-label) form, the form DNS and
  SMTP use, so every address the old ASCII-only rules accepted keeps the very same form. Plus-addressing is kept
  (``ann+news@`` is another mailbox for us). The reserved ``.test`` TLD (RFC 6761) is accepted: it can never be
  delivered, and the demo's simulated world and the tests live there.
- **Domain** (domain opt-outs): the form an email's domain takes above, one trailing root dot dropped; an email
  address given as a domain is refused as such.
- **Phone:** parsed by phonenumbers with a default region for national formats, refused unless possible and valid,
  stored in E.164.

Before these forms, keyed hashes were taken of the value lower-cased (emails) and trimmed, phones with their
punctuation removed (``legacy_form``). Opt-outs stored under those hashes cannot be re-derived, so lookups match
both forms (``docs/security.md``). Errors never contain the value: it is personal data and errors end up in logs.
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

MAX_EMAIL = 320
MAX_PHONE = 64

_LEGACY_PHONE_PUNCTUATION = re.compile(r"[\s().-]")


class AddressError(ValueError):
    """A value is not a valid email or phone number; the message never contains the value."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def canonical_email(raw: str) -> str:
    """The address lower-cased, its domain in ASCII (IDNA) form; AddressError when it is not an address."""
    text = raw.strip()
    if not text or len(text) > MAX_EMAIL:
        raise AddressError("email", "is not a valid email address")
    try:
        checked = validate_email(text, check_deliverability=False, test_environment=True, strict=True)
    except EmailNotValidError:
        # email-validator's own messages may quote parts of the value: say only what kind of problem it is.
        raise AddressError("email", "is not a valid email address") from None
    return f"{checked.local_part.lower()}@{(checked.ascii_domain or checked.domain).lower()}"


def canonical_domain(raw: str) -> str:
    """A domain name lower-cased in its ASCII (IDNA) form, one root dot dropped: the form ``canonical_email`` gives
    an address's domain (checked by the same library, so the two always agree); AddressError otherwise, a specific
    one for an email address given where a domain is asked for."""
    text = raw.strip()
    if "@" in text:
        raise AddressError("domain", "is an email address, not a domain name (give only the part after the @)")
    if text.endswith("."):
        text = text[:-1]  # the DNS root: "example.com." is "example.com"
    if not text or len(text) > MAX_EMAIL:
        raise AddressError("domain", "is not a valid domain name")
    return _checked_domain(text)


@functools.lru_cache(maxsize=4096)
def _checked_domain(text: str) -> str:
    # Cached: every read of a revealed email and every opt-out scan row asks for its domain, and domains repeat.
    try:
        checked = validate_email(f"x@{text}", check_deliverability=False, test_environment=True, strict=True)
    except EmailNotValidError:
        raise AddressError("domain", "is not a valid domain name") from None
    return (checked.ascii_domain or checked.domain).lower()


def domain_of_email(email: str) -> str | None:
    """The canonical domain of an address (whatever form it was stored in), or None when it has none."""
    _, at, domain = email.strip().rpartition("@")
    if not at:
        return None
    try:
        return canonical_domain(domain)
    except AddressError:
        return None


def canonical_phone(raw: str, default_region: str | None = None) -> str:
    """The number in E.164; a national format needs ``default_region`` (ISO 3166 code); AddressError otherwise."""
    text = raw.strip()
    if not text or len(text) > MAX_PHONE:
        raise AddressError("phone", "is not a valid phone number")
    region = default_region.upper() if default_region else None
    if region is None and text.startswith("00"):
        text = "+" + text[2:]  # the international call prefix of most countries, read without a region
    international = text.startswith("+")
    if not international and region is None:
        raise AddressError(
            "phone", "is a national number with no country to read it by: write it as + country code and number"
        )
    try:
        number = phonenumbers.parse(text, None if international else region)
    except phonenumbers.NumberParseException:
        raise AddressError("phone", "is not a valid phone number") from None
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise AddressError("phone", "is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_international(raw: str) -> bool:
    """Whether a phone number is written with its country code (``+`` or the ``00`` call prefix)."""
    return raw.strip().startswith(("+", "00"))


def canonical(kind: str, raw: str, default_region: str | None = None) -> str:
    """``canonical_email``, ``canonical_phone`` or ``canonical_domain`` by kind ("email", "phone" or "domain")."""
    if kind == "email":
        return canonical_email(raw)
    if kind == "phone":
        return canonical_phone(raw, default_region)
    if kind == "domain":
        return canonical_domain(raw)
    raise AddressError(kind, "is neither an email, a phone number nor a domain")


def legacy_form(kind: str, raw: str) -> str:
    """The form keyed hashes were taken of before canonical forms (trimmed; emails lower-cased; phones without
    spaces, dots, dashes and brackets): kept only to match opt-outs recorded then."""
    text = raw.strip()
    if kind == "email":
        return text.lower()
    if kind == "phone":
        return _LEGACY_PHONE_PUNCTUATION.sub("", text)
    return text


def region_of_country(country: str | None) -> str | None:
    """The ISO 3166 region code of a country given by code ("FR") or English name ("France"), else None."""
    if not country:
        return None
    text = country.strip()
    if text.upper() in phonenumbers.SUPPORTED_REGIONS:
        return text.upper()
    return _regions_by_name().get(text.casefold())


@functools.cache
def _regions_by_name() -> dict[str, str]:
    # phonenumbers ships English country names; an example number per region reaches them through its public API.
    from phonenumbers import geocoder

    names: dict[str, str] = {}
    for region in phonenumbers.SUPPORTED_REGIONS:
        example = phonenumbers.example_number(region)
        name = geocoder.country_name_for_number(example, "en") if example is not None else ""
        if name:
            names.setdefault(name.casefold(), region)
    return names
