"""The public surface: sorted, importable ``__all__`` lists and a client that imports nothing heavy."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import contactvault
import contactvault.client
from contactvault.client import config, state

CLIENT_DIR = Path(contactvault.client.__file__).parent
# The SDK's base install is httpx + pydantic + stamina; the server and CLI stacks are extras.
FORBIDDEN_IMPORTS = ("contactvault.server", "contactvault.cli", "typer", "rich", "fastapi", "sqlalchemy")


def isort_order(names: list[str]) -> list[str]:
    """The order ruff's RUF022 enforces: CONSTANTS, then Classes, then functions, each alphabetical."""
    return sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[:1].isupper() else 2, n))


def test_client_all_is_sorted_and_importable() -> None:
    names = contactvault.client.__all__
    assert names == isort_order(names)
    for name in names:
        assert getattr(contactvault.client, name) is not None


def test_top_level_package_re_exports_the_whole_sdk() -> None:
    assert contactvault.__all__ == isort_order(contactvault.__all__)
    assert set(contactvault.__all__) == set(contactvault.client.__all__)
    assert contactvault.Client is contactvault.client.Client
    assert contactvault.AsyncClient is contactvault.client.AsyncClient


def test_public_classes_claim_the_public_module() -> None:
    assert contactvault.Client.__module__ == "contactvault.client"
    assert contactvault.NotFoundError.__module__ == "contactvault.client"


def test_public_modules_have_sorted_all() -> None:
    for module in (config, state):
        assert module.__all__ == isort_order(module.__all__)


def test_client_package_imports_no_server_cli_or_heavy_deps() -> None:
    for path in CLIENT_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                assert not module.startswith(FORBIDDEN_IMPORTS), f"{path.name} imports {module}"


def test_every_public_function_and_method_has_a_docstring() -> None:
    for name in contactvault.client.__all__:
        obj = getattr(contactvault.client, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        assert inspect.getdoc(obj), name
        if inspect.isclass(obj) and obj.__module__ == "contactvault.client":
            for attr, member in vars(obj).items():
                if inspect.isfunction(member) and not attr.startswith("_"):
                    assert member.__doc__, f"{name}.{attr}"
