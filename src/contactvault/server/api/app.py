"""The FastAPI app factory."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from contactvault.server.api import docs_pages, errors, openapi
from contactvault.server.api.deps import json
from contactvault.server.api.middleware import RequestContextMiddleware
from contactvault.server.api.ratelimit import RateLimiter
from contactvault.server.api.routes import actions, contacts, credits, events, personnel, unlocked
from contactvault.server.bootstrap import build_runtime, load_keys
from contactvault.server.config import Settings
from contactvault.server.logs import AccessLogMiddleware
from contactvault.server.runtime import Runtime
from contactvault.server.services.keys_rotation import ReloadingCipher
from contactvault.server.worker.runner import Worker

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
        rt.notifier.start()  # hear other nodes' task changes (PostgreSQL)
        if thread:
            thread.start()
        try:
            yield
        finally:
            if worker and thread:
                worker.stop()
                thread.join(timeout=30)
            rt.notifier.close()

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
    errors.install(app)
    errors.install_body_limit(app)
    for module in (credits, events, personnel, contacts, unlocked, actions):
        app.include_router(module.router)
    openapi.install(app)
    docs_pages.install(app)  # /docs and /redoc from vendored files, no CDN

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        return json({"status": "ok"})

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
    app.add_middleware(AccessLogMiddleware)
    return app
