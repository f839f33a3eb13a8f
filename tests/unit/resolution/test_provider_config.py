"""The providers file: validated with errors that name the field and never quote a value; keys from the environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contactvault.server.domain.scoring import VerificationStatus
from contactvault.server.worker.resolvers.provider_config import ProviderConfigError, load_providers, parse_providers

ENV = {"ACME_KEY": "sk_live_7f3a9Qx"}


def doc(**overrides: Any) -> dict[str, Any]:
    provider: dict[str, Any] = {
        "name": "acme",
        "url": "https://api.acme.example/find?domain={company_domain}&name={full_name}",
        "headers": {"X-Api-Key": "{api_key}"},
        "api_key_env": "ACME_KEY",
        "response": {"email": "data.email", "status": "data.status", "status_map": {"Deliverable": "valid"}},
    }
    provider.update(overrides)
    return {"providers": [provider]}


def error(document: object, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ProviderConfigError) as raised:
        parse_providers(document, "providers.json", ENV if environ is None else environ)
    return str(raised.value)


def test_a_valid_file_gives_providers_with_their_key_hidden() -> None:
    (provider,) = parse_providers(doc(), "providers.json", ENV)
    assert provider.config.name == "acme"
    assert provider.api_key is not None
    assert provider.api_key.get_secret_value() == "sk_live_7f3a9Qx"
    assert "sk_live" not in repr(provider)
    assert provider.config.mapping().status_map == {"deliverable": VerificationStatus.VALID}
    assert provider.config.uses() == {"company_domain", "full_name", "api_key"}
    assert (provider.config.retries.attempts, provider.config.breaker.failures, provider.config.budget) == (3, 5, None)


@pytest.mark.parametrize(
    ("overrides", "field", "says"),
    [
        ({"url": "https://a.example/?e={email}"}, "providers.0.url", "unknown placeholder {email}"),
        ({"url": "http://a.example/find"}, "providers.0.url", "must be https"),
        ({"url": "https://user:pw@a.example/find"}, "providers.0.url", "user or password"),
        ({"url": "ftp://a.example/find"}, "providers.0.url", "absolute http(s)"),
        ({"headers": {"X-Name": "{full_name}"}}, "providers.0.headers", "unknown placeholder {full_name}"),
        ({"name": "vault"}, "providers.0.name", "reserved"),
        ({"name": "Acme Inc"}, "providers.0.name", "pattern"),
        ({"api_key_env": None}, "providers.0", "names no api_key_env"),
        ({"json_body": {"n": "{full_name}"}}, "providers.0", "json_body needs method POST"),
        ({"method": "DELETE"}, "providers.0.method", "'GET' or 'POST'"),
        ({"retries": {"attempts": 0}}, "providers.0.retries.attempts", "greater than or equal to 1"),
        ({"budget": {"calls": 0, "window_seconds": 60}}, "providers.0.budget.calls", "greater than or equal to 1"),
        ({"respones": {}}, "providers.0.respones", "Extra inputs"),
    ],
)
def test_errors_name_the_field(overrides: dict[str, Any], field: str, says: str) -> None:
    message = error(doc(**overrides))
    assert message.startswith("providers.json: ")
    assert f"{field}: " in message
    assert says in message


def test_a_status_word_must_map_to_one_of_ours() -> None:
    message = error(doc(response={"email": "e", "status_map": {"ok": "great"}}))
    assert "providers.0.response.status_map.ok" in message


def test_a_key_pasted_into_the_file_is_not_repeated_by_an_error() -> None:
    message = error(doc(headers={"X-Api-Key": "sk_live_pasted_secret{oops}"}, retries={"attempts": "sk_live_x"}))
    assert "providers.0.headers" in message
    assert "providers.0.retries.attempts" in message
    assert "sk_live" not in message


def test_a_missing_key_names_the_variable_not_a_value() -> None:
    message = error(doc(), environ={"ACME_KEY": "  "})
    assert message == ("providers.json: providers.0.api_key_env: the environment variable ACME_KEY is not set or empty")


def test_names_must_be_unique_and_there_must_be_one() -> None:
    twice = {"providers": doc()["providers"] * 2}
    assert "provider names must be unique" in error(twice)
    assert "providers.json: providers: " in error({"providers": []})


def test_plain_http_is_allowed_to_loopback_only() -> None:
    for url in ("http://127.0.0.1:8080/find?d={company_domain}", "http://localhost/find", "http://[::1]/find"):
        (provider,) = parse_providers(doc(url=url), "providers.json", ENV)
        assert provider.config.url == url


def test_files_are_json_or_toml(tmp_path: Path) -> None:
    as_json = tmp_path / "providers.json"
    as_json.write_text(json.dumps(doc()))
    as_toml = tmp_path / "providers.toml"
    as_toml.write_text(
        """
[[providers]]
name = "acme"
url = "https://api.acme.example/find?domain={company_domain}&key={api_key}"
api_key_env = "ACME_KEY"
budget = { calls = 100, window_seconds = 3600 }

[providers.response]
email = "data.email"
status = "data.status"
status_map = { deliverable = "valid", catch_all = "accept_all" }
"""
    )
    assert load_providers(as_json, ENV)[0].config == parse_providers(doc(), "x", ENV)[0].config
    (toml_provider,) = load_providers(as_toml, ENV)
    assert toml_provider.config.budget is not None
    assert toml_provider.config.budget.calls == 100


def test_an_unreadable_or_malformed_file_is_one_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "providers.json"
    broken.write_text('{"providers": [sk_live_secret')
    with pytest.raises(ProviderConfigError, match=r"providers\.json: is not valid JSON") as raised:
        load_providers(broken, ENV)
    assert "sk_live" not in str(raised.value)
    with pytest.raises(ProviderConfigError, match="cannot be read"):
        load_providers(tmp_path / "absent.toml", ENV)


def test_the_documented_example_is_a_valid_file(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[3] / "docs" / "resolution.md").read_text()
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "providers.toml"
    path.write_text(example)
    (provider,) = load_providers(path, {"ACME_FINDER_KEY": "k"})
    assert provider.config.name == "acme-finder"
    assert provider.config.budget is not None
    assert provider.config.mapping().status_map["webmail"] is VerificationStatus.INVALID
