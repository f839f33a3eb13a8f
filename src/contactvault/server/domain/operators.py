"""Operator scopes: what an operator key may do through the operator API (docs/operations.md)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from contactvault.server.domain.errors import InvalidRequest


class OperatorScope(StrEnum):
    """One scope of the operator API; an operation needs exactly one."""

    ACCOUNTS = "accounts"  # accounts and their API keys
    CREDITS = "credits"  # grants and balances
    PRIVACY = "privacy"  # the opt-out list and erasure


def parse_scopes(raw: Iterable[str]) -> tuple[OperatorScope, ...]:
    """Scopes as given (at least one, each known), de-duplicated in the enum's order; else ``InvalidRequest``
    naming ``scope``."""
    wanted = {s.strip().lower() for s in raw}
    known = {s.value for s in OperatorScope}
    if not wanted:
        raise InvalidRequest("Give at least one scope: accounts, credits or privacy.", {"field": "scope"})
    unknown = sorted(wanted - known)
    if unknown:
        # The names are the operator's own typing, not personal data; cut them short all the same.
        raise InvalidRequest(
            f"Unknown scope {unknown[0][:32]!r}; scopes are accounts, credits and privacy.", {"field": "scope"}
        )
    return tuple(s for s in OperatorScope if s.value in wanted)
