"""Spelling a name in the ASCII a mailbox uses: a small table of our own, not a library (the domain is stdlib only).

Latin letters with accents lose them through Unicode decomposition (``é`` → ``e``, ``ł`` needs the table). The
letters German, Scandinavian and Danish mail systems spell two ways (``ü`` → ``u`` or ``ue``, ``ø`` → ``o`` or ``oe``,
``å`` → ``a`` or ``aa``) give two spellings of the word; every such letter of one word takes the same way, so a word
has at most two spellings. Greek and Cyrillic letters follow a simple one-to-one romanisation. Scripts without a
table here (Chinese, Japanese, Korean, Arabic, ...) spell as nothing: a name written only in them has no address
to guess (the caller supplies a romanised name where it has one).
"""

from __future__ import annotations

import re
import unicodedata

# The letters spelt two ways: the short spelling first, then the long one.
_TWO_WAYS = {"ä": ("a", "ae"), "ö": ("o", "oe"), "ü": ("u", "ue"), "ø": ("o", "oe"), "å": ("a", "aa")}

# Letters that do not decompose to ASCII (or decompose wrongly for names).
_ONE_WAY = {
    "ß": "ss",
    "æ": "ae",
    "œ": "oe",
    "þ": "th",
    "ð": "d",
    "đ": "d",
    "ł": "l",
    "\u0131": "i",  # dotless i
    "ħ": "h",
    "ŧ": "t",
    "ŀ": "l",
    "ĳ": "ij",
    "ŋ": "ng",
    "\u017f": "s",  # long s
}


# An ASCII word (most names a directory holds) spells as its letters and digits: one pass, no per-letter lookups.
_NOT_ASCII_ALNUM = re.compile(r"[^a-z0-9]")


def _table(letters: str, spelt: str) -> dict[str, str]:
    """Letters and their space-separated spellings, "-" for a letter spelt as nothing (the hard and soft signs)."""
    return {letter: "" if ascii_ == "-" else ascii_ for letter, ascii_ in zip(letters, spelt.split(), strict=True)}


_SCRIPTS = _table(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґў",
    "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya i yi ye g u",
) | _table(
    "\u03b1\u03b2\u03b3\u03b4\u03b5\u03b6\u03b7\u03b8\u03b9\u03ba\u03bb\u03bc\u03bd\u03be\u03bf\u03c0\u03c1\u03c3\u03c2\u03c4\u03c5\u03c6\u03c7\u03c8\u03c9",
    "a v g d e z i th i k l m n x o p r s s t y f ch ps o",
)


def _letter(char: str) -> str:
    """One letter (not spelt two ways) in lower-case ASCII; "" for what has no spelling here."""
    if char.isascii():
        return char if char.isalnum() else ""
    if char in _ONE_WAY:
        return _ONE_WAY[char]
    if char in _SCRIPTS:
        return _SCRIPTS[char]
    # Decomposition strips accents (é becomes e and a combining accent); a decomposed letter of another table (a
    # Greek vowel with its tonos) is looked up again.
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if base == char:
        return ""
    return "".join(_letter(c) for c in base)


def spellings(word: str) -> tuple[str, ...]:
    """The lower-case ``[a-z0-9]`` spellings of ``word``: one, or two when it has a letter spelt two ways (short
    spelling first). Characters without an ASCII spelling (punctuation, unknown scripts) are dropped."""
    text = unicodedata.normalize("NFC", word).casefold()
    if text.isascii():
        return (_NOT_ASCII_ALNUM.sub("", text),)
    short, long_ = [], []
    for char in text:
        if char in _TWO_WAYS:
            one, two = _TWO_WAYS[char]
        else:
            one = two = _letter(char)
        short.append(one)
        long_.append(two)
    first, second = "".join(short), "".join(long_)
    return (first,) if first == second else (first, second)
