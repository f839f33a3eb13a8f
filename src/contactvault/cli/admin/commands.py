"""``contactvault admin ...``: operator commands; each prints JSON on stdout."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from contactvault.cli.admin import backups, guardrails, operations, operator_keys, security, users
from contactvault.cli.admin import webhooks as webhooks_commands
from contactvault.cli.admin.common import DbOption, admin_runtime, database_url, domain_errors, runtime_of
from contactvault.cli.common import EXIT_USAGE, emit, fail

if TYPE_CHECKING:
    from contactvault.server.services.credits import Balance

app = typer.Typer(
    help="Operator commands: migrations, accounts, keys, credits, directory data, opt-outs.",
    no_args_is_help=True,
)
account_app = typer.Typer(help="Accounts.", no_args_is_help=True)
key_app = typer.Typer(help="API keys.", no_args_is_help=True)
credits_app = typer.Typer(help="Credits.", no_args_is_help=True)
app.add_typer(account_app, name="account")
app.add_typer(key_app, name="key")
app.add_typer(credits_app, name="credits")
app.add_typer(webhooks_commands.app, name="webhooks")


def _account_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**63):  # "²".isdigit() is true
        fail(f"account id must be digits, got {raw!r}", EXIT_USAGE)
    return int(raw)


@app.command()
def migrate(db: DbOption = None) -> None:
    """Apply database migrations (safe to run again)."""
    from contactvault.server.db.engine import make_engine
    from contactvault.server.db.migrate import upgrade

    url = database_url(db)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    seal_key_canary(url)
    emit({"migrated": True})


def seal_key_canary(url: str) -> None:
    """Check the keys and seal the encryption-key canary when the keys exist (keys are never created here: without
    them the first ``serve`` creates them and seals it)."""
    from contactvault.server.bootstrap import load_keys
    from contactvault.server.config import Settings

    settings = Settings(database_url=url)
    if not (settings.encryption_keys or settings.encryption_key_file or url.startswith("sqlite")):
        return  # only ./data/contactvault.keys.json would be left: a stray file must not become this database's keys
    try:
        load_keys(settings, create=False)
    except (FileNotFoundError, ValueError):
        return
    with runtime_of(settings):  # seals the canary, or exits 1 naming the setting whose keys do not match
        pass


@account_app.command("create")
def account_create(name: Annotated[str, typer.Option(help="Account name.")], db: DbOption = None) -> None:
    """Create an account."""
    from contactvault.server.services import accounts

    with admin_runtime(db) as rt, domain_errors():
        emit({"accountId": str(accounts.create_account(rt, name))})


@key_app.command("create")
def key_create(
    account: Annotated[str, typer.Option(help="Account id.")],
    label: Annotated[str | None, typer.Option(help="A label to recognise the key by.")] = None,
    db: DbOption = None,
) -> None:
    """Issue an API key (the secret is shown once; only its hash is stored)."""
    from contactvault.server.services import accounts

    account_id = _account_id(account)  # a usage error before connecting
    with admin_runtime(db) as rt, domain_errors():
        issued = accounts.create_key(rt, account_id, label)
    emit({"keyId": issued.key_id, "accountId": str(issued.account_id), "apiKey": issued.api_key})


@key_app.command("revoke")
def key_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (8 hex characters).")], db: DbOption = None
) -> None:
    """Revoke a key at once."""
    from contactvault.server.services import accounts

    with admin_runtime(db) as rt, domain_errors():
        accounts.revoke_key(rt, key_id)
    emit({"keyId": key_id, "revoked": True})


@key_app.command("list")
def key_list(
    account: Annotated[str | None, typer.Option(help="Only this account's keys.")] = None,
    db: DbOption = None,
) -> None:
    """List keys: id, prefix, label, created, last used, revoked/expiry and state (never a secret)."""
    from contactvault.server.services import accounts

    account_id = _account_id(account) if account is not None else None
    with admin_runtime(db) as rt, domain_errors():
        keys = accounts.list_keys(rt, account_id)
    emit({"keys": [key.as_json() for key in keys]})


@credits_app.command("grant")
def credits_grant(
    account: Annotated[str, typer.Option(help="Account id.")],
    amount: Annotated[int, typer.Option(help="Credits to add.")],
    bucket: Annotated[str, typer.Option(help="subscription, addon or gift.")] = "subscription",
    expires: Annotated[str | None, typer.Option(help="Expiry, ISO 8601 with a timezone.")] = None,
    db: DbOption = None,
) -> None:
    """Grant credits; prints the new CreditBalance."""
    from contactvault.server.domain.ledger import BucketKind
    from contactvault.server.services import credits

    if bucket not in {k.value for k in BucketKind}:
        fail(f"bucket must be subscription, addon or gift, got {bucket!r}", EXIT_USAGE)
    expires_at = None
    if expires:
        try:
            expires_at = datetime.fromisoformat(expires)
        except ValueError:
            fail(f"--expires is not ISO 8601: {expires!r}", EXIT_USAGE)
        if expires_at.tzinfo is None:
            fail("--expires needs a timezone, e.g. 2027-01-01T00:00:00Z", EXIT_USAGE)
    account_id = _account_id(account)  # a usage error before connecting
    with admin_runtime(db) as rt, domain_errors():
        emit(balance_json(credits.grant(rt, account_id, amount, BucketKind(bucket), expires_at)))


def _epoch_ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def balance_json(b: Balance) -> dict[str, int | None]:
    """A balance as ``credits grant`` prints it: the API's CreditBalance keys, in its order."""
    return {
        "totalAmount": b.total_amount,
        "totalBalance": b.total_balance,
        "subscriptionAmount": b.subscription_amount,
        "subscriptionBalance": b.subscription_balance,
        "addonAmount": b.addon_amount,
        "addonBalance": b.addon_balance,
        "addonExpireAt": _epoch_ms(b.addon_expire_at),
        "giftAmount": b.gift_amount,
        "giftBalance": b.gift_balance,
        "resetAt": _epoch_ms(b.reset_at),
        "reservedBalance": b.reserved,
    }


