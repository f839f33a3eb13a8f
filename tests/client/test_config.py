"""Config resolution: explicit arguments, then environment, then the config file, then defaults."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from contactvault import Client, ConfigError
from contactvault.client.config import (
    DEFAULT_BASE_URL,
    default_config_path,
    default_state_path,
    load_config,
    save_config,
)


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cfg" / "config.toml"
    path.parent.mkdir()
    path.write_text('base_url = "http://from-file:1"\napi_key = "sk_file_key"\n')
    monkeypatch.setenv("CONTACTVAULT_CONFIG", str(path))
    return path


def test_defaults_when_nothing_is_configured() -> None:
    config = load_config()
    assert config.base_url == DEFAULT_BASE_URL
    assert config.api_key is None
    assert not config.has_api_key


def test_config_file_is_used_when_nothing_else_is_set(config_file: Path) -> None:
    config = load_config()
    assert (config.base_url, config.api_key, config.path) == (
        "http://from-file:1",
        "sk_file_key",
        config_file,
    )


def test_environment_beats_config_file(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTACTVAULT_API_KEY", "sk_env_key")
    monkeypatch.setenv("CONTACTVAULT_BASE_URL", "http://from-env:2/")
    config = load_config()
    assert (config.base_url, config.api_key) == ("http://from-env:2", "sk_env_key")


def test_lensmor_api_key_is_used_for_a_lensmor_host_after_contactvault_api_key(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LENSMOR_API_KEY", "sk_lensmor")
    monkeypatch.setenv("CONTACTVAULT_BASE_URL", "https://platform.lensmor.com")
    assert load_config().api_key == "sk_lensmor"
    monkeypatch.setenv("CONTACTVAULT_API_KEY", "sk_env_key")
    assert load_config().api_key == "sk_env_key"


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:8000", "https://api.example.com", "http://api.lensmor.com", "https://lensmor.com.evil.test"],
)
def test_a_lensmor_key_is_never_handed_to_another_server(monkeypatch: pytest.MonkeyPatch, base_url: str) -> None:
    monkeypatch.setenv("LENSMOR_API_KEY", "sk_lensmor")
    config = load_config(base_url=base_url)
    assert (config.api_key, config.lensmor_key_withheld) == (None, True)
    with pytest.raises(ConfigError, match=r"LENSMOR_API_KEY is only sent to https://\*\.lensmor\.com") as caught:
        Client(base_url=base_url, allow_insecure=True)
    assert "sk_lensmor" not in str(caught.value)


def test_a_withheld_lensmor_key_falls_back_to_the_config_file(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LENSMOR_API_KEY", "sk_lensmor")
    config = load_config()
    assert (config.api_key, config.api_key_source) == ("sk_file_key", "config file")


@pytest.mark.parametrize("base_url", ["http://api.example.com", "http://10.0.0.5:8000", "http://cv.internal"])
def test_plain_http_to_a_remote_host_is_refused_unless_allowed(base_url: str) -> None:
    with pytest.raises(ConfigError, match=r"refusing to send the API key over plain HTTP .*allow_insecure=True"):
        Client("sk_key", base_url=base_url)
    with Client("sk_key", base_url=base_url, allow_insecure=True) as client:
        assert client.base_url == base_url


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000", "https://api.example.com"]
)
def test_loopback_and_https_need_no_permission(base_url: str) -> None:
    with Client("sk_key", base_url=base_url) as client:
        assert client.base_url == base_url


def test_explicit_arguments_beat_environment(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTACTVAULT_API_KEY", "sk_env_key")
    monkeypatch.setenv("CONTACTVAULT_BASE_URL", "http://from-env:2")
    config = load_config(api_key="sk_arg", base_url="http://from-arg:3")
    assert (config.base_url, config.api_key) == ("http://from-arg:3", "sk_arg")


def test_fields_resolve_independently(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTACTVAULT_API_KEY", "sk_env_key")
    config = load_config()
    assert (config.base_url, config.api_key) == ("http://from-file:1", "sk_env_key")


def test_client_uses_resolved_config(config_file: Path) -> None:
    with Client(allow_insecure=True) as client:
        assert client.base_url == "http://from-file:1"
    with Client(base_url="http://other:9", allow_insecure=True) as client:
        assert client.base_url == "http://other:9"


def test_json_config_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"base_url": "http://json:1", "api_key": "sk_json", "ignored": 1}))
    config = load_config(path=path)
    assert (config.base_url, config.api_key) == ("http://json:1", "sk_json")


def test_save_config_writes_a_private_file_that_load_config_reads(tmp_path: Path) -> None:
    path = save_config("http://saved:4", 'sk_we"ird\\key', tmp_path / "new" / "config.toml")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    config = load_config(path=path)
    assert (config.base_url, config.api_key) == ("http://saved:4", 'sk_we"ird\\key')


def test_save_config_overwrites_and_supports_json(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    save_config("http://a:1", "sk_a", path)
    save_config("http://b:2", "sk_b", path)
    assert json.loads(path.read_text()) == {"base_url": "http://b:2", "api_key": "sk_b"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [path]


def test_unparseable_config_file_is_a_config_error_without_its_content(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('api_key = "sk_secret_in_broken_file\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path=path)
    assert "sk_secret_in_broken_file" not in str(caught.value)


def test_config_repr_hides_the_key() -> None:
    config = load_config(api_key="sk_hidden")
    assert "sk_hidden" not in repr(config)


def test_default_paths_follow_xdg_and_overrides(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "c"), "XDG_DATA_HOME": str(tmp_path / "d")}
    assert default_config_path(env) == tmp_path / "c" / "contactvault" / "config.toml"
    assert default_state_path(env) == tmp_path / "d" / "contactvault" / "state.db"
    env["CONTACTVAULT_CONFIG"] = str(tmp_path / "x.json")
    env["CONTACTVAULT_STATE_FILE"] = str(tmp_path / "s.db")
    assert default_config_path(env) == tmp_path / "x.json"
    assert default_state_path(env) == tmp_path / "s.db"
