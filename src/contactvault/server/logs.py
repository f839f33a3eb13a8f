"""Structured logging: JSON lines (``CONTACTVAULT_LOG_JSON=true``) or one-line text (access log: ``api/access_log``).

What may be logged: method, route, status, trace id, account id, durations, counts, error class names. What never
is: API keys, emails, phones, query strings, request bodies, client addresses. Control characters in anything
that reaches a log line are escaped, so a caller cannot forge log lines.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

# Attributes an ``extra={...}`` may carry into a structured line.
FIELDS = ("method", "path", "status", "trace_id", "account_id", "duration_ms")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def neutralise(text: str) -> str:
    """Escape CR, LF and other control characters so one record stays one line."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the known extra fields, and ``exc`` if any."""

    def format(self, record: logging.LogRecord) -> str:
        """Render a record."""
        data: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            if hasattr(record, name):
                data[name] = getattr(record, name)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        # JSON escapes CR/LF itself; U+2028/2029 are legal in JSON strings but end a line for some readers.
        return (
            json.dumps(data, default=str, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        )


class TextFormatter(logging.Formatter):
    """``ts LEVEL logger message`` on one line; a traceback, if any, follows on its own lines."""

    def format(self, record: logging.LogRecord) -> str:
        """Render a record."""
        line = f"{_timestamp(record)} {record.levelname} {record.name} {neutralise(record.getMessage())}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(*, json_lines: bool, level: str = "INFO") -> None:
    """Send every logger (ours, uvicorn's, SQLAlchemy's) through one stderr handler in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # Alembic announces its autogenerate plugins and its dialect on every start: noise around what matters.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    migration = logging.getLogger("alembic.runtime.migration")
    if not any(isinstance(f, _AlembicChatter) for f in migration.filters):
        migration.addFilter(_AlembicChatter())


class _AlembicChatter(logging.Filter):
    """Drop alembic's "Context impl ..." and "Will assume ... DDL" lines; keep "Running upgrade ..."."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether to keep the record."""
        return not str(record.msg).startswith(("Context impl", "Will assume"))
