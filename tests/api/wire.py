"""Checks of a real answer against what is published: the OpenAPI document (openapi-core) and the JSON types of
every Lensmor field (../shared/spec/contract.md, ../shared/seed/): ids are digit strings, counts integers,
``addonExpireAt``/``resetAt`` millisecond integers, ``biz_code`` a string, nullable fields present.

``tests/api/conftest.py`` runs both on every response the API tests get, so the document and the types are checked
against success and every error the suite provokes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import httpx
import orjson
from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.testing import MockRequest, MockResponse

Check = Callable[[Any], bool]
DIGITS = re.compile(r"[0-9]+")
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# A millisecond timestamp of this century (seconds would be a thousand times smaller).
MS_FROM, MS_TO = 10**12, 10**13


def string(value: Any) -> bool:
    """A JSON string."""
    return isinstance(value, str)


def integer(value: Any) -> bool:
    """A JSON integer (not a boolean)."""
    return isinstance(value, int) and not isinstance(value, bool)


def boolean(value: Any) -> bool:
    """A JSON boolean."""
    return isinstance(value, bool)


def digits(value: Any) -> bool:
    """An id: a string of digits."""
    return isinstance(value, str) and DIGITS.fullmatch(value) is not None


def millis(value: Any) -> bool:
    """A timestamp in milliseconds since the epoch."""
    return integer(value) and MS_FROM <= value < MS_TO


def day(value: Any) -> bool:
    """A date, YYYY-MM-DD."""
    return isinstance(value, str) and DAY.fullmatch(value) is not None


def nullable(check: Check) -> Check:
    """null, or what ``check`` accepts."""
    return lambda value: value is None or check(value)


def array(check: Check) -> Check:
    """A JSON array whose every element ``check`` accepts."""
    return lambda value: isinstance(value, list) and all(check(v) for v in value)


Fields = dict[str, Check]
BALANCE: Fields = {
    **{
        f"{kind}{part}": integer
        for kind in ("total", "subscription", "addon", "gift")
        for part in ("Amount", "Balance")
    },
    "addonExpireAt": nullable(millis),
    "resetAt": nullable(millis),
    "reservedBalance": integer,
}
EVENT: Fields = {
    "id": digits,
    "eventId": digits,
    "name": string,
    **{f: nullable(string) for f in ("nickname", "description", "url", "venue", "city", "region", "country")},
    **{f: nullable(string) for f in ("image", "dataSource")},
    "dateStart": nullable(day),
    "dateEnd": nullable(day),
    "exhibitorCount": integer,
    "hasVisitors": boolean,
    "sponsorMatchStarred": integer,
}
EVENT_DETAIL: Fields = {
    **EVENT,
    "attendeeCount": nullable(integer),
    "personnelCount": integer,
    "eventType": nullable(string),
    "topics": array(string),
}
CONTACT: Fields = {
    "id": digits,
    "fullName": string,
    **{f: nullable(string) for f in ("title", "department", "seniorityLevel", "linkedinUrl", "companyName")},
    "sourceType": array(string),
    "email": nullable(string),
    "contactUnlockStatus": string,
    "phone": nullable(string),
    "phoneUnlockStatus": nullable(string),
    "eventCount": integer,
    "outreachMessageChannels": array(string),
}
PAGE: Fields = {"total": integer, "page": integer, "pageSize": integer, "totalPages": integer, "hasMore": boolean}
PRECHECK: Fields = {
    "ok": boolean,
    "action_type": string,
    "allowed": boolean,
    "should_charge": boolean,
    "credits": integer,
    "reason_code": string,
    "biz_code": string,
}
PRECHECK_DETAIL: Fields = {
    **dict.fromkeys(("requested_count", "chargeable_count", "already_unlocked_count", "unlocking_count"), integer),
    "available_balance": integer,
    "unit_cost": integer,
    "max": integer,
    "personnel_ids": array(digits),
    "missing_personnel_ids": array(digits),
    "invalid_personnel_ids": array(string),
    "unlinked_personnel_ids": array(digits),
}
SUBMISSION: Fields = {"status": string, "task_id": digits, "job_id": digits, "skipped_personnel_ids": array(string)}
TASK: Fields = {
    "taskId": digits,
    "taskStatus": string,
    "createdAt": string,
    "completedAt": nullable(string),
    **dict.fromkeys(("creditsHeld", "creditsCharged", "creditsReleased"), integer),
}
TASK_ITEM: Fields = {
    "personnelId": digits,
    "status": string,
    "email": string,
    "phone": string,
    "errorCode": string,
    "creditsCharged": integer,
    "completedAt": nullable(string),
}
ERROR: Fields = {"code": integer, "message": string, "errorKey": string, "traceId": string}


def mismatches(fields: Fields, body: Any, where: str) -> list[str]:
    """Each field of ``body`` named in ``fields`` whose JSON type is wrong (absent optional fields are fine)."""
    if not isinstance(body, dict):
        return [f"{where}: not an object"]
    return [
        f"{where}.{name} = {body[name]!r}" for name, check in fields.items() if name in body and not check(body[name])
    ]


def _contacts(items: list[Any], where: str) -> list[str]:
    found = []
    for i, item in enumerate(items):
        found += mismatches(CONTACT, item, f"{where}[{i}]")
        if isinstance(item, dict) and not set(CONTACT) <= set(item):
            found.append(f"{where}[{i}] lacks {sorted(set(CONTACT) - set(item))}")
    return found


def lensmor_type_problems(template: str, status: int, body: Any) -> list[str]:
    """Every Lensmor field of this answer whose JSON type differs from the contract's."""
    if status >= 400:
        found = mismatches(ERROR, body, "error")
        if isinstance(body, dict) and body.get("code") != status:
            found.append(f"error.code {body.get('code')!r} is not the status {status}")
        if status == 402:
            found += mismatches({"required": integer, "available": integer}, body.get("details"), "details")
        return found
    if status >= 300:
        return []
    page = mismatches(PAGE, body, "page") if isinstance(body, dict) and "items" in body else []
    items = body.get("items", []) if isinstance(body, dict) else []
    if template == "/external/credits/balance":
        return mismatches(BALANCE, body, "balance")
    if template == "/external/events/list":
        return page + [p for i, e in enumerate(items) for p in mismatches(EVENT, e, f"items[{i}]")]
    if template == "/external/events/{event_id}":
        return mismatches(EVENT_DETAIL, body.get("event"), "event")
    if template in ("/external/personnel/list", "/external/contacts/search"):
        return page + _contacts(items, "items")
    if template == "/external/personnel/profile":
        return _contacts([body], "profile")
    if template == "/external/actions/precheck":
        return mismatches(PRECHECK, body, "precheck") + mismatches(PRECHECK_DETAIL, body.get("detail"), "detail")
    if template.startswith("/external/contacts/unlock-"):
        found = mismatches(TASK, body, "task")
        return found + [
            p for i, it in enumerate(body.get("items", [])) for p in mismatches(TASK_ITEM, it, f"items[{i}]")
        ]
    if template.startswith("/external/contacts/unlock"):
        detail = body.get("skipped_detail", {})
        return mismatches(SUBMISSION, body, "submission") + mismatches(
            {k: array(string) for k in detail}, detail, "skipped_detail"
        )
    return []


