"""Throwaway PostgreSQL and Redis servers for the test suite (and the scale-out benchmark).

One PostgreSQL server serves a whole pytest session, shared by the xdist workers: the first test that needs it
starts it (under a file lock in a directory the controller made), the controller stops it and deletes its files
when the session ends. Every PostgreSQL test gets its own database, copied from a migrated template.

Point the suite at a server you already run with ``CONTACTVAULT_TEST_POSTGRES_URL`` (a superuser URL, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``); likewise ``CONTACTVAULT_TEST_REDIS_URL``.
Tests that restart PostgreSQL start a server of their own (``PgServer``), which needs the server binaries.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

POSTGRES_URL_ENV = "CONTACTVAULT_TEST_POSTGRES_URL"
REDIS_URL_ENV = "CONTACTVAULT_TEST_REDIS_URL"
# Set by the controller process: where the session's servers note themselves down (xdist workers inherit it).
STATE_ENV = "CONTACTVAULT_TEST_SERVICES_DIR"
# Set by `make test`: a missing server fails the run instead of skipping the PostgreSQL half of the suite.
REQUIRE_ENV = "CONTACTVAULT_TEST_REQUIRE_SERVICES"

# Durability buys nothing in a throwaway test server.
FAST_SETTINGS = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=300",
    "listen_addresses=127.0.0.1",
    "unix_socket_directories=",
)


class ServiceUnavailable(RuntimeError):
    """A server the tests need is neither running nor installed."""


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def conninfo(url: str) -> str:
    """A libpq URI for a SQLAlchemy URL (``postgresql+psycopg://`` becomes ``postgresql://``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(url: str, database: str) -> str:
    """``url`` naming another database on the same server."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def find_bindir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres (Debian's newest version first), if installed."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for candidate in candidates:
        if all((Path(candidate) / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(candidate)
    return None


def _server_user() -> str | None:
    """The user to run PostgreSQL as: it refuses to run as root, so root hands it to ``postgres`` (or nobody)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise ServiceUnavailable("running as root, and there is no postgres or nobody user to run PostgreSQL as")


@dataclass
class PgServer:
    """A PostgreSQL server in a directory of its own, on a loopback port; trust auth for user ``postgres``."""

    bindir: Path
    root: Path
    port: int

    @classmethod
    def create(cls, root: Path | None = None) -> PgServer:
        """initdb a new cluster (not started yet)."""
        bindir = find_bindir()
        if bindir is None:
            raise ServiceUnavailable(
                "PostgreSQL is not installed (apt-get install postgresql), "
                f"and {POSTGRES_URL_ENV} does not name a server"
            )
        root = root or Path(tempfile.mkdtemp(prefix="cv-pg-"))
        root.mkdir(parents=True, exist_ok=True)
        server = cls(bindir, root, free_port())
        user = _server_user()
        if user is not None:
            shutil.chown(root, user)
        server._run(
            "initdb",
            "-D",
            str(server.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            *server._locale_args(),
            "--no-sync",
        )
        return server

    @property
    def data(self) -> Path:
        """The cluster's data directory."""
        return self.root / "data"

    @property
    def log(self) -> Path:
        """The server's log file."""
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL for ``database`` on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def postmaster_pid(self) -> int:
        """The server's main process (first line of ``postmaster.pid``)."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        options = " ".join(f"-c {setting}" for setting in (f"port={self.port}", *FAST_SETTINGS))
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop (``fast`` rolls back open transactions and disconnects everyone)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        """``pg_ctl restart``: every connection is cut, then the server comes back on the same port."""
        options = " ".join(f"-c {setting}" for setting in (f"port={self.port}", *FAST_SETTINGS))
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-m",
            mode,
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "restart",
        )

    def destroy(self) -> None:
        """Stop at once if running, and delete every file."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def _locale_args(self) -> list[str]:
        # A UTF-8 locale makes regular-expression word classes Unicode-aware (the search relies on them).
        available = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False).stdout.split()
        for name in ("C.UTF-8", "C.utf8", "en_US.UTF-8", "en_US.utf8"):
            if name in available:
                return [f"--locale={name}"]
        return ["--no-locale"]

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        user = _server_user()
        if user is not None:
            command = ["runuser", "-u", user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=self.root)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise subprocess.CalledProcessError(done.returncode, command, done.stdout, f"{done.stderr}\n{log}")


def execute(url: str, *statements: str) -> None:
    """Run statements outside a transaction (CREATE/DROP DATABASE cannot run inside one)."""
    with psycopg.connect(conninfo(url), autocommit=True, connect_timeout=10) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def wait_for_postgres(url: str, timeout: float = 30.0) -> None:
    """Return once ``url`` accepts connections."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            execute(url, "SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)  # the server is starting: poll its port until the deadline


_STARTED: list[subprocess.Popen[bytes]] = []


class RedisServer:
    """``redis-server`` on a loopback port, in memory only."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceUnavailable("redis-server is not installed (apt-get install redis-server)")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        # Kept referenced for the life of the process: the controller stops the server by pid at the end.
        _STARTED.append(self.proc)
        deadline = time.monotonic() + 20
        while not _accepts(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise ServiceUnavailable("redis-server did not start")
            time.sleep(0.05)  # the server is starting: poll its port until the deadline

    @property
    def url(self) -> str:
        """Its URL."""
        return f"redis://127.0.0.1:{self.port}/0"


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class SessionServices:
    """The session's shared servers, started on first use by whichever process needs them first."""

    TEMPLATE_PREFIX = "cv_template_"

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.state_file = state_dir / "services.json"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, object]]:
        with open(self.state_dir / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state: dict[str, object] = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
            before = dict(state)
            yield state
            if state != before:
                self.state_file.write_text(json.dumps(state))

    def template_url(self) -> str:
        """A migrated database to copy for each test (created once per session)."""
        with self._locked() as state:
            if "error" in state:
                raise ServiceUnavailable(str(state["error"]))
            if "template_url" not in state:
                try:
                    state.update(self._start_postgres())
                except ServiceUnavailable as exc:
                    state["error"] = str(exc)
                    raise
            return str(state["template_url"])

    def redis_url(self) -> str:
        """A Redis server for the session."""
        external = os.environ.get(REDIS_URL_ENV)
        if external:
            return external
        with self._locked() as state:
            if "redis_url" not in state:
                server = RedisServer()
                state.update(redis_url=server.url, redis_pid=server.proc.pid)
            return str(state["redis_url"])

    def _start_postgres(self) -> dict[str, object]:
        from contactvault.server.db.engine import make_engine
        from contactvault.server.db.migrate import upgrade

        state: dict[str, object] = {}
        admin = os.environ.get(POSTGRES_URL_ENV)
        if not admin:
            server = PgServer.create()
            state["pg_root"] = str(server.root)
            try:
                server.start()
            except subprocess.CalledProcessError as exc:
                server.destroy()
                raise ServiceUnavailable(f"PostgreSQL did not start: {exc.stderr}") from exc
            admin = server.url()
        wait_for_postgres(admin)
        template = f"{self.TEMPLATE_PREFIX}{secrets.token_hex(4)}"
        execute(admin, f"CREATE DATABASE {template}")
        engine = make_engine(with_database(admin, template), pool_size=1)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        state.update(admin_url=admin, template=template, template_url=with_database(admin, template))
        return state

    @contextlib.contextmanager
    def fresh_database(self, *, migrated: bool = True) -> Iterator[str]:
        """A new database copied from the migrated template (or an empty one); dropped afterwards."""
        self.template_url()
        state = json.loads(self.state_file.read_text())
        admin, template = str(state["admin_url"]), str(state["template"])
        name = f"cvt_{secrets.token_hex(6)}"
        execute(admin, f"CREATE DATABASE {name} TEMPLATE {template}" if migrated else f"CREATE DATABASE {name}")
        try:
            yield with_database(admin, name)
        finally:
            execute(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def shutdown(self) -> None:
        """Stop what this session started (controller only, at the very end)."""
        if not self.state_file.exists():
            return
        state = json.loads(self.state_file.read_text())
        if "redis_pid" in state:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(state["redis_pid"]), 15)
        if "pg_root" in state:
            bindir = find_bindir()
            if bindir is not None:
                PgServer(bindir, Path(str(state["pg_root"])), 0).destroy()
        elif "template" in state:
            with contextlib.suppress(psycopg.Error):
                execute(str(state["admin_url"]), f"DROP DATABASE IF EXISTS {state['template']} WITH (FORCE)")
