"""``contactvault admin operator-key create|list|revoke``: keys of the operator API (``/admin/v1``)."""

from __future__ import annotations

from typing import Annotated

import typer

from contactvault.cli.admin.common import DbOption, admin_runtime, domain_errors
from contactvault.cli.common import emit

app = typer.Typer(
    help="Operator API keys (cvop_...) and their scopes: accounts, credits, privacy.", no_args_is_help=True
)


@app.command("create")
def create(
    scope: Annotated[list[str], typer.Option("--scope", help="accounts, credits or privacy (repeat for several).")],
    label: Annotated[str | None, typer.Option(help="A label to recognise the key by.")] = None,
    db: DbOption = None,
) -> None:
    """Issue an operator key (the secret is shown once; only its hash is stored)."""
    from contactvault.server.services import operator_keys

    with admin_runtime(db) as rt, domain_errors():
        issued = operator_keys.create(rt, scope, label)
    emit({"keyId": issued.key_id, "scopes": [s.value for s in issued.scopes], "operatorKey": issued.api_key})


@app.command("list")
def list_(db: DbOption = None) -> None:
    """List operator keys: id, prefix, scopes, label, created, last used, revoked (never a secret)."""
    from contactvault.server.services import operator_keys

    with admin_runtime(db) as rt:
        keys = operator_keys.list_keys(rt)
    emit({"operatorKeys": [key.as_json() for key in keys]})


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The operator key id (8 hex characters).")], db: DbOption = None
) -> None:
    """Revoke an operator key at once: its next request is refused."""
    from contactvault.server.services import operator_keys

    with admin_runtime(db) as rt, domain_errors():
        operator_keys.revoke(rt, key_id)
    emit({"keyId": key_id, "revoked": True})


def register(admin: typer.Typer) -> None:
    """Add ``operator-key`` to ``contactvault admin``."""
    admin.add_typer(app, name="operator-key")
