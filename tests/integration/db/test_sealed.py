"""db/sealed: token scans in id order, and a token replaced only while it is still the one read."""

from __future__ import annotations

from contactvault.server.db import imports, sealed
from contactvault.server.runtime import Runtime


def test_scans_in_batches_and_replaces_only_an_unchanged_token(rt: Runtime) -> None:
    with rt.db.write() as conn:
        imports.upsert(conn, "person", [{"id": 7, "full_name": "P"}])
        rows = [
            {
                "personnel_id": 7,
                "channel": channel,
                "value_hash": channel.encode(),
                "source": "test",
                "value_encrypted": b"t-" + ch,
            }
            for channel, ch in (("email", b"e"), ("phone", b"p"))
        ]
        imports.upsert(conn, "contact_point", rows)
        first = sealed.tokens_after(conn, "contact_points", 0, 1)
        rest = sealed.tokens_after(conn, "contact_points", first[-1].row_id, 10)
        assert [r.token for r in first + rest] == [b"t-e", b"t-p"]
        assert sealed.contact_point_tokens_after(conn, 0, 10) == first + rest
        assert not sealed.replace_token(conn, "contact_points", first[0].row_id, b"stale", b"new")
        assert sealed.replace_token(conn, "contact_points", first[0].row_id, b"t-e", b"new")
        assert [r.token for r in sealed.tokens_after(conn, "contact_points", 0, 10)] == [b"new", b"t-p"]
        assert sealed.unlock_tokens_after(conn, 0, None) == []
