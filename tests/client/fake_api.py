"""A small stateful fake of the unlock API, served through httpx.MockTransport.

It keeps a balance, people with per-caller unlock state, tasks with holds, and Idempotency-Key replays, which
is all the SDK workflow needs. Knobs simulate a server that over-charges, ignores ``?wait``, or dies mid-way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Any

import httpx

UNIT = {"email": 15, "phone": 150}
TASK_PATHS = {"unlock-tasks": "email", "unlock-phone-tasks": "phone"}
SUBMIT_PATHS = {"/external/contacts/unlock": "email", "/external/contacts/unlock-phone": "phone"}


class SimulatedCrash(BaseException):
    """The client process 'dies' here: not an httpx error, so nothing in the SDK catches it."""


@dataclasses.dataclass
class Person:
    id: str
    outcome: str = "unlocked"  # or an errorCode such as UNRESOLVED / INELIGIBLE
    status: dict[str, str] = dataclasses.field(default_factory=lambda: {"email": "locked", "phone": "locked"})
    event_id: str = "100"

    def address(self, channel: str) -> str:
        return f"person{self.id}@example.com" if channel == "email" else f"+1555{int(self.id):07d}"


@dataclasses.dataclass
class Task:
    id: str
    channel: str
    person_ids: list[str]
    held: int
    max_credits: int | None
    polls: int = 0
    status: str = "pending"
    items: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    charged: int = 0


class FakeAPI:
    """The server side of every SDK workflow test."""

    def __init__(self, *, balance: int = 10_000, people: int = 10, event_id: str = "100") -> None:
        self.balance = balance
        self.event_id = event_id
        self.people = {str(i): Person(str(i), event_id=event_id) for i in range(1, people + 1)}
        self.tasks: dict[str, Task] = {}
        self.idempotency: dict[str, tuple[bytes, int, dict[str, Any]]] = {}
        self.requests: list[httpx.Request] = []
        self.next_task = 9_000_000_000_000
        # Knobs.
        self.overcharge = 0
        self.ignore_wait = False
        self.polls_to_finish = 1
        self.crash_after_submit = False
        self.crash_on_poll = False
        self.task_credits_field = True

    @property
    def held(self) -> int:
        return sum(t.held for t in self.tasks.values() if t.status not in {"completed", "failed"})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def async_transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def submissions(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST" and r.url.path in SUBMIT_PATHS]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.headers.get("Authorization") != "Bearer sk_test_secret":
            return _error(401, "INVALID_API_KEY")
        if path == "/external/credits/balance":
            return httpx.Response(200, json={"totalBalance": self.balance - self.held, "reservedBalance": self.held})
        if path == "/external/personnel/list":
            return self._personnel_list(request)
        if path == "/external/personnel/profile":
            person = self.people.get(request.url.params["personnel_id"])
            return httpx.Response(200, json=self._contact(person, "email")) if person else _error(404, "NOT_FOUND")
        if path == "/external/actions/precheck":
            return self._precheck(json.loads(request.content))
        if path in SUBMIT_PATHS:
            return self._submit(request, SUBMIT_PATHS[path])
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[2] in TASK_PATHS:
            return self._poll(request, parts[3], TASK_PATHS[parts[2]])
        return _error(404, "NOT_FOUND")

    # -- routes -------------------------------------------------------------------------------------------

    def _contact(self, person: Person, _channel: str) -> dict[str, Any]:
        email_unlocked = person.status["email"] == "unlocked"
        phone = person.status["phone"]
        return {
            "id": person.id,
            "fullName": f"Person {person.id}",
            "title": "VP Partnerships",
            "companyName": "Example Co",
            "sourceType": "exhibitor",
            "email": person.address("email") if email_unlocked else None,
            "contactUnlockStatus": person.status["email"],
            "phone": person.address("phone") if phone == "unlocked" else None,
            "phoneUnlockStatus": {"unlocked": "ready", "unlocking": "processing"}.get(phone),
            "linkedinActivity": None,
        }

    def _personnel_list(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if params["event_id"] != self.event_id:
            return _error(404, "NOT_FOUND")
        page, size = int(params.get("page", 1)), int(params.get("pageSize", 50))
        everyone = [self._contact(p, "email") for p in self.people.values() if p.event_id == self.event_id]
        total_pages = math.ceil(len(everyone) / size)
        items = everyone[(page - 1) * size : page * size]
        body = {
            "items": items,
            "total": len(everyone),
            "page": page,
            "pageSize": size,
            "totalPages": total_pages,
            "hasMore": page < total_pages,
            "semantics": {"accessMode": "full"},
        }
        return httpx.Response(200, json=body)

    def _classify(self, ids: list[str], channel: str) -> tuple[list[str], dict[str, list[str]]]:
        chargeable: list[str] = []
        detail: dict[str, list[str]] = {"already_unlocked_personnel_ids": [], "unlocking_personnel_ids": [],
                                        "missing_personnel_ids": []}  # fmt: skip
        for pid in dict.fromkeys(ids):
            person = self.people.get(pid)
            if person is None:
                detail["missing_personnel_ids"].append(pid)
            elif person.status[channel] == "unlocked":
                detail["already_unlocked_personnel_ids"].append(pid)
            elif person.status[channel] == "unlocking":
                detail["unlocking_personnel_ids"].append(pid)
            else:
                chargeable.append(pid)
        return chargeable, detail

    def _precheck(self, body: dict[str, Any]) -> httpx.Response:
        channel = {"unlock_contact_emails": "email", "unlock_contact_phones": "phone"}.get(body["action_type"])
        if channel is None:
            return httpx.Response(200, json={"ok": True, "allowed": False, "reason_code": "unsupported_action"})
        chargeable, detail = self._classify(body["params"]["personnel_ids"], channel)
        credits = UNIT[channel] * len(chargeable)
        return httpx.Response(
            200,
            json={
                "ok": True,
                "action_type": body["action_type"],
                "allowed": True,
                "should_charge": True,
                "credits": credits,
                "reason_code": "ok",
                "detail": {
                    "personnel_ids": chargeable,
                    "missing_personnel_ids": detail["missing_personnel_ids"],
                    "invalid_personnel_ids": [],
                    "available_balance": self.balance - self.held,
                },
            },
        )

    def _submit(self, request: httpx.Request, channel: str) -> httpx.Response:
        key = request.headers.get("Idempotency-Key")
        if key in self.idempotency:
            body, status, stored = self.idempotency[key]
            if body != request.content:
                return _error(422, "IDEMPOTENCY_KEY_REUSED")
            return httpx.Response(status, json=stored, headers={"Idempotent-Replayed": "true"})
        payload = json.loads(request.content)
        chargeable, detail = self._classify(payload["personnel_ids"], channel)
        skipped = [pid for ids in detail.values() for pid in ids]
        cost = UNIT[channel] * len(chargeable)
        if cost > self.balance - self.held:
            return _error(402, "INSUFFICIENT_CREDITS", details={"required": cost, "available": self.balance})
        if not chargeable:
            stored = {"status": "success", "skipped_personnel_ids": skipped, "skipped_detail": detail}
        else:
            self.next_task += 7919
            task_id = str(self.next_task)
            self.tasks[task_id] = Task(task_id, channel, chargeable, cost, payload.get("max_credits"))
            for pid in chargeable:
                self.people[pid].status[channel] = "unlocking"
            stored = {"status": "accepted", "task_id": task_id, "job_id": task_id,
                      "skipped_personnel_ids": skipped, "skipped_detail": detail}  # fmt: skip
        if key:
            self.idempotency[key] = (request.content, 201, stored)
        if self.crash_after_submit:
            raise SimulatedCrash
        return httpx.Response(201, json=stored)

    def _poll(self, request: httpx.Request, task_id: str, channel: str) -> httpx.Response:
        if self.crash_on_poll:
            raise SimulatedCrash
        task = self.tasks.get(task_id)
        if task is None or task.channel != channel:
            return _error(404, "NOT_FOUND")
        task.polls += 1
        honours_wait = "wait" in request.url.params and not self.ignore_wait
        if task.status == "pending" and (honours_wait or task.polls >= self.polls_to_finish):
            self._finish(task)
        body = self._task_body(task)
        etag = '"' + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        return httpx.Response(200, json=body, headers={"ETag": etag})

    def _finish(self, task: Task) -> None:
        unit = UNIT[task.channel]
        for pid in task.person_ids:
            person = self.people[pid]
            item: dict[str, Any] = {"personnelId": pid, "creditsCharged": 0, "source": "vault"}
            capped = task.max_credits is not None and task.charged + unit > task.max_credits
            if person.outcome == "unlocked" and not capped:
                verification = {"status": "valid", "score": 97, "checkedAt": "2026-01-01T00:00:00Z"}
                item.update(
                    status="unlocked",
                    creditsCharged=unit,
                    completedAt="2026-01-01T00:00:00Z",
                    verification=verification,
                )
                item[task.channel] = person.address(task.channel)
                person.status[task.channel] = "unlocked"
                task.charged += unit
            else:
                item.update(status="failed", errorCode="CREDIT_CAP_REACHED" if capped else person.outcome)
                person.status[task.channel] = "failed"
            task.items.append(item)
        self.balance -= task.charged + self.overcharge
        task.status = "completed"

    def _task_body(self, task: Task) -> dict[str, Any]:
        items = task.items or [{"personnelId": pid, "status": "pending"} for pid in task.person_ids]
        body: dict[str, Any] = {"taskId": task.id, "taskStatus": task.status, "items": items,
                                "createdAt": "2026-01-01T00:00:00Z", "someFutureField": {"x": 1}}  # fmt: skip
        if self.task_credits_field:
            body.update(creditsHeld=task.held, creditsCharged=task.charged)
        return body


def _error(status: int, key: str, *, details: dict[str, Any] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"code": status, "message": key.lower().replace("_", " "), "errorKey": key,
                            "traceId": "trace-fake"}  # fmt: skip
    if details:
        body["details"] = details
    return httpx.Response(status, json=body, headers={"X-Request-ID": "trace-fake"})
