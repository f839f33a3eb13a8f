"""Extension: /external/webhooks, an account's webhook endpoints and their deliveries (docs/webhooks.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from contactvault.server.api.deps import AccountId, RuntimeDep, json
from contactvault.server.api.openapi import SINCE
from contactvault.server.api.schemas import ErrorPublic
from contactvault.server.db.webhooks import AttemptRow
from contactvault.server.domain.errors import NotFound
from contactvault.server.domain.tasks import parse_task_id
from contactvault.server.domain.webhooks import URL_PATTERN
from contactvault.server.services import unlocked_contacts, webhooks
from contactvault.server.services.unlocked_contacts import SINCE_EXAMPLE
from contactvault.server.services.webhooks import EndpointView

router = APIRouter(prefix="/external/webhooks", tags=["webhooks"])
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorPublic} for s in (400, 401, 429)}
EventTypeName = Literal["unlock_task.completed", "contact.erased", "webhook.test"]
PayloadName = Literal["thin", "full"]
PAYLOAD_DOC = (
    "thin (default): ids, counts and credits. full: `unlock_task.completed` also carries the delivered items (as the "
    "task's poll shows them), rendered at each attempt; over 256 KiB it goes out thin with `truncated` and `itemsUrl`."
)
EndpointIdPath = Annotated[str, Path(max_length=30, description="The endpoint id (digits).")]
# The default rule (docs/webhooks.md); CONTACTVAULT_WEBHOOKS_ALLOW_PRIVATE=1 also accepts http and IP addresses.
# The ``since`` forms of the other routes, years 1900-2999 (far years with an offset overflow when made UTC).
RECOVER_SINCE = "^(19|2[0-9])[0-9]{2}" + SINCE.removeprefix("^[0-9]{4}")
URL_SCHEMA: dict[str, Any] = {"pattern": URL_PATTERN, "examples": ["https://hooks.example.com/contactvault"]}
ENDPOINT_EXAMPLE: dict[str, Any] = {
    "id": "5740418994814306926",
    "url": "https://hooks.example.com/contactvault",
    "description": "CRM bridge",
    "eventTypes": ["unlock_task.completed"],
    "payload": "thin",
    "enabled": True,
    "disabledReason": None,
    "createdAt": "2026-11-30T09:00:00Z",
    "updatedAt": "2026-11-30T09:00:00Z",
}


class WebhookEndpointCreate(BaseModel):
    """A new endpoint: an https URL, what it is for, which events it wants (none: every event)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, json_schema_extra=URL_SCHEMA)
    description: str | None = Field(default=None, max_length=500)
    eventTypes: list[EventTypeName] = Field(default_factory=list, max_length=10)
    payload: PayloadName = Field(default="thin", description=PAYLOAD_DOC)


