"""What ``Client`` and ``AsyncClient`` share: configuration, request building, response handling, retries.

The two clients differ only in how they send a request and how they sleep; everything that decides what to
send and what an answer means lives here or in the route and flow modules, so the two cannot drift apart.
"""

from __future__ import annotations

import importlib.metadata
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import httpx

from ._errors import APIConnectionError, APITimeoutError, ConfigError, error_from_response
from ._results import UnlockEstimate, UnlockProgress
from ._retry import OnRetry, RetryPolicy
from ._routes import Call, TaskCache
from ._workflow import WorkflowContext
from .config import default_state_path, load_config, plain_http_host
from .state import StateStore

__all__ = ["DEFAULT_LONG_POLL", "DEFAULT_TASK_TIMEOUT", "DEFAULT_TIMEOUT", "BaseClient"]

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0
DEFAULT_LONG_POLL = 30.0
DEFAULT_TASK_TIMEOUT = 900.0

TimeoutTypes = float | httpx.Timeout | None
StatePath = str | os.PathLike[str] | StateStore | None


def _version() -> str:
    try:
        return importlib.metadata.version("contactvault")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


USER_AGENT = f"contactvault-python/{_version()}"


class BaseClient:
    """Configuration and request/response handling common to the sync and async clients."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_attempts: int = 4,
        retry: RetryPolicy | None = None,
        config_path: str | os.PathLike[str] | None = None,
        headers: Mapping[str, str] | None = None,
        call_source: str | None = "api",
        clock: Callable[[], float] | None = None,
        long_poll: float = DEFAULT_LONG_POLL,
        task_timeout: float = DEFAULT_TASK_TIMEOUT,
        on_retry: OnRetry | None = None,
        allow_insecure: bool = False,
    ) -> None:
        config = load_config(api_key=api_key, base_url=base_url, path=config_path)
        if not config.api_key:
            withheld = "; LENSMOR_API_KEY is only sent to https://*.lensmor.com" if config.lensmor_key_withheld else ""
            raise ConfigError(
                f"no API key for {config.base_url}{withheld}: pass api_key=, set CONTACTVAULT_API_KEY, "
                "or save one with `contactvault login`"
            )
        host = plain_http_host(config.base_url)
        if host is not None and not allow_insecure:
            raise ConfigError(
                f"refusing to send the API key over plain HTTP to {host}: use an https:// base URL, "
                "or pass allow_insecure=True on a network you trust"
            )
        self._api_key = config.api_key
        self.on_retry = on_retry
        self.base_url = config.base_url
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.retry_policy = retry or RetryPolicy(max_attempts=max_attempts)
        self.call_source = call_source
        self.clock = clock or time.monotonic
        self.long_poll = max(0.0, min(60.0, long_poll))
        self.task_timeout = task_timeout
        self._headers = {
            **(headers or {}),
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Authorization": f"Bearer {self._api_key}",
        }
        self._tasks = TaskCache()

    def __repr__(self) -> str:
        # Deliberately only the URL: the key must never reach a log line through a repr.
        return f"<{type(self).__name__} base_url={self.base_url!r}>"

    def _timeout_for(self, call: Call[T]) -> httpx.Timeout:
        if not call.long_poll or self.timeout.read is None:
            return self.timeout
        # A long-poll legitimately keeps the response open for `wait` seconds; only the read budget grows.
        return httpx.Timeout(
            connect=self.timeout.connect,
            read=self.timeout.read + call.long_poll,
            write=self.timeout.write,
            pool=self.timeout.pool,
        )

    def _build_request(self, http: httpx.Client | httpx.AsyncClient, call: Call[T]) -> httpx.Request:
        return http.build_request(
            call.method,
            self.base_url + call.path,
            params=call.params or None,
            json=call.json,
            headers={**self._headers, **call.headers},
            timeout=self._timeout_for(call),
        )

    @staticmethod
    def _parse(call: Call[T], response: httpx.Response) -> T:
        if response.is_success or response.status_code == 304:
            return call.parse(response)
        raise error_from_response(response)

    @staticmethod
    def _transport_error(exc: httpx.TransportError, request: httpx.Request) -> APIConnectionError:
        where = f"{request.method} {request.url.path}"
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"{where} timed out ({type(exc).__name__})", request=request)
        return APIConnectionError(f"{where} failed: {type(exc).__name__}: {exc}", request=request)

    def _open_state(self, state_file: StatePath) -> tuple[StateStore, bool]:
        """The store to use and whether this call opened it (and so must close it)."""
        if isinstance(state_file, StateStore):
            return state_file, False
        path = Path(state_file) if state_file is not None else default_state_path()
        return StateStore(path), True

    def _workflow(
        self,
        store: StateStore,
        *,
        confirm: Callable[[UnlockEstimate], bool] | None = None,
        on_progress: Callable[[UnlockProgress], None] | None = None,
    ) -> WorkflowContext:
        return WorkflowContext(
            base_url=self.base_url,
            store=store,
            clock=self.clock,
            cache=self._tasks,
            long_poll=self.long_poll,
            task_timeout=self.task_timeout,
            call_source=self.call_source,
            confirm=confirm,
            on_progress=on_progress,
        )
