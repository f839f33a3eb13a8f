"""File and webhook targets: ``csv`` and ``jsonl`` (the file is the store, read back and rewritten atomically per
batch) and ``webhook`` (signed batches, Standard Webhooks; what was sent is remembered in the checkpoint).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from contactvault.cli.client.sync.checkpoint import Checkpoint
from contactvault.cli.client.sync.engine import ApplyResult
from contactvault.cli.client.sync.http import send
from contactvault.cli.client.sync.plan import ID_FIELD, Action, Contact, Existing, FieldMap, Kind
from contactvault.client.config import write_private_file
from contactvault.csv_cells import needs_guard, safe_text
from contactvault.webhooks import webhook_headers

__all__ = ["FileTarget", "WebhookTarget"]

ERASED_FIELD = "contactvault_erased"


class FileTarget:
    """A CSV or JSONL file keyed by ``contactvault_id`` (then by email); the record id is the contactvault id."""

    batch_size = 500

    def __init__(self, path: Path, fmt: str) -> None:
        self.name, self.path, self.fmt = fmt, path, fmt
        self.rows: list[dict[str, str]] = self._load()
        self.id_name = ID_FIELD

    def _load(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        text = self.path.read_text(encoding="utf-8")
        if self.fmt == "jsonl":
            return [{k: str(v) for k, v in json.loads(line).items()} for line in text.splitlines() if line.strip()]
        return [{k: _unguard(v or "") for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]

    def read(self, contacts: Sequence[Contact], fields: FieldMap) -> dict[str, Existing]:
        """Rows already in the file for these contacts."""
        self.id_name = fields.target_name(ID_FIELD)
        email_name = fields.target_name("email")
        by_id = {row.get(self.id_name, ""): i for i, row in enumerate(self.rows)}
        by_email = {row.get(email_name, "").lower(): i for i, row in enumerate(self.rows) if row.get(email_name)}
        found: dict[str, Existing] = {}
        for contact in contacts:
            index = by_id.get(contact.personnel_id, by_email.get(contact.email) if contact.email else None)
            if index is not None:
                found[contact.personnel_id] = Existing(str(index), self.rows[index])
        return found

    def calls(self, actions: Sequence[Action]) -> list[str]:
        """One rewrite of the file when anything changes."""
        changed = sum(a.kind in (Kind.CREATE, Kind.UPDATE) for a in actions)
        return [f"write {self.path.name} ({changed} record(s) changed)"] if changed else []

    def apply(self, actions: Sequence[Action]) -> ApplyResult:
        """Add and update rows, then rewrite the file."""
        result = ApplyResult()
        for action in actions:
            if action.kind == Kind.CREATE:
                self.rows.append(dict(action.values))
                result.created[action.personnel_id] = action.personnel_id
            elif action.kind == Kind.UPDATE and action.target_id is not None:
                self.rows[int(action.target_id)].update(action.values)
        self._save()
        return result

    def erase(self, target_ids: Sequence[str], how: str) -> list[str]:
        """Delete the rows, or set ``contactvault_erased`` and blank their email and phone."""
        ids = set(target_ids)
        if how == "delete":
            self.rows = [row for row in self.rows if row.get(self.id_name) not in ids]
        else:
            for row in self.rows:
                if row.get(self.id_name) in ids:
                    row.update({ERASED_FIELD: "true", "email": "", "phone": ""})
        self._save()
        return [f"{how} {len(ids)} row(s) in {self.path.name}"]

    def _save(self) -> None:
        if self.fmt == "jsonl":
            text = "".join(json.dumps(row, sort_keys=True) + "\n" for row in self.rows)
        else:
            columns = list(dict.fromkeys(k for row in self.rows for k in row))
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, columns, lineterminator="\n")
            writer.writeheader()
            for row in self.rows:
                writer.writerow({k: safe_text(v, phone_column=k == "phone") for k, v in row.items()})
            text = buffer.getvalue()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_private_file(self.path, text)


def _unguard(cell: str) -> str:
    """The value behind a cell that ``safe_text`` guarded (a leading apostrophe before a formula start)."""
    return cell[1:] if cell.startswith("'") and needs_guard(cell[1:]) else cell


class WebhookTarget:
    """POSTs each batch of creates and updates as one signed event ``contacts.synced`` (Standard Webhooks headers).

    The message id is a hash of the body, so a batch re-sent after a crash carries the same id and the receiver can
    drop the repeat.
    """

    name = "webhook"
    batch_size = 100

    def __init__(
        self, url: str, secret: str, point: Checkpoint, http: httpx.Client, clock: Callable[[], float] = time.time
    ) -> None:
        self.url, self.secret, self.point, self.http, self.clock = url, secret, point, http, clock

    def read(self, contacts: Sequence[Contact], fields: FieldMap) -> dict[str, Existing]:
        """What was last sent for these contacts (a webhook cannot be read back)."""
        sent = self.point.sent
        return {
            c.personnel_id: Existing(c.personnel_id, sent[c.personnel_id]) for c in contacts if c.personnel_id in sent
        }

    def calls(self, actions: Sequence[Action]) -> list[str]:
        """One POST when the batch has creates or updates."""
        changed = sum(a.kind in (Kind.CREATE, Kind.UPDATE) for a in actions)
        return [f"POST {self.url} ({changed} record(s))"] if changed else []

    def apply(self, actions: Sequence[Action]) -> ApplyResult:
        """Send the batch; remember what was sent."""
        records: list[dict[str, object]] = [
            {"action": a.kind.value, "contactvaultId": a.personnel_id, "fields": dict(a.values)}
            for a in actions
            if a.kind in (Kind.CREATE, Kind.UPDATE)
        ]
        self._post("contacts.synced", records)
        result = ApplyResult()
        for a in actions:
            if a.kind in (Kind.CREATE, Kind.UPDATE):
                self.point.remember_sent(a.personnel_id, a.values)
            if a.kind == Kind.CREATE:
                result.created[a.personnel_id] = a.personnel_id
        return result

    def erase(self, target_ids: Sequence[str], how: str) -> list[str]:
        """Send one ``contacts.erased`` event naming the records to flag or delete."""
        self._post("contacts.erased", [{"contactvaultId": pid, "action": how} for pid in target_ids])
        return [f"POST {self.url} ({len(target_ids)} erasure(s))"]

    def _post(self, event: str, records: list[dict[str, object]]) -> None:
        body = json.dumps({"type": event, "data": {"records": records}}, sort_keys=True).encode()
        msg_id = "msg_" + hashlib.sha256(body).hexdigest()[:32]
        headers = webhook_headers(msg_id, int(self.clock()), body, [self.secret])
        send(self.http, "POST", self.url, content=body, headers={**headers, "content-type": "application/json"})
