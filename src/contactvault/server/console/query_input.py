"""Reading a page's query string the way a person typed it: every problem becomes a message naming the field.

Console pages take their filters as plain strings and check them here instead of letting FastAPI answer a bare
400, so that a date that is not a date re-renders the page with the message next to the field (and nothing else
changes). Messages never repeat the value typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

# Ids are signed 64-bit everywhere; a larger number can name nothing (and would overflow the driver).
MAX_ID = 2**63 - 1
MAX_TEXT = 200


@dataclass
class Checked:
    """The field errors found so far, by field name (the name of the input, so a template can show each)."""

    errors: dict[str, str] = field(default_factory=dict)

    def text(self, name: str, raw: str | None, label: str) -> str | None:
        """A free-text filter, trimmed; None when empty."""
        value = (raw or "").strip()
        if len(value) > MAX_TEXT:
            self.errors[name] = f"{label}: use at most {MAX_TEXT} characters."
            return None
        return value or None

    def day(self, name: str, raw: str | None, label: str) -> date | None:
        """A date written ``YYYY-MM-DD`` (what a date input sends); None when empty."""
        value = (raw or "").strip()
        if not value:
            return None
        try:
            return date.fromisoformat(value) if len(value) == 10 else _not_a_date()
        except ValueError:
            self.errors[name] = f"{label}: enter a date like 2026-05-04."
            return None

    def number(self, name: str, raw: str | None, label: str, *, default: int, low: int, high: int) -> int:
        """A whole number within ``low``..``high``; ``default`` when empty (and when wrong, with an error)."""
        value = (raw or "").strip()
        if not value:
            return default
        if not value.isascii() or not value.isdigit() or len(value) > 9 or not low <= int(value) <= high:
            self.errors[name] = f"{label}: enter a whole number from {low} to {high:,}."
            return default
        return int(value)

    def ids(self, name: str, raws: list[str], label: str) -> list[int]:
        """Ids (digits), de-duplicated in the order given; any malformed one is an error naming the field."""
        seen: dict[int, None] = {}
        for raw in raws:
            value = raw.strip()
            if not value.isascii() or not value.isdigit() or len(value) > 19 or not 0 < int(value) <= MAX_ID:
                self.errors[name] = f"{label}: every value must be a person's id (digits only)."
                return []
            seen.setdefault(int(value), None)
        return list(seen)


def _not_a_date() -> date:
    raise ValueError("not YYYY-MM-DD")


def query_url(path: str, params: dict[str, str | int | list[int] | None]) -> str:
    """``path`` with the non-empty parameters as a query string (lists repeat their name)."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if isinstance(value, list):
            pairs.extend((key, str(v)) for v in value)
        elif value is not None and value != "":
            pairs.append((key, str(value)))
    return f"{path}?{urlencode(pairs)}" if pairs else path


def path_id(raw: str) -> int | None:
    """An id from a URL path segment; None when it cannot name anything (the page then answers 404)."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 19 and 0 < int(raw) <= MAX_ID:
        return int(raw)
    return None
