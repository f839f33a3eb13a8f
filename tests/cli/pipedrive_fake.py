"""A contract fake of Pipedrive's API v2 for persons: a real HTTP server on loopback, in a thread.

What it checks and mimics (the facts are in the sync research notes, §2.3 and §3; docs/sync.md cites the pages):
``x-api-token`` on every call (401 otherwise); only the ``/api/v2/`` prefix; strict v2 validation (unknown body
keys, query parameters or custom field codes refused with 400, booleans must be booleans, ``name`` required on
create, ``value`` required in email and phone items, at most 100 ``ids``); ``GET /api/v2/personFields`` (cursor
pages, ``field_code`` / ``field_name``), ``GET /api/v2/persons/search`` (``term``, ``fields``, ``exact_match``;
terms of 2+ characters unless exact), ``GET /api/v2/persons?ids=``, ``POST``, ``PATCH /{id}`` (lists replaced
whole), ``DELETE /{id}``; emails NOT unique; the error envelope ``{success: false, error, errorCode, error_info}``;
the daily token budget (search 40, list 20, fields 10, create/update 10, delete 6) and the 2-s burst window in
``x-ratelimit-limit``/``-remaining``/``-reset`` and ``x-daily-requests-left``. Knobs: ``rate_limit_next`` (429 with
``Retry-After``), ``remaining`` (the ``x-ratelimit-remaining`` to report), ``index_lag`` (a new person is invisible
to search for that many requests), ``loose_search`` ("exact" search also returns persons whose email merely contains
the term, as it once did), ``invalid_emails``, ``drop_after_commit``. Every request is recorded without the token.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from .fake_server import RestHandler, on_loopback

TOKEN = "0123456789abcdef0123456789abcdef01234567"
CUSTOM = (
    "contactvault_id",
    "contactvault_source",
    "contactvault_verification_status",
    "contactvault_verification_score",
    "contactvault_unlocked_at",
    "contactvault_erased",
)
STANDARD = ("name", "first_name", "last_name", "emails", "phones", "org_id", "owner_id", "label_ids")
BODY_KEYS = {"name", "owner_id", "org_id", "emails", "phones", "visible_to", "label_ids", "marketing_status"}
ITEM_KEYS = {"value", "primary", "label"}
SEARCH_FIELDS = {"name", "email", "phone", "notes", "custom_fields"}
COSTS = {"fields": 10, "search": 40, "list": 20, "get": 2, "create": 10, "update": 10, "delete": 6}
BURST, WINDOW = 20, 2.0  # requests per rolling 2 s (an Essential plan's API token)
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def code_of(name: str) -> str:
    """A 40-hex field code, as Pipedrive gives custom fields (stable per name here)."""
    return hashlib.sha1(name.encode()).hexdigest()  # noqa: S324 (a made-up field code, not security)


class Refused(Exception):
    """An error answer: status and Pipedrive's envelope."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclasses.dataclass
