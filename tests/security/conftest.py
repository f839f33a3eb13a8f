"""Fixtures for the security tests: apps with chosen settings, and a full unlock workflow over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contactvault.server.api.app import create_app
from contactvault.server.runtime import Runtime
from tests.factories import Account
from tests.security.workflow import Workflow, run_workflow

AppFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(directory: Runtime) -> Iterator[AppFactory]:
    """Build an in-process client for an app whose settings differ from the defaults by ``overrides``."""
    with ExitStack() as stack:

        def make(**overrides: Any) -> TestClient:
            directory.settings = directory.settings.model_copy(update=overrides)
            app = create_app(runtime=directory)
            return stack.enter_context(TestClient(app, raise_server_exceptions=False))

        yield make


@pytest.fixture
def workflow(directory: Runtime, client: TestClient, account: Account, other_account: Account) -> Workflow:
    """Both accounts unlock emails and phones over HTTP, a worker drains, results are read back."""
    return run_workflow(directory, client, [account, other_account])
