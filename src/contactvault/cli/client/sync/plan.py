"""What a sync would do to each record: create, update (which fields), skip or conflict. Pure, standard library only.

A contact is a flat dict of neutral field names (``FIELDS``); a mapping renames them for the target and gives each
a policy: ``overwrite`` (write when different), ``if_empty`` (write only where the target has no value) or
``never`` (written on create only). ``contactvault_id`` identifies the records this tool wrote: a record found by
email whose ``contactvault_id`` names another person is a conflict, never overwritten.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["FIELDS", "ID_FIELD", "Action", "Contact", "Existing", "FieldMap", "Kind", "decide", "load_mapping", "mask"]

ID_FIELD = "contactvault_id"
FIELDS = (
    "email",
    "phone",
    ID_FIELD,
    "contactvault_source",
    "contactvault_verification_status",
    "contactvault_verification_score",
    "contactvault_unlocked_at",
)
POLICIES = ("overwrite", "if_empty", "never")


class Kind(enum.StrEnum):
    """A record's fate in a sync."""

    CREATE = "create"
    UPDATE = "update"
    SKIP = "skip"
    CONFLICT = "conflict"


@dataclasses.dataclass(frozen=True)
class Contact:
    """One delivered person as the source gives it: ``values`` keyed by neutral field name (strings)."""

    personnel_id: str
    values: Mapping[str, str]
    unlocked_at: str = ""

    @property
    def email(self) -> str:
        """The normalised email (stripped, lower-cased), or ``""``."""
        return self.values.get("email", "").strip().lower()


@dataclasses.dataclass(frozen=True)
class Existing:
    """A record already in the target: its id there and its values keyed by the target's field names.

    ``conflict`` says why the record must be left alone although it was found (several records share the email, a
    converted Salesforce Lead): the plan reports a conflict.
    """

    target_id: str
    values: Mapping[str, str]
    conflict: str = ""


@dataclasses.dataclass(frozen=True)
class Action:
    """The decision for one contact; ``values`` is what would be written (target field names)."""

    kind: Kind
    personnel_id: str
    email: str
    target_id: str | None = None
    changes: Mapping[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    values: Mapping[str, str] = dataclasses.field(default_factory=dict)
    reason: str = ""

    def describe(self, *, show_pii: bool, pii_fields: frozenset[str] = frozenset({"email", "phone"})) -> dict[str, Any]:
        """A JSON-ready view, the values of ``pii_fields`` masked unless ``show_pii``."""

        def hide(field: str, value: str) -> str:
            return value if show_pii or field not in pii_fields else mask(value)

        changes = {field: [hide(field, old), hide(field, new)] for field, (old, new) in self.changes.items()}
        return {
            "action": self.kind.value,
            "personnelId": self.personnel_id,
            "email": hide("email", self.email),
            "targetId": self.target_id,
            "changes": changes,
            "reason": self.reason,
        }


@dataclasses.dataclass(frozen=True)
class FieldMap:
    """Neutral field → (target field, policy); fields absent from ``fields`` are not written."""

    fields: Mapping[str, tuple[str, str]]

    @classmethod
    def default(cls) -> FieldMap:
        """Every field under its own name, overwritten when different."""
        return cls({name: (name, "overwrite") for name in FIELDS})

    def target_name(self, field: str) -> str:
        """The target's name for a neutral field (its own name when unmapped)."""
        return self.fields.get(field, (field, ""))[0]

    def render(self, contact: Contact) -> dict[str, str]:
        """The contact's values under the target's field names."""
        return {to: contact.values.get(name, "") for name, (to, _) in self.fields.items()}


def load_mapping(path: Path) -> FieldMap:
    """Read a TOML or JSON mapping file: ``[fields.<name>] to = "…", policy = "overwrite|if_empty|never"``."""
    text = path.read_text(encoding="utf-8")
    try:
        raw = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"mapping file {path}: not valid {path.suffix.lstrip('.') or 'TOML'} ({exc})") from None
    fields = raw.get("fields") if isinstance(raw, dict) else None
    if not isinstance(fields, dict):
        raise ValueError(f"mapping file {path}: needs a 'fields' table")
    result: dict[str, tuple[str, str]] = {}
    for name, spec in fields.items():
        if name not in FIELDS:
            raise ValueError(f"mapping file {path}: fields.{name}: unknown field (known: {', '.join(FIELDS)})")
        spec = spec if isinstance(spec, dict) else {}
        to, policy = spec.get("to", name), spec.get("policy", "overwrite")
        if not isinstance(to, str) or not to:
            raise ValueError(f"mapping file {path}: fields.{name}.to: must be a non-empty string")
        if policy not in POLICIES:
            raise ValueError(f"mapping file {path}: fields.{name}.policy: must be one of {', '.join(POLICIES)}")
        result[name] = (to, policy)
    for required in ("email", ID_FIELD):
        result.setdefault(required, (required, "overwrite"))
    return FieldMap(result)


def decide(contact: Contact, existing: Existing | None, fields: FieldMap) -> Action:
    """Create, update (the changed fields only), skip or conflict, by the mapping's policies."""
    wanted = fields.render(contact)
    if existing is None:
        values = {k: v for k, v in wanted.items() if v}
        created = {k: ("", v) for k, v in values.items()}
        return Action(Kind.CREATE, contact.personnel_id, contact.email, None, created, values)
    if existing.conflict:
        return Action(Kind.CONFLICT, contact.personnel_id, contact.email, existing.target_id, reason=existing.conflict)
    owner = existing.values.get(fields.target_name(ID_FIELD), "")
    if owner and owner != contact.personnel_id:
        return Action(
            Kind.CONFLICT, contact.personnel_id, contact.email, existing.target_id, reason=f"record belongs to {owner}"
        )
    changes: dict[str, tuple[str, str]] = {}
    for to, policy in fields.fields.values():
        old, new = existing.values.get(to, "") or "", wanted[to]
        if not new or old == new or policy == "never" or (policy == "if_empty" and old):
            continue
        changes[to] = (old, new)
    kind = Kind.UPDATE if changes else Kind.SKIP
    values = {k: new for k, (_, new) in changes.items()}
    return Action(kind, contact.personnel_id, contact.email, existing.target_id, changes, values)


def mask(value: str) -> str:
    """``j***@example.com`` for an email, ``***12`` for anything else non-empty."""
    if not value:
        return value
    local, at, domain = value.partition("@")
    if at:
        return f"{local[:1]}***@{domain}"
    return "***" + value[-2:] if len(value) > 4 else "***"


def batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """``items`` in consecutive chunks of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]
