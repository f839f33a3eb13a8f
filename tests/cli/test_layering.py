"""The client commands need only the ``cli`` extra: they never import server code at module level."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import contactvault.cli

CLI_DIR = Path(contactvault.cli.__file__).parent
CLIENT_MODULES = sorted([*CLI_DIR.glob("client_*.py"), CLI_DIR / "demo.py"])


def _top_level_imports(path: Path) -> list[str]:
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", CLIENT_MODULES, ids=lambda p: p.name)
def test_client_command_modules_do_not_import_the_server(path: Path) -> None:
    offending = [name for name in _top_level_imports(path) if name.startswith(("contactvault.server", "uvicorn"))]
    assert offending == []


def test_the_demo_imports_server_modules_only_inside_embedded_server() -> None:
    tree = ast.parse((CLI_DIR / "demo.py").read_text())
    functions = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    inside = [
        node.module
        for node in ast.walk(functions["embedded_server"])
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("contactvault.server")
    ]
    assert inside
