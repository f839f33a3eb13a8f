"""Pipedrive persons (API v2): found by exact email search (then by the contactvault id's custom field), read with
one ``GET /api/v2/persons?ids=`` per batch, created with ``POST`` and updated with ``PATCH``, one person per call.

Pipedrive has no upsert and no batch writes. Search is the expensive call (40 tokens of the daily budget, and its own
10-per-2-s burst limit) and, like any CRM search, may lag a fresh create, so: a person this tool created is read by
the id kept in the checkpoint (saved right after each create), never searched for again; every search hit is checked
here (the email, or the contactvault id field, must really be equal). Custom fields are keyed by per-account 40-char
codes: the mapping's field names are resolved through ``GET /api/v2/personFields`` (a name or a code both work), and
a missing one stops the sync before any write. 429 is retried after ``Retry-After``; when ``x-ratelimit-remaining``
runs low the adapter waits ``x-ratelimit-reset`` seconds first (clients that keep going after 429s get locked out).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx

from contactvault.cli.client.sync.checkpoint import Checkpoint
from contactvault.cli.client.sync.engine import ApplyResult
from contactvault.cli.client.sync.http import MAX_WAIT, TargetError, send
from contactvault.cli.client.sync.plan import ID_FIELD, Action, Contact, Existing, FieldMap, Kind, batches
from contactvault.cli.common import EXIT_USAGE, fail

__all__ = ["PERSONS", "PipedriveTarget", "open_target"]

DEFAULT_URL = "https://api.pipedrive.com"
PERSONS = "/api/v2/persons"
FIELDS_PATH = "/api/v2/personFields"
LIMIT = 100  # ids per GET /api/v2/persons
LOW_REMAINING = 2  # burst requests left at which the adapter waits for the window to reset
ERASED_FIELD = "contactvault_erased"
TOKENS = {"create": 10, "update": 10}  # the daily budget's cost per call (Pipedrive's rate-limiting page)
TIMEOUT = 15.0


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _error(response: httpx.Response) -> str:
    """The status, and Pipedrive's error code when it names one; never its message, which may repeat a value."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = body.get("errorCode", "") if isinstance(body, dict) else ""
    named = f" {code}" if isinstance(code, str) and code else ""
    return f"Pipedrive answered {response.status_code}{named}"


