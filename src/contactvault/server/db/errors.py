"""Small storage-level exceptions, so services never catch driver errors themselves."""

from __future__ import annotations


class AlreadyExists(Exception):
    """A row with this unique key is already stored."""
