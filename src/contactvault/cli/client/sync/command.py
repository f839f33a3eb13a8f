"""``contactvault sync --to csv|jsonl|webhook|hubspot|salesforce|pipedrive|carddav``: the typer command; see
``docs/sync.md``.

Exit codes: 0 done (or planned), 1 failed, 2 usage, 4 some records refused by the target (the rest synced; the
checkpoint stays before them so the next run retries them).
"""

from __future__ import annotations

import contextlib
import enum
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import httpx
import typer

from contactvault.cli.client.common import (
    ApiKeyOpt,
    BaseUrlOpt,
    InsecureOpt,
    JsonOpt,
    connect,
    err,
    handled_errors,
    out,
)
from contactvault.cli.client.sync import carddav, engine, pipedrive, salesforce, source
from contactvault.cli.client.sync.checkpoint import Checkpoint, default_checkpoint_path
from contactvault.cli.client.sync.engine import Report, Target
from contactvault.cli.client.sync.http import TargetError
from contactvault.cli.client.sync.hubspot import HubSpotTarget
from contactvault.cli.client.sync.plan import Contact, FieldMap, load_mapping
from contactvault.cli.client.sync.targets import FileTarget, WebhookTarget
from contactvault.cli.common import EXIT_PARTIAL, EXIT_USAGE, emit, fail
from contactvault.client import Client

__all__ = ["register", "sync"]

HUBSPOT_URL = "https://api.hubapi.com"
TIMEOUT = 15.0


class TargetKind(enum.StrEnum):
    """Where ``sync`` writes."""

    CSV = "csv"
    JSONL = "jsonl"
    WEBHOOK = "webhook"
    HUBSPOT = "hubspot"
    SALESFORCE = "salesforce"
    PIPEDRIVE = "pipedrive"
    CARDDAV = "carddav"


class ErasureAction(enum.StrEnum):
    """What ``--erasures`` does to a record this tool created for a person since erased."""

    FLAG = "flag"
    DELETE = "delete"
    GDPR_DELETE = engine.GDPR_DELETE


PERMANENT_ERASURE = (TargetKind.HUBSPOT,)  # the targets with a permanent (privacy) delete


def register(app: typer.Typer) -> None:
    """Add ``sync`` to the app."""
    app.command(rich_help_panel="Client")(sync)


@contextlib.contextmanager
def _target(
    kind: TargetKind, out_path: Path | None, url: str | None, point: Checkpoint, sobject: salesforce.SalesforceObject
) -> Iterator[Target]:
    if kind in (TargetKind.CSV, TargetKind.JSONL):
        if out_path is None:
            fail(f"--to {kind.value} needs --out PATH", EXIT_USAGE)
        yield FileTarget(out_path, kind.value)
        return
    if kind == TargetKind.WEBHOOK:
        secret = os.environ.get("CONTACTVAULT_SYNC_WEBHOOK_SECRET", "")
        if not url or not secret:
            fail("--to webhook needs --url and $CONTACTVAULT_SYNC_WEBHOOK_SECRET (whsec_…)", EXIT_USAGE)
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as http:
            yield WebhookTarget(url, secret, point, http)
        return
    if kind == TargetKind.CARDDAV:
        with carddav.open_target(url, point) as target:
            yield target
        return
    if kind in (TargetKind.SALESFORCE, TargetKind.PIPEDRIVE):
        crm = (
            salesforce.open_target(url, sobject) if kind == TargetKind.SALESFORCE else pipedrive.open_target(url, point)
        )
        with crm as target:
            yield target
        return
    token = os.environ.get("HUBSPOT_TOKEN", "")
    if not token:
        fail("--to hubspot needs $HUBSPOT_TOKEN (a private app token with crm.objects.contacts.read/write)", EXIT_USAGE)
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url or HUBSPOT_URL, headers=headers, timeout=TIMEOUT, follow_redirects=False) as http:
        yield HubSpotTarget(http)


