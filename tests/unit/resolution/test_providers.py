"""Provider rules: request templates, reading answers, what an HTTP status means, Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contactvault.server.domain.providers import (
    API_KEY,
    PERSON_FIELDS,
    Answer,
    ResponseMapping,
    TemplateError,
    answer_for,
    dig,
    is_breaker_failure,
    person_fields,
    placeholders,
    read_verdict,
    render,
    retry_after_seconds,
)
from contactvault.server.domain.scoring import VerificationStatus as V

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MAPPING = ResponseMapping(
    email="data.email",
    status="data.verification.status",
    score="data.score",
    status_map={"valid": V.VALID, "accept_all": V.ACCEPT_ALL, "webmail": V.INVALID, "risky": V.UNKNOWN},
)


def test_person_fields_split_the_name_and_keep_particles_with_the_last_name() -> None:
    fields = person_fields(" Juan de la Vega ", "Acme", "Acme.TEST.")
    assert (fields.first_name, fields.last_name) == ("Juan", "de la Vega")
    assert fields.company_domain == "acme.test"
    assert "Vega" not in repr(fields)


def test_an_unparsable_name_leaves_first_and_last_empty() -> None:
    fields = person_fields("李", None, None)
    assert (fields.first_name, fields.last_name, fields.company_name, fields.company_domain) == ("", "", "", "")


def test_placeholders_are_only_the_allowed_names() -> None:
    allowed = (*PERSON_FIELDS, API_KEY)
    assert placeholders("https://p.test/find?d={company_domain}&k={api_key}", allowed) == {"company_domain", "api_key"}
    assert placeholders("literal {{braces}}", allowed) == frozenset()
    for bad in ("{email}", "{full_name!r}", "{full_name:>9}", "{0}", "{"):
        with pytest.raises(TemplateError):
            placeholders(bad, allowed)


def test_values_in_a_url_are_percent_encoded() -> None:
    url = render(
        "https://p.test/find?n={full_name}&d={company_domain}",
        {"full_name": "A&B /C", "company_domain": "x.test"},
        in_url=True,
    )
    assert url == "https://p.test/find?n=A%26B%20%2FC&d=x.test"
    assert render("Bearer {api_key}", {"api_key": "k/1"}, in_url=False) == "Bearer k/1"


def test_dig_follows_keys_and_list_indexes() -> None:
    doc = {"data": {"emails": [{"value": "a@b.test"}]}}
    assert dig(doc, "data.emails.0.value") == "a@b.test"
    assert dig(doc, "data.emails.1.value") is None
    assert dig(doc, "data.missing.x") is None
    assert dig([1], "0") == 1


def test_a_verdict_maps_the_vendor_word_and_keeps_the_score() -> None:
    doc = {"data": {"email": " jane@acme.test ", "verification": {"status": "Valid"}, "score": 91.6}}
    verdict = read_verdict(doc, MAPPING)
    assert verdict is not None
    assert (verdict.email, verdict.status, verdict.score) == ("jane@acme.test", V.VALID, 92)
    assert "jane" not in repr(verdict)


@pytest.mark.parametrize(
    ("word", "vendor_score", "status", "expected"),
    [
        ("accept_all", 95, V.ACCEPT_ALL, 90),  # capped: a catch-all never looks like a proven mailbox
        ("risky", 80, V.UNKNOWN, 50),
        ("webmail", 99, V.INVALID, 0),
        ("something new", 70, V.UNKNOWN, 50),  # a word the map lacks reads as unknown
        (None, "n/a", V.UNKNOWN, 50),  # no status, unreadable score: ours for unknown
        ("valid", None, V.VALID, 100),  # no score: ours for valid with nothing else known
        ("accept_all", None, V.ACCEPT_ALL, 59),
        ("valid", 140, V.VALID, 100),
        ("valid", -3, V.VALID, 0),
    ],
)
def test_verdict_statuses_and_scores(word: object, vendor_score: object, status: V, expected: int) -> None:
    data: dict[str, object] = {"email": "j@acme.test", "score": vendor_score}
    if word is not None:
        data["verification"] = {"status": word}
    verdict = read_verdict({"data": data}, MAPPING)
    assert verdict is not None
    assert (verdict.status, verdict.score) == (status, expected)


@pytest.mark.parametrize("doc", [{}, {"data": {"email": ""}}, {"data": {"email": 42}}, [], "text"])
def test_no_address_is_no_verdict(doc: object) -> None:
    assert read_verdict(doc, MAPPING) is None


@pytest.mark.parametrize(
    ("code", "answer"),
    [
        (200, Answer.READ),
        (404, Answer.NOT_FOUND),
        (410, Answer.NOT_FOUND),
        (400, Answer.NOT_FOUND),
        (422, Answer.NOT_FOUND),
        (451, Answer.INELIGIBLE),
        (429, Answer.RETRY),
        (500, Answer.RETRY),
        (503, Answer.RETRY),
        (401, Answer.TRANSIENT),
        (403, Answer.TRANSIENT),
        (202, Answer.TRANSIENT),
        (302, Answer.TRANSIENT),
    ],
)
def test_what_a_status_means(code: int, answer: Answer) -> None:
    assert answer_for(code) is answer


def test_only_transport_errors_and_5xx_count_against_the_breaker() -> None:
    assert is_breaker_failure(None)
    assert is_breaker_failure(502)
    assert not is_breaker_failure(429)
    assert not is_breaker_failure(404)
    assert not is_breaker_failure(200)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("Sun, 01 Mar 2026 12:00:30 GMT", 30.0),
        ("Sun, 01 Mar 2026 11:00:00 GMT", 0.0),  # a date in the past: no wait
        (None, None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_retry_after_reads_seconds_or_an_http_date(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, NOW) == seconds
