"""Integration tests of db/: one file per storage module, on SQLite and PostgreSQL."""
