"""The unlock use cases and the routes that call them build no SQL: they import no sqlalchemy (db/ does)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parents[2] / "src" / "contactvault" / "server"
NO_SQL = (
    "services/unlocks.py",
    "services/outcomes.py",
    "services/credits.py",
    "services/directory.py",
    "services/unlocked_contacts.py",
    "api/routes/contacts.py",
    "api/mappers.py",
)


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("module", NO_SQL)
def test_module_imports_no_sqlalchemy(module: str) -> None:
    assert [n for n in _imports(SERVER / module) if n.split(".")[0] == "sqlalchemy"] == []
