"""The FastAPI app factory."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.responses import Response

from contactvault.server.api import errors
from contactvault.server.api.deps import json
from contactvault.server.api.middleware import RequestContextMiddleware
from contactvault.server.api.routes import actions, contacts, credits, events, personnel
from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.runtime import Runtime
from contactvault.server.worker.runner import Worker

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
        thread = (
            threading.Thread(target=worker.run, name="contactvault-worker", daemon=True) if worker else None
        )
        if thread:
            thread.start()
        try:
            yield
        finally:
            if worker and thread:
                worker.stop()
                thread.join(timeout=30)

    app = FastAPI(title="contactvault", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.runtime = rt
    errors.install(app)
    errors.install_body_limit(app)
    for module in (credits, events, personnel, contacts, actions):
        app.include_router(module.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        return json({"status": "ok"})

    app.add_middleware(RequestContextMiddleware, max_body_bytes=rt.settings.max_body_bytes)
    return app