class PipedriveFake:
    """The fake's state; ``url`` is set once it serves."""

    persons: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)
    custom_fields: dict[str, str] = dataclasses.field(default_factory=lambda: {n: code_of(n) for n in CUSTOM})
    requests: list[tuple[str, dict[str, Any]]] = dataclasses.field(default_factory=list)
    statuses: list[int] = dataclasses.field(default_factory=list)
    visible_from: dict[int, int] = dataclasses.field(default_factory=dict)
    served: int = 0
    budget: int = 30_000
    window: list[float] = dataclasses.field(default_factory=list)
    rate_limit_next: int = 0
    retry_after: str = "1"
    remaining: int | None = None
    index_lag: int = 0
    loose_search: bool = False
    invalid_emails: set[str] = dataclasses.field(default_factory=set)
    drop_after_commit: bool = False
    url: str = ""
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    ids: Iterator[int] = dataclasses.field(default_factory=lambda: itertools.count(501))

    def add(self, name: str, emails: tuple[str, ...] = (), phones: tuple[str, ...] = (), **custom: str) -> int:
        """Put a person in the account (as its users would): custom fields by name; its id."""
        pid = next(self.ids)
        self.persons[pid] = {
            "id": pid,
            "name": name,
            "emails": [{"value": e, "primary": i == 0, "label": "work"} for i, e in enumerate(emails)],
            "phones": [{"value": p, "primary": i == 0, "label": "work"} for i, p in enumerate(phones)],
            "custom_fields": {code: custom.get(name) for name, code in self.custom_fields.items()},
        }
        return pid

    def by_email(self, email: str) -> dict[str, Any]:
        """The one person holding ``email``."""
        (person,) = [p for p in self.persons.values() if email in [e["value"] for e in p["emails"]]]
        return person

    def custom(self, person: dict[str, Any], name: str) -> Any:
        """A person's custom field value by the field's name."""
        return person["custom_fields"].get(self.custom_fields[name])

    def emails(self) -> list[str]:
        """Every person's primary email, sorted."""
        return sorted(e["value"] for p in self.persons.values() for e in p["emails"] if e["primary"])

    def ops(self) -> list[str]:
        """The operations received, in order."""
        return [op for op, _ in self.requests]

    def writes(self) -> list[str]:
        """The write operations received."""
        return [op for op in self.ops() if op in ("create", "update", "delete")]

    def headers(self) -> dict[str, str]:
        """The rate-limit headers of an answer."""
        now = time.monotonic()
        self.window = [t for t in self.window if now - t < WINDOW]
        remaining = BURST - len(self.window) if self.remaining is None else self.remaining
        return {
            "x-ratelimit-limit": str(BURST),
            "x-ratelimit-remaining": str(max(remaining, 0)),
            "x-ratelimit-reset": "2",
            "x-daily-requests-left": str(self.budget),
        }

    def spend(self, op: str) -> None:
        """Charge the daily token budget; 429 once it is spent, or when the burst window is full."""
        self.window.append(time.monotonic())
        if self.rate_limit_next > 0 or self.budget < COSTS[op]:
            self.rate_limit_next = max(self.rate_limit_next - 1, 0)
            raise Refused(429, "Request over limit")
        self.budget -= COSTS[op]

    # --- validation -----------------------------------------------------------------------------------------------

    def check_body(self, body: Any, creating: bool) -> dict[str, Any]:
        """A create or update body as v2 validates it."""
        allowed = BODY_KEYS | {"custom_fields"} | ({"add_time"} if creating else set())
        if not isinstance(body, dict) or (unknown := sorted(set(body) - allowed)):
            raise Refused(400, f"Unknown fields: {unknown if isinstance(body, dict) else 'body'}")
        if creating and (not isinstance(body.get("name"), str) or not body["name"].strip()):
            raise Refused(400, "name: required")
        for key in ("emails", "phones"):
            items = body.get(key, [])
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise Refused(400, f"{key}: must be an array of objects")
            for item in items:
                if set(item) - ITEM_KEYS or not isinstance(item.get("value"), str):
                    raise Refused(400, f"{key}[]: value (string) required; only value, primary, label")
                if not isinstance(item.get("primary", False), bool) or not isinstance(item.get("label", ""), str):
                    raise Refused(400, f"{key}[].primary must be a boolean and label a string")
                if key == "emails" and (not EMAIL.fullmatch(item["value"]) or item["value"] in self.invalid_emails):
                    raise Refused(400, "emails[].value: invalid email")
        custom = body.get("custom_fields", {})
        known = set(self.custom_fields.values())
        if not isinstance(custom, dict) or (unknown := sorted(set(custom) - known)):
            raise Refused(400, f"custom_fields: unknown field {unknown}")
        if not all(isinstance(v, str | int | float) or v is None for v in custom.values()):
            raise Refused(400, "custom_fields: values must be strings or numbers")
        return body

    @staticmethod
    def check_params(params: dict[str, list[str]], allowed: set[str]) -> dict[str, str]:
        """Query parameters, once each, none unknown."""
        if unknown := sorted(set(params) - allowed):
            raise Refused(400, f"Unknown parameter: {unknown}")
        if any(len(v) != 1 for v in params.values()):
            raise Refused(400, "A parameter was given twice")
        return {k: v[0] for k, v in params.items()}

    # --- operations -------------------------------------------------------------------------------------------------

    def fields(self, params: dict[str, str]) -> dict[str, Any]:
        """Person fields, 3 per page (so cursors are exercised)."""
        every = [{"field_code": n, "field_name": n, "is_custom_field": False} for n in STANDARD] + [
            {"field_code": code, "field_name": name, "is_custom_field": True}
            for name, code in self.custom_fields.items()
        ]
        start = int(params.get("cursor", "0"))
        page = every[start : start + 3]
        more = start + 3 < len(every)
        return {"success": True, "data": page, "additional_data": {"next_cursor": str(start + 3) if more else None}}

    def search(self, params: dict[str, str]) -> dict[str, Any]:
        """Persons whose email or custom field equals the term (any case; contains it when ``loose_search``)."""
        term, fields = params.get("term", ""), params.get("fields", "name,email,phone,notes,custom_fields")
        exact = params.get("exact_match", "false")
        if exact not in ("true", "false") or set(fields.split(",")) - SEARCH_FIELDS:
            raise Refused(
                400, "exact_match must be true or false; fields among name, email, phone, notes, custom_fields"
            )
        if not term or (exact == "false" and len(term) < 2):
            raise Refused(400, "term: at least 2 characters")
        if int(params.get("limit", "100")) > 500:
            raise Refused(400, "limit: at most 500")
        items = []
        for pid, person in self.persons.items():
            if self.visible_from.get(pid, 0) > self.served:
                continue  # not indexed yet
            values = [e["value"] for e in person["emails"]] if "email" in fields else []
            values += [str(v) for v in person["custom_fields"].values() if v is not None] if "custom" in fields else []
            hit = any(v.lower() == term.lower() or (self.loose_search and term.lower() in v.lower()) for v in values)
            if hit:
                item = {
                    "id": pid,
                    "type": "person",
                    "name": person["name"],
                    "emails": [e["value"] for e in person["emails"]],
                }
                items.append({"result_score": 1.0, "item": item})
        return {"success": True, "data": {"items": items}, "additional_data": {"next_cursor": None}}

    def list(self, params: dict[str, str]) -> dict[str, Any]:
        """Persons by id (live ones only)."""
        ids = [int(i) for i in params.get("ids", "").split(",") if i]
        if len(ids) > 100:
            raise Refused(400, "ids: at most 100")
        data = [self.persons[i] for i in ids if i in self.persons]
        return {"success": True, "data": data, "additional_data": {"next_cursor": None}}

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """A new person (emails are not unique)."""
        pid = next(self.ids)
        person = {"id": pid, "name": body["name"], "emails": body.get("emails", []), "phones": body.get("phones", [])}
        person["custom_fields"] = {
            code: body.get("custom_fields", {}).get(code) for code in self.custom_fields.values()
        }
        self.persons[pid] = person
        self.visible_from[pid] = self.served + self.index_lag
        return {"success": True, "data": person}

    def update(self, pid: int, body: dict[str, Any]) -> dict[str, Any]:
        """Change a person; lists are replaced whole, custom fields one by one."""
        if pid not in self.persons:
            raise Refused(404, "Person not found")
        person = self.persons[pid]
        for key, value in body.items():
            if key == "custom_fields":
                person["custom_fields"].update(value)
            else:
                person[key] = value
        return {"success": True, "data": person}

    def delete(self, pid: int) -> dict[str, Any]:
        """Remove a person (Pipedrive marks it deleted and purges it after 30 days)."""
        if self.persons.pop(pid, None) is None:
            raise Refused(404, "Person not found")
        return {"success": True, "data": {"id": pid}}


