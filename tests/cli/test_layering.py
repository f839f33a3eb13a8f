"""The CLI needs only the ``cli`` extra: no module of the ``contactvault.cli`` package imports server code (or a
server-only dependency) when it is imported; server code is imported inside the commands that run it.

The package is walked, not listed, so a module added or moved (``cli/client/``, ``cli/admin/``) is checked too.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import contactvault.cli

CLI_DIR = Path(contactvault.cli.__file__).parent
CLI_FILES = sorted(CLI_DIR.rglob("*.py"))
# contactvault.server and the top-level packages of the server and postgres extras.
SERVER_ONLY = (
    "contactvault.server",
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "pydantic_settings",
    "cryptography",
    "limits",
    "orjson",
    "psycopg",
    "redis",
)

# Imports every module of contactvault.cli with the server-only packages made unimportable, as on an install of
# the cli extra alone; prints {"imported": [...], "failed": {module: error}} as JSON.
IMPORT_ALL = """
import importlib, importlib.abc, json, pkgutil, sys

BLOCKED = tuple(sys.argv[1:])

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ModuleNotFoundError(f"No module named {name!r} (server-only)", name=name)
        return None

sys.meta_path.insert(0, Block())
import contactvault.cli
imported, failed = [], {}
for info in pkgutil.walk_packages(contactvault.cli.__path__, "contactvault.cli."):
    try:
        importlib.import_module(info.name)
        imported.append(info.name)
    except Exception as exc:
        failed[info.name] = f"{type(exc).__name__}: {exc}"
print(json.dumps({"imported": imported, "failed": failed}))
"""


def _module_name(path: Path) -> str:
    parts = path.relative_to(CLI_DIR.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path) -> list[str]:
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def _server_only(name: str) -> bool:
    return any(name == blocked or name.startswith(blocked + ".") for blocked in SERVER_ONLY)


def test_every_cli_module_imports_without_the_server_extra() -> None:
    found = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, *SERVER_ONLY], capture_output=True, text=True, check=True, timeout=120
    )
    result = json.loads(found.stdout)
    assert result["failed"] == {}
    # Every module on disk was imported (the walk found them all), main with its whole command tree among them.
    assert sorted(result["imported"]) == sorted(_module_name(p) for p in CLI_FILES if p.name != "__init__.py")
    assert "contactvault.cli.main" in result["imported"]


@pytest.mark.parametrize("path", CLI_FILES, ids=lambda p: str(p.relative_to(CLI_DIR)))
def test_no_cli_module_imports_the_server_at_module_level(path: Path) -> None:
    offending = [name for name in _top_level_imports(path) if _server_only(name)]
    assert offending == []


def _server_imports(tree: ast.AST) -> list[ast.ImportFrom]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("contactvault.server")
    ]


def test_the_demo_imports_server_modules_only_inside_embedded_server() -> None:
    trees = {path: ast.parse(path.read_text()) for path in CLI_FILES}
    defined = {
        path: node
        for path, tree in trees.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "embedded_server"
    }
    assert len(defined) == 1, defined
    ((path, function),) = defined.items()
    inside = _server_imports(function)
    assert inside
    assert _server_imports(trees[path]) == inside
