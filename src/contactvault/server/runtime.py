"""The composition root's product: everything a service function needs, built once."""

from __future__ import annotations

from dataclasses import dataclass, field

from contactvault.server.clock import Clock, IdSource, SystemClock
from contactvault.server.config import Settings
from contactvault.server.crypto import Cipher
from contactvault.server.db.engine import Database
from contactvault.server.notifier import Notifier
from contactvault.server.services.key_cache import KeyCache
from contactvault.server.services.task_views import TaskViews


@dataclass
class Runtime:
    """Settings, the database, the clock, the id source, the cipher, the task-change notifier, task views and the
    key cache."""

    settings: Settings
    db: Database
    cipher: Cipher
    clock: Clock = field(default_factory=SystemClock)
    ids: IdSource = field(default_factory=IdSource)
    notifier: Notifier = field(default_factory=Notifier)
    task_views: TaskViews = field(default_factory=TaskViews)
    key_cache: KeyCache = field(default_factory=KeyCache)