def _handler(fake: PipedriveFake) -> type[BaseHTTPRequestHandler]:
    class Handler(RestHandler):
        def _serve(self, method: str) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            with fake.lock:
                try:
                    status, answer, drop = self._answer(method, raw)
                except Refused as exc:
                    status, drop = exc.status, False
                    answer = {"success": False, "error": str(exc), "errorCode": exc.status, "error_info": "See docs"}
                fake.served += 1
                fake.statuses.append(status)
                headers = fake.headers()
            if drop:
                self.close_connection = True
                return  # the write is committed, the client never hears so
            data = json.dumps(answer).encode()
            self.send_response(status)
            if status == 429:
                headers["retry-after"] = fake.retry_after
            for name, value in {**headers, "content-type": "application/json"}.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self, method: str, raw: bytes) -> tuple[int, Any, bool]:
            if self.headers.get("x-api-token") != TOKEN:
                raise Refused(401, "unauthorized access")
            url = urllib.parse.urlsplit(self.path)
            params = urllib.parse.parse_qs(url.query)
            route = self._route(method, url.path)
            if route is None:
                raise Refused(404, f"Unknown route {method} {url.path}")
            op, pid = route
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                raise Refused(400, "Invalid JSON") from None
            fake.requests.append((op, body if body is not None else {k: v[0] for k, v in params.items()}))
            fake.spend(op)
            return self._do(op, pid, params, body)

        @staticmethod
        def _route(method: str, path: str) -> tuple[str, int] | None:
            if path == "/api/v2/personFields" and method == "GET":
                return "fields", 0
            if path == "/api/v2/persons/search" and method == "GET":
                return "search", 0
            if path == "/api/v2/persons":
                return {"GET": ("list", 0), "POST": ("create", 0)}.get(method)
            match = re.fullmatch(r"/api/v2/persons/(\d+)", path)
            ops = {"GET": "get", "PATCH": "update", "DELETE": "delete"}
            return (ops[method], int(match[1])) if match and method in ops else None

        @staticmethod
        def _do(op: str, pid: int, params: dict[str, list[str]], body: Any) -> tuple[int, Any, bool]:
            if op == "fields":
                return 200, fake.fields(fake.check_params(params, {"limit", "cursor", "include_fields"})), False
            if op == "search":
                allowed = {"term", "fields", "exact_match", "limit", "cursor", "organization_id", "include_fields"}
                return 200, fake.search(fake.check_params(params, allowed)), False
            if op == "list":
                return 200, fake.list(fake.check_params(params, {"ids", "limit", "cursor"})), False
            if op == "get":
                fake.check_params(params, set())
                return 200, fake.list({"ids": str(pid)})["data"][0] if pid in fake.persons else {}, False
            fake.check_params(params, set())
            if op == "delete":
                return 200, fake.delete(pid), False
            body = fake.check_body(body, creating=op == "create")
            answer = fake.create(body) if op == "create" else fake.update(pid, body)
            drop = fake.drop_after_commit
            fake.drop_after_commit = False
            return 200, answer, drop

    return Handler


@contextmanager
def serve() -> Iterator[PipedriveFake]:
    """The fake on a free loopback port until the block ends."""
    fake = PipedriveFake()
    with on_loopback(fake, _handler(fake)):
        yield fake
