"""``contactvault admin webhooks ...``: an account's webhook endpoints, their secrets and deliveries (JSON out)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from contactvault.cli.admin.common import DbOption, admin_runtime, domain_errors
from contactvault.cli.common import EXIT_USAGE, emit, fail

if TYPE_CHECKING:
    from contactvault.server.services.webhooks import EndpointView

app = typer.Typer(help="Webhook endpoints (docs/webhooks.md).", no_args_is_help=True)
AccountOpt = Annotated[str, typer.Option(help="Account id.")]
EndpointArg = Annotated[str, typer.Argument(help="Endpoint id.")]
PAYLOAD_HELP = "thin (ids, counts, credits) or full (also the delivered items, rendered at each attempt)."


def _id(raw: str, what: str) -> int:
    if not (raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**63):
        fail(f"{what} must be digits, got {raw!r}", EXIT_USAGE)
    return int(raw)


def endpoint_json(e: EndpointView) -> dict[str, Any]:
    """An endpoint as the admin commands print it (never its secret)."""
    return {
        "id": str(e.id),
        "url": e.url,
        "description": e.description,
        "eventTypes": e.event_types,
        "payload": e.payload,
        "enabled": e.enabled,
        "disabledReason": e.disabled_reason,
        "createdAt": e.created_at.isoformat(),
    }


@app.command("create")
def create(
    account: AccountOpt,
    url: Annotated[str, typer.Option(help="Where to POST events (https).")],
    description: Annotated[str | None, typer.Option(help="What the endpoint is for.")] = None,
    event: Annotated[list[str] | None, typer.Option(help="Only this event type (repeat); none: every type.")] = None,
    payload: Annotated[str, typer.Option(help=PAYLOAD_HELP)] = "thin",
    db: DbOption = None,
) -> None:
    """Register an endpoint; prints its secret (whsec_...) this once."""
    from contactvault.server.services import webhooks

    account_id = _id(account, "account id")
    with admin_runtime(db) as rt, domain_errors():
        created = webhooks.create_endpoint(rt, account_id, url, description, event or [], payload)
    emit({**endpoint_json(created.endpoint), "secret": created.secret})


@app.command("list")
def list_(account: AccountOpt, db: DbOption = None) -> None:
    """List an account's endpoints."""
    from contactvault.server.services import webhooks

    account_id = _id(account, "account id")
    with admin_runtime(db) as rt, domain_errors():
        emit({"endpoints": [endpoint_json(e) for e in webhooks.list_endpoints(rt, account_id)]})


@app.command("update")
def update(
    account: AccountOpt,
    endpoint: EndpointArg,
    url: Annotated[str | None, typer.Option(help="New URL.")] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    event: Annotated[list[str] | None, typer.Option(help="New event filter (repeat).")] = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable", help="Switch deliveries on or off.")] = None,
    payload: Annotated[str | None, typer.Option(help=PAYLOAD_HELP)] = None,
    db: DbOption = None,
) -> None:
    """Change an endpoint; enabling it again clears its failure record."""
    from contactvault.server.services import webhooks

    account_id, endpoint_id = _id(account, "account id"), _id(endpoint, "endpoint id")
    with admin_runtime(db) as rt, domain_errors():
        view = webhooks.update_endpoint(
            rt,
            account_id,
            endpoint_id,
            url=url,
            description=description,
            event_types=event,
            enabled=enabled,
            payload=payload,
        )
    emit(endpoint_json(view))


@app.command("delete")
def delete(account: AccountOpt, endpoint: EndpointArg, db: DbOption = None) -> None:
    """Remove an endpoint with its secrets, undelivered messages and attempt log."""
    from contactvault.server.services import webhooks

    account_id, endpoint_id = _id(account, "account id"), _id(endpoint, "endpoint id")
    with admin_runtime(db) as rt, domain_errors():
        webhooks.delete_endpoint(rt, account_id, endpoint_id)
    emit({"id": str(endpoint_id), "deleted": True})


@app.command("rotate-secret")
def rotate_secret(
    account: AccountOpt,
    endpoint: EndpointArg,
    overlap: Annotated[str, typer.Option(help="How long the old secret keeps signing (e.g. 24h, 30m).")] = "24h",
    db: DbOption = None,
) -> None:
    """Issue a new secret (printed once); the old one keeps signing for the overlap."""
    from contactvault.cli.admin.security import parse_duration
    from contactvault.server.services import webhooks

    account_id, endpoint_id = _id(account, "account id"), _id(endpoint, "endpoint id")
    window = parse_duration(overlap)
    with admin_runtime(db) as rt, domain_errors():
        secret, until = webhooks.rotate_secret(rt, account_id, endpoint_id, window)
    emit({"id": str(endpoint_id), "secret": secret, "previousSecretsExpireAt": until.isoformat()})


@app.command("test")
def send_test(account: AccountOpt, endpoint: EndpointArg, db: DbOption = None) -> None:
    """Queue a webhook.test message to the endpoint."""
    from contactvault.server.services import webhooks

    account_id, endpoint_id = _id(account, "account id"), _id(endpoint, "endpoint id")
    with admin_runtime(db) as rt, domain_errors():
        emit({"messageId": webhooks.send_test(rt, account_id, endpoint_id)})


@app.command("attempts")
def attempts(
    account: AccountOpt,
    endpoint: EndpointArg,
    limit: Annotated[int, typer.Option(help="How many, newest first (1-100).")] = 20,
    db: DbOption = None,
) -> None:
    """The latest delivery attempts: status, latency, the response's first bytes."""
    from contactvault.server.services import webhooks

    account_id, endpoint_id = _id(account, "account id"), _id(endpoint, "endpoint id")
    with admin_runtime(db) as rt, domain_errors():
        rows = webhooks.list_attempts(rt, account_id, endpoint_id, limit)
    emit(
        {
            "attempts": [
                {
                    "messageId": a.message_id,
                    "trigger": a.trigger,
                    "outcome": a.outcome,
                    "statusCode": a.status_code,
                    "error": a.error,
                    "latencyMs": a.latency_ms,
                    "response": a.response_head,
                    "at": a.created_at.isoformat(),
                }
                for a in rows
            ]
        }
    )


@app.command("resend")
def resend(
    account: AccountOpt,
    endpoint: EndpointArg,
    message: Annotated[str, typer.Argument(help="The message id (webhook-id).")],
    db: DbOption = None,
) -> None:
    """Send one message again, with the same webhook-id."""
    from contactvault.server.services import webhooks

    account_id, endpoint_id = _id(account, "account id"), _id(endpoint, "endpoint id")
    with admin_runtime(db) as rt, domain_errors():
        webhooks.resend(rt, account_id, endpoint_id, message)
    emit({"messageId": message, "queued": True})


@app.command("recover")
def recover(
    account: AccountOpt,
    endpoint: EndpointArg,
    since: Annotated[str, typer.Option(help="ISO 8601 date-time with a timezone.")],
    db: DbOption = None,
) -> None:
    """Send again every message that failed for good since a moment."""
    from contactvault.server.services import webhooks

    account_id, endpoint_id = _id(account, "account id"), _id(endpoint, "endpoint id")
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        fail(f"since must be an ISO 8601 date-time, got {since!r}", EXIT_USAGE)
    with admin_runtime(db) as rt, domain_errors():
        emit({"requeued": webhooks.recover(rt, account_id, endpoint_id, moment)})
