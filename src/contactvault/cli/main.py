"""The ``contactvault`` command."""

from __future__ import annotations

import importlib
import importlib.util

import typer

from contactvault.cli import admin, server

app = typer.Typer(
    help="contactvault: find the people worth contacting, then unlock their work email or phone.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(server.serve)
app.command()(server.worker)
app.command("demo-serve")(server.demo_serve)
app.add_typer(admin.app, name="admin")

# The client commands (login, credits, unlock, ...) live in their own module.
if importlib.util.find_spec("contactvault.cli.client_commands") is not None:
    importlib.import_module("contactvault.cli.client_commands").register(app)


def main() -> None:
    """Entry point."""
    app()


if __name__ == "__main__":
    main()