def sync(
    to: Annotated[TargetKind, typer.Option("--to", help="Where to write.", case_sensitive=False)],
    out_path: Annotated[Path | None, typer.Option("--out", help="The file (csv, jsonl).")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Webhook, CRM API base or CardDAV address book URL.")] = None,
    sobject: Annotated[
        salesforce.SalesforceObject, typer.Option("--object", help="Salesforce: lead or contact.", case_sensitive=False)
    ] = salesforce.SalesforceObject.LEAD,
    task: Annotated[str | None, typer.Option("--task", help="Only the contacts delivered by this task.")] = None,
    from_state: Annotated[
        Path | None, typer.Option("--from-state", help="The contacts of the runs in this workflow state file.")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="Start here (ISO time), not at the checkpoint.")] = None,
    mapping: Annotated[Path | None, typer.Option("--mapping", help="Field mapping file (TOML or JSON).")] = None,
    checkpoint: Annotated[Path | None, typer.Option("--checkpoint", help="Checkpoint file of this target.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; write nothing.")] = False,
    show_pii: Annotated[bool, typer.Option("--show-pii", help="Show emails and phones in the plan.")] = False,
    erasures: Annotated[bool, typer.Option("--erasures", help="Only act on people erased since they synced.")] = False,
    erasure_action: Annotated[
        ErasureAction,
        typer.Option(
            "--erasure-action", help="flag, delete, or gdpr-delete (hubspot only): records this tool created only."
        ),
    ] = ErasureAction.FLAG,
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    insecure: InsecureOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Sync delivered contacts into a CRM or a file: read what is there, plan create/update/skip/conflict, write.

    Without --task or --from-state: everything delivered since the last sync to this target (its checkpoint).
    """
    if task is not None and from_state is not None:
        fail("--task and --from-state are two different sources: pass one", EXIT_USAGE)
    if erasure_action == ErasureAction.GDPR_DELETE and to not in PERMANENT_ERASURE:
        supported = ", ".join(kind.value for kind in PERMANENT_ERASURE)
        fail(
            f"--erasure-action gdpr-delete: --to {to.value} has no permanent delete; only {supported} has one"
            " (use flag or delete here)",
            EXIT_USAGE,
        )
    try:
        fields = load_mapping(mapping) if mapping is not None else FieldMap.default()
    except (OSError, ValueError) as exc:
        fail(f"--mapping: {exc}", EXIT_USAGE)
    name = f"salesforce-{sobject.value}" if to == TargetKind.SALESFORCE else to.value  # Leads and Contacts apart
    try:
        point = Checkpoint.load(checkpoint or default_checkpoint_path(name))
    except (OSError, ValueError) as exc:
        fail(f"checkpoint: {exc}")
    client = connect(base_url, api_key, insecure=insecure)
    with handled_errors(base_url, api_key), client, _target(to, out_path, url, point, sobject) as target:
        try:
            if erasures:
                gone = sorted({str(e.personnel_id) for e in client.contacts.iter_erased() if e.channel is None})
                calls = engine.erase(gone, target, point, erasure_action.value, dry_run=dry_run)
                _print_erasures(calls, dry_run=dry_run, json_output=json_output)
                return
            contacts = _contacts(client, task, from_state, since, point)
            report = engine.run(contacts, target, fields, point, dry_run=dry_run)
        except TargetError as exc:
            fail(f"{to.value}: {exc}")
        except httpx.HTTPError as exc:
            # A write may have landed: the rerun reads the records back, so it creates nothing twice.
            fail(f"{to.value}: {type(exc).__name__} ({exc}); rerun the same command to finish")
    _print(report, fields, show_pii=show_pii, dry_run=dry_run, json_output=json_output)
    if report.failed:
        raise typer.Exit(EXIT_PARTIAL)


def _contacts(
    client: Client, task: str | None, from_state: Path | None, since: str | None, point: Checkpoint
) -> list[Contact]:
    if from_state is not None:
        return source.from_state_file(str(from_state), client)
    if task is not None:
        return source.fetch(client, task_id=task)
    return source.fetch(client, since=since or point.since)


def _print(report: Report, fields: FieldMap, *, show_pii: bool, dry_run: bool, json_output: bool) -> None:
    data = report.describe(show_pii=show_pii, fields=fields, dry_run=dry_run)
    if json_output:
        emit(data)
        return
    console = out()
    for item in data["plan"]:
        if item["action"] == "skip" and not dry_run:
            continue
        console.print(f"{item['action']:<8} {item['personnelId']:>8}  {item['email']}  {item['reason']}", markup=False)
        for field, (old, new) in item["changes"].items():
            console.print(f"           {field}: {old!r} -> {new!r}", markup=False)
    for call in data["calls"]:
        console.print(f"{'would call' if dry_run else 'called'}: {call}", markup=False)
    counts = ", ".join(f"{n} {kind}" for kind, n in data["counts"].items())
    err().print(f"{'Planned' if dry_run else 'Synced'}: {counts}.", markup=False)
    for pid, reason in data["failed"].items():
        err().print(f"refused: {pid}: {reason}", markup=False)


def _print_erasures(calls: list[str], *, dry_run: bool, json_output: bool) -> None:
    if json_output:
        emit({"dryRun": dry_run, "calls": calls})
        return
    for call in calls or ["nothing to erase among the records this tool created"]:
        out().print(call, markup=False)
