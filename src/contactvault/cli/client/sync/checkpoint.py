"""Per-target sync progress in a small JSON file (mode 600): where the next sync starts, and what this tool wrote.

``since`` is the ``unlockedAt`` of the last contact of the last applied batch (the server's ``since`` is
inclusive, so a rerun re-reads that boundary and finds it unchanged). ``created`` maps personnel id → target
record id for the records this tool created: erasures act on these only. ``sent`` holds the last values sent to a
target that cannot be read back (a webhook), so an unchanged contact is not sent twice.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from contactvault.client.config import default_state_path, write_private_file

__all__ = ["Checkpoint", "default_checkpoint_path"]


def default_checkpoint_path(target_name: str) -> Path:
    """``sync-<target>.json`` next to the unlock state file."""
    return default_state_path().parent / f"sync-{target_name}.json"


@dataclasses.dataclass
class Checkpoint:
    """Progress of one target; ``save`` writes it atomically."""

    path: Path
    since: str | None = None
    created: dict[str, str] = dataclasses.field(default_factory=dict)
    sent: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        """The checkpoint at ``path``, or an empty one when there is none yet."""
        if not path.exists():
            return cls(path)
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return cls(path, raw.get("since"), dict(raw.get("created", {})), dict(raw.get("sent", {})))

    def save(self) -> None:
        """Replace the file with the current progress."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"since": self.since, "created": self.created, "sent": self.sent}
        # Compact: ``indent`` makes json fall back to its pure-Python encoder, and this file is rewritten after
        # every batch with every record sent so far (docs/benchmarks.md, "Sync": the saves dominate a webhook sync).
        write_private_file(self.path, json.dumps(body, sort_keys=True, separators=(",", ":")))
