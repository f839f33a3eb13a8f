"""A contract fake of Salesforce's REST API for Leads and Contacts: a real HTTP server on loopback, in a thread.

What it checks and mimics (the facts are in the sync research notes, §2.2 and §3; docs/sync.md cites the pages): the
OAuth 2.0 client-credentials token endpoint (form body, ``invalid_client``); ``Authorization: Bearer`` on every API call
(401 ``INVALID_SESSION_ID`` otherwise, e.g. after ``expire_tokens``); the ``/services/data/vNN.N/`` prefix; SOQL
``SELECT … FROM Lead|Contact WHERE f IN ('…') OR …`` with quoted, backslash-escaped literals, unknown columns refused
with Salesforce's 400 (whose message echoes the query), Email compared case-blind, pages of ``page_size`` with
``nextRecordsUrl``; sObject Collections ``POST`` (create), ``PATCH`` (update by ``id``) and ``DELETE ?ids=`` with at
most 200 records, ``attributes.type`` on each, unknown fields refused for the whole request (400 ``INVALID_FIELD``), and
per-record results in order (``{id, success, errors[{statusCode, message, fields}]}``): required fields (Lead
``LastName`` and ``Company``, Contact ``LastName``), invalid emails, the unique external id ``ContactVault_Id__c``
(``DUPLICATE_VALUE``), converted Leads, deleted records, ``allOrNone`` rollback. Email is NOT unique (two Leads may
share one); the ``duplicate_rule`` knob names emails whose create a duplicate rule blocks (``DUPLICATES_DETECTED``; such
rules match fuzzily, on names or companies, where a lookup by email finds nothing). Every API answer carries
``Sforce-Limit-Info: api-usage=used/limit``. Knobs: ``limit_next`` answers the next n calls ``limit_status`` (429, or
403 ``REQUEST_LIMIT_EXCEEDED``) with ``Retry-After: retry_after`` (None: no header), ``drop_after_commit`` commits the
next write and closes the connection without answering, ``invalid_emails``, ``api_used``/``api_limit``. Every request is
recorded without its secrets.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from .fake_server import RestHandler, on_loopback

CLIENT_ID = "3MVG9-test-connected-app"
CLIENT_SECRET = "test-client-secret-0123456789"
API = re.compile(r"^/services/data/v(\d+)\.\d/")
LIMIT = 200
COMMON = {
    "Id",
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "MobilePhone",
    "Title",
    "LeadSource",
    "HasOptedOutOfEmail",
    "DoNotCall",
    "ContactVault_Id__c",
    "ContactVault_Source__c",
    "ContactVault_Verification_Status__c",
    "ContactVault_Verification_Score__c",
    "ContactVault_Unlocked_At__c",
    "ContactVault_Erased__c",
}
FIELDS = {"Lead": COMMON | {"Company", "Status", "IsConverted"}, "Contact": COMMON | {"AccountId"}}
READ_ONLY = {"Id", "IsConverted"}
BOOLEANS = {"HasOptedOutOfEmail", "DoNotCall", "IsConverted", "ContactVault_Erased__c"}
REQUIRED = {"Lead": ("LastName", "Company"), "Contact": ("LastName",)}
PREFIX = {"Lead": "00Q", "Contact": "003"}
UNIQUE = "ContactVault_Id__c"  # External ID + Unique, as docs/sync.md asks the org to define it
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'")


class Refused(Exception):
    """A whole-request error: status and Salesforce's error array."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def record_error(code: str, message: str, fields: list[str]) -> dict[str, Any]:
    """One failed record's result."""
    return {"success": False, "errors": [{"statusCode": code, "message": message, "fields": fields}]}


