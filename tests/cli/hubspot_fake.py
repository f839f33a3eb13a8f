"""A contract fake of HubSpot's CRM v3 contacts batch API: a real HTTP server on loopback, in a thread.

It validates every request against the documented shapes (docs/sync.md cites them) and mimics what a client has to
cope with: batches of at most 100 inputs, ``idProperty`` limited to unique properties, email unique (a duplicate in
one batch or an invalid email refuses the whole batch with 400 VALIDATION_ERROR; creating an existing email is 409
CONFLICT "Contact already exists. Existing ID: n"), 207 for updates naming missing ids, the error envelope
``{status, message, category, correlationId}``, and 429 ``RATE_LIMITS`` with ``Retry-After``. Every request is
recorded. Knobs: ``rate_limit_next`` (answer the next n requests 429), ``invalid_emails`` (treated as invalid),
``drop_after_commit`` (commit the next write, then close the connection without answering), ``window_max``
(at most that many requests per ``window_seconds``, then 429 with the seconds left as ``Retry-After``),
``multi_status`` (invalid emails of a create answered 207 by ``objectWriteTraceId``, the valid rows created).

``POST /crm/v3/objects/contacts/gdpr-delete`` takes ``{"objectId", "idProperty"?}`` (nothing else) and removes the
record for good, answering 204 (500 for the ids in ``failing_ids``); a record id it does not hold is 404
OBJECT_NOT_FOUND; an email (``idProperty`` ``email``) it does not hold is added to ``blocklist``, as HubSpot does,
and answered 204.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from .fake_server import on_loopback

TOKEN = "pat-na1-test-token"
BASE = "/crm/v3/objects/contacts/batch/"
GDPR_DELETE = "/crm/v3/objects/contacts/gdpr-delete"
PROPERTIES = {
    "email",
    "firstname",
    "lastname",
    "phone",
    "jobtitle",
    "company",
    "contactvault_id",
    "contactvault_source",
    "contactvault_verification_status",
    "contactvault_verification_score",
    "contactvault_unlocked_at",
    "contactvault_erased",
}
UNIQUE = {"email", "hs_object_id", "contactvault_id"}
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
LIMIT = 100


class Refused(Exception):
    """An error answer: status and the HubSpot error envelope."""

    def __init__(self, status: int, category: str, message: str) -> None:
        super().__init__(message)
        self.status, self.category = status, category


@dataclasses.dataclass
class HubSpotFake:
    """The fake's state; ``url`` is set once it serves."""

    records: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any]]] = dataclasses.field(default_factory=list)
    statuses: list[int] = dataclasses.field(default_factory=list)
    rate_limit_next: int = 0
    retry_after: str = "1"
    window_max: int | None = None  # a rolling window like HubSpot's TEN_SECONDLY_ROLLING, if set
    window_seconds: float = 10.0
    window: list[float] = dataclasses.field(default_factory=list)
    invalid_emails: set[str] = dataclasses.field(default_factory=set)
    drop_after_commit: bool = False
    failing_ids: set[str] = dataclasses.field(default_factory=set)  # a gdpr-delete of these answers 500
    blocklist: set[str] = dataclasses.field(default_factory=set)  # emails a gdpr-delete did not find
    multi_status: bool = False  # invalid rows of a create answered 207 by objectWriteTraceId (the rest created)
    url: str = ""
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    ids: Iterator[int] = dataclasses.field(default_factory=lambda: itertools.count(1001))

    def over_limit(self) -> float | None:
        """Seconds until the rolling window admits another request, or None when this one is admitted."""
        now = time.monotonic()
        self.window = [t for t in self.window if now - t < self.window_seconds]
        if self.window_max is not None and len(self.window) >= self.window_max:
            return self.window_seconds - (now - self.window[0])
        self.window.append(now)
        return None

    def by_email(self, email: str) -> str | None:
        """The record id holding ``email``."""
        return next((rid for rid, props in self.records.items() if props.get("email") == email), None)

    def writes(self) -> list[str]:
        """The operations of the write requests received (create, update, archive, gdpr-delete)."""
        return [op for op, _ in self.requests if op != "read"]

    def handle(self, op: str, body: Any) -> tuple[int, dict[str, Any] | None]:
        """Validate and apply one request (a batch, or a gdpr-delete)."""
        if op == "gdpr-delete":
            return self._gdpr_delete(body)
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not inputs:
            raise Refused(400, "VALIDATION_ERROR", "inputs: must be a non-empty array")
        if len(inputs) > LIMIT:
            raise Refused(400, "VALIDATION_ERROR", f"Batch input cannot exceed {LIMIT} inputs")
        return getattr(self, f"_{op}")(body, inputs)

    def _read(self, body: dict[str, Any], inputs: list[Any]) -> tuple[int, dict[str, Any]]:
        id_property = body.get("idProperty", "hs_object_id")
        if id_property not in UNIQUE:
            raise Refused(400, "VALIDATION_ERROR", f"Unable to perform read by non-unique 0-1 property {id_property}")
        wanted = body.get("properties", [])
        if not isinstance(wanted, list) or not all(isinstance(p, str) for p in wanted):
            raise Refused(400, "VALIDATION_ERROR", "properties: must be an array of strings")
        results, missing = [], []
        index = {} if id_property == "hs_object_id" else self._index(id_property)
        for item in inputs:
            key = item.get("id") if isinstance(item, dict) else None
            if not isinstance(key, str):
                raise Refused(400, "VALIDATION_ERROR", "inputs[].id: must be a string")
            rid = key if id_property == "hs_object_id" else index.get(key)
            if rid is None or rid not in self.records:
                missing.append(key)
                continue
            props = {p: self.records[rid][p] for p in wanted if p in self.records[rid]}
            results.append({"id": rid, "properties": {**props, "hs_object_id": rid}, "archived": False})
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if missing:
            answer["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND", "context": {"ids": missing}}]
        return (207 if missing else 200), answer

    def _index(self, prop: str) -> dict[str, str]:
        """Value of ``prop`` → the first record holding it: one pass per request, not one per input (bench sizes)."""
        index: dict[str, str] = {}
        for rid, props in self.records.items():
            if prop in props:
                index.setdefault(props[prop], rid)
        return index

    def _check_properties(self, props: Any) -> dict[str, str]:
        if not isinstance(props, dict) or not all(isinstance(v, str) for v in props.values()):
            raise Refused(400, "VALIDATION_ERROR", "properties: must be an object of strings")
        unknown = sorted(set(props) - PROPERTIES)
        if unknown:
            raise Refused(400, "VALIDATION_ERROR", f"Property values were not valid: PROPERTY_DOESNT_EXIST {unknown}")
        email = props.get("email")
        if email is not None and (not EMAIL.fullmatch(email) or email in self.invalid_emails):
            raise Refused(400, "VALIDATION_ERROR", "Property values were not valid: INVALID_EMAIL")
        return props

    def _create(self, body: dict[str, Any], inputs: list[Any]) -> tuple[int, dict[str, Any]]:
        refused: list[str] = []
        if self.multi_status:
            for item in inputs:
                if item.get("properties", {}).get("email") in self.invalid_emails:
                    refused.append(str(item.get("objectWriteTraceId")))
            inputs = [i for i in inputs if str(i.get("objectWriteTraceId")) not in refused]
        batch = [self._check_properties(item.get("properties")) for item in inputs]
        emails = [p["email"] for p in batch if "email" in p]
        if len(emails) != len(set(emails)):
            raise Refused(400, "VALIDATION_ERROR", "Duplicate IDs found in batch input")
        holders = self._index("email")
        for email in emails:
            existing = holders.get(email)
            if existing is not None:
                raise Refused(409, "CONFLICT", f"Contact already exists. Existing ID: {existing}")
        results = []
        for props in batch:
            rid = str(next(self.ids))
            self.records[rid] = dict(props)
            results.append({"id": rid, "properties": {**props, "hs_object_id": rid}, "archived": False})
        if refused:
            error = {"status": "error", "category": "VALIDATION_ERROR", "message": "INVALID_EMAIL"}
            errors = [{**error, "context": {"objectWriteTraceId": [trace]}} for trace in refused]
            return 207, {"status": "COMPLETE", "results": results, "errors": errors, "numErrors": len(errors)}
        return 201, {"status": "COMPLETE", "results": results}

    def _update(self, body: dict[str, Any], inputs: list[Any]) -> tuple[int, dict[str, Any]]:
        pairs = [(item.get("id"), self._check_properties(item.get("properties"))) for item in inputs]
        ids = [rid for rid, _ in pairs]
        if len(ids) != len(set(ids)):
            raise Refused(400, "VALIDATION_ERROR", "Duplicate IDs found in batch input")
        results, missing = [], []
        for rid, props in pairs:
            if not isinstance(rid, str) or rid not in self.records:
                missing.append(str(rid))
                continue
            self.records[rid].update(props)
            results.append({"id": rid, "properties": dict(self.records[rid]), "archived": False})
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if missing:
            answer["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND", "context": {"ids": missing}}]
        return (207 if missing else 200), answer

    def _archive(self, body: dict[str, Any], inputs: list[Any]) -> tuple[int, None]:
        for item in inputs:
            self.records.pop(str(item.get("id")), None)
        return 204, None

    def _gdpr_delete(self, body: Any) -> tuple[int, None]:
        if not isinstance(body, dict) or not set(body) <= {"objectId", "idProperty"}:
            raise Refused(400, "VALIDATION_ERROR", "body: only objectId and idProperty are allowed")
        key, id_property = body.get("objectId"), body.get("idProperty", "hs_object_id")
        if not isinstance(key, str) or not key:
            raise Refused(400, "VALIDATION_ERROR", "objectId: required, a string")
        if id_property not in UNIQUE:
            raise Refused(400, "VALIDATION_ERROR", f"idProperty: {id_property!r} is not a unique property")
        rid = key if id_property == "hs_object_id" else self._index(id_property).get(key)
        if rid in self.failing_ids:
            raise Refused(500, "INTERNAL_ERROR", "Internal error")
        if rid is None or rid not in self.records:
            if id_property != "email":
                raise Refused(404, "OBJECT_NOT_FOUND", "Object not found")
            self.blocklist.add(key)  # HubSpot's side effect: the email can never be used again
            return 204, None
        del self.records[rid]
        return 204, None


