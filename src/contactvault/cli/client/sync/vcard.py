"""vCard 4.0 text (RFC 6350) for the CardDAV target: parse a card, edit its properties, write it back.

Written here, standard library only, rather than with ``vobject``: the target needs text properties with escaping
(backslash, comma, semicolon, newline), CRLF line ends and folding at 75 octets without splitting a UTF-8
sequence, and the reverse (unfolding, quoted parameters, unescaping) — about a hundred lines. ``vobject`` is
untyped, re-serialises every card it parses (vCard 3.0 rules), and would become a runtime dependency of the CLI.
An edit here keeps every line it does not touch as it was (other properties, groups, parameters), so a card
someone else wrote loses nothing when the sync updates a field of it. The tests parse our output with ``vobject``
(Radicale's own parser) as an oracle.
"""

from __future__ import annotations

import dataclasses
import re

__all__ = ["Card", "Property", "escape", "fold", "parse", "unescape"]

LINE_OCTETS = 75
_NAME = re.compile(r"^(?:(?P<group>[A-Za-z0-9-]+)\.)?(?P<name>[A-Za-z0-9-]+)$")


def escape(text: str) -> str:
    """A text value with backslash, comma, semicolon and newlines escaped (RFC 6350 §3.4)."""
    text = text.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def unescape(value: str) -> str:
    """The text of an escaped value: ``\\n`` and ``\\N`` are newlines, any other escaped character is itself."""
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        following = next(chars, "")
        out.append("\n" if following in ("n", "N") else following)
    return "".join(out)


def fold(line: str) -> str:
    """``line`` folded into CRLF-separated pieces of at most 75 octets, never inside a UTF-8 sequence."""
    pieces: list[str] = []
    current: list[str] = []
    size, limit = 0, LINE_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            pieces.append("".join(current))
            current, size, limit = [], 0, LINE_OCTETS - 1  # a continuation line starts with one space
        current.append(char)
        size += width
    pieces.append("".join(current))
    return "\r\n ".join(pieces)


@dataclasses.dataclass
class Property:
    """One content line: ``group.NAME;params:value`` with ``params`` and ``value`` kept as written (escaped)."""

    name: str
    value: str
    params: str = ""
    group: str = ""

    @property
    def text(self) -> str:
        """The value unescaped."""
        return unescape(self.value)

    def line(self) -> str:
        """The unfolded content line."""
        prefix = f"{self.group}." if self.group else ""
        return f"{prefix}{self.name}{self.params}:{self.value}"


@dataclasses.dataclass
class Card:
    """The properties of one vCard between ``BEGIN:VCARD`` and ``END:VCARD``, in order."""

    properties: list[Property] = dataclasses.field(default_factory=list)

    def first(self, name: str) -> Property | None:
        """The first property called ``name`` (case-insensitive), if any."""
        return next((p for p in self.properties if p.name == name.upper()), None)

    def texts(self, name: str) -> list[str]:
        """The unescaped values of every property called ``name``."""
        return [p.text for p in self.properties if p.name == name.upper()]

    def set(self, name: str, text: str, params: str = "") -> None:
        """Give the first ``name`` this text (its parameters kept), or add it with ``params``."""
        found = self.first(name)
        if found is None:
            self.properties.append(Property(name.upper(), escape(text), params))
        else:
            found.value = escape(text)

    def set_raw(self, name: str, value: str) -> None:
        """Like ``set`` for a value already in vCard form (a structured value such as ``N``)."""
        found = self.first(name)
        if found is None:
            self.properties.append(Property(name.upper(), value))
        else:
            found.value = value

    def remove(self, name: str) -> None:
        """Drop every property called ``name``."""
        self.properties = [p for p in self.properties if p.name != name.upper()]

    def serialize(self) -> str:
        """The card as vCard text: CRLF line ends, lines folded."""
        lines = ["BEGIN:VCARD", *(p.line() for p in self.properties), "END:VCARD"]
        return "".join(fold(line) + "\r\n" for line in lines)


def _split_line(line: str) -> Property:
    """``group.NAME;params:value``; the first colon outside double quotes ends the parameters."""
    quoted = False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            head, value = line[:index], line[index + 1 :]
            break
    else:
        raise ValueError("a vCard line without a colon")
    name_part, semicolon, _ = head.partition(";")
    match = _NAME.match(name_part)
    if match is None:
        raise ValueError("a vCard line with a malformed property name")
    params = head[len(name_part) :] if semicolon else ""
    return Property(match["name"].upper(), value, params, match["group"] or "")


def parse(text: str) -> Card:
    """The one vCard in ``text`` (CRLF or LF line ends, folded or not); ValueError when it is not one vCard."""
    unfolded = re.sub(r"\n[ \t]", "", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [line for line in unfolded.split("\n") if line.strip()]
    if len(lines) < 2 or lines[0].upper() != "BEGIN:VCARD" or lines[-1].upper() != "END:VCARD":
        raise ValueError("not a single vCard (BEGIN:VCARD … END:VCARD)")
    properties = [_split_line(line) for line in lines[1:-1]]
    if any(p.name in ("BEGIN", "END") for p in properties):
        raise ValueError("not a single vCard (nested BEGIN/END)")
    return Card(properties)
