"""Every row of the reply table (research §1.7), the provider overrides, and sample strings from real verifiers."""

from __future__ import annotations

import pytest

from contactvault.server.domain.smtp_replies import ReplyClass, SmtpReply, classify, parse_reply

A = ReplyClass

# (code, message as the client library hands it, expected class)
TABLE = [
    # 250/251: accepted (exists or catch-all: the probe decides)
    (250, "2.1.5 Ok", A.ACCEPTED),
    (251, "User not local; will forward", A.ACCEPTED),
    # 5.1.1, 5.1.0/550 + mailbox text, 5.1.10 null MX: mailbox unknown
    (550, "5.1.1 <x@normal.test>: Recipient address rejected: User unknown", A.MAILBOX_UNKNOWN),
    (550, "5.1.1 The email account that you tried to reach does not exist.", A.MAILBOX_UNKNOWN),
    (550, "5.1.0 Address rejected", A.MAILBOX_UNKNOWN),
    (550, "No such user here", A.MAILBOX_UNKNOWN),
    (550, "Requested action not taken: mailbox unavailable", A.MAILBOX_UNKNOWN),
    (556, "5.1.10 Recipient address has null MX", A.MAILBOX_UNKNOWN),
    # 5.2.1: disabled
    (550, "5.2.1 The email account that you tried to reach is disabled.", A.MAILBOX_DISABLED),
    (550, "Mailbox disabled for this recipient", A.MAILBOX_DISABLED),
    # 5.2.2, 552, 452 + full/quota: mailbox full (exists)
    (552, "5.2.2 Mailbox full", A.MAILBOX_FULL),
    (552, "Requested mail action aborted: exceeded storage allocation", A.MAILBOX_FULL),
    (452, "4.2.2 The email account that you tried to reach is over quota", A.MAILBOX_FULL),
    (452, "Mailbox full, try again later", A.MAILBOX_FULL),
    # 5.7.x, blocked/spamhaus/banned/reputation/access denied without 5.1.x, 554 policy: policy block
    (550, "5.7.1 Service unavailable; client host [192.0.2.1] blocked using Spamhaus", A.POLICY_BLOCK),
    (550, "5.7.606 Access denied, banned sending IP [192.0.2.1]", A.POLICY_BLOCK),
    (550, "5.7.25 The IP address sending this message does not have a PTR record setup", A.POLICY_BLOCK),
    (550, "5.7.26 Unauthenticated email is not accepted from this domain", A.POLICY_BLOCK),
    (554, "5.7.1 <x@relay.test>: Relay access denied", A.POLICY_BLOCK),
    (550, "Recipient address rejected: Access denied", A.POLICY_BLOCK),
    (550, "Your IP has poor reputation", A.POLICY_BLOCK),
    (554, "Transaction failed", A.POLICY_BLOCK),
    (553, "5.1.8 Sender address domain does not exist", A.POLICY_BLOCK),
    (550, "Requested action not taken", A.POLICY_BLOCK),
    # 450/451/452 4.x.x, 421: temporary (greylisting, rate, busy) - never a verdict
    (450, "4.2.0 <x@grey.test>: Recipient address rejected: Greylisted, try again later", A.TEMPORARY),
    (451, "4.7.1 Please try again later", A.TEMPORARY),
    (452, "4.5.3 Too many recipients", A.TEMPORARY),
    (421, "4.7.0 Too many connections, slow down", A.TEMPORARY),
    (450, "4.1.1 Recipient address rejected: User unknown in local recipient table (pending)", A.TEMPORARY),
    (451, "4.7.1 Service unavailable; client blocked using Spamhaus", A.TEMPORARY),
    # 5.5.x, 500-504: protocol
    (500, "5.5.1 Command unrecognized", A.PROTOCOL),
    (501, "Syntax: RCPT TO: <address>", A.PROTOCOL),
    (502, "5.5.2 Command not implemented", A.PROTOCOL),
    (503, "5.5.1 Error: need MAIL command", A.PROTOCOL),
    (504, "Command parameter not implemented", A.PROTOCOL),
]


@pytest.mark.parametrize(("code", "message", "expected"), TABLE, ids=[f"{c}-{m[:30]}" for c, m, _ in TABLE])
def test_each_row_of_the_reply_table(code: int, message: str, expected: ReplyClass) -> None:
    assert classify(parse_reply(code, message), "mx.example.test") == expected


def test_microsoft_access_denied_for_an_unknown_recipient_is_mailbox_unknown() -> None:
    reply = parse_reply(550, "5.4.1 Recipient address rejected: Access denied. AS(201806281) [x.prod.outlook.com]")
    assert classify(reply, "contoso-com.mail.protection.outlook.com.") == A.MAILBOX_UNKNOWN
    assert classify(reply, "dbeb.mail.protection.outlook.test") == A.MAILBOX_UNKNOWN


def test_the_same_refusal_from_another_provider_stays_a_policy_block() -> None:
    reply = parse_reply(550, "5.4.1 Recipient address rejected: Access denied")
    assert classify(reply, "mx.other.test") == A.POLICY_BLOCK
    assert classify(reply, "") == A.POLICY_BLOCK


def test_a_microsoft_reputation_ban_is_never_read_as_an_unknown_mailbox() -> None:
    reply = parse_reply(550, "5.7.606 Access denied, banned sending IP [192.0.2.1]")
    assert classify(reply, "contoso-com.mail.protection.outlook.com") == A.POLICY_BLOCK


def test_no_4xx_or_5_7_reply_ever_proves_a_mailbox_absent() -> None:
    for code, message, _ in TABLE:
        reply = parse_reply(code, message)
        if code < 500 or (reply.enhanced or "").startswith("5.7"):
            assert not classify(reply).proves_absence, message


def test_parse_reply_splits_the_enhanced_code_from_the_text() -> None:
    assert parse_reply(550, "5.1.1 <a@b.test>: User unknown") == SmtpReply(550, "5.1.1", "<a@b.test>: User unknown")
    assert parse_reply(556, "5.1.10 null MX") == SmtpReply(556, "5.1.10", "null MX")
    assert parse_reply(250, "OK") == SmtpReply(250, None, "OK")
    assert parse_reply(550, "  5.7.1 blocked  ") == SmtpReply(550, "5.7.1", "blocked")


def test_only_unknown_and_disabled_prove_absence() -> None:
    assert {c for c in ReplyClass if c.proves_absence} == {A.MAILBOX_UNKNOWN, A.MAILBOX_DISABLED}