class PublishedContract:
    """The published document of an app, loaded once per distinct document."""

    _loaded: dict[str, OpenAPI] = {}  # noqa: RUF012 - a cache shared by every instance on purpose

    def __init__(self, document: dict[str, Any]) -> None:
        key = hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()
        if key not in self._loaded:
            self._loaded[key] = OpenAPI.from_dict(document)
        self.openapi = self._loaded[key]
        # Fixed paths first, so /events/list is not read as /events/{event_id}.
        self.templates = sorted(
            ((t, re.compile(re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(t)))) for t in document["paths"]),
            key=lambda pair: "{" in pair[0],
        )

    def problems(self, response: httpx.Response) -> list[str]:
        """Why this answer breaks the document or the Lensmor types (empty when it fits both)."""
        request = response.request
        path = request.url.path
        if not path.startswith(("/external/", "/admin/v1/")):
            return []
        content_type = response.headers.get("content-type", "").split(";")[0]
        mock_request = MockRequest("http://testserver", request.method.lower(), path)
        mock_response = MockResponse(
            response.content,
            status_code=response.status_code,
            headers=dict(response.headers),
            content_type=content_type,
        )
        label = f"{request.method} {path} -> {response.status_code}"
        result = self.openapi.unmarshal_response(mock_request, mock_response)
        if any(isinstance(e, PathNotFound | OperationNotFound) for e in result.errors):
            return []  # not a published operation (an unknown path, a 405): nothing promised
        problems = [f"{label}: {e}" for e in result.errors]
        if response.content and content_type == "application/json":
            template = self.template(path)
            problems += [
                f"{label}: {p}" for p in lensmor_type_problems(template, response.status_code, response.json())
            ]
        return problems

    def template(self, path: str) -> str:
        """The documented path template that ``path`` falls under."""
        for template, pattern in self.templates:
            if pattern.fullmatch(path):
                return template
        return path
