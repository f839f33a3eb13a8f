"""A node started with a broken providers file says so in one line and exits 2, before it opens anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contactvault.cli.main import app
from tests.integration.providers.conftest import KEY, KEY_ENV, provider_document


def test_a_broken_providers_file_is_one_line_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # serve and demo-serve read their settings through the same function as worker (cli/admin/server._settings).
    path = tmp_path / "providers.json"
    path.write_text(json.dumps(provider_document("http://api.finder.example", headers={"X-Key": KEY + "{oops}"})))
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv("CONTACTVAULT_PROVIDERS_FILE", str(path))
    result = CliRunner().invoke(app, ["worker", "--db", f"sqlite:///{tmp_path}/cv.db"])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert "providers.0.url: Value error, must be https" in result.stderr
    assert "providers.0.headers" in result.stderr
    assert KEY not in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cv.db").exists()  # refused before opening the database
