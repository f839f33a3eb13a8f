"""docs/sync.md's runnable examples: its ```sh commands, in order, and its mapping file."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from contactvault.cli.client.sync.plan import load_mapping

from .conftest import CLI

DOC = Path(__file__).resolve().parents[2] / "docs" / "sync.md"


def blocks(kind: str) -> list[str]:
    """The bodies of the doc's fenced blocks of this kind."""
    return re.findall(rf"^```{kind}\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)


def test_the_sh_examples_run_against_a_server_as_documented(
    connected: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    connected.json("unlock", "--event", "100", "--ids", "1,2,3", "--yes")
    commands = [shlex.split(line) for block in blocks("sh") for line in block.splitlines() if line.strip()]
    assert [c[:3] for c in commands] == [["contactvault", "sync", "--to"]] * 4
    results = [connected(*command[1:]) for command in commands]
    assert [r.exit_code for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
    assert "would call: write contacts.csv (3 record(s) changed)" in results[0].stdout
    assert "@" in results[0].stdout
    assert "***@" in results[0].stdout
    assert json.loads(results[2].stdout)["counts"]["skip"] == 3
    assert json.loads(results[2].stdout)["calls"] == []
    assert not (tmp_path / "contacts.jsonl").exists()


def test_the_mapping_example_loads(tmp_path: Path) -> None:
    (example,) = blocks("toml")
    path = tmp_path / "map.toml"
    path.write_text(example)
    fields = load_mapping(path).fields
    assert fields["phone"] == ("phone", "if_empty")
    assert fields["contactvault_unlocked_at"] == ("first_unlocked_at", "never")
