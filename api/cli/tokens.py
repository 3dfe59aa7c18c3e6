"""`huiqi token create | list | revoke`: bearer tokens for the service, stored only as hashes."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from api.cli import app
from api.cli.progress import console
from api.service.roles import PRINCIPAL_TTL, ROLES
from api.settings import Settings

token_app = typer.Typer(no_args_is_help=True, help="Bearer tokens for the HTTP service.")
app.add_typer(token_app, name="token")


def _engine():
    from matcher.db import open_database

    return open_database(Settings().database)


@token_app.command("create")
def create(
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
    uscc: Annotated[str | None, typer.Option(help="The enterprise an enterprise token acts for.")] = None,
    name: Annotated[str | None, typer.Option(help="Who holds it (written to the audit log).")] = None,
    expires_days: Annotated[int | None, typer.Option(min=1, help="Expire after this many days.")] = None,
) -> None:
    """Issue a token and print it once: only its hash is stored, so it cannot be shown again."""
    from api.service.tokens import issue_token

    try:
        token, token_id = issue_token(
            _engine(),
            role=role,
            uscc=uscc,
            name=name or uscc or role,
            expires_in=timedelta(days=expires_days) if expires_days else None,
        )
    except ValueError as err:
        field, _, message = str(err).partition(": ")
        raise typer.BadParameter(message, param_hint=f"--{field}") from None
    console.print(f"token #{token_id} for {role}{' ' + uscc if uscc else ''} (shown once; keep it secret):")
    print(token)


@token_app.command("list")
def list_tokens() -> None:
    """Tokens issued: id, prefix, role, enterprise, holder, state (never the tokens themselves)."""
    from sqlalchemy import select

    from matcher.db.models import api_tokens

    with _engine().connect() as connection:
        rows = connection.execute(select(api_tokens).order_by(api_tokens.c.id)).all()
    table = Table(title=f"{len(rows)} tokens")
    for col in ("id", "prefix", "role", "uscc", "name", "created", "state"):
        table.add_column(col)
    for r in rows:
        state = "revoked" if r.revoked_at else (f"expires {r.expires_at:%Y-%m-%d}" if r.expires_at else "active")
        table.add_row(str(r.id), r.prefix + "…", r.role, r.uscc or "", r.name, f"{r.created_at:%Y-%m-%d}", state)
    console.print(table)


@token_app.command(
    "revoke",
    help=f"Revoke a token. Running servers refuse it within {PRINCIPAL_TTL} seconds: each remembers a token "
    "it has seen for that long.",
)
def revoke(token_id: Annotated[int, typer.Argument(help="The token's id (huiqi token list).")]) -> None:
    from api.service.tokens import revoke_token

    if not revoke_token(_engine(), token_id):
        raise typer.BadParameter(f"no active token #{token_id}", param_hint="TOKEN_ID")
    console.print(
        f"token #{token_id} revoked: servers already running refuse it within {PRINCIPAL_TTL} seconds "
        "(each remembers a token it saw that long)"
    )
