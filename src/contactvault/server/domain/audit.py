"""Audit actions: the fixed vocabulary of what gets an audit row."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    """Things that change money, keys or who has seen personal data."""

    ACCOUNT_CREATE = "account.create"
    KEY_CREATE = "key.create"
    KEY_REVOKE = "key.revoke"
    KEY_ROTATE = "key.rotate"
    CREDITS_GRANT = "credits.grant"
    CREDITS_HOLD = "credits.hold"
    CREDITS_RELEASE = "credits.release"
    # What was left spendable in an expired bucket, posted as an ``expire`` entry by the housekeeping.
    CREDITS_EXPIRE = "credits.expire"
    # A delivery: the value was revealed to the account and ``credits`` (0 if unlocked before) were captured.
    CONTACT_REVEAL = "contact.reveal"
    SUPPRESSION_ADD = "suppression.add"
    SUPPRESSION_REMOVE = "suppression.remove"
    PERSON_ERASE = "person.erase"
    UNLOCK_PURGE = "unlock.purge"
    ENCRYPTION_ROTATE = "encryption.rotate"
    WEBHOOK_CREATE = "webhook.create"
    WEBHOOK_UPDATE = "webhook.update"
    WEBHOOK_DELETE = "webhook.delete"
    WEBHOOK_ROTATE = "webhook.rotate"
    # An endpoint switched off by the sender: 410 Gone, or failing for AUTO_DISABLE_AFTER (the operator's event).
    WEBHOOK_DISABLE = "webhook.disable"
    USER_CREATE = "user.create"
    USER_DISABLE = "user.disable"
    OPERATOR_KEY_CREATE = "operator_key.create"
    OPERATOR_KEY_REVOKE = "operator_key.revoke"
    # One call of the operator API (/admin/v1): who (the operator key), what (the operation) and its status.
    OPERATOR_CALL = "operator.call"