@dataclasses.dataclass
class SalesforceFake:
    """The fake's state; ``url`` is set once it serves."""

    records: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    deleted: set[str] = dataclasses.field(default_factory=set)
    requests: list[tuple[str, dict[str, Any]]] = dataclasses.field(default_factory=list)
    statuses: list[int] = dataclasses.field(default_factory=list)
    tokens: set[str] = dataclasses.field(default_factory=set)
    cursors: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    page_size: int = 2000
    limit_next: int = 0
    limit_status: int = 429
    retry_after: str | None = "1"
    duplicate_rule: set[str] = dataclasses.field(default_factory=set)
    invalid_emails: set[str] = dataclasses.field(default_factory=set)
    drop_after_commit: bool = False
    api_used: int = 0
    api_limit: int = 100_000
    url: str = ""
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    counter: Iterator[int] = dataclasses.field(default_factory=lambda: itertools.count(1))

    def add(self, sobject: str, **fields: Any) -> str:
        """Put a record in the org (as its users would); its id."""
        rid = f"{PREFIX[sobject]}{next(self.counter):015d}"
        self.records[rid] = {"type": sobject, "Id": rid, **fields}
        return rid

    def of_type(self, sobject: str) -> list[dict[str, Any]]:
        """The live records of one sObject."""
        return [r for r in self.records.values() if r["type"] == sobject]

    def emails(self, sobject: str = "Lead") -> list[str]:
        """The emails of one sObject's records, sorted."""
        return sorted(str(r.get("Email")) for r in self.of_type(sobject))

    def by_email(self, email: str) -> str:
        """The id of the one record holding ``email``."""
        (rid,) = [rid for rid, r in self.records.items() if str(r.get("Email", "")).lower() == email]
        return rid

    def writes(self) -> list[str]:
        """The operations of the write requests received."""
        return [op for op, _ in self.requests if op in ("create", "update", "delete")]

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (a session timeout)."""
        self.tokens.clear()

    # --- SOQL ---------------------------------------------------------------------------------------------------

    def query(self, soql: str) -> dict[str, Any]:
        """Run the subset of SOQL a sync sends."""
        match = re.fullmatch(r"SELECT (.+?) FROM (\w+) WHERE (.+)", soql, flags=re.S)
        if match is None:
            raise Refused(400, "MALFORMED_QUERY", f"unexpected token in query: {soql}")
        columns, sobject, where = [c.strip() for c in match[1].split(",")], match[2], match[3]
        if sobject not in FIELDS:
            raise Refused(
                400, "INVALID_TYPE", f"\n{soql}\n^\nERROR at Row:1\nsObject type '{sobject}' is not supported."
            )
        conditions = self._conditions(where, soql)
        for name in [*columns, *(f for f, _ in conditions)]:
            if name not in FIELDS[sobject]:
                message = f"\n{soql}\n^\nERROR at Row:1:Column:8\nNo such column '{name}' on entity '{sobject}'."
                raise Refused(400, "INVALID_FIELD", message)
        hits = [r for r in self.of_type(sobject) if any(_matches(r.get(f), values, f) for f, values in conditions)]
        rows = [
            {"attributes": {"type": sobject, "url": f"/x/{r['Id']}"}, **{c: r.get(c) for c in columns}} for r in hits
        ]
        return self._page(rows)

    def _page(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        first, rest = rows[: self.page_size], rows[self.page_size :]
        answer: dict[str, Any] = {"totalSize": len(rows), "done": not rest, "records": first}
        if rest:
            locator = f"01gD0000002HU6KIAW-{len(self.cursors) + 1}"
            self.cursors[locator] = rest
            answer["nextRecordsUrl"] = f"/services/data/v62.0/query/{locator}"
        return answer

    def next_page(self, locator: str) -> dict[str, Any]:
        """The rest of a query's records."""
        if locator not in self.cursors:
            raise Refused(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        rows = self.cursors.pop(locator)
        answer = self._page(rows)
        answer["totalSize"] = len(rows)
        return answer

    @staticmethod
    def _conditions(where: str, soql: str) -> list[tuple[str, list[str]]]:
        """``f IN ('a', 'b') OR g IN (…)`` → [(f, [a, b]), (g, […])]."""
        result, rest = [], where
        while True:
            head = re.match(r"(\w+) IN \(", rest)
            if head is None:
                raise Refused(400, "MALFORMED_QUERY", f"unexpected token in query: {soql}")
            rest, values = rest[head.end() :], []
            while (literal := LITERAL.match(rest)) is not None:
                values.append(re.sub(r"\\(.)", r"\1", literal[1]))
                rest = rest[literal.end() :]
                rest = rest[2:] if rest.startswith(", ") else rest
            if not rest.startswith(")") or not values:
                raise Refused(400, "MALFORMED_QUERY", f"unexpected token in query: {soql}")
            result.append((head[1], values))
            rest = rest[1:]
            if not rest:
                return result
            if not rest.startswith(" OR "):
                raise Refused(400, "MALFORMED_QUERY", f"unexpected token in query: {soql}")
            rest = rest[4:]

    # --- sObject Collections ------------------------------------------------------------------------------------

    def collection(self, method: str, body: Any, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        """Validate and apply one collections request; results in order."""
        if method == "DELETE":
            ids = query.get("ids", [""])[0].split(",")
            if not ids[0] or len(ids) > LIMIT:
                raise Refused(400, "INVALID_BATCH_SIZE", f"ids: between 1 and {LIMIT} ids")
            return [self._delete(rid) for rid in ids]
        records, all_or_none = self._check_body(body)
        snapshot = copy.deepcopy(self.records)
        results = [self._create(r) if method == "POST" else self._update(r) for r in records]
        if all_or_none and not all(r["success"] for r in results):
            self.records = snapshot
            code = "ALL_OR_NONE_OPERATION_ROLLED_BACK"
            return [r if not r["success"] else record_error(code, "Record rolled back", []) for r in results]
        return results

    def _check_body(self, body: Any) -> tuple[list[dict[str, Any]], bool]:
        if not isinstance(body, dict) or set(body) - {"allOrNone", "records"}:
            raise Refused(400, "JSON_PARSER_ERROR", "body: only allOrNone and records are allowed")
        records, all_or_none = body.get("records"), body.get("allOrNone", False)
        if not isinstance(all_or_none, bool):
            raise Refused(400, "JSON_PARSER_ERROR", "allOrNone: must be a boolean")
        if not isinstance(records, list) or not 1 <= len(records) <= LIMIT:
            raise Refused(400, "INVALID_BATCH_SIZE", f"records: between 1 and {LIMIT} records")
        for record in records:
            sobject = record.get("attributes", {}).get("type") if isinstance(record, dict) else None
            if sobject not in FIELDS:
                raise Refused(400, "INVALID_TYPE", "records[].attributes.type: a Lead or Contact is needed")
            for name, value in record.items():
                if name in ("attributes", "id"):
                    continue
                if name not in FIELDS[sobject]:
                    raise Refused(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}")
                wanted = (bool, type(None)) if name in BOOLEANS else (str, type(None))
                if not isinstance(value, wanted):
                    raise Refused(400, "JSON_PARSER_ERROR", f"Cannot deserialize value for field {name}")
        return records, all_or_none

    def _problem(self, sobject: str, values: dict[str, Any], rid: str | None) -> dict[str, Any] | None:
        """A per-record refusal of these values, if any."""
        if read_only := sorted(set(values) & READ_ONLY):
            return record_error("INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields", read_only)
        email = values.get("Email")
        if email and (not EMAIL.fullmatch(email) or email.lower() in self.invalid_emails):
            return record_error("INVALID_EMAIL_ADDRESS", f"Email: invalid email address: {email}", ["Email"])
        key = values.get(UNIQUE)  # unique per object: Lead and Contact each have their own field
        holder = next((r["Id"] for r in self.of_type(sobject) if key and r.get(UNIQUE) == key and r["Id"] != rid), None)
        if holder is not None:
            message = f"duplicate value found: {UNIQUE} duplicates value on record with id: {holder}"
            return record_error("DUPLICATE_VALUE", message, [UNIQUE])
        return None

    def _create(self, record: dict[str, Any]) -> dict[str, Any]:
        sobject = record["attributes"]["type"]
        values = {k: v for k, v in record.items() if k != "attributes"}
        if "id" in values:
            return record_error("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"])
        missing = [f for f in REQUIRED[sobject] if not values.get(f)]
        if missing:
            return record_error("REQUIRED_FIELD_MISSING", f"Required fields are missing: {missing}", missing)
        problem = self._problem(sobject, values, None)
        if problem is not None:
            return problem
        if str(values.get("Email") or "").lower() in self.duplicate_rule:
            return record_error("DUPLICATES_DETECTED", "Use one of these records?", [])
        extra = {"IsConverted": False} if sobject == "Lead" else {}
        rid = self.add(sobject, **extra, **{k: v for k, v in values.items() if v is not None})
        return {"id": rid, "success": True, "errors": []}

    def _update(self, record: dict[str, Any]) -> dict[str, Any]:
        rid = record.get("id")
        values = {k: v for k, v in record.items() if k not in ("attributes", "id")}
        if not isinstance(rid, str):
            return record_error("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        if rid in self.deleted:
            return record_error("ENTITY_IS_DELETED", "entity is deleted", [])
        current = self.records.get(rid)
        if current is None or current["type"] != record["attributes"]["type"]:
            return record_error("MALFORMED_ID", f"malformed id {rid}", ["Id"])
        if current.get("IsConverted"):
            return record_error("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
        problem = self._problem(current["type"], values, rid)
        if problem is not None:
            return problem
        for name, value in values.items():
            if value is None:
                current.pop(name, None)
            else:
                current[name] = value
        return {"id": rid, "success": True, "errors": []}

    def _delete(self, rid: str) -> dict[str, Any]:
        if rid in self.deleted:
            return {"id": rid, **record_error("ENTITY_IS_DELETED", "entity is deleted", [])}
        if rid not in self.records:
            return {"id": rid, **record_error("MALFORMED_ID", f"malformed id {rid}", [])}
        del self.records[rid]
        self.deleted.add(rid)
        return {"id": rid, "success": True, "errors": []}


def _matches(value: Any, wanted: list[str], field: str) -> bool:
    if value is None:
        return False
    if field == "Email":  # SOQL compares text case-blind
        return str(value).lower() in {w.lower() for w in wanted}
    return str(value) in wanted


def _handler(fake: SalesforceFake) -> type[BaseHTTPRequestHandler]:
    class Handler(RestHandler):
        def _serve(self, method: str) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            with fake.lock:
                status, answer, headers, drop = self._answer(method, raw)
                fake.statuses.append(status)
            if drop:
                self.close_connection = True
                return  # the write is committed, the client never hears so
            data = json.dumps(answer).encode()
            self.send_response(status)
            for name, value in {**headers, "content-type": "application/json"}.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self, method: str, raw: bytes) -> tuple[int, Any, dict[str, str], bool]:
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/services/oauth2/token" and method == "POST":
                status, answer = self._token(raw)
                return status, answer, {}, False
            version = API.match(url.path)
            if version is None or int(version[1]) < 42:  # sObject Collections exist from API 42.0
                return 404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}], {}, False
            if self.headers.get("authorization", "").removeprefix("Bearer ") not in fake.tokens:
                return 401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], {}, False
            fake.api_used += 1
            headers = {"sforce-limit-info": f"api-usage={fake.api_used}/{fake.api_limit}"}
            if fake.limit_next > 0:
                fake.limit_next -= 1
                fake.requests.append(("limited", {}))
                if fake.retry_after is not None:
                    headers["retry-after"] = fake.retry_after
                limited = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
                return fake.limit_status, limited, headers, False
            try:
                status, answer, drop = self._route(method, url.path[version.end() :], url.query, raw)
            except Refused as exc:
                return exc.status, [{"message": str(exc), "errorCode": exc.code}], headers, False
            return status, answer, headers, drop

        def _token(self, raw: bytes) -> tuple[int, Any]:
            if self.headers.get("content-type") != "application/x-www-form-urlencoded":
                return 400, {"error": "invalid_request", "error_description": "form body expected"}
            form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
            fake.requests.append(("token", {"grant_type": form.get("grant_type"), "client_id": form.get("client_id")}))
            if form.get("grant_type") != "client_credentials":
                return 400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}
            token = f"00D000000000001!token{len(fake.tokens) + len(fake.requests)}"
            fake.tokens.add(token)
            return 200, {"access_token": token, "instance_url": fake.url, "token_type": "Bearer", "issued_at": "0"}

        def _route(self, method: str, rest: str, query: str, raw: bytes) -> tuple[int, Any, bool]:
            params = urllib.parse.parse_qs(query)
            if rest == "query" and method == "GET":
                (soql,) = params.get("q", [""])
                fake.requests.append(("query", {"q": soql}))
                return 200, fake.query(soql), False
            if rest.startswith("query/") and method == "GET":
                fake.requests.append(("query-more", {}))
                return 200, fake.next_page(rest.removeprefix("query/")), False
            ops = {"POST": "create", "PATCH": "update", "DELETE": "delete"}
            if rest != "composite/sobjects" or method not in ops:
                raise Refused(404, "NOT_FOUND", "The requested resource does not exist")
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                raise Refused(400, "JSON_PARSER_ERROR", "Unexpected character") from None
            fake.requests.append((ops[method], body if body is not None else {"ids": params.get("ids", [""])[0]}))
            results = fake.collection(method, body, params)
            drop = fake.drop_after_commit
            fake.drop_after_commit = False
            return 200, results, drop

    return Handler


@contextmanager
def serve() -> Iterator[SalesforceFake]:
    """The fake on a free loopback port until the block ends."""
    fake = SalesforceFake()
    with on_loopback(fake, _handler(fake)):
        yield fake
