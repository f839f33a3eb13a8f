"""The CLI imports server code only inside server commands, so the client commands need only the ``cli`` extra.

``cli/client/`` never imports the server (except the demo's embedded server, inside one function);
``cli/admin/`` imports it inside the commands only; importing ``contactvault.cli.main`` and printing help loads no
server module and none of the server extra's packages.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import contactvault.cli

CLI_DIR = Path(contactvault.cli.__file__).parent
CLIENT_MODULES = sorted((CLI_DIR / "client").rglob("*.py"))
CLI_MODULES = sorted(CLI_DIR.rglob("*.py"))
SERVER_PREFIXES = ("contactvault.server", "uvicorn", "fastapi", "sqlalchemy", "alembic", "cryptography")


def _server_import(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in SERVER_PREFIXES)


def _imported_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module]
    return []


def _module_level_imports(path: Path) -> list[str]:
    """Imports that run when the module is imported: everywhere but function bodies and ``if TYPE_CHECKING``."""
    names: list[str] = []
    pending: list[ast.AST] = list(ast.parse(path.read_text()).body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            pending += node.orelse
            continue
        names += _imported_names(node)
        pending += ast.iter_child_nodes(node)
    return names


def _server_imports_outside(path: Path, allowed_function: str | None) -> list[str]:
    """Server imports anywhere in the module (type-checking blocks included) except inside ``allowed_function``."""
    tree = ast.parse(path.read_text())
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == allowed_function:
            allowed |= {id(inner) for inner in ast.walk(node)}
    return [
        name
        for node in ast.walk(tree)
        if id(node) not in allowed
        for name in _imported_names(node)
        if _server_import(name)
    ]


def test_every_cli_module_is_checked() -> None:
    assert {p.parent.name for p in CLI_MODULES} == {"cli", "client", "admin", "sync"}
    assert CLI_DIR / "client" / "demo.py" in CLIENT_MODULES


@pytest.mark.parametrize("path", CLI_MODULES, ids=lambda p: str(p.relative_to(CLI_DIR)))
def test_no_cli_module_imports_the_server_at_module_level(path: Path) -> None:
    assert [name for name in _module_level_imports(path) if _server_import(name)] == []


@pytest.mark.parametrize("path", CLIENT_MODULES, ids=lambda p: p.name)
def test_client_command_modules_do_not_import_the_server(path: Path) -> None:
    allowed = "embedded_server" if path.name == "demo.py" else None
    assert _server_imports_outside(path, allowed) == []


def test_the_demo_imports_server_modules_only_inside_embedded_server() -> None:
    tree = ast.parse((CLI_DIR / "client" / "demo.py").read_text())
    functions = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    inside = [
        node.module
        for node in ast.walk(functions["embedded_server"])
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("contactvault.server")
    ]
    assert inside


def test_the_cli_and_its_help_load_no_server_module() -> None:
    """What actually loads, transitively: import the command tree, print every group's help, list the modules."""
    script = textwrap.dedent(
        """
        import json, sys
        from typer.testing import CliRunner
        from contactvault.cli.main import app
        runner = CliRunner()
        codes = [runner.invoke(app, [*group, "--help"]).exit_code for group in ([], ["admin"], ["admin", "key"])]
        print(json.dumps({"codes": codes, "modules": sorted(sys.modules)}))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["codes"] == [0, 0, 0]
    assert "contactvault.cli.admin.commands" in report["modules"]
    assert "contactvault.cli.client.commands" in report["modules"]
    assert [name for name in report["modules"] if _server_import(name)] == []


# contactvault.server and the top-level packages of the server and postgres extras.
SERVER_ONLY_PACKAGES = (
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


def test_every_cli_module_imports_without_the_server_extra() -> None:
    found = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, *SERVER_ONLY_PACKAGES],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result = json.loads(found.stdout)
    assert result["failed"] == {}
    # Every module on disk was imported (the walk found them all), main with its whole command tree among them.
    assert sorted(result["imported"]) == sorted(_module_name(p) for p in CLI_MODULES if p != CLI_DIR / "__init__.py")
    assert "contactvault.cli.main" in result["imported"]
