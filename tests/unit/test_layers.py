"""Imports only point down: entrypoints -> services -> domain; db implements; the domain does no I/O."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parents[2] / "src" / "contactvault" / "server"
PREFIX = "contactvault.server."

# Which server packages each layer must not import from.
FORBIDDEN = {
    "domain": ("db", "services", "api", "worker", "demo", "runtime", "bootstrap", "notifier"),
    "db": ("services", "api", "console", "mcp", "worker", "demo"),
    "services": ("api", "console", "mcp", "worker", "demo"),
    # The web console: another entrypoint over the services (it shares the api's HTTP plumbing, never db/).
    "console": ("db", "worker", "demo"),
    # The MCP server for AI agents: the same rules as the console (services, domain, kernel, the api's plumbing).
    "mcp": ("db", "worker", "demo", "console"),
    # Synthetic data and provisioning: built on services, db and domain; only entrypoints and bench import it.
    "demo": ("api", "worker"),
}
DOMAIN_MAY_IMPORT = set(sys.stdlib_module_names) | {"contactvault"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_nothing_above_it(layer: str) -> None:
    files = sorted((SERVER / layer).rglob("*.py"))
    assert files
    offences = [
        f"{path.relative_to(SERVER)} imports {name}"
        for path in files
        for name in _imports(path)
        if name.startswith(PREFIX) and name.removeprefix(PREFIX).split(".")[0] in FORBIDDEN[layer]
    ]
    assert offences == []


def test_the_domain_imports_only_the_standard_library() -> None:
    offences = [
        f"{path.relative_to(SERVER)} imports {name}"
        for path in sorted((SERVER / "domain").rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] not in DOMAIN_MAY_IMPORT
        or (name.startswith("contactvault") and not name.startswith(PREFIX + "domain"))
    ]
    assert offences == []


# db/ is the only place that builds SQL: the layers above it name no sqlalchemy module (they get a transaction
# handle, ``db.engine.Transaction``, and the db-level errors from db/). ``api/`` itself may map driver errors to HTTP
# (api/errors.py). The demo generates its synthetic directory and bulk-loads it through db/seeding.py.
NO_SQLALCHEMY = ("services", "api/routes", "console", "mcp", "worker", "demo", "../cli")


@pytest.mark.parametrize("place", NO_SQLALCHEMY)
def test_no_sqlalchemy_above_db(place: str) -> None:
    files = sorted((SERVER / place).rglob("*.py"))
    assert files
    importing = [
        str(path.relative_to(SERVER.parent))
        for path in files
        if any(name.split(".")[0] == "sqlalchemy" for name in _imports(path))
    ]
    assert importing == []


def test_the_readiness_probe_asks_the_database_through_db() -> None:
    assert not [name for name in _imports(SERVER / "api" / "health.py") if name.split(".")[0] == "sqlalchemy"]


def test_every_root_module_of_the_server_says_why_it_stays_at_the_root() -> None:
    """A module at ``server/`` root is the shared kernel, named in the package docstring; anything else has a layer."""
    docstring = ast.get_docstring(ast.parse((SERVER / "__init__.py").read_text())) or ""
    unexplained = [
        p.name for p in sorted(SERVER.glob("*.py")) if p.stem != "__init__" and f"``{p.stem}``" not in docstring
    ]
    assert unexplained == []


def test_the_shared_agent_tools_import_no_server_code() -> None:
    """``contactvault.agents`` (the MCP tools, shared with the stdio server the CLI runs) stands on the SDK only."""
    agents = SERVER.parent / "agents"
    offences = [
        f"{path.name} imports {name}"
        for path in sorted(agents.rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[:2] in (["contactvault", "server"], ["contactvault", "cli"])
    ]
    assert offences == []
