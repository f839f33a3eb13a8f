"""The operator's providers file (``CONTACTVAULT_PROVIDERS_FILE``, JSON or TOML), validated with clear errors.

A provider's API key is never in the file: ``api_key_env`` names the environment variable that holds it, read at
start-up into a ``SecretStr`` (its repr is ``'**********'``). Errors name the file and the field (``providers.0.url``)
and never quote a value, so a key pasted in the wrong place does not end up in a log.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from contactvault.server.domain.providers import (
    API_KEY,
    PERSON_FIELDS,
    ResponseMapping,
    TemplateError,
    placeholders,
    render,
)
from contactvault.server.domain.scoring import VerificationStatus

# Labels other resolvers use for ``source``: a provider may not take them.
RESERVED_NAMES = frozenset({"vault", "pattern", "fake", "resolver"})
_ALL_FIELDS = (*PERSON_FIELDS, API_KEY)


class ProviderConfigError(ValueError):
    """The providers file is missing, unreadable or invalid; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Response(_Strict):
    """Dotted paths into the answer, and the vendor's status words mapped to ours."""

    email: str = Field(min_length=1)
    status: str | None = None
    score: str | None = None
    status_map: dict[str, VerificationStatus] = Field(default_factory=dict)

    @field_validator("status_map")
    @classmethod
    def _lower_words(cls, value: dict[str, VerificationStatus]) -> dict[str, VerificationStatus]:
        return {word.strip().lower(): status for word, status in value.items()}


class Retries(_Strict):
    """Attempts per item (the first call included) and the exponential back-off between them."""

    attempts: int = Field(default=3, ge=1, le=10)
    wait_initial: float = Field(default=0.2, ge=0, le=30)
    wait_max: float = Field(default=5.0, ge=0, le=60)
    wait_jitter: float = Field(default=0.5, ge=0, le=10)


class Timeouts(_Strict):
    """Seconds: to connect, to read an answer, and for a whole batch of items (every call and wait)."""

    connect: float = Field(default=3.0, gt=0, le=60)
    read: float = Field(default=10.0, gt=0, le=120)
    total: float = Field(default=20.0, gt=0, le=300)


class Breaker(_Strict):
    """The circuit opens after ``failures`` in a row and stays open ``open_seconds``."""

    failures: int = Field(default=5, ge=1, le=1000)
    open_seconds: float = Field(default=30.0, gt=0, le=3600)


class Budget(_Strict):
    """At most ``calls`` HTTP calls (retries included) in any ``window_seconds``."""

    calls: int = Field(ge=1)
    window_seconds: float = Field(gt=0)


class ProviderConfig(_Strict):
    """One provider, as the operator describes it."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")]
    url: str = Field(min_length=1, max_length=2000)
    method: Literal["GET", "POST"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: dict[str, str] | None = None
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # Calls in flight at once from one worker (the worker's own concurrency caps it too).
    concurrency: int = Field(default=8, ge=1, le=256)
    response: Response
    retries: Retries = Field(default_factory=Retries)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    breaker: Breaker = Field(default_factory=Breaker)
    budget: Budget | None = None

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_NAMES:
            raise ValueError(f"is reserved ({', '.join(sorted(RESERVED_NAMES))} label other resolvers)")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        _check_template(value, _ALL_FIELDS)
        url = httpx.URL(render(value, dict.fromkeys(_ALL_FIELDS, "x"), in_url=True))
        if url.userinfo:
            raise ValueError("must not carry a user or password (use headers and api_key_env)")
        if url.scheme == "http" and not _is_loopback(url.host):
            raise ValueError("must be https (plain http only to a loopback host)")
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an absolute http(s) URL")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        # Headers carry the key only: a name in a header would reach places (proxies, vendor logs) a query does too,
        # but this keeps what a person's data goes through to the URL and the body.
        for template in value.values():
            _check_template(template, (API_KEY,))
        return value

    @field_validator("json_body")
    @classmethod
    def _body(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for template in (value or {}).values():
            _check_template(template, _ALL_FIELDS)
        return value

    @model_validator(mode="after")
    def _key_is_named_where_used(self) -> ProviderConfig:
        if API_KEY in self.uses() and self.api_key_env is None:
            raise ValueError("uses {api_key} but names no api_key_env")
        if self.method == "GET" and self.json_body is not None:
            raise ValueError("json_body needs method POST")
        return self

    def uses(self) -> frozenset[str]:
        """Every placeholder the request names."""
        templates = [self.url, *self.headers.values(), *(self.json_body or {}).values()]
        return frozenset().union(*(placeholders(t, _ALL_FIELDS) for t in templates))

    def mapping(self) -> ResponseMapping:
        """The response mapping as domain data."""
        r = self.response
        return ResponseMapping(r.email, r.status, r.score, dict(r.status_map))


class ProvidersFile(_Strict):
    """The file: providers in the order the chain asks them."""

    providers: list[ProviderConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> ProvidersFile:
        names = [p.name for p in self.providers]
        if len(set(names)) != len(names):
            raise ValueError("provider names must be unique")
        return self


class Provider(BaseModel):
    """A validated provider with its key read from the environment."""

    model_config = ConfigDict(frozen=True)

    config: ProviderConfig
    api_key: SecretStr | None = None


def _check_template(template: str, allowed: tuple[str, ...]) -> None:
    try:
        placeholders(template, allowed)
    except TemplateError as exc:
        raise ValueError(str(exc)) from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def parse_providers(document: object, source: str, environ: Mapping[str, str] | None = None) -> list[Provider]:
    """Validate a parsed providers document and read each key from ``environ`` (default: the process's)."""
    try:
        parsed = ProvidersFile.model_validate(document)
    except ValidationError as exc:
        # loc and msg only: pydantic's own message quotes the input, which may be a key pasted in the wrong place.
        problems = "; ".join(f"{_where(e['loc'])}: {e['msg']}" for e in exc.errors(include_input=False))
        raise ProviderConfigError(f"{source}: {problems}") from None
    env = os.environ if environ is None else environ
    providers = []
    for index, config in enumerate(parsed.providers):
        key = None
        if config.api_key_env is not None:
            raw = env.get(config.api_key_env, "")
            if not raw.strip():
                raise ProviderConfigError(
                    f"{source}: providers.{index}.api_key_env: the environment variable {config.api_key_env} is "
                    "not set or empty"
                )
            key = SecretStr(raw.strip())
        providers.append(Provider(config=config, api_key=key))
    return providers


def load_providers(path: Path, environ: Mapping[str, str] | None = None) -> list[Provider]:
    """Read, parse (``.toml``: TOML, anything else: JSON) and validate a providers file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProviderConfigError(f"{path}: cannot be read ({type(exc).__name__})") from None
    try:
        document = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        raise ProviderConfigError(f"{path}: is not valid {kind} ({type(exc).__name__})") from None
    return parse_providers(document, str(path), environ)
