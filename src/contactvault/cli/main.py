"""The ``contactvault`` command."""

from __future__ import annotations

from typing import Annotated

import typer

from contactvault.cli.admin import commands as admin
from contactvault.cli.admin import server
from contactvault.cli.client import commands as client
from contactvault.cli.usage import HELP_OPTION_NAMES, CliGroup, version_callback

app = typer.Typer(
    cls=CliGroup,
    help="contactvault: find the people worth contacting, then unlock their work email or phone.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": HELP_OPTION_NAMES},
)


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=version_callback, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """contactvault: find the people worth contacting, then unlock their work email or phone."""


app.command()(server.serve)
app.command()(server.worker)
app.command("demo-serve")(server.demo_serve)
app.add_typer(admin.app, name="admin")
client.register(app)  # login, credits, unlock, tasks, export, demo, ...


def main() -> None:
    """Entry point."""
    app()


if __name__ == "__main__":
    main()
