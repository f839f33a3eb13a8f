"""What every client command shares: connection options, the SDK client, error lines and exit codes, output.

Client commands talk to the API only through the SDK (``contactvault.client``) and never import the server,
so they work with just the ``cli`` extra installed. Output rules: ``--json`` prints one JSON document on
stdout and nothing else there; people get rich tables on stdout; prompts, progress and errors go to stderr.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console

from contactvault.cli.client.render import plural
from contactvault.cli.common import EXIT_FAILED, EXIT_INSUFFICIENT, EXIT_USAGE, fail
from contactvault.client import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    Client,
    ConfigError,
    ContactVaultError,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    RetryNotice,
    ServerError,
    StateError,
    TaskTimeoutError,
)
from contactvault.client.config import ClientConfig, load_config, plain_http_host

__all__ = [
    "EXIT_INTERRUPTED",
    "ApiKeyOpt",
    "BaseUrlOpt",
    "InsecureOpt",
    "JsonOpt",
    "StateFileOpt",
    "YesOpt",
    "canonical_id",
    "connect",
    "digits",
    "err",
    "handled_errors",
    "is_interactive",
    "out",
    "quiet_retries",
    "retry_notice",
    "wire",
]

# 128 + SIGINT, what shells report for Ctrl-C.
EXIT_INTERRUPTED = 130
DEBUG_ENV = "CONTACTVAULT_DEBUG"

BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="API base URL. Default: $CONTACTVAULT_BASE_URL, then the config file, then http://127.0.0.1:8000.",
        show_default=False,
    ),
]
ApiKeyOpt = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        help="API key. Default: $CONTACTVAULT_API_KEY (or $LENSMOR_API_KEY), then the config file.",
        show_default=False,
    ),
]
InsecureOpt = Annotated[
    bool,
    typer.Option(
        "--insecure",
        help="Allow sending the API key over plain http:// to a host other than this machine (trusted networks only).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (for scripts).")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Spend without asking for confirmation.")]
StateFileOpt = Annotated[
    str | None,
    typer.Option(
        "--state-file",
        help="Local state file of unlock runs. Default: $CONTACTVAULT_STATE_FILE or <user data dir>/state.db.",
        show_default=False,
    ),
]


def out() -> Console:
    """A console on the current stdout (looked up per call, so test runners that swap stdout see it)."""
    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def err() -> Console:
    """A console on the current stderr, for prompts, progress and notes that must not pollute stdout."""
    return Console(file=sys.stderr, highlight=False)


def is_interactive() -> bool:
    """True when there is a person at a terminal to answer a confirmation prompt."""
    return sys.stdin.isatty()


def wire(model: Any) -> Any:
    """A pydantic model as the API spelled it (camelCase, unknown fields kept)."""
    return model.model_dump(mode="json", by_alias=True)


_MAX_ID = 2**63 - 1


def canonical_id(value: str) -> str | None:
    """An id without its leading zeros (``"007"`` → ``"7"``), or None unless it is 1-20 ASCII digits naming a
    positive signed 64-bit integer (the server's rule)."""
    text = value.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 20) or not 0 < int(text) <= _MAX_ID:
        return None
    return str(int(text))


def digits(value: str, what: str) -> str:
    """``value`` in canonical form, or a usage error (exit 2) unless it is an id made of digits."""
    text = canonical_id(value)
    if text is None:
        fail(f"{what} must be digits (1-20), got {value!r}", EXIT_USAGE)
    return text


def connect(base_url: str | None, api_key: str | None, *, insecure: bool = False) -> Client:
    """An SDK client from the options, else the environment, else the config file.

    The checks the SDK would make are made here first, so that their message names the CLI's options.
    """
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        fail(f"--base-url must start with http:// or https://, got {base_url!r}", EXIT_USAGE)
    try:
        config = load_config(api_key=api_key, base_url=base_url)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    if not config.api_key:
        withheld = (
            " ($LENSMOR_API_KEY is only sent to https://*.lensmor.com; to use it here, set "
            'CONTACTVAULT_API_KEY="$LENSMOR_API_KEY")'
            if config.lensmor_key_withheld
            else ""
        )
        fail(
            f"no API key for {config.base_url}{withheld}: pass --api-key, set CONTACTVAULT_API_KEY, "
            "or save one with `contactvault login`",
            EXIT_USAGE,
        )
    host = plain_http_host(config.base_url)
    if host is not None and not insecure:
        fail(
            f"refusing to send the API key over plain HTTP to {host}: use an https:// base URL, "
            "or pass --insecure on a network you trust",
            EXIT_USAGE,
        )
    quiet_retries()
    return Client(api_key=api_key, base_url=base_url, allow_insecure=insecure, on_retry=retry_notice, call_source="cli")


