"""The provider resolver over the directory (both backends): what it reads and sends, and suppressed people."""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from contactvault.server.db.tables import personnel
from contactvault.server.runtime import Runtime
from contactvault.server.services import suppressions
from contactvault.server.worker.pipeline import ResolverChain
from contactvault.server.worker.resolvers.base import Lookup, Outcome
from contactvault.server.worker.resolvers.provider import ProviderResolver
from contactvault.server.worker.resolvers.vault import VaultResolver
from tests.integration.providers.conftest import KEY, NAME
from tests.integration.providers.fake_provider import FakeProvider, found

NO_VAULT_EMAIL = 10  # the test directory gives every 10th person no email: only a provider can find it


def test_a_found_answer_carries_the_verdict_and_the_provider_as_source(
    directory: Runtime, fake_provider: FakeProvider, stored_resolver: ProviderResolver
) -> None:
    fake_provider.script(found("Person10@Northwind.test", "valid", 93))
    answer = asyncio.run(stored_resolver.resolve(Lookup(1, NO_VAULT_EMAIL, "email")))
    assert answer.outcome is Outcome.FOUND
    assert answer.value_encrypted is not None
    # Stored and delivered in its canonical form (server/addresses.py: lower-cased), whatever case the provider used.
    assert directory.cipher.open(answer.value_encrypted) == "person10@northwind.test"
    assert answer.value_hash == directory.cipher.lookup_hash("email", "person10@northwind.test")
    assert (answer.source, answer.verification_status, answer.verification_score) == (NAME, "valid", 93)
    assert answer.checked_at == directory.clock.now()
    (seen,) = fake_provider.seen  # what was sent: the name's parts and the company's domain, and the key
    assert seen.path == "/v1/find"
    assert seen.query == {"first": ["Person"], "last": ["Example"], "domain": ["northwind.test"], "key": [KEY]}
    assert seen.headers["Authorization"] == f"Bearer {KEY}"


def test_a_suppressed_person_costs_zero_calls(
    directory: Runtime, fake_provider: FakeProvider, stored_resolver: ProviderResolver
) -> None:
    suppressions.suppress(directory, "person", str(NO_VAULT_EMAIL))
    fake_provider.default = found("someone@northwind.test")
    chain = ResolverChain(directory.db, directory.cipher, [VaultResolver(directory.db), stored_resolver], 4)
    answers = asyncio.run(chain.resolve([Lookup(1, NO_VAULT_EMAIL, "email"), Lookup(2, 20, "email")]))
    assert answers[1].outcome is Outcome.INELIGIBLE
    assert answers[2].outcome is Outcome.FOUND  # the person beside them was asked: the provider was reachable
    (seen,) = fake_provider.seen
    assert seen.query["domain"] == ["northwind.test"]


def test_a_suppressed_company_domain_costs_zero_calls(
    directory: Runtime, fake_provider: FakeProvider, stored_resolver: ProviderResolver
) -> None:
    with directory.db.write() as conn:  # person 20 (no vault email) moves to Acme, whose domain is not listed
        conn.execute(update(personnel).where(personnel.c.id == 20).values(company_id=1))
    suppressions.suppress(directory, "domain", "Northwind.TEST.")
    fake_provider.default = found("someone@acme-widgets.test")
    chain = ResolverChain(directory.db, directory.cipher, [VaultResolver(directory.db), stored_resolver], 4)
    answers = asyncio.run(chain.resolve([Lookup(1, NO_VAULT_EMAIL, "email"), Lookup(2, 20, "email")]))
    assert answers[1].outcome is Outcome.INELIGIBLE  # a Northwind person: never sent out
    assert answers[2].outcome is Outcome.FOUND  # the person beside them was asked: the provider was reachable
    (seen,) = fake_provider.seen
    assert seen.query["domain"] == ["acme-widgets.test"]
