"""Spreadsheet-safe CSV text cells: the one formula-injection rule, shared by the console's exports and the CLI's.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (and TAB, CR, LF can hide
such a start), so a text cell starting with one of them is written with a leading apostrophe, which spreadsheets
show as text. A phone number in a phone column (``+`` then only digits, spaces, dashes and parentheses) is the
exception: it keeps its leading ``+`` (a sales team dials it) and its writer quotes it; in any other column the
same text is guarded like the rest. Such a cell can at worst be read as
arithmetic on constants: with no letter in it there is no function, cell reference or DDE call to run.

Pure and standard-library only: both ``contactvault.server`` and ``contactvault.cli`` import it.
"""

from __future__ import annotations

import re

__all__ = ["FORMULA_STARTS", "is_phone_number", "needs_guard", "safe_text"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
_PHONE = re.compile(r"\+[0-9 ()\-]*[0-9][0-9 ()\-]*")


def is_phone_number(text: str) -> bool:
    """Whether ``text`` is ``+`` followed by digits, spaces, dashes and parentheses only (with a digit)."""
    return _PHONE.fullmatch(text) is not None


def needs_guard(text: str, *, phone_column: bool = False) -> bool:
    """Whether a spreadsheet could take this text cell for a formula (a phone column's numbers excepted)."""
    return text.startswith(FORMULA_STARTS) and not (phone_column and is_phone_number(text))


def safe_text(text: str, *, phone_column: bool = False) -> str:
    """The text as a spreadsheet-safe cell: a leading apostrophe where it could start a formula."""
    return "'" + text if needs_guard(text, phone_column=phone_column) else text
