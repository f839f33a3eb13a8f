"""``contactvault admin user ...``: console user logins (email and password, stored only as an argon2id hash).

The password is never an option (it would show in the process list and the shell history): it is typed twice at
a hidden prompt, or read from the first line of stdin with ``--password-stdin``.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from contactvault.cli.admin.common import DbOption, admin_runtime, domain_errors
from contactvault.cli.common import EXIT_USAGE, emit, fail

if TYPE_CHECKING:
    from contactvault.server.services.console_users import UserInfo

user_app = typer.Typer(help="Console users (sign in with email and password).", no_args_is_help=True)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def user_json(user: UserInfo) -> dict[str, object]:
    """A user as the commands print it (never the password or its hash)."""
    return {
        "userId": str(user.user_id),
        "accountId": str(user.account_id),
        "email": user.email,
        "createdAt": _iso(user.created_at),
        "disabledAt": _iso(user.disabled_at),
        "state": user.state,
    }


def _account_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**63):
        fail(f"account id must be digits, got {raw!r}", EXIT_USAGE)
    return int(raw)


def _read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin, or typed twice at a hidden prompt (on stderr)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            password = str(typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True))
        except typer.Abort:
            sys.stderr.write("\n")
            fail("no password given: type it twice at the prompt, or pipe it with --password-stdin", EXIT_USAGE)
    if not password:
        fail("no password given: type it twice at the prompt, or pipe it with --password-stdin", EXIT_USAGE)
    return password


@user_app.command("create")
def user_create(
    account: Annotated[str, typer.Option(help="Account id.")],
    email: Annotated[str, typer.Option(help="The user's email (their sign-in name; stored lower-cased).")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Add a console user to an account (password: at least 12 characters, asked twice, never echoed)."""
    from contactvault.server.services import console_users

    account_id = _account_id(account)  # usage errors before asking for a password
    with domain_errors():
        address = console_users.normalised_email(email)
        password = console_users.checked_password(_read_password(password_stdin))
    with admin_runtime(db) as rt, domain_errors():
        user = console_users.create_user(rt, account_id, address, password)
    emit(user_json(user))


@user_app.command("list")
def user_list(account: Annotated[str, typer.Option(help="Account id.")], db: DbOption = None) -> None:
    """List an account's console users, oldest first."""
    from contactvault.server.services import console_users

    account_id = _account_id(account)
    with admin_runtime(db) as rt, domain_errors():
        users = console_users.list_users(rt, account_id)
    emit({"users": [user_json(u) for u in users]})


@user_app.command("disable")
def user_disable(email: Annotated[str, typer.Option(help="The user's email.")], db: DbOption = None) -> None:
    """Disable a console user: they can no longer sign in, and their open sessions end at once."""
    from contactvault.server.services import console_users

    with admin_runtime(db) as rt, domain_errors():
        user, ended = console_users.disable_user(rt, email)
    emit({**user_json(user), "sessionsEnded": ended})


def register(app: typer.Typer) -> None:
    """Add ``admin user`` to ``contactvault admin``."""
    app.add_typer(user_app, name="user")