def _values_of(items: object) -> list[str]:
    return [_text(i.get("value")) for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _primary(items: object) -> str:
    entries = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    first = next((i for i in entries if i.get("primary")), entries[0] if entries else {})
    return _text(first.get("value"))


def _custom_of(person: dict[str, Any]) -> dict[str, Any]:
    custom = person.get("custom_fields")
    return custom if isinstance(custom, dict) else {}


def _merged(items: object, value: str) -> list[dict[str, Any]]:
    """``value`` as the primary work entry, the person's other entries kept (a PATCH replaces the whole list)."""
    kept = [
        {"value": v, "primary": False, "label": _text(i.get("label")) or "other"}
        for i in (items if isinstance(items, list) else [])
        if isinstance(i, dict) and (v := _text(i.get("value"))) and v.lower() != value.lower()
    ]
    return [{"value": value, "primary": True, "label": "work"}, *kept]


class PipedriveTarget:
    """The Pipedrive adapter; ``http`` carries the base URL and the ``x-api-token`` header."""

    name = "pipedrive"
    batch_size = LIMIT

    def __init__(self, http: httpx.Client, point: Checkpoint, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.http, self.point, self.sleep = http, point, sleep
        self.codes: dict[str, str] | None = None  # person field name or code → code
        self.keys: dict[str, str] = {}  # the mapping's target name → custom field code
        self.persons: dict[str, dict[str, Any]] = {}  # the persons last read, by id
        self.email_name, self.phone_name = "email", "phone"

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = send(self.http, method, path, **kwargs)
        try:
            remaining = int(response.headers["x-ratelimit-remaining"])
        except (KeyError, ValueError):
            return response
        if remaining <= LOW_REMAINING:
            try:
                reset = float(response.headers.get("x-ratelimit-reset", "2"))
            except ValueError:
                reset = 2.0
            self.sleep(min(max(reset, 0.0), MAX_WAIT))
        return response

    def _ok(self, response: httpx.Response) -> Any:
        if response.status_code not in (200, 201):
            raise TargetError(_error(response), response)
        return response.json()

    def _field_codes(self) -> dict[str, str]:
        """Custom person fields by name and by code (``GET /api/v2/personFields``, every page)."""
        if self.codes is None:
            codes: dict[str, str] = {}
            params: dict[str, str] = {"limit": "500"}
            while True:
                body = self._ok(self._request("GET", FIELDS_PATH, params=params))
                for field in body.get("data") or []:
                    if field.get("is_custom_field") is False:
                        continue  # name, emails, phones…: not a place for custom values
                    code = _text(field.get("field_code"))
                    codes.setdefault(_text(field.get("field_name")), code)
                    codes[code] = code
                cursor = (body.get("additional_data") or {}).get("next_cursor")
                if not cursor:
                    break
                params = {"limit": "500", "cursor": str(cursor)}
            self.codes = codes
        return self.codes

    def _resolve(self, fields: FieldMap) -> None:
        self.email_name, self.phone_name = fields.target_name("email"), fields.target_name("phone")
        codes, keys = self._field_codes(), {}
        for neutral, (to, _) in fields.fields.items():
            if neutral in ("email", "phone"):
                continue  # Pipedrive's own emails and phones lists
            if to not in codes:
                raise TargetError(
                    f"Pipedrive has no person field {to!r} (for {neutral}): create it (a text field) or map "
                    f"{neutral} to another field (docs/sync.md)"
                )
            keys[to] = codes[to]
        self.keys = keys

    def read(self, contacts: Sequence[Contact], fields: FieldMap) -> dict[str, Existing]:
        """Persons by the ids this tool created, else by exact email search, else by the contactvault id field."""
        self._resolve(fields)
        id_key = self.keys.get(fields.target_name(ID_FIELD))
        known = {
            c.personnel_id: self.point.created[c.personnel_id] for c in contacts if c.personnel_id in self.point.created
        }
        self.persons = self._get(sorted(set(known.values())))
        candidates: dict[str, list[str]] = {pid: [rid] for pid, rid in known.items() if rid in self.persons}
        unknown = [c for c in contacts if c.personnel_id not in candidates]
        by_email = {c.personnel_id: self._search(c.email, "email") for c in unknown if c.email}
        self._fetch(by_email)
        for contact in unknown:
            hits = [
                i for i in by_email.get(contact.personnel_id, []) if i in self.persons and self._is(contact, i, id_key)
            ]
            if not hits and id_key:  # no real email hit: maybe the person's email was changed in Pipedrive
                hits = self._search(contact.personnel_id, "custom_fields")
            candidates[contact.personnel_id] = hits
        self._fetch(candidates)
        found: dict[str, Existing] = {}
        for contact in contacts:
            ids = candidates.get(contact.personnel_id, [])
            trusted = contact.personnel_id in known
            matches = [self.persons[i] for i in ids if i in self.persons and (trusted or self._is(contact, i, id_key))]
            mine = [p for p in matches if id_key and _text(_custom_of(p).get(id_key)) == contact.personnel_id]
            matches = mine or matches
            if matches:
                found[contact.personnel_id] = self._existing(contact, matches, fields)
        return found

    def _is(self, contact: Contact, person_id: str, id_key: str | None) -> bool:
        """Whether a search hit really holds this email or this contactvault id (search may be looser)."""
        person = self.persons[person_id]
        if contact.email and contact.email in {e.lower() for e in _values_of(person.get("emails"))}:
            return True
        return id_key is not None and _text(_custom_of(person).get(id_key)) == contact.personnel_id

    def _existing(self, contact: Contact, matches: list[dict[str, Any]], fields: FieldMap) -> Existing:
        person = matches[0]
        emails, phones = _values_of(person.get("emails")), _values_of(person.get("phones"))
        phone = contact.values.get("phone", "")
        values = {
            self.email_name: contact.email
            if contact.email in {e.lower() for e in emails}
            else _primary(person.get("emails")),
            self.phone_name: phone if phone and phone in phones else _primary(person.get("phones")),
        }
        custom = _custom_of(person)
        values.update({to: _text(custom.get(code)) for to, code in self.keys.items()})
        conflict = (
            f"{len(matches)} Pipedrive persons match (emails are not unique in Pipedrive)" if len(matches) > 1 else ""
        )
        return Existing(_text(person.get("id")), values, conflict)

    def _search(self, term: str, field: str) -> list[str]:
        params = {"term": term, "fields": field, "exact_match": "true", "limit": "10"}
        body = self._ok(self._request("GET", f"{PERSONS}/search", params=params))
        items = (body.get("data") or {}).get("items") or []
        return [_text(i["item"]["id"]) for i in items if isinstance(i, dict) and isinstance(i.get("item"), dict)]

    def _fetch(self, hits: dict[str, list[str]]) -> None:
        """Read the persons among ``hits`` not read yet."""
        self.persons.update(self._get(sorted({i for ids in hits.values() for i in ids} - set(self.persons))))

    def _get(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The live persons among ``ids`` (deleted ones are absent)."""
        found: dict[str, dict[str, Any]] = {}
        for chunk in batches(ids, LIMIT):
            body = self._ok(self._request("GET", PERSONS, params={"ids": ",".join(chunk), "limit": str(LIMIT)}))
            found.update({_text(p.get("id")): p for p in body.get("data") or [] if isinstance(p, dict)})
        return found

    def calls(self, actions: Sequence[Action]) -> list[str]:
        """One call per person to create or update, with its token cost."""
        result = []
        for kind, call in ((Kind.CREATE, f"POST {PERSONS}"), (Kind.UPDATE, f"PATCH {PERSONS}/{{id}}")):
            n = sum(a.kind == kind for a in actions)
            if n:
                result.append(f"{call} x {n} ({n * TOKENS[kind.value]} tokens)")
        return result

    def apply(self, actions: Sequence[Action]) -> ApplyResult:
        """Create and update person by person; each created id goes to the checkpoint at once."""
        result = ApplyResult()
        for action in actions:
            if action.kind == Kind.CREATE:
                response = self._request("POST", PERSONS, json=self._create_body(action))
            elif action.kind == Kind.UPDATE:
                response = self._request("PATCH", f"{PERSONS}/{action.target_id}", json=self._update_body(action))
            else:
                continue
            if response.status_code in (401, 402, 403):  # the token or the account, not this person
                raise TargetError(_error(response), response)
            if response.status_code not in (200, 201):
                result.failed[action.personnel_id] = f"Pipedrive refused the person ({response.status_code})"
                continue
            if action.kind == Kind.CREATE:
                person_id = _text(response.json()["data"]["id"])
                result.created[action.personnel_id] = person_id
                self.point.remember_created({action.personnel_id: person_id})
                self.point.commit()  # a rerun reads it by id: search may not see it yet
        return result

    def _custom(self, values: dict[str, str]) -> dict[str, str]:
        return {self.keys[k]: v for k, v in values.items() if k in self.keys}

    def _create_body(self, action: Action) -> dict[str, Any]:
        values = dict(action.values)
        email, phone = values.get(self.email_name, ""), values.get(self.phone_name, "")
        body: dict[str, Any] = {"name": email or phone or f"contactvault {action.personnel_id}"}
        if email:
            body["emails"] = [{"value": email, "primary": True, "label": "work"}]
        if phone:
            body["phones"] = [{"value": phone, "primary": True, "label": "work"}]
        if custom := self._custom(values):
            body["custom_fields"] = custom
        return body

    def _update_body(self, action: Action) -> dict[str, Any]:
        values, person = dict(action.values), self.persons.get(action.target_id or "", {})
        body: dict[str, Any] = {}
        if email := values.get(self.email_name):
            body["emails"] = _merged(person.get("emails"), email)
        if phone := values.get(self.phone_name):
            body["phones"] = _merged(person.get("phones"), phone)
        if custom := self._custom(values):
            body["custom_fields"] = custom
        return body

    def erase(self, target_ids: Sequence[str], how: str) -> list[str]:
        """``delete``: deleted (purged by Pipedrive after 30 days); ``flag``: phones cleared, marked erased."""
        body: dict[str, Any] = {}
        if how != "delete":
            code = self._field_codes().get(ERASED_FIELD)
            if code is None:
                raise TargetError(f"Pipedrive has no person field {ERASED_FIELD!r}: create it to flag erased people")
            body = {"phones": [], "custom_fields": {code: "true"}}
        for person_id in target_ids:
            if how == "delete":
                response = self._request("DELETE", f"{PERSONS}/{person_id}")
            else:
                response = self._request("PATCH", f"{PERSONS}/{person_id}", json=body)
            if response.status_code not in (200, 404):  # 404: already gone
                raise TargetError(_error(response), response)
        method = "DELETE" if how == "delete" else "PATCH"
        return [f"{method} {PERSONS}/{{id}} x {len(target_ids)}"]


@contextlib.contextmanager
def open_target(url: str | None, point: Checkpoint) -> Iterator[PipedriveTarget]:
    """The target for ``sync --to pipedrive``: ``$PIPEDRIVE_TOKEN``, and ``--url`` for a company domain or a test."""
    token = os.environ.get("PIPEDRIVE_TOKEN", "")
    if not token:
        fail("--to pipedrive needs $PIPEDRIVE_TOKEN (Personal preferences > API in Pipedrive)", EXIT_USAGE)
    headers = {"x-api-token": token}
    with httpx.Client(base_url=url or DEFAULT_URL, headers=headers, timeout=TIMEOUT, follow_redirects=False) as http:
        yield PipedriveTarget(http, point)
