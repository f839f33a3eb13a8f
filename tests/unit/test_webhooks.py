"""The Standard Webhooks signer/verifier, checked against the official ``standardwebhooks`` package as an oracle."""

from __future__ import annotations

import base64
import contextlib
import io
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import standardwebhooks
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import contactvault
from contactvault.webhooks import (
    WebhookVerificationError,
    decode_secret,
    generate_secret,
    sign,
    signature_header,
    verify_webhook,
    webhook_headers,
)

# The known answer from the reference library's own tests.
KA_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KA_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
KA_TIMESTAMP = 1614265330
KA_BODY = b'{"test": 2432232314}'
KA_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

secrets_st = (
    st.integers(24, 64)
    .flatmap(lambda n: st.binary(min_size=n, max_size=n))
    .map(lambda key: "whsec_" + base64.b64encode(key).decode())
)
ids_st = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="."), min_size=1)
bodies_st = st.binary(max_size=512)
NOW = 1_800_000_000


def test_known_answer_matches_the_reference_vector() -> None:
    assert sign(KA_ID, KA_TIMESTAMP, KA_BODY, KA_SECRET) == KA_SIGNATURE
    headers = {"webhook-id": KA_ID, "webhook-timestamp": str(KA_TIMESTAMP), "webhook-signature": KA_SIGNATURE}
    assert verify_webhook(KA_BODY, headers, [KA_SECRET], now=KA_TIMESTAMP) == KA_ID


def test_oracle_computes_the_same_known_answer() -> None:
    oracle = standardwebhooks.Webhook(KA_SECRET)
    assert oracle.sign(KA_ID, datetime.fromtimestamp(KA_TIMESTAMP, tz=UTC), KA_BODY.decode()) == KA_SIGNATURE


@settings(max_examples=50, deadline=None)
@given(secret=secrets_st, msg_id=ids_st, body=st.text(max_size=300))
def test_oracle_verifies_what_we_sign(secret: str, msg_id: str, body: str) -> None:
    now = int(time.time())
    headers = webhook_headers(msg_id, now, body.encode(), [secret])
    standardwebhooks.Webhook(secret).verify(body.encode(), headers, json_parse=False)


@settings(max_examples=50, deadline=None)
@given(secret=secrets_st, msg_id=ids_st, body=st.text(max_size=300))
def test_we_verify_what_the_oracle_signs(secret: str, msg_id: str, body: str) -> None:
    now = int(time.time())
    signature = standardwebhooks.Webhook(secret).sign(msg_id, datetime.fromtimestamp(now, tz=UTC), body)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(now), "webhook-signature": signature}
    assert verify_webhook(body.encode(), headers, secret, now=now) == msg_id


def test_generated_secrets_work_with_the_oracle() -> None:
    secret = generate_secret()
    assert len(decode_secret(secret)) == 32
    now = int(time.time())
    headers = webhook_headers("msg_1", now, b"{}", [secret])
    standardwebhooks.Webhook(secret).verify(b"{}", headers, json_parse=False)


@settings(max_examples=100, deadline=None)
@given(secret=secrets_st, msg_id=ids_st, body=bodies_st, flip=st.integers(0, 10_000))
def test_a_tampered_body_is_refused(secret: str, msg_id: str, body: bytes, flip: int) -> None:
    headers = webhook_headers(msg_id, NOW, body, [secret])
    tampered = bytearray(body or b"\x00")
    tampered[flip % len(tampered)] ^= 0x01
    if not body:
        tampered = bytearray(b"x")
    with pytest.raises(WebhookVerificationError):
        verify_webhook(bytes(tampered), headers, [secret], now=NOW)


@settings(max_examples=100, deadline=None)
@given(secret=secrets_st, other=secrets_st, msg_id=ids_st, body=bodies_st)
def test_a_wrong_secret_is_refused(secret: str, other: str, msg_id: str, body: bytes) -> None:
    # HMAC pads short keys with zero bytes, so keys differing only in trailing zeros are the same key.
    assume(decode_secret(secret).rstrip(b"\0") != decode_secret(other).rstrip(b"\0"))
    headers = webhook_headers(msg_id, NOW, body, [secret])
    with pytest.raises(WebhookVerificationError, match="no webhook-signature matches"):
        verify_webhook(body, headers, [other], now=NOW)


@settings(max_examples=100, deadline=None)
@given(secret=secrets_st, body=bodies_st, skew=st.integers(301, 10**7), future=st.booleans())
def test_stale_or_future_timestamps_are_refused(secret: str, body: bytes, skew: int, future: bool) -> None:
    sent_at = NOW + skew if future else NOW - skew
    headers = webhook_headers("msg_x", sent_at, body, [secret])
    with pytest.raises(WebhookVerificationError, match="too far in the future" if future else "too old"):
        verify_webhook(body, headers, [secret], now=NOW)


