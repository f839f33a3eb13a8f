"""The FastAPI app factory."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from contactvault.server import console
from contactvault.server.api import docs_pages, errors, health, metrics, openapi
from contactvault.server.api.access_log import RequestRecordMiddleware
from contactvault.server.api.admin import accounts as admin_accounts
from contactvault.server.api.admin import credits as admin_credits
from contactvault.server.api.admin import privacy as admin_privacy
from contactvault.server.api.middleware import RequestContextMiddleware
from contactvault.server.api.ratelimit import RateLimiter
from contactvault.server.api.routes import actions, contacts, credits, events, personnel, unlocked, webhooks
from contactvault.server.bootstrap import build_runtime, load_keys
from contactvault.server.config import Settings
from contactvault.server.crypto import ReloadingCipher
from contactvault.server.mcp import http as mcp_http
from contactvault.server.notifier import WaitSlots
from contactvault.server.runtime import Runtime
from contactvault.server.worker.housekeeping import Housekeeper
from contactvault.server.worker.runner import Worker
from contactvault.server.worker.webhook_sender import WebhookSender

# Browsers may only send and read what a client of this API needs (CORS is off unless origins are configured).
CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-None-Match",
    "X-Request-ID",
    "x-call-source",
]
CORS_EXPOSED_HEADERS = [
    "X-Request-ID",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
    "ETag",
    "Idempotent-Replayed",
    "X-Long-Poll",
]
DESCRIPTION = (
    "Lensmor-compatible external API for finding people at events and unlocking their work email or phone "
    "for credits. Authenticate with `Authorization: Bearer <api key>`."
)


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None, run_worker: bool = False
) -> FastAPI:
    """An app serving the contract; with ``run_worker`` an in-process worker thread runs alongside."""
    rt = runtime or build_runtime(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = Worker(rt) if run_worker else None
        thread = threading.Thread(target=worker.run, name="contactvault-worker", daemon=True) if worker else None
        app.state.worker, app.state.worker_thread = worker, thread  # for /readyz
        # Webhook deliveries run wherever the worker runs (docs/webhooks.md).
        sender = WebhookSender(rt) if run_worker else None
        sender_thread = (
            threading.Thread(target=sender.run, name="contactvault-webhooks", daemon=True) if sender else None
        )
        # Scheduled housekeeping runs wherever a worker runs (docs/operations.md, "Running it").
        keeper = Housekeeper(rt) if run_worker and rt.settings.housekeeping else None
        keeper_thread = (
            threading.Thread(target=keeper.run, name="contactvault-housekeeping", daemon=True) if keeper else None
        )
        rt.notifier.start()  # hear other nodes' task changes (PostgreSQL)
        if keeper_thread:
            keeper_thread.start()
        if thread:
            rt.notifier.worker_in_process = True  # its records wake this process's long-polls
            thread.start()
        if sender_thread:
            sender_thread.start()
        try:
            async with mcp_http.running(mcp_manager):
                yield
        finally:
            if keeper and keeper_thread:
                keeper.stop()
                keeper_thread.join(timeout=30)
            if sender and sender_thread:
                sender.stop()
                sender_thread.join(timeout=30)
            if worker and thread:
                worker.stop()
                thread.join(timeout=30)
                rt.notifier.worker_in_process = False
            rt.notifier.close()
            limiter.close()  # a database:// storage holds connections of its own

    app = FastAPI(
        title="contactvault", version="0.1.0", description=DESCRIPTION, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.runtime = rt
    if not isinstance(rt.cipher, ReloadingCipher):
        # A key rotation run by `contactvault admin rotate-encryption-key` re-seals values under a key this
        # process has not read yet: let it re-read the key file instead of failing.
        rt.cipher = ReloadingCipher(rt.cipher, partial(load_keys, rt.settings, create=False))
    limiter = RateLimiter.from_settings(rt.settings, now=lambda: rt.clock.now())
    app.state.rate_limiter = limiter
    app.state.long_polls = WaitSlots(rt.settings.long_poll_max_per_key, rt.settings.long_poll_max_per_node)
    errors.install(app)
    errors.install_body_limit(app)
    for module in (credits, events, personnel, contacts, unlocked, actions, webhooks, health, metrics):
        app.include_router(module.router)
    for admin in (admin_accounts, admin_credits, admin_privacy):
        app.include_router(admin.router)  # /admin/v1: the operator API, for operator keys only
    openapi.install(app)
    docs_pages.install(app)  # /docs and /redoc from vendored files, no CDN
    console.install(app)  # /console: the web console over the same services
    mcp_manager = mcp_http.install(app, rt)  # /mcp: the MCP server for AI agents, over the same services

    origins = [o.strip() for o in rt.settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware, max_body_bytes=rt.settings.max_body_bytes, limiter=limiter)
    app.add_middleware(RequestRecordMiddleware)  # outermost: it sees every answer, 429s and 413s included
    return app
