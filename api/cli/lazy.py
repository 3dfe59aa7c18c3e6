"""Commands that load on first use, so `huiqi --help` does not import polars, LightGBM, MLflow or FastAPI.

Each module under ``api.cli`` registers its commands on the one ``app`` when imported. The root group
knows every top-level command by name (``COMMANDS``: its module and its one-line help, which a test
checks against the command itself), lists them from that table, and imports a command's module only
when the command is run or its own help is asked for. A command module imports at its top only what its help
shows (typer, rich, the settings, a few constants from modules without heavy imports: ``api.service.roles``,
``matcher.ranking.sizes``, ``matcher.supervision.limits``); the rest inside the commands, so that
``huiqi <command> --help`` loads no polars, SQLAlchemy or networkx either (tests/api/test_cli_lazy.py).
"""

from __future__ import annotations

import importlib

import click
from typer.core import TyperGroup

# top-level command -> (module under api.cli that registers it, its one-line help)
COMMANDS: dict[str, tuple[str, str]] = {}


def register(name: str, module: str, short_help: str) -> None:
    COMMANDS[name] = (module, short_help)


class LazyGroup(TyperGroup):
    """The root group: lists from ``COMMANDS``; imports a command's module when it is resolved."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name not in COMMANDS:
            return None
        # Listing (help, completion): a placeholder with the help line is enough, nothing is imported.
        return click.Command(cmd_name, short_help=COMMANDS[cmd_name][1], help=COMMANDS[cmd_name][1])

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] in COMMANDS and args[0] not in self.commands:
            self.load(args[0])
        return super().resolve_command(ctx, args)

    def load(self, cmd_name: str) -> click.Command:
        """Import the module registering ``cmd_name`` and add its real command to this group."""
        import typer.main

        from api.cli import app

        importlib.import_module(f"api.cli.{COMMANDS[cmd_name][0]}")
        real = typer.main.get_group(app).commands[cmd_name]
        self.commands[cmd_name] = real
        return real
