"""End to end (both backends): an unlock the vault cannot serve is delivered by the configured provider, charged once.

The provider is wired only through ``CONTACTVAULT_PROVIDERS_FILE``: the worker's default chain is the vault, then it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contactvault.server.runtime import Runtime
from contactvault.server.services import suppressions
from contactvault.server.worker.resolvers.provider import configured_providers
from tests.engine import assert_reconciles, balance, drain, submit, task
from tests.factories import Account, email_of
from tests.integration.providers.conftest import KEY, KEY_ENV, NAME, provider_document
from tests.integration.providers.fake_provider import FakeProvider, found

NO_VAULT_EMAIL = 10


@pytest.fixture
def with_provider(directory: Runtime, fake_provider: FakeProvider, tmp_path: Path, monkeypatch) -> Runtime:
    """The runtime with the fake provider configured the way an operator does it: a file and a key variable."""
    path = tmp_path / "providers.json"
    path.write_text(json.dumps(provider_document(fake_provider.url)))
    monkeypatch.setenv(KEY_ENV, KEY)
    directory.settings = directory.settings.model_copy(update={"providers_file": path})
    return directory


def test_the_provider_delivers_what_the_vault_lacks_charged_once(
    with_provider: Runtime, account: Account, fake_provider: FakeProvider
) -> None:
    rt = with_provider
    fake_provider.script(found("person10@northwind.test", "valid", 93))
    submitted = submit(rt, account, [1, NO_VAULT_EMAIL])
    assert drain(rt) == 2
    view = task(rt, account, str(submitted["task_id"]))
    vault_item, provider_item = view["items"]
    assert (vault_item["email"], vault_item["source"]) == (email_of(1), "vault")
    assert provider_item["status"] == "unlocked"
    assert (provider_item["email"], provider_item["source"]) == ("person10@northwind.test", NAME)
    assert provider_item["verification"] == {"status": "valid", "score": 93, "checkedAt": provider_item["completedAt"]}
    assert provider_item["creditsCharged"] == 15
    assert fake_provider.calls == 1  # person 1 was answered by the vault and never sent out
    assert balance(rt, account) == 10_000 - 30
    assert_reconciles(rt)
    again = submit(rt, account, [NO_VAULT_EMAIL])  # already unlocked: skipped, nothing asked, nothing charged
    assert again["status"] == "success"
    assert drain(rt) == 0
    assert (fake_provider.calls, balance(rt, account)) == (1, 10_000 - 30)


def test_a_provider_that_finds_nothing_leaves_the_item_unresolved_and_uncharged(
    with_provider: Runtime, account: Account, fake_provider: FakeProvider
) -> None:
    rt = with_provider
    submitted = submit(rt, account, [NO_VAULT_EMAIL])
    drain(rt)
    (item,) = task(rt, account, str(submitted["task_id"]))["items"]
    assert (item["status"], item["errorCode"], item["creditsCharged"]) == ("failed", "UNRESOLVED", 0)
    assert fake_provider.calls == 1
    assert balance(rt, account) == 10_000
    assert_reconciles(rt)


def test_without_the_setting_no_provider_is_asked(
    directory: Runtime, account: Account, fake_provider: FakeProvider
) -> None:
    fake_provider.default = found("person10@northwind.test")
    assert directory.settings.providers_file is None
    submitted = submit(directory, account, [NO_VAULT_EMAIL])
    drain(directory)
    (item,) = task(directory, account, str(submitted["task_id"]))["items"]
    assert (item["status"], item["errorCode"]) == ("failed", "UNRESOLVED")
    assert fake_provider.calls == 0


def test_a_batch_at_a_provider_ends_within_half_the_lease(with_provider: Runtime) -> None:
    (resolver,) = configured_providers(with_provider)
    assert resolver.deadline == 10  # the provider's own total (10 s) is under half the 30 s lease
    with_provider.settings = with_provider.settings.model_copy(update={"worker_lease_seconds": 8})
    (resolver,) = configured_providers(with_provider)
    assert (resolver.name, resolver.deadline) == (NAME, 4)


def test_a_found_address_at_a_suppressed_domain_is_neither_delivered_nor_charged(
    with_provider: Runtime, account: Account, fake_provider: FakeProvider
) -> None:
    rt = with_provider
    suppressions.suppress(rt, "domain", "Elsewhere.TEST")  # not the person's company: the answer's own domain
    fake_provider.script(found("Person10@elsewhere.test", "valid", 93))
    submitted = submit(rt, account, [NO_VAULT_EMAIL])
    drain(rt)
    (item,) = task(rt, account, str(submitted["task_id"]))["items"]
    assert (item["status"], item["errorCode"], item["creditsCharged"]) == ("failed", "INELIGIBLE", 0)
    assert "email" not in item
    assert fake_provider.calls == 1
    assert balance(rt, account) == 10_000
    assert_reconciles(rt)
