"""Every response an API test gets is checked against the published OpenAPI document and the Lensmor field types.

The check runs when the test ends, so the test that provoked a non-conforming answer is the one that fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.wire import PublishedContract


@pytest.fixture(autouse=True)
def answers_match_the_published_contract(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[httpx.Response]]:
    """Record the test's responses; at the end, each must fit /openapi.json and the contract's JSON types."""
    responses: list[httpx.Response] = []
    apps: list[Any] = []
    original = TestClient.request

    def request(self: TestClient, *args: Any, **kwargs: Any) -> httpx.Response:
        response = original(self, *args, **kwargs)
        responses.append(response)
        apps.append(self.app)
        return response

    monkeypatch.setattr(TestClient, "request", request)
    yield responses
    checked = zip(apps, responses, strict=True)
    problems = [p for app, response in checked for p in PublishedContract(app.openapi()).problems(response)]
    assert not problems, "answers that break the published contract:\n" + "\n".join(problems[:20])
