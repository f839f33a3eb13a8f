"""Where the client finds its base URL and API key.

Precedence, first match wins, field by field:

1. explicit arguments (``Client(api_key=..., base_url=...)``);
2. the environment: ``CONTACTVAULT_API_KEY`` (else ``LENSMOR_API_KEY``) and ``CONTACTVAULT_BASE_URL``;
3. a config file, TOML or JSON (by suffix), at ``$CONTACTVAULT_CONFIG`` or the default path
   (``platformdirs.user_config_dir("contactvault")/config.toml`` when platformdirs is installed, else
   ``$XDG_CONFIG_HOME/contactvault/config.toml``, else ``~/.config/contactvault/config.toml``);
4. the default base URL ``http://127.0.0.1:8000`` (there is no default key).

The file holds two keys, ``base_url`` and ``api_key``. ``save_config`` writes it with mode 0600.

Where a key may go: ``LENSMOR_API_KEY`` is a key for Lensmor's own service, so it is used only when the base
URL is a Lensmor host (``https://lensmor.com`` or ``https://*.lensmor.com``); for any other server it is passed
over (to use it there anyway, say so: ``CONTACTVAULT_API_KEY="$LENSMOR_API_KEY"`` or ``api_key=``). And a key is
never sent over plain ``http://`` to a host other than loopback unless the caller allows it
(``allow_insecure=True``, CLI ``--insecure``): see ``plain_http_host``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._errors import ConfigError

__all__ = [
    "DEFAULT_BASE_URL",
    "ClientConfig",
    "default_config_path",
    "default_state_path",
    "is_lensmor_host",
    "load_config",
    "plain_http_host",
    "read_config_file",
    "save_config",
    "write_private_file",
]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
APP_NAME = "contactvault"


@dataclasses.dataclass(frozen=True)
class ClientConfig:
    """The resolved base URL and API key (the key never appears in repr)."""

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = dataclasses.field(default=None, repr=False)
    path: Path | None = None
    # Where the key came from: "argument", "CONTACTVAULT_API_KEY", "LENSMOR_API_KEY", "config file" (or None).
    api_key_source: str | None = None
    # True when LENSMOR_API_KEY was set but passed over because the base URL is not a Lensmor host.
    lensmor_key_withheld: bool = False

    @property
    def has_api_key(self) -> bool:
        """True when some source supplied an API key."""
        return bool(self.api_key)


def _user_dir(kind: str, xdg_var: str, fallback: str, environ: Mapping[str, str]) -> Path:
    # An explicit XDG variable is the user speaking; otherwise platformdirs (a cli extra) knows each OS.
    xdg = environ.get(xdg_var)
    if xdg:
        return Path(xdg) / APP_NAME
    try:
        import platformdirs
    except ImportError:
        return Path.home() / fallback / APP_NAME
    if kind == "config":
        return Path(platformdirs.user_config_dir(APP_NAME))
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The config file to use: ``$CONTACTVAULT_CONFIG`` or the per-user default."""
    env = os.environ if environ is None else environ
    explicit = env.get("CONTACTVAULT_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return _user_dir("config", "XDG_CONFIG_HOME", ".config", env) / "config.toml"


def default_state_path(environ: Mapping[str, str] | None = None) -> Path:
    """The unlock state file: ``$CONTACTVAULT_STATE_FILE`` or ``<user data dir>/state.db``."""
    env = os.environ if environ is None else environ
    explicit = env.get("CONTACTVAULT_STATE_FILE")
    if explicit:
        return Path(explicit).expanduser()
    return _user_dir("data", "XDG_DATA_HOME", ".local/share", env) / "state.db"


def read_config_file(path: Path) -> dict[str, str]:
    """Read ``base_url``/``api_key`` from a TOML or JSON file; a missing file reads as empty."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data: Any = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        # The parser's message may quote the line holding the key, so it is not passed on.
        raise ConfigError(f"config file {path} is not valid {_format(path)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a table/object")
    return {k: v for k, v in data.items() if k in {"base_url", "api_key"} and isinstance(v, str) and v}


def load_config(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ClientConfig:
    """Resolve base URL and API key from arguments, then environment, then the config file."""
    env = os.environ if environ is None else environ
    file_path = Path(path).expanduser() if path is not None else default_config_path(env)
    from_file = read_config_file(file_path)
    url = (base_url or env.get("CONTACTVAULT_BASE_URL") or from_file.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
    sources = (
        ("argument", api_key),
        ("CONTACTVAULT_API_KEY", env.get("CONTACTVAULT_API_KEY")),
        ("LENSMOR_API_KEY", env.get("LENSMOR_API_KEY")),
        ("config file", from_file.get("api_key")),
    )
    withheld = False
    for source, key in sources:
        if not key:
            continue
        if source == "LENSMOR_API_KEY" and not is_lensmor_host(url):
            withheld = True  # a Lensmor key is not handed to another server unless the user names it
            continue
        return ClientConfig(url, key, file_path, source, withheld)
    return ClientConfig(url, None, file_path, None, withheld)


def is_lensmor_host(base_url: str) -> bool:
    """True for ``https://lensmor.com`` and ``https://<anything>.lensmor.com`` (the only places a Lensmor key goes)."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and (host == "lensmor.com" or host.endswith(".lensmor.com"))


def plain_http_host(base_url: str) -> str | None:
    """The host when ``base_url`` is plain ``http://`` to a host other than loopback (a key would cross the
    network in clear), else None. Loopback: ``localhost`` and 127.0.0.0/8, ``::1``."""
    parts = urlsplit(base_url)
    if parts.scheme != "http":
        return None
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return host or base_url


def save_config(
    base_url: str, api_key: str, path: str | os.PathLike[str] | None = None, *, fmt: str | None = None
) -> Path:
    """Write base URL and key to the config file atomically with mode 0600; return the path."""
    target = Path(path).expanduser() if path is not None else default_config_path()
    kind = fmt or ("json" if target.suffix == ".json" else "toml")
    if kind == "json":
        text = json.dumps({"base_url": base_url, "api_key": api_key}, indent=2) + "\n"
    else:
        # JSON string escapes are valid TOML basic-string escapes, so json.dumps quotes safely.
        text = f"base_url = {json.dumps(base_url)}\napi_key = {json.dumps(api_key)}\n"
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private_file(target, text)
    return target


def write_private_file(target: Path, text: str) -> None:
    """Replace ``target`` with ``text`` atomically, as a new file of mode 0600 (never the old file's mode).

    mkstemp creates the file 0600 next to the target, then it is renamed over it: the content is never
    readable by others, not even briefly, whatever the mode of a file it replaces, and a crash never leaves
    half a file. A target that exists but is not a regular file (a pipe, ``/dev/stdout``) is written in place.
    """
    if target.exists() and not target.is_file():
        with target.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _format(path: Path) -> str:
    return "JSON" if path.suffix == ".json" else "TOML"