def retry_notice(notice: RetryNotice) -> None:
    """One line on stderr before each retry, so a slow failure is not a silent one (stdout stays clean)."""
    error = notice.error
    if isinstance(error, APIConnectionError):
        what = "server not reachable"
    elif isinstance(error, RateLimitError):
        what = "rate limited by the server"
    elif isinstance(error, ServerError):
        what = f"server busy ({error.status_code})"
    else:
        what = "the server is still answering an earlier request"
    when = f" in {notice.wait:.0f} s" if notice.wait else ""
    err().print(f"{what}, retrying{when} ({notice.attempt}/{notice.max_attempts})…", style="yellow")


def quiet_retries() -> None:
    """Keep stamina's per-retry log records off the terminal (a CLI user sees the outcome, not each retry)."""
    logger = logging.getLogger("stamina")
    if not logger.handlers:
        # Without a handler anywhere, Python's last-resort handler would print every scheduled retry to stderr.
        logger.addHandler(logging.NullHandler())


def _server_of(base_url: str | None) -> str:
    if base_url:
        return base_url
    try:
        return load_config().base_url
    except ConfigError:
        return "the server"


def rejected_key_message(exc: AuthenticationError, base_url: str | None, api_key: str | None) -> str:
    """The 401 line, with the fix that applies to where the key came from (a variable overrides the file)."""
    try:
        config: ClientConfig | None = load_config(api_key=api_key, base_url=base_url)
    except ConfigError:
        config = None
    source = config.api_key_source if config is not None else None
    head = f"{_server_of(base_url)} rejected the API key ({exc.status_code} {exc.error_key or 'INVALID_API_KEY'})"
    if source == "argument":
        return f"{head}: check the key you gave"  # with --api-key, or typed or piped to `login`
    if source in {"CONTACTVAULT_API_KEY", "LENSMOR_API_KEY"}:
        return (
            f"{head}: it comes from ${source}, which overrides the key saved by `contactvault login`; "
            f"fix or unset ${source}"
        )
    where = f" saved in {config.path}" if config is not None and config.path is not None else ""
    return f"{head}{where}: save a valid one with `contactvault login`"


def insufficient_message(exc: InsufficientCreditsError) -> str:
    """One line with the numbers a 402 carried."""
    required, available = exc.required, exc.available
    if required is None or available is None:
        return "insufficient credits: the balance does not cover this request (402); nothing was spent"
    return (
        f"insufficient credits: this needs {plural(required, 'credit')} but the balance is {available:,} "
        f"(short by {required - available}); nothing was spent"
    )


@contextmanager
def handled_errors(base_url: str | None = None, api_key: str | None = None) -> Iterator[None]:
    """Turn SDK errors into one line on stderr and the documented exit code; never a traceback.

    Messages come from the SDK, which builds them from status, errorKey, server message and trace id only:
    never the API key, never an address. ``CONTACTVAULT_DEBUG=1`` re-raises unexpected errors for a traceback.
    """
    try:
        yield
    except typer.Exit:
        raise
    except typer.Abort:
        # click turns Ctrl-C (or end of input) at a prompt into Abort, which would print "Aborted." and exit 1.
        sys.stderr.write("\n")  # end the prompt's line before the error line
        fail("interrupted at a prompt", EXIT_INTERRUPTED)
    except InsufficientCreditsError as exc:
        fail(insufficient_message(exc), EXIT_INSUFFICIENT)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    except AuthenticationError as exc:
        fail(rejected_key_message(exc, base_url, api_key), EXIT_FAILED)
    except InvalidRequestError as exc:
        fail(f"the server rejected the request: {exc}", EXIT_USAGE)
    except NotFoundError as exc:
        fail(f"not found: {exc}", EXIT_FAILED)
    except RateLimitError as exc:
        wait = exc.retry_after
        hint = f"; retry in {wait:.0f} s" if wait is not None else ""
        fail(f"rate limited by the server ({exc}){hint}", EXIT_FAILED)
    except APIStatusError as exc:
        fail(f"the server answered {exc}", EXIT_FAILED)
    except TaskTimeoutError as exc:
        fail(f"{exc} (`contactvault tasks show {exc.task_id} --watch`)", EXIT_FAILED)
    except APIConnectionError as exc:
        fail(f"cannot reach {_server_of(base_url)}: {exc}", EXIT_FAILED)
    except StateError as exc:
        fail(str(exc), EXIT_FAILED)
    except ContactVaultError as exc:
        fail(str(exc), EXIT_FAILED)
    except KeyboardInterrupt:
        fail("interrupted", EXIT_INTERRUPTED)
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        # The type only: an arbitrary exception's text could quote anything, keys and addresses included.
        fail(f"unexpected error ({type(exc).__name__}); set {DEBUG_ENV}=1 to see the traceback", EXIT_FAILED)
