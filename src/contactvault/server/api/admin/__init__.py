"""The operator API at ``/admin/v1`` (an extension; docs/operations.md "Operator API"): what ``contactvault admin``
does for accounts, keys, credits, opt-outs and erasure, over HTTP, for operator keys (``cvop_``) within their scopes.

Every route is on ``auth.router_for``'s routers, whose dependency authenticates the operator key, counts it
against the per-key rate limit and checks the scope the route declares (``auth.scoped``) before anything else runs;
``calls.run`` audits the call and makes a POST idempotent under ``Idempotency-Key``. Handlers call the same
services as the CLI.
"""
