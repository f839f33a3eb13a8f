"""``contactvault sync``: delivered contacts into a CRM or a file, planned first, then applied idempotently.

Modules: ``plan`` (records, mapping policies, per-record decisions: pure), ``checkpoint`` (per-target progress,
journaled per batch, and the ledger of records this tool created), ``source`` (what to sync, from the server),
``engine`` (batches: read, plan, write, checkpoint), ``targets`` (CSV, JSONL, signed webhook batches), ``hubspot``,
``salesforce``, ``pipedrive``, ``carddav`` (with ``vcard``) and ``command`` (the CLI).
"""