class WebhookEndpointUpdate(BaseModel):
    """What to change; absent fields stay as they are. ``enabled: true`` clears the failure record."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=2000, json_schema_extra=URL_SCHEMA)
    description: str | None = Field(default=None, max_length=500)
    eventTypes: list[EventTypeName] | None = Field(default=None, max_length=10)
    payload: PayloadName | None = Field(default=None, description=PAYLOAD_DOC)
    enabled: bool | None = None


class WebhookEndpointPublic(BaseModel):
    """An endpoint (its secret is shown only when created or rotated)."""

    model_config = ConfigDict(json_schema_extra={"examples": [ENDPOINT_EXAMPLE]})

    id: str
    url: str
    description: str
    eventTypes: list[str]
    payload: PayloadName
    enabled: bool
    disabledReason: Literal["by_account", "gone", "failing"] | None
    createdAt: str
    updatedAt: str


class WebhookEndpointCreated(WebhookEndpointPublic):
    """A new endpoint with its signing secret, shown this once."""

    secret: str


class WebhookEndpointList(BaseModel):
    """Every endpoint of the account, oldest first."""

    items: list[WebhookEndpointPublic]


class WebhookEndpointDeleted(BaseModel):
    """The endpoint is gone, with its secrets, messages and attempts."""

    id: str
    deleted: bool


class WebhookSecretRotated(BaseModel):
    """The new secret, shown this once; the previous ones keep signing until ``previousSecretsExpireAt``."""

    secret: str
    previousSecretsExpireAt: str


class WebhookSecretRotate(BaseModel):
    """How long the previous secrets keep signing (0 to 7 days; 24 h by default)."""

    model_config = ConfigDict(extra="forbid")

    overlapSeconds: int = Field(default=86_400, ge=0, le=7 * 86_400)


class WebhookMessageQueued(BaseModel):
    """A message queued for delivery (its id is the ``webhook-id`` header)."""

    messageId: str


class WebhookRecover(BaseModel):
    """Send again every message that failed for good since this moment (ISO 8601)."""

    model_config = ConfigDict(extra="forbid")

    since: str = Field(max_length=64, pattern=RECOVER_SINCE, examples=[SINCE_EXAMPLE])


class WebhookRecovered(BaseModel):
    """How many messages were queued again."""

    requeued: int


class WebhookAttemptPublic(BaseModel):
    """One delivery attempt."""

    messageId: str
    trigger: str
    outcome: Literal["success", "failed"]
    statusCode: int | None
    error: str | None
    latencyMs: int
    response: str | None
    at: str


class WebhookAttemptList(BaseModel):
    """The latest attempts, newest first."""

    items: list[WebhookAttemptPublic]


def _iso(moment: Any) -> str:
    return str(moment.isoformat()).replace("+00:00", "Z")


def _endpoint(e: EndpointView) -> dict[str, Any]:
    return {
        "id": str(e.id),
        "url": e.url,
        "description": e.description,
        "eventTypes": e.event_types,
        "payload": e.payload,
        "enabled": e.enabled,
        "disabledReason": e.disabled_reason,
        "createdAt": _iso(e.created_at),
        "updatedAt": _iso(e.updated_at),
    }


def _attempt(a: AttemptRow) -> dict[str, Any]:
    return {
        "messageId": a.message_id,
        "trigger": a.trigger,
        "outcome": a.outcome,
        "statusCode": a.status_code,
        "error": a.error,
        "latencyMs": a.latency_ms,
        "response": a.response_head,
        "at": _iso(a.created_at),
    }


def _id(raw: str) -> int:
    parsed = parse_task_id(raw)  # the same digit-string rule as task ids
    if parsed is None:
        raise NotFound(f"Webhook endpoint {raw[:30]} not found.")
    return parsed


@router.post("", status_code=201, response_model=WebhookEndpointCreated, responses=ERRORS, summary="Add an endpoint")
def create(rt: RuntimeDep, account_id: AccountId, body: WebhookEndpointCreate) -> Response:
    """Register an endpoint; the answer holds its signing secret (`whsec_…`), shown this once."""
    created = webhooks.create_endpoint(rt, account_id, body.url, body.description, body.eventTypes, body.payload)
    return json({**_endpoint(created.endpoint), "secret": created.secret}, 201)


@router.get("", response_model=WebhookEndpointList, responses=ERRORS, summary="List endpoints")
def list_all(rt: RuntimeDep, account_id: AccountId) -> Response:
    """Every endpoint of the account, oldest first."""
    return json({"items": [_endpoint(e) for e in webhooks.list_endpoints(rt, account_id)]})


@router.get("/{endpoint_id}", response_model=WebhookEndpointPublic, responses=ERRORS, summary="Get an endpoint")
def get(rt: RuntimeDep, account_id: AccountId, endpoint_id: EndpointIdPath) -> Response:
    """One endpoint."""
    return json(_endpoint(webhooks.get_endpoint(rt, account_id, _id(endpoint_id))))


@router.patch("/{endpoint_id}", response_model=WebhookEndpointPublic, responses=ERRORS, summary="Change an endpoint")
def update(rt: RuntimeDep, account_id: AccountId, endpoint_id: EndpointIdPath, body: WebhookEndpointUpdate) -> Response:
    """Change the URL, description, event filter, payload or enabled flag."""
    view = webhooks.update_endpoint(
        rt,
        account_id,
        _id(endpoint_id),
        url=body.url,
        description=body.description,
        event_types=body.eventTypes,
        enabled=body.enabled,
        payload=body.payload,
    )
    return json(_endpoint(view))


@router.delete("/{endpoint_id}", response_model=WebhookEndpointDeleted, responses=ERRORS, summary="Delete an endpoint")
def delete(rt: RuntimeDep, account_id: AccountId, endpoint_id: EndpointIdPath) -> Response:
    """Remove the endpoint with its secrets, undelivered messages and attempt log."""
    webhooks.delete_endpoint(rt, account_id, _id(endpoint_id))
    return json({"id": endpoint_id, "deleted": True})


@router.post(
    "/{endpoint_id}/rotate-secret", response_model=WebhookSecretRotated, responses=ERRORS, summary="Rotate the secret"
)
def rotate_secret(
    rt: RuntimeDep, account_id: AccountId, endpoint_id: EndpointIdPath, body: WebhookSecretRotate
) -> Response:
    """A new secret, shown once; messages carry a signature for every secret still inside the overlap."""
    secret, until = webhooks.rotate_secret(rt, account_id, _id(endpoint_id), timedelta(seconds=body.overlapSeconds))
    return json({"secret": secret, "previousSecretsExpireAt": _iso(until)})


@router.post(
    "/{endpoint_id}/test", status_code=202, response_model=WebhookMessageQueued, responses=ERRORS, summary="Send a test"
)
def send_test(rt: RuntimeDep, account_id: AccountId, endpoint_id: EndpointIdPath) -> Response:
    """Queue a `webhook.test` message to the endpoint, whatever its event filter."""
    return json({"messageId": webhooks.send_test(rt, account_id, _id(endpoint_id))}, 202)


@router.get(
    "/{endpoint_id}/attempts", response_model=WebhookAttemptList, responses=ERRORS, summary="List delivery attempts"
)
def attempts(
    rt: RuntimeDep,
    account_id: AccountId,
    endpoint_id: EndpointIdPath,
    limit: Annotated[int, Query(ge=1, le=100, description="How many, newest first.")] = 50,
) -> Response:
    """The latest attempts: status, latency and the first bytes of the answer."""
    rows = webhooks.list_attempts(rt, account_id, _id(endpoint_id), limit)
    return json({"items": [_attempt(a) for a in rows]})


@router.post(
    "/{endpoint_id}/messages/{message_id}/resend",
    status_code=202,
    response_model=WebhookMessageQueued,
    responses=ERRORS,
    summary="Resend one message",
)
def resend(
    rt: RuntimeDep,
    account_id: AccountId,
    endpoint_id: EndpointIdPath,
    message_id: Annotated[str, Path(max_length=40, description="The message id (`webhook-id`).")],
) -> Response:
    """Send one message again, with the same `webhook-id` and a fresh timestamp and signature."""
    webhooks.resend(rt, account_id, _id(endpoint_id), message_id)
    return json({"messageId": message_id}, 202)


@router.post(
    "/{endpoint_id}/recover",
    status_code=202,
    response_model=WebhookRecovered,
    responses=ERRORS,
    summary="Resend every failed message since a moment",
)
def recover(rt: RuntimeDep, account_id: AccountId, endpoint_id: EndpointIdPath, body: WebhookRecover) -> Response:
    """Queue again every message to the endpoint that failed for good since `since`."""
    endpoint = _id(endpoint_id)
    since = unlocked_contacts.parse_since(body.since) or rt.clock.now()
    return json({"requeued": webhooks.recover(rt, account_id, endpoint, since)}, 202)
