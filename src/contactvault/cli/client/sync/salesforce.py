"""Salesforce Leads or Contacts (REST API): SOQL reads by email and by ``ContactVault_Id__c``, then sObject Collections.

Auth is the OAuth 2.0 client-credentials flow against the org's My Domain (``--url``); the token is fetched on first
use and fetched again once when a call answers 401. Reads are ``GET …/query?q=SELECT … WHERE Email IN (…) OR
ContactVault_Id__c IN (…)`` (queries kept short enough for a URL; ``nextRecordsUrl`` followed). Writes are
``POST``/``PATCH …/composite/sobjects`` with at most 200 records and ``allOrNone: false``: the answer has one result
per record, in order; a failed record is refused (exit 4), ``DUPLICATES_DETECTED`` (a duplicate rule) is a conflict.
``Email`` is not unique in Salesforce: several records with one email, or a converted Lead, are conflicts, never
guessed. Error messages are never echoed (Salesforce repeats the query, and so the emails, in them): only the error
codes and field names are. See docs/sync.md for the custom fields and the permissions.
"""

from __future__ import annotations

import contextlib
import enum
import os
import re
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from contactvault.cli.client.sync.engine import ApplyResult
from contactvault.cli.client.sync.http import TargetError, send
from contactvault.cli.client.sync.plan import ID_FIELD, Action, Contact, Existing, FieldMap, Kind, batches
from contactvault.cli.common import EXIT_USAGE, fail

__all__ = ["API", "API_NAMES", "SalesforceObject", "SalesforceSession", "SalesforceTarget", "open_target"]

API = "/services/data/v62.0"
TOKEN_PATH = "/services/oauth2/token"  # noqa: S105 (a URL path, not a secret)
COLLECTIONS = f"{API}/composite/sobjects"
LIMIT = 200  # records per sObject Collections call
QUERY_CHARS = 6000  # a SOQL query travels in the URL: stay far below the ~16 KB a URL may hold
USAGE_STOP = 0.9  # stop before the org's daily API allocation runs out (Sforce-Limit-Info), not at its 403
PLACEHOLDER = "[not provided]"  # what Web-to-Lead writes into required fields it has no value for
TIMEOUT = 15.0
# Neutral field → Salesforce API name. A name a mapping file gives that is not here is a Salesforce API name.
API_NAMES = {
    "email": "Email",
    "phone": "Phone",
    ID_FIELD: "ContactVault_Id__c",
    "contactvault_source": "ContactVault_Source__c",
    "contactvault_verification_status": "ContactVault_Verification_Status__c",
    "contactvault_verification_score": "ContactVault_Verification_Score__c",
    "contactvault_unlocked_at": "ContactVault_Unlocked_At__c",
}
ERASED_FIELD = "ContactVault_Erased__c"
REQUIRED = {"Lead": ("LastName", "Company"), "Contact": ("LastName",)}
KEY_PREFIXES = {"00Q": "Lead", "003": "Contact"}
NO_SUCH_COLUMN = re.compile(r"No such column '(\w+)' on (?:entity|sobject of type) '?(\w+)'?")
USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class SalesforceObject(enum.StrEnum):
    """Which sObject ``sync --to salesforce`` writes."""

    LEAD = "lead"
    CONTACT = "contact"


def api_name(name: str) -> str:
    """The Salesforce API name of a field the mapping names."""
    return API_NAMES.get(name, name)


