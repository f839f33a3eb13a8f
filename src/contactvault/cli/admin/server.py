"""``contactvault serve``, ``worker`` and ``demo-serve`` (what ``make run`` starts)."""

from __future__ import annotations

import errno
import signal
import socket
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from contactvault.cli.admin.common import DbOption, database_url, open_runtime
from contactvault.cli.common import EXIT_USAGE, fail

if TYPE_CHECKING:
    import uvicorn

    from contactvault.server.config import Settings
    from contactvault.server.runtime import Runtime

HostOpt = Annotated[str, typer.Option(help="Interface to listen on.")]
PortOpt = Annotated[int, typer.Option(min=1, max=65535, envvar="CONTACTVAULT_PORT", help="TCP port.")]


def _settings(db: str | None) -> Settings:
    from contactvault.server.config import Settings

    settings = Settings(database_url=database_url(db))
    _check_providers(settings)
    return settings


def _check_providers(settings: Settings) -> None:
    """A broken providers file is one line and exit 2 at start, not a traceback when the worker is built."""
    if settings.providers_file is None:
        return
    from contactvault.server.worker.resolvers.provider_config import ProviderConfigError, load_providers

    try:
        load_providers(settings.providers_file)
    except ProviderConfigError as exc:
        fail(str(exc), EXIT_USAGE)


def _configure_logging(settings: Settings) -> None:
    from contactvault.server.logs import configure

    configure(json_lines=settings.log_json, level=settings.log_level)


def _next_free_port(host: str, port: int) -> int | None:
    for candidate in range(port + 1, min(port + 100, 65536)):
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            try:
                probe.bind((host, candidate))
            except OSError:
                continue
            return candidate
    return None


def listen(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """Bind the listening socket now, before anything is migrated or seeded; a taken port is one clear error.

    ``reuse_port``: let the processes of ``serve --workers N`` bind sockets of their own to the same port.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restart over TIME_WAIT
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            free = _next_free_port(host, port) or port + 1
            fail(
                f"port {port} on {host} is in use (another server?); "
                f"choose another: --port {free}, or make run PORT={free}"
            )
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    return sock


def _serve(
    settings: Settings,
    sock: socket.socket,
    run_worker: bool,
    forwarded_allow_ips: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    on_started: Callable[[], None] | None = None,
) -> None:
    import uvicorn

    from contactvault.server.api.app import create_app

    rt = open_runtime(settings)
    app = create_app(runtime=rt, run_worker=run_worker)
    # log_config=None: uvicorn's records go through our handler (JSON lines or text), our middleware logs access.
    # Behind a load balancer, trust its X-Forwarded-For (only from the addresses named) so per-IP limits see clients.
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        headers=headers,
    )
    server = _notifying_server(config, on_started) if on_started else uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # as uvicorn.run: Ctrl-C during start-up stops quietly
        pass
    finally:
        sock.close()
    if not server.started:
        raise typer.Exit(1)


def _notifying_server(config: uvicorn.Config, on_started: Callable[[], None]) -> uvicorn.Server:
    """A uvicorn server that calls ``on_started`` once it listens (uvicorn is imported only by the commands)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                on_started()

    return Server(config)


def serve(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Serve the API only (workers run elsewhere).")] = False,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Comma-separated proxy addresses whose X-Forwarded-For names the client (default: none trusted).",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            envvar="CONTACTVAULT_SERVE_WORKERS",
            help="Server processes sharing the port (the in-process worker runs in one of them).",
        ),
    ] = 1,
    db: DbOption = None,
) -> None:
    """Run the API (applies migrations first); an in-process worker runs too unless --no-worker."""
    from contactvault.cli.admin.supervisor import reuse_port_available

    sock = listen(host, port, reuse_port=workers > 1 and reuse_port_available())
    settings = _settings(db)
    _configure_logging(settings)
    if workers == 1:
        _serve(settings, sock, run_worker=not no_worker, forwarded_allow_ips=forwarded_allow_ips)
        return
    _serve_many(_multiprocess_settings(settings, workers), sock, workers, not no_worker, forwarded_allow_ips)


def _multiprocess_settings(settings: Settings, count: int) -> Settings:
    """What N processes need: one database they all see, and rate-limit counters they share."""
    from contactvault.server.api.ratelimit import DATABASE_STORAGE
    from contactvault.server.bootstrap import in_memory_database

    if in_memory_database(settings):
        fail("--workers N needs a database every process shares: an SQLite file or PostgreSQL, not memory", EXIT_USAGE)
    update: dict[str, object] = {"serve_workers": count}
    if settings.rate_limit_storage.startswith("memory://"):
        # Per-process memory would let each process admit the whole limit: count in the database instead.
        update["rate_limit_storage"] = DATABASE_STORAGE
    return settings.model_copy(update=update)


