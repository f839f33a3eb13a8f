"""What an SMTP reply says about a mailbox: a reply (code, enhanced code, text) -> one ReplyClass.

Read in this order (research §1.7): a provider override (MX suffix + code + phrase), then the RFC 3463 enhanced
status code, then phrases in the text, then the basic code. A refusal about *us* (reputation, policy, rate) is never
read as "no such mailbox": only addressing codes make a mailbox unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class ReplyClass(StrEnum):
    """What one reply means for the address it answered."""

    ACCEPTED = "accepted"
    MAILBOX_UNKNOWN = "mailbox_unknown"
    MAILBOX_DISABLED = "mailbox_disabled"
    MAILBOX_FULL = "mailbox_full"
    POLICY_BLOCK = "policy_block"
    TEMPORARY = "temporary"
    PROTOCOL = "protocol"
    NETWORK = "network"

    @property
    def proves_absence(self) -> bool:
        """The mailbox certainly cannot receive mail (the address is invalid)."""
        return self in (ReplyClass.MAILBOX_UNKNOWN, ReplyClass.MAILBOX_DISABLED)


@dataclass(frozen=True, slots=True)
class SmtpReply:
    """One server reply: the basic code, the enhanced status code if any (``"5.1.1"``), and the text."""

    code: int
    enhanced: str | None
    text: str


_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


def parse_reply(code: int, message: str) -> SmtpReply:
    """A reply as a client library hands it over; the enhanced code is read from the start of the text."""
    match = _ENHANCED.match(message)
    if match is None:
        return SmtpReply(code, None, message.strip())
    return SmtpReply(code, ".".join(match.groups()), message[match.end() :].strip())


@dataclass(frozen=True, slots=True)
class ProviderOverride:
    """A provider whose replies the generic rules misread: MX host suffix + basic code + phrase => class."""

    mx_suffix: str
    code: int
    phrase: str
    result: ReplyClass


# Microsoft's Directory-Based Edge Blocking refuses *unknown recipients* with 5.4.1 "Access denied"; the enhanced
# code's subject 4 (routing) and the word "denied" would both say policy. The suffix match keeps the override from
# hiding a real policy refusal elsewhere. `.test` twins let the loopback world exercise the same rows.
PROVIDER_OVERRIDES: tuple[ProviderOverride, ...] = (
    ProviderOverride(
        ".mail.protection.outlook.com", 550, "recipient address rejected: access denied", ReplyClass.MAILBOX_UNKNOWN
    ),
    ProviderOverride(
        ".mail.protection.outlook.test", 550, "recipient address rejected: access denied", ReplyClass.MAILBOX_UNKNOWN
    ),
)

# Phrases that mean "this is about you, not the mailbox" (Spamhaus, RBLs, reputation): checked before mailbox
# phrases, so "blocked ... user unknown" style texts never prove absence.
_POLICY_PHRASES = (
    "spamhaus",
    "blocked",
    "blacklist",
    "blocklist",
    "banned",
    "reputation",
    "access denied",
    "rbl",
    "spam",
    "not authorized",
    "policy",
)
_FULL_PHRASES = ("mailbox full", "mailbox is full", "quota", "over quota", "insufficient storage")
_DISABLED_PHRASES = ("disabled", "deactivated", "inactive", "suspended")
_UNKNOWN_PHRASES = (
    "user unknown",
    "unknown user",
    "no such user",
    "no such mailbox",
    "mailbox unavailable",
    "mailbox not found",
    "does not exist",
    "doesn't exist",
    "recipient not found",
    "invalid recipient",
    "invalid mailbox",
    "address rejected",
    "unknown recipient",
    "recipient unknown",
    "user not found",
)


def classify(reply: SmtpReply, mx_host: str = "") -> ReplyClass:
    """The class of a reply to RCPT (or to the banner, EHLO or MAIL FROM) from the MX ``mx_host``."""
    text = reply.text.lower()
    host = mx_host.lower().rstrip(".")
    for row in PROVIDER_OVERRIDES:
        if host.endswith(row.mx_suffix) and reply.code == row.code and row.phrase in text:
            return row.result
    if 200 <= reply.code < 300:
        return ReplyClass.ACCEPTED
    if 400 <= reply.code < 500:
        return _classify_transient(reply, text)
    if reply.enhanced is not None:
        found = _classify_enhanced_permanent(reply.enhanced)
        if found is not None:
            return found
    return _classify_permanent_text(reply.code, text)


def _classify_transient(reply: SmtpReply, text: str) -> ReplyClass:
    # A 452 "mailbox full" is the one 4xx that speaks about the mailbox; every other 4xx (greylisting, rate, too
    # many recipients, 421 busy) is to be retried later, never read as a verdict.
    if reply.enhanced == "4.2.2" or any(p in text for p in _FULL_PHRASES):
        return ReplyClass.MAILBOX_FULL
    return ReplyClass.TEMPORARY


def _classify_enhanced_permanent(enhanced: str) -> ReplyClass | None:
    _, subject, detail = enhanced.split(".")
    if subject == "1":
        # 5.1.1 bad mailbox, 5.1.0 other address status, 5.1.10 null MX (RFC 7505); 5.1.2/5.1.3 bad domain or
        # syntax also end the candidate. 5.1.8 is a refused *sender* domain: about us.
        return ReplyClass.POLICY_BLOCK if detail == "8" else ReplyClass.MAILBOX_UNKNOWN
    if subject == "2":
        if detail == "1":
            return ReplyClass.MAILBOX_DISABLED
        if detail == "2":
            return ReplyClass.MAILBOX_FULL
        return None
    if subject == "7":
        return ReplyClass.POLICY_BLOCK
    if subject == "5":
        return ReplyClass.PROTOCOL
    return None


def _classify_permanent_text(code: int, text: str) -> ReplyClass:
    if any(p in text for p in _POLICY_PHRASES):
        return ReplyClass.POLICY_BLOCK
    if code == 552 or any(p in text for p in _FULL_PHRASES):
        return ReplyClass.MAILBOX_FULL
    if any(p in text for p in _DISABLED_PHRASES):
        return ReplyClass.MAILBOX_DISABLED
    if code in (550, 551, 553) and any(p in text for p in _UNKNOWN_PHRASES):
        return ReplyClass.MAILBOX_UNKNOWN
    if 500 <= code <= 504:
        return ReplyClass.PROTOCOL
    if code == 554:
        return ReplyClass.POLICY_BLOCK
    # A bare 550 with no enhanced code and no telling phrase: refusing to call it "unknown" keeps a policy
    # refusal from becoming an `invalid` verdict; the candidate stays undecided.
    return ReplyClass.POLICY_BLOCK if code == 550 else ReplyClass.PROTOCOL