@app.command()
def seed(
    people: Annotated[int, typer.Option(min=1, help="How many people.")] = 5000,
    events: Annotated[int, typer.Option(min=1, help="How many events.")] = 20,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 0,
    db: DbOption = None,
) -> None:
    """Fill the directory with deterministic, realistic synthetic data."""
    from contactvault.server.demo.seeding import seed_directory

    with admin_runtime(db) as rt, domain_errors():
        summary = seed_directory(rt, people=people, events=events, seed=seed)
    emit(summary)


@app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="JSONL files.", exists=True, dir_okay=False)],
    db: DbOption = None,
) -> None:
    """Load directory records from JSONL files (all or nothing; re-importing changes nothing)."""
    from contactvault.server.services.importer import import_files

    with admin_runtime(db) as rt, domain_errors():
        emit(import_files(rt, files))


@app.command("backfill-hashes")
def backfill_hashes(db: DbOption = None) -> None:
    """Compute the canonical hash of vault values stored before canonical forms (run after migrate; idempotent)."""
    from contactvault.server.services.canonical_hashes import backfill_canonical_hashes

    with admin_runtime(db) as rt, domain_errors():
        report = backfill_canonical_hashes(rt)
    emit(
        {
            "scanned": report.scanned,
            "hashed": report.hashed,
            "unreadable": report.unreadable,
            "optOutsCarried": report.opt_outs_carried,
        }
    )


def _suppression_target(
    email: str | None, phone: str | None, person: str | None, domain: str | None
) -> tuple[str, str]:
    options = (("email", email), ("phone", phone), ("person", person), ("domain", domain))
    given = [(k, v) for k, v in options if v is not None]
    if len(given) != 1:
        fail("give exactly one of --email, --phone, --person or --domain", EXIT_USAGE)
    kind, value = given[0]
    if kind == "person":
        if not value.isdigit():
            fail("--person must be a personnel id (digits)", EXIT_USAGE)
        return kind, value
    security.checked_address(kind, value)  # a usage error that never quotes it
    # As typed: the service lists its canonical form and also matches the legacy form of what was typed.
    return kind, value.strip()


EmailOpt = Annotated[str | None, typer.Option(help="An email address.")]
PhoneOpt = Annotated[str | None, typer.Option(help="A phone number with its country code (+33 1 23 45 67 89).")]
PersonOpt = Annotated[str | None, typer.Option(help="A personnel id.")]
DomainOpt = Annotated[
    str | None, typer.Option(help="A company's domain (example.com): every email at it, never its phones.")
]


def _set_suppressed(options: tuple[str | None, str | None, str | None, str | None], db: str | None, on: bool) -> None:
    """Put the one target given on the opt-out list (``on``) or take it off; print whether that changed anything."""
    from contactvault.server.services import suppressions

    kind, value = _suppression_target(*options)
    change = suppressions.suppress if on else suppressions.unsuppress
    with admin_runtime(db) as rt, domain_errors():
        changed = change(rt, kind, value)
    emit({"kind": kind, "suppressed": on, "added" if on else "removed": changed})


@app.command()
def suppress(
    email: EmailOpt = None,
    phone: PhoneOpt = None,
    person: PersonOpt = None,
    domain: DomainOpt = None,
    db: DbOption = None,
) -> None:
    """Put an address, a person or a company domain on the opt-out list: never revealed, never charged."""
    _set_suppressed((email, phone, person, domain), db, True)


@app.command()
def unsuppress(
    email: EmailOpt = None,
    phone: PhoneOpt = None,
    person: PersonOpt = None,
    domain: DomainOpt = None,
    db: DbOption = None,
) -> None:
    """Take an address, a person or a company domain off the opt-out list."""
    _set_suppressed((email, phone, person, domain), db, False)


@app.command()
def reconcile(db: DbOption = None) -> None:
    """Check the ledger: balances equal the sums of postings, terminal tasks hold nothing. Exit 1 on a problem."""
    from contactvault.server.services.reconcile import reconcile as run

    with admin_runtime(db) as rt:
        result = run(rt)
    emit({"ok": result.ok, "buckets": result.buckets, "tasks": result.tasks, "problems": result.problems})
    if not result.ok:
        raise typer.Exit(1)


# Key rotation, encryption key rotation, erasure, retention and audit live in their own module.
security.register(app, key_app)
guardrails.register(key_app)
users.register(app)
operations.register(app)
operator_keys.register(app)
backups.register(app)