def _error(response: httpx.Response) -> str:
    """Status, error codes and unknown-column names; never Salesforce's messages (they echo queries and values)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    items = [e for e in body if isinstance(e, dict)] if isinstance(body, list) else []
    if isinstance(body, dict) and "error" in body:  # the OAuth endpoint's envelope
        items = [{"errorCode": body["error"]}]
    codes = ", ".join(dict.fromkeys(str(e.get("errorCode", "")) for e in items if e.get("errorCode")))
    columns = [m.groups() for e in items if (m := NO_SUCH_COLUMN.search(str(e.get("message", ""))))]
    detail = "".join(f" (no field {field} on {sobject})" for field, sobject in columns)
    return f"Salesforce answered {response.status_code} {codes}{detail}".rstrip()


def _limit_exceeded(response: httpx.Response) -> bool:
    """A 403 ``REQUEST_LIMIT_EXCEEDED`` that says when to come back (without ``Retry-After`` it is the day's end)."""
    return (
        response.status_code == 403
        and "retry-after" in response.headers
        and "REQUEST_LIMIT_EXCEEDED" in _error(response)
    )


class SalesforceSession:
    """Calls the REST API with a client-credentials token: fetched when first needed, fetched again once on a 401."""

    def __init__(self, http: httpx.Client, client_id: str, client_secret: str, *, usage_stop: float = USAGE_STOP):
        self.http, self.usage_stop = http, usage_stop
        self._credentials = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        self._token: str | None = None
        self.usage: tuple[int, int] | None = None  # (used, limit) from the last Sforce-Limit-Info

    def _fetch_token(self) -> str:
        response = send(self.http, "POST", TOKEN_PATH, data=self._credentials)
        if response.status_code != 200:
            raise TargetError(f"{_error(response)}: the client credentials were refused", response)
        token = response.json().get("access_token")
        if not isinstance(token, str) or not token:
            raise TargetError("Salesforce's token answer holds no access_token", response)
        return token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One API call; a 401 fetches a new token and tries once more; stops near the daily API limit."""
        if self.usage is not None and self.usage[0] >= self.usage_stop * self.usage[1]:
            used, limit = self.usage
            raise TargetError(
                f"the org has used {used} of its {limit} daily API requests (Sforce-Limit-Info); stopping at "
                f"{self.usage_stop:.0%}: rerun later to finish"
            )
        fresh = self._token is None
        if self._token is None:
            self._token = self._fetch_token()
        while True:
            headers = {"authorization": f"Bearer {self._token}"}
            response = send(self.http, method, path, headers=headers, retry_on=_limit_exceeded, **kwargs)
            if match := USAGE.search(response.headers.get("sforce-limit-info", "")):
                self.usage = (int(match[1]), int(match[2]))
            if response.status_code != 401 or fresh:
                return response
            self._token, fresh = self._fetch_token(), True


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _literal(value: str) -> str:
    """A SOQL string literal (backslash and quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class SalesforceTarget:
    """The Salesforce adapter for one sObject (``Lead`` or ``Contact``)."""

    name = "salesforce"
    batch_size = LIMIT

    def __init__(self, session: SalesforceSession, sobject: str = "Lead") -> None:
        self.session, self.sobject = session, sobject

    def read(self, contacts: Sequence[Contact], fields: FieldMap) -> dict[str, Existing]:
        """The records holding these contacts' emails or contactvault ids (SOQL; email compared case-blind)."""
        id_name, email_name = api_name(fields.target_name(ID_FIELD)), api_name(fields.target_name("email"))
        columns = ["Id", *sorted({api_name(to) for to, _ in fields.fields.values()} - {"Id"})]
        if bad := [c for c in columns if not API_NAME.fullmatch(c)]:
            raise TargetError(f"the mapping names {bad[0]!r}: not a Salesforce field API name (like MobilePhone)")
        if self.sobject == "Lead":
            columns.append("IsConverted")
        records: dict[str, dict[str, Any]] = {}
        for where in self._conditions(contacts, email_name, id_name):
            # Every value in ``where`` went through _literal (quotes and backslashes escaped): no injection.
            soql = f"SELECT {', '.join(columns)} FROM {self.sobject} WHERE {where}"  # noqa: S608
            for record in self._query(soql):
                records[str(record["Id"])] = record
        as_contacts = self._contacts_by_email(contacts) if self.sobject == "Lead" else {}
        found: dict[str, Existing] = {}
        for contact in contacts:
            mine = [r for r in records.values() if _text(r.get(id_name)) == contact.personnel_id]
            same_email = [
                r for r in records.values() if contact.email and _text(r.get(email_name)).lower() == contact.email
            ]
            matches = mine or same_email
            if matches:
                found[contact.personnel_id] = self._existing(matches, fields)
            elif contact.email in as_contacts:  # a Lead for a known Contact would be a duplicate in sales' eyes
                reason = "a Contact holds this email: sync this person with --object contact"
                found[contact.personnel_id] = Existing(as_contacts[contact.email], {}, reason)
        return found

    def _contacts_by_email(self, contacts: Sequence[Contact]) -> dict[str, str]:
        """Contacts holding these emails (a person may be a Contact already): email → Contact id."""
        found: dict[str, str] = {}
        for where in self._conditions([c for c in contacts if c.email], "Email", None):
            for record in self._query(f"SELECT Id, Email FROM Contact WHERE {where}"):  # noqa: S608 (escaped literals)
                found.setdefault(_text(record.get("Email")).lower(), str(record["Id"]))
        return found

    def _existing(self, matches: list[dict[str, Any]], fields: FieldMap) -> Existing:
        record = matches[0]
        values = {to: _text(record.get(api_name(to))) for to, _ in fields.fields.values()}
        conflict = ""
        if len(matches) > 1:
            conflict = f"{len(matches)} {self.sobject} records match (Salesforce does not keep emails unique)"
        elif record.get("IsConverted") is True:
            conflict = "the Lead was converted: sync it with --object contact"
        return Existing(str(record["Id"]), values, conflict)

    def _conditions(self, contacts: Sequence[Contact], email_name: str, id_name: str | None) -> Iterator[str]:
        """WHERE clauses covering ``contacts`` (by email, and by id unless ``id_name`` is None), each URL-sized."""
        emails: list[str] = []
        ids: list[str] = []
        for contact in contacts:
            emails += [_literal(contact.email)] if contact.email else []
            ids += [_literal(contact.personnel_id)] if id_name is not None else []
            if sum(len(x) + 1 for x in emails + ids) > QUERY_CHARS:
                yield self._where(emails, ids, email_name, id_name)
                emails, ids = [], []
        if ids or emails:
            yield self._where(emails, ids, email_name, id_name)

    @staticmethod
    def _where(emails: list[str], ids: list[str], email_name: str, id_name: str | None) -> str:
        parts = [f"{email_name} IN ({', '.join(emails)})"] if emails else []
        parts += [f"{id_name} IN ({', '.join(ids)})"] if ids else []
        return " OR ".join(parts)

    def _query(self, soql: str) -> Iterator[dict[str, Any]]:
        response = self.session.request("GET", f"{API}/query", params={"q": soql})
        while True:
            if response.status_code != 200:
                raise TargetError(_error(response), response)
            body = response.json()
            yield from body.get("records", [])
            if body.get("done", True) or not body.get("nextRecordsUrl"):
                return
            response = self.session.request("GET", str(body["nextRecordsUrl"]))

    def calls(self, actions: Sequence[Action]) -> list[str]:
        """One ``POST`` (creates) and one ``PATCH`` (updates) per batch that needs it."""
        result = []
        for kind, method in ((Kind.CREATE, "POST"), (Kind.UPDATE, "PATCH")):
            n = sum(a.kind == kind for a in actions)
            if n:
                result.append(f"{method} {COLLECTIONS} ({n} {self.sobject} record(s))")
        return result

    def apply(self, actions: Sequence[Action]) -> ApplyResult:
        """Create the new records, update the changed ones; per-record errors and duplicate rules reported."""
        result = ApplyResult()
        for kind, method in ((Kind.CREATE, "POST"), (Kind.UPDATE, "PATCH")):
            for chunk in batches([a for a in actions if a.kind == kind], LIMIT):
                records = [self._record(a, creating=kind == Kind.CREATE) for a in chunk]
                answers = self._collection(method, {"allOrNone": False, "records": records})
                for action, answer in zip(chunk, answers, strict=True):
                    self._judge(action, answer, result, creating=kind == Kind.CREATE)
        return result

    def _record(self, action: Action, *, creating: bool) -> dict[str, Any]:
        record: dict[str, Any] = {"attributes": {"type": self.sobject}}
        if not creating:
            record["id"] = action.target_id
        record.update({api_name(name): value for name, value in action.values.items()})
        if creating:
            for required in REQUIRED[self.sobject]:
                record.setdefault(required, PLACEHOLDER)
        return record

    def _collection(self, method: str, body: dict[str, Any] | None, **kwargs: Any) -> list[dict[str, Any]]:
        """One sObject Collections call; its per-record results, in order."""
        response = self.session.request(method, COLLECTIONS, json=body, **kwargs)
        if response.status_code != 200:  # a well-formed collections request always answers 200
            raise TargetError(_error(response), response)
        answers = response.json()
        expected = len(body["records"]) if body is not None else len(str(kwargs["params"]["ids"]).split(","))
        if not isinstance(answers, list) or len(answers) != expected:
            raise TargetError(f"Salesforce answered {len(answers)} results for {expected} records", response)
        return answers

    @staticmethod
    def _judge(action: Action, answer: dict[str, Any], result: ApplyResult, *, creating: bool) -> None:
        if answer.get("success") is True:
            if creating:
                result.created[action.personnel_id] = str(answer["id"])
            return
        errors = [e for e in answer.get("errors", []) if isinstance(e, dict)]
        codes = [str(e.get("statusCode", "")) for e in errors]
        if "DUPLICATES_DETECTED" in codes:
            result.conflicts[action.personnel_id] = "a Salesforce duplicate rule matched an existing record"
            return
        fields = sorted({str(f) for e in errors for f in e.get("fields", []) or []})
        where = f" on {', '.join(fields)}" if fields else ""
        result.failed[action.personnel_id] = f"Salesforce refused the record ({', '.join(codes) or 'error'}{where})"

    def erase(self, target_ids: Sequence[str], how: str) -> list[str]:
        """``delete``: to the Recycle Bin; ``flag``: opted out of email and calls, phone cleared, marked erased."""
        calls = []
        for chunk in batches(list(target_ids), LIMIT):
            if how == "delete":
                params = {"ids": ",".join(chunk), "allOrNone": "false"}
                answers = self._collection("DELETE", None, params=params)
                calls.append(f"DELETE {COLLECTIONS} ({len(chunk)} record(s))")
            else:
                flags = {"HasOptedOutOfEmail": True, "DoNotCall": True, "Phone": None, ERASED_FIELD: True}
                records = [{"attributes": {"type": self._type_of(i)}, "id": i, **flags} for i in chunk]
                answers = self._collection("PATCH", {"allOrNone": False, "records": records})
                calls.append(f"PATCH {COLLECTIONS} ({len(chunk)} record(s))")
            for answer in answers:
                codes = {str(e.get("statusCode")) for e in answer.get("errors", []) if isinstance(e, dict)}
                if answer.get("success") is not True and codes != {"ENTITY_IS_DELETED"}:
                    raise TargetError(f"Salesforce refused to {how} a record ({', '.join(sorted(codes))})")
        return calls

    def _type_of(self, record_id: str) -> str:
        """Lead or Contact by the id's key prefix (the ledger may hold both), else this target's object."""
        return KEY_PREFIXES.get(record_id[:3], self.sobject)


@contextlib.contextmanager
def open_target(url: str | None, sobject: SalesforceObject) -> Iterator[SalesforceTarget]:
    """The target for ``sync --to salesforce``: the org's URL and the connected app's credentials (environment)."""
    client_id = os.environ.get("SALESFORCE_CLIENT_ID", "")
    secret = os.environ.get("SALESFORCE_CLIENT_SECRET", "")
    if not url:
        fail("--to salesforce needs --url https://<your domain>.my.salesforce.com", EXIT_USAGE)
    if not client_id or not secret:
        fail("--to salesforce needs $SALESFORCE_CLIENT_ID and $SALESFORCE_CLIENT_SECRET (a connected app)", EXIT_USAGE)
    with httpx.Client(base_url=url, timeout=TIMEOUT, follow_redirects=False) as http:
        yield SalesforceTarget(SalesforceSession(http, client_id, secret), sobject.value.capitalize())
