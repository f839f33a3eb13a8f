"""Path ids of the operator API, read as ``contactvault admin`` reads them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from contactvault.server.domain.errors import NotFound

# An account id is digits (up to 19); one past the largest id matches nothing (404), as on the external API.
AccountIdPath = Annotated[str, Path(pattern=r"^[0-9]{1,19}$", description="The account id (digits).")]
KeyIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{8}$", description="The API key id (8 hex characters).")]


def parse_account_id(raw: str) -> int:
    """The account id, or NotFound for one no account can have (0, or past 2**63 - 1)."""
    value = int(raw)
    if not 0 < value < 2**63:
        raise NotFound("Account not found.")
    return value