def _serve_many(settings: Settings, sock: socket.socket, count: int, run_worker: bool, forwarded: str | None) -> None:
    from contactvault.cli.admin.supervisor import Supervisor
    from contactvault.server.api.ratelimit import RateLimiter

    rt = open_runtime(settings)  # migrate (and make the key file) once, before any child starts
    rt.db.dispose()
    RateLimiter.from_settings(settings, now=rt.clock.now).close()  # and a database:// storage's table
    try:
        code = Supervisor(settings, sock, count, run_worker, forwarded).run()
    finally:
        sock.close()
    if code:
        raise typer.Exit(code)


def worker(db: DbOption = None) -> None:
    """Run a standalone worker until SIGTERM/SIGINT (finishes the batch in hand first)."""
    from contactvault.server.worker.housekeeping import Housekeeper
    from contactvault.server.worker.runner import Worker
    from contactvault.server.worker.webhook_sender import WebhookSender

    settings = _settings(db)
    _configure_logging(settings)
    rt = open_runtime(settings)
    w = Worker(rt)
    sender = WebhookSender(rt)  # webhook deliveries, in a thread beside the worker loop
    keeper = Housekeeper(rt) if settings.housekeeping else None  # scheduled jobs, in a thread of their own

    def stop(*_: object) -> None:
        w.stop()
        sender.stop()
        if keeper:
            keeper.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    rt.notifier.start()  # wake on submissions made through any API node (PostgreSQL)
    sender_thread = threading.Thread(target=sender.run, name="contactvault-webhooks", daemon=True)
    sender_thread.start()
    keeper_thread = None
    if keeper:
        keeper_thread = threading.Thread(target=keeper.run, name="contactvault-housekeeping", daemon=True)
        keeper_thread.start()
    try:
        w.run()
    finally:
        sender.stop()
        sender_thread.join(timeout=30)
        if keeper and keeper_thread:
            keeper.stop()
            keeper_thread.join(timeout=30)
        rt.notifier.close()
        rt.db.dispose()


def seed_demo(rt: Runtime) -> tuple[int, str]:
    """What ``make run`` seeds on an empty database: the directory (deterministic), an account, 10,000 credits.

    Returns the account id and its new API key. docs/cli.md's examples use this data (a test runs them).
    """
    from contactvault.server.demo.provisioning import provision_account
    from contactvault.server.demo.seeding import seed_directory

    seed_directory(rt, people=5000, events=20, seed=0)
    demo = provision_account(rt, "demo", 10_000)
    return demo.account_id, demo.api_key


def _with_mail_world(rt: Runtime, settings: Settings, *, seeded: bool) -> Settings:
    """Start the demo's simulated mail world and point the engine at it; say who only the engine can find."""
    from contactvault.server.demo.inference import open_demo_world

    world = open_demo_world(rt, seeded=seeded)
    print("\n".join(world.lines), flush=True)
    return settings.model_copy(update=world.settings())


def demo_serve(host: HostOpt = "127.0.0.1", port: PortOpt = 8000, db: DbOption = None) -> None:
    """Serve with demo data: on an empty database, seed a directory and a demo account, and print its key."""
    from contactvault.server.demo.provisioning import overview_of

    sock = listen(host, port)
    settings = _settings(db)
    _configure_logging(settings)
    rt = open_runtime(settings)
    found = overview_of(rt)
    base = f"http://{host}:{port}"
    if found.people == 0:
        print("Empty database: seeding a demo directory (about 5,000 people)...", flush=True)
        account_id, key = seed_demo(rt)
        settings = _with_mail_world(rt, settings, seeded=True)
        print(f"\nDemo account {account_id} with 10,000 credits.\nAPI key (shown once): {key}\n")
        print(f'Try:  curl -H "Authorization: Bearer {key}" {base}/external/credits/balance')
        print(f"Or open the console in a browser: {base}/console (sign in with the key above)\n")
    else:
        settings = _with_mail_world(rt, settings, seeded=False)
        hint = f"--account {found.first_account_id}" if found.first_account_id is not None else "--account <id>"
        print(
            f"Database has {found.people} people. Get a key with:\n"
            f"  .venv/bin/contactvault admin key create {hint} --db {settings.database_url}\n"
        )
    rt.db.dispose()
    print(f"Serving on {base} (console at {base}/console, API docs at {base}/docs). Ctrl-C to stop.", flush=True)
    sys.stdout.flush()
    _serve(settings, sock, run_worker=True)