def _handler(fake: HubSpotFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            with fake.lock:
                status, answer, drop = self._answer(raw)
                fake.statuses.append(status)
            if drop:
                self.close_connection = True
                return  # the write is committed, the client never hears so
            self.send_response(status)
            if status == 429:
                self.send_header("retry-after", fake.retry_after)
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self, raw: bytes) -> tuple[int, dict[str, Any] | None, bool]:
            if self.headers.get("authorization") != f"Bearer {TOKEN}":
                return 401, _envelope("INVALID_AUTHENTICATION", "Authentication credentials not found."), False
            if self.path == GDPR_DELETE:
                op = "gdpr-delete"
            elif self.path.startswith(BASE) and self.path[len(BASE) :] in ("read", "create", "update", "archive"):
                op = self.path[len(BASE) :]
            else:
                return 404, _envelope("OBJECT_NOT_FOUND", f"No route for {self.path}"), False
            try:
                body = json.loads(raw)
            except ValueError:
                return 400, _envelope("VALIDATION_ERROR", "Invalid input JSON"), False
            fake.requests.append((op, body))
            wait = fake.over_limit()
            knob = wait is None and fake.rate_limit_next > 0
            if knob:
                fake.rate_limit_next -= 1
            if wait is not None:
                fake.retry_after = str(math.ceil(wait))
            if wait is not None or knob:
                limited = _envelope("RATE_LIMITS", "You have reached your ten_secondly_rolling limit.")
                return 429, {**limited, "policyName": "TEN_SECONDLY_ROLLING"}, False
            try:
                status, answer = fake.handle(op, body)
            except Refused as exc:
                return exc.status, _envelope(exc.category, str(exc)), False
            drop = fake.drop_after_commit and op != "read"
            fake.drop_after_commit = fake.drop_after_commit and not drop
            return status, answer, drop

    return Handler


def _envelope(category: str, message: str) -> dict[str, Any]:
    return {"status": "error", "message": message, "category": category, "correlationId": str(uuid.uuid4())}


@contextmanager
def serve() -> Iterator[HubSpotFake]:
    """The fake on a free loopback port until the block ends."""
    fake = HubSpotFake()
    with on_loopback(fake, _handler(fake)):
        yield fake
