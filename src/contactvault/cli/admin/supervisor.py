"""``serve --workers N``: N server processes on one port, supervised by the process that bound it.

Why a supervisor of our own rather than uvicorn's ``--workers``: uvicorn starts N identical copies of an app named
by an import string, but exactly one process must run the embedded worker (and the webhook sender and the
housekeeping beside it), and the app is built from a migrated runtime, not from an import string. So the parent
binds the port and migrates once (``serve``), then starts N children with ``multiprocessing``'s *spawn* context
(a fresh interpreter each: nothing of the parent's engines or threads is inherited). Child 0 runs the worker; the
others serve the API only. Each child's responses carry ``X-Contactvault-Process: <index>`` (which process
answered: tests and operators).

Sockets: on Linux each child binds a listening socket of its own with ``SO_REUSEPORT`` and the kernel spreads
new connections evenly between them by address hash. A single shared listening socket (the fallback where
``SO_REUSEPORT`` is missing) lets whichever process wakes first take each connection, which measured 6 of 6 for
one process when idle, and a keep-alive client stays where it first landed. The parent keeps its bound socket
(``SO_REUSEPORT`` too, never listening, so it takes no connections): the port stays this service's while children
come and go. The price: connections queued on a child that dies are reset (clients retry).

Signals: SIGTERM or SIGINT to the parent stops every child with SIGTERM (uvicorn finishes requests in flight),
waits for them (SIGKILL after ``STOP_GRACE_SECONDS``), then exits. A child also dies with its parent
(``PR_SET_PDEATHSIG`` on Linux), so even a SIGKILLed parent leaves no orphans. A child that exits on its own is
started again in its place (with the same role) once it had served; one that exits before it ever listened (a
broken configuration, which a restart would only repeat) stops everything with exit 1.

Metrics: the children share a ``PROMETHEUS_MULTIPROC_DIR`` (the operator's, else a temporary one the parent makes
and removes), so ``/metrics`` of any of them sums all; a child that exits is marked dead there.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contactvault.server.config import Settings

log = logging.getLogger("contactvault.serve")

PROCESS_HEADER = "x-contactvault-process"
STOP_GRACE_SECONDS = 40.0  # above the worker's and the webhook sender's 30 s joins
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGTERM this process when its parent dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os._exit(0)


Address = tuple[socket.AddressFamily, tuple[str, int] | tuple[str, int, int, int]]


def reuse_port_available() -> bool:
    """Whether children can each listen on the port (Linux, BSD, macOS)."""
    return hasattr(socket, "SO_REUSEPORT")


def own_socket(address: Address) -> socket.socket:
    """A child's own socket on the shared port (bound; uvicorn listens on it)."""
    family, where = address
    sock = socket.socket(family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(where)
    return sock


def child(
    settings: Settings,
    listening: socket.socket | Address,
    index: int,
    run_worker: bool,
    forwarded: str | None,
    parent: int,
    ready: Event,
) -> None:
    """One server process (the target of a spawned child)."""
    _die_with_parent(parent)
    sock = listening if isinstance(listening, socket.socket) else own_socket(listening)
    # uvicorn re-raises the signal that stopped it once it has shut down: make that a clean exit (code 0).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Ctrl-C reaches the whole process group: the parent turns it into one SIGTERM per child, in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from contactvault.cli.admin.server import _configure_logging, _serve

    _configure_logging(settings)
    _serve(
        settings,
        sock,
        run_worker=run_worker,
        forwarded_allow_ips=forwarded,
        headers=[(PROCESS_HEADER, str(index))],
        on_started=ready.set,
    )


class Supervisor:
    """Starts, watches and stops the N children."""

    def __init__(
        self, settings: Settings, sock: socket.socket, count: int, run_worker: bool, forwarded: str | None
    ) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._args = (settings, sock, run_worker, forwarded)
        # With SO_REUSEPORT (set on the parent's socket by ``serve``) each child binds its own socket.
        self._listening: socket.socket | Address = (
            (sock.family, sock.getsockname())
            if reuse_port_available() and sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
            else sock
        )
        self.count = count
        self.children: list[BaseProcess] = []
        self._ready: list[Event] = []  # set by each child once it listens
        self._stopping = False

    def _start(self, index: int) -> BaseProcess:
        settings, _, run_worker, forwarded = self._args
        ready = self._ctx.Event()
        if index < len(self._ready):
            self._ready[index] = ready
        else:
            self._ready.append(ready)
        proc = self._ctx.Process(
            target=child,
            args=(settings, self._listening, index, run_worker and index == 0, forwarded, os.getpid(), ready),
            name=f"contactvault-serve-{index}",
        )
        proc.start()
        return proc

    def _on_signal(self, *_: object) -> None:
        self._stopping = True

    def run(self) -> int:
        """Run until a signal (exit 0) or a child that fails at once (exit 1)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        metrics_dir = None
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            metrics_dir = tempfile.mkdtemp(prefix="contactvault-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # inherited by the children spawned below
        try:
            return self._supervise()
        finally:
            self.stop()
            if metrics_dir:
                del os.environ["PROMETHEUS_MULTIPROC_DIR"]
                shutil.rmtree(metrics_dir, ignore_errors=True)

    def _supervise(self) -> int:
        code = 0
        for index in range(self.count):
            self.children.append(self._start(index))
        while not self._stopping:
            # Sleeps until a child exits; the timeout only bounds how late a signal to the parent is seen.
            wait([c.sentinel for c in self.children], timeout=0.5)
            for index, proc in enumerate(self.children):
                if self._stopping or proc.is_alive():
                    continue
                if not self._ready[index].is_set():
                    log.error("server process %d exited at start (code %s); stopping", index, proc.exitcode)
                    self._stopping, code = True, 1
                    break
                log.error("server process %d exited (code %s); starting another", index, proc.exitcode)
                _mark_dead(proc)
                self.children[index] = self._start(index)
        return code

    def stop(self) -> None:
        """SIGTERM every child, wait for all, SIGKILL what is left after the grace period."""
        for proc in self.children:
            if proc.is_alive() and proc.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for proc in self.children:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                log.error("server process %s did not stop in time; killing it", proc.name)
                proc.kill()
                proc.join()
            _mark_dead(proc)


def _mark_dead(proc: BaseProcess) -> None:
    """Drop a dead child's live gauges from the shared metrics directory."""
    from prometheus_client import multiprocess

    if proc.pid is not None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(proc.pid)  # type: ignore[no-untyped-call]
