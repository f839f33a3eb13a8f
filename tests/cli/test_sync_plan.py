"""The pure parts of sync: decisions by policy, masking, mapping files, Retry-After parsing."""

from __future__ import annotations

import email.utils
import time
from pathlib import Path

import pytest

from contactvault.cli.client.sync.http import MAX_WAIT, retry_after
from contactvault.cli.client.sync.plan import Contact, Existing, FieldMap, Kind, decide, load_mapping, mask

CONTACT = Contact("7", {"email": "Ann@Example.com ", "contactvault_id": "7", "phone": "+1 555 0100"})


def test_the_email_key_is_normalised() -> None:
    assert CONTACT.email == "ann@example.com"


@pytest.mark.parametrize(
    ("policy", "old", "kind"),
    [
        ("overwrite", "+1 555 0199", Kind.UPDATE),
        ("if_empty", "+1 555 0199", Kind.SKIP),
        ("if_empty", "", Kind.UPDATE),
        ("never", "", Kind.SKIP),
    ],
)
def test_policies(policy: str, old: str, kind: Kind) -> None:
    fields = FieldMap({"email": ("email", "never"), "contactvault_id": ("cv", "never"), "phone": ("tel", policy)})
    action = decide(CONTACT, Existing("r1", {"email": "ann@example.com", "cv": "7", "tel": old}), fields)
    assert action.kind == kind
    assert action.target_id == "r1"


def test_create_writes_every_mapped_value_and_describe_masks_pii() -> None:
    action = decide(CONTACT, None, FieldMap.default())
    assert action.kind == Kind.CREATE
    described = action.describe(show_pii=False)
    assert described["email"] == "a***@example.com"
    assert described["changes"]["phone"] == ["", "***00"]
    assert described["changes"]["contactvault_id"] == ["", "7"]
    assert action.describe(show_pii=True)["changes"]["phone"] == ["", "+1 555 0100"]


def test_mask() -> None:
    assert mask("") == ""
    assert mask("x@y.z") == "x***@y.z"
    assert mask("1234") == "***"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"fields": {"fax": {}}}', "fields.fax: unknown field"),
        ('{"fields": {"phone": {"to": ""}}}', "fields.phone.to"),
        ('{"fields": []}', "needs a 'fields' table"),
        ("{", "not valid json"),
    ],
)
def test_bad_mapping_files_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "map.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_mapping(path)


def test_retry_after_in_seconds_or_as_a_date_capped() -> None:
    assert retry_after("3") == 3.0
    assert retry_after(None) is None
    assert retry_after("soon") is None
    assert retry_after("100000") == MAX_WAIT
    later = retry_after(email.utils.formatdate(time.time() + 60, usegmt=True))
    assert later is not None
    assert 0 < later <= 60
