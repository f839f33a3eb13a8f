"""HubSpot contacts (CRM v3): read by email in batches, then batch create and batch update by record id.

Not upsert: HubSpot refuses partial upserts keyed on ``email``, and a read first gives the plan its per-field diff.
Batches hold at most 100 inputs. A whole batch refused with 400 (one invalid email fails them all) is split in
halves until the bad rows stand alone; a 207 names the failed inputs (by ``objectWriteTraceId`` on create, by id on
update). The contactvault id lives in the custom property ``contactvault_id`` (create it once in HubSpot, with the
provenance properties named in docs/sync.md).

Erasures: ``flag`` and ``delete`` (``batch/archive``, restorable for 90 days) go in batches; ``gdpr-delete`` is
``POST /crm/v3/objects/contacts/gdpr-delete``, one call per record, permanent, by the record id this tool created:
never by email, because HubSpot blocklists an email its GDPR delete does not find. 404 means already gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from contactvault.cli.client.sync.engine import ApplyResult
from contactvault.cli.client.sync.http import TargetError, send
from contactvault.cli.client.sync.plan import Action, Contact, Existing, FieldMap, Kind, batches

__all__ = ["BASE", "HubSpotTarget"]

BASE = "/crm/v3/objects/contacts"
LIMIT = 100


def _error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = {}
    category = body.get("category", "") if isinstance(body, dict) else ""
    return f"HubSpot answered {response.status_code} {category}".strip()


class HubSpotTarget:
    """The HubSpot adapter; ``http`` carries the base URL and the ``Authorization: Bearer`` private-app token."""

    name = "hubspot"
    batch_size = LIMIT

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.email_name = "email"

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return send(self.http, "POST", BASE + path, json=body)

    def read(self, contacts: Sequence[Contact], fields: FieldMap) -> dict[str, Existing]:
        """``batch/read`` with ``idProperty=email`` (a key lookup; search is eventually consistent)."""
        self.email_name = fields.target_name("email")
        emails = sorted({c.email for c in contacts if c.email})
        if not emails:
            return {}
        properties = sorted({to for to, _ in fields.fields.values()})
        body = {"idProperty": self.email_name, "properties": properties, "inputs": [{"id": e} for e in emails]}
        response = self._post("/batch/read", body)
        if response.status_code not in (200, 207):  # 207: some emails not found, which is what a read may say
            raise TargetError(_error(response), response)
        by_email = {}
        for record in response.json().get("results", []):
            props = {k: "" if v is None else str(v) for k, v in record.get("properties", {}).items()}
            by_email[props.get(self.email_name, "").lower()] = Existing(str(record["id"]), props)
        return {c.personnel_id: by_email[c.email] for c in contacts if c.email in by_email}

    def calls(self, actions: Sequence[Action]) -> list[str]:
        """One ``batch/create`` and one ``batch/update`` per batch that needs it."""
        result = []
        for kind, path in ((Kind.CREATE, "batch/create"), (Kind.UPDATE, "batch/update")):
            n = sum(a.kind == kind and bool(a.email) for a in actions)
            if n:
                result.append(f"POST {BASE}/{path} ({n} input(s))")
        return result

    def apply(self, actions: Sequence[Action]) -> ApplyResult:
        """Create the new records, update the changed ones; report per-record failures."""
        result = ApplyResult()
        creates = [a for a in actions if a.kind == Kind.CREATE and a.email]
        updates = [a for a in actions if a.kind == Kind.UPDATE and a.target_id]
        for a in actions:
            if a.kind == Kind.CREATE and not a.email:
                result.failed[a.personnel_id] = "no email: HubSpot contacts are keyed by email"
        for chunk in batches(creates, LIMIT):
            self._write("/batch/create", chunk, result)
        for chunk in batches(updates, LIMIT):
            self._write("/batch/update", chunk, result)
        return result

    def _write(self, path: str, chunk: Sequence[Action], result: ApplyResult) -> None:
        creating = path == "/batch/create"
        inputs = [
            {"properties": dict(a.values), "objectWriteTraceId": a.personnel_id}
            if creating
            else {"id": a.target_id, "properties": dict(a.values)}
            for a in chunk
        ]
        response = self._post(path, {"inputs": inputs})
        if response.status_code in (400, 409) and len(chunk) > 1:
            half = len(chunk) // 2  # one bad row refuses the whole batch: find it by halves
            self._write(path, chunk[:half], result)
            self._write(path, chunk[half:], result)
            return
        if response.status_code not in (200, 201, 207):
            for a in chunk:
                result.failed[a.personnel_id] = _error(response)
            return
        body = response.json()
        failed = self._failed_keys(body, creating)
        if creating:  # results come back by record: match them to the inputs by email (unique in HubSpot)
            by_email = {a.email: a.personnel_id for a in chunk}
            for record in body.get("results", []):
                email = str(record.get("properties", {}).get(self.email_name, "")).lower()
                if email in by_email:
                    result.created[by_email[email]] = str(record["id"])
        for a in chunk:
            key = a.personnel_id if creating else a.target_id
            if key in failed:
                result.failed[a.personnel_id] = f"HubSpot refused the record ({failed[key]})"

    @staticmethod
    def _failed_keys(body: dict[str, Any], creating: bool) -> dict[str, str]:
        """The inputs a 207 names as failed: trace id (create) or record id (update) → error category."""
        failed: dict[str, str] = {}
        for error in body.get("errors", []):
            context = error.get("context", {})
            keys = context.get("objectWriteTraceId" if creating else "ids", [])
            for key in keys if isinstance(keys, list) else [keys]:
                failed[str(key)] = str(error.get("category") or error.get("code") or "error")
        return failed

    def erase(self, target_ids: Sequence[str], how: str) -> list[str]:
        """``delete``: ``batch/archive``; ``flag``: set ``contactvault_erased`` and clear the phone."""
        calls = []
        for chunk in batches(list(target_ids), LIMIT):
            if how == "delete":
                response = self._post("/batch/archive", {"inputs": [{"id": i} for i in chunk]})
                calls.append(f"POST {BASE}/batch/archive ({len(chunk)} input(s))")
            else:
                props = {"contactvault_erased": "true", "phone": ""}
                response = self._post("/batch/update", {"inputs": [{"id": i, "properties": props} for i in chunk]})
                calls.append(f"POST {BASE}/batch/update ({len(chunk)} input(s))")
            if response.status_code not in (200, 204, 207):
                raise TargetError(_error(response), response)
        return calls

    def gdpr_call(self, target_id: str) -> str:
        """The call ``gdpr_delete`` makes for this record."""
        return f"POST {BASE}/gdpr-delete (objectId {target_id})"

    def gdpr_delete(self, target_id: str) -> bool:
        """Delete the record and its associated content for good, by record id; False when it was already gone."""
        response = self._post("/gdpr-delete", {"objectId": target_id})
        if response.status_code == 404:
            return False
        if response.status_code not in (200, 204):
            raise TargetError(_error(response), response)
        return True