@settings(max_examples=50, deadline=None)
@given(secret=secrets_st, body=bodies_st, skew=st.integers(-300, 300))
def test_timestamps_inside_the_tolerance_are_accepted(secret: str, body: bytes, skew: int) -> None:
    headers = webhook_headers("msg_x", NOW + skew, body, [secret])
    assert verify_webhook(body, headers, [secret], now=NOW) == "msg_x"


@settings(max_examples=100, deadline=None)
@given(keys=st.lists(secrets_st, min_size=1, max_size=4, unique=True), body=bodies_st, data=st.data())
def test_any_one_of_several_signatures_verifies(keys: list[str], body: bytes, data: st.DataObject) -> None:
    headers = webhook_headers("msg_rot", NOW, body, keys)
    assert len(headers["webhook-signature"].split(" ")) == len(keys)
    receiver_secret = data.draw(st.sampled_from(keys))
    assert verify_webhook(body, headers, [receiver_secret], now=NOW) == "msg_rot"
    # The receiver may hold the new and the old secret at once, too.
    assert verify_webhook(body, headers, [generate_secret(), receiver_secret], now=NOW) == "msg_rot"


def test_headers_are_matched_case_insensitively_and_unknown_versions_ignored() -> None:
    sig = sign(KA_ID, KA_TIMESTAMP, KA_BODY, KA_SECRET)
    headers = {"Webhook-Id": KA_ID, "WEBHOOK-TIMESTAMP": str(KA_TIMESTAMP), "Webhook-Signature": f"v1a,xyz {sig}"}
    assert verify_webhook(KA_BODY.decode(), headers, KA_SECRET, now=KA_TIMESTAMP) == KA_ID


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"webhook-timestamp": str(KA_TIMESTAMP), "webhook-signature": KA_SIGNATURE}, "missing webhook-id"),
        ({"webhook-id": KA_ID, "webhook-signature": KA_SIGNATURE}, "missing webhook-timestamp"),
        ({"webhook-id": KA_ID, "webhook-timestamp": str(KA_TIMESTAMP)}, "missing webhook-signature"),
        ({"webhook-id": KA_ID, "webhook-timestamp": "1614265330.9", "webhook-signature": KA_SIGNATURE}, "integer"),
        ({"webhook-id": KA_ID, "webhook-timestamp": "soon", "webhook-signature": KA_SIGNATURE}, "integer"),
        # The oracle raises ValueError for an entry without a comma and binascii.Error for bad base64.
        ({"webhook-id": KA_ID, "webhook-timestamp": str(KA_TIMESTAMP), "webhook-signature": "v1"}, "no v1"),
        ({"webhook-id": KA_ID, "webhook-timestamp": str(KA_TIMESTAMP), "webhook-signature": "v1,%%%"}, "no v1"),
        ({"webhook-id": "a.b", "webhook-timestamp": str(KA_TIMESTAMP), "webhook-signature": KA_SIGNATURE}, "'.'"),
    ],
)
def test_malformed_headers_raise_the_one_error_type(headers: dict[str, str], message: str) -> None:
    with pytest.raises(WebhookVerificationError, match=message):
        verify_webhook(KA_BODY, headers, [KA_SECRET], now=KA_TIMESTAMP)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("v1,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must start with 'whsec_'"),
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must start with 'whsec_'"),
        ("whsec_not base64!", "not valid base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "24-64 bytes"),
    ],
)
def test_bad_secret_formats_are_named_without_echoing_the_secret(secret: str, message: str) -> None:
    headers = {"webhook-id": KA_ID, "webhook-timestamp": str(KA_TIMESTAMP), "webhook-signature": KA_SIGNATURE}
    with pytest.raises(WebhookVerificationError, match=message) as caught:
        verify_webhook(KA_BODY, headers, [secret], now=KA_TIMESTAMP)
    assert secret.removeprefix("v1,").removeprefix("whsec_") not in str(caught.value)


def test_no_secrets_is_an_error() -> None:
    with pytest.raises(WebhookVerificationError):
        verify_webhook(KA_BODY, {}, [], now=KA_TIMESTAMP)
    with pytest.raises(WebhookVerificationError):
        signature_header(KA_ID, KA_TIMESTAMP, KA_BODY, [])


def test_the_sdk_exports_the_verifier() -> None:
    assert contactvault.verify_webhook is verify_webhook
    assert contactvault.WebhookVerificationError is WebhookVerificationError


def test_the_verification_example_in_the_docs_runs() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```python\n(.*?)```", doc, re.S)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(example, "docs/webhooks.md", "exec"), {"__name__": "docs_example"})  # noqa: S102
    assert output.getvalue() == "webhook.test\n"
