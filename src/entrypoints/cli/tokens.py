"""`dialer tokens`: bearer tokens for the HTTP API, with roles."""

from __future__ import annotations

from typing import Annotated

import typer

from entrypoints import bootstrap
from entrypoints.cli.common import _fail, _open, app, console

tokens_app = typer.Typer(help="Bearer tokens for the HTTP API (roles: agent, supervisor, admin).", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")


@tokens_app.command("create")
def tokens_create(
    role: Annotated[str, typer.Option(help="agent, supervisor or admin.")],
    agent: Annotated[str | None, typer.Option(help="The agent an agent's token acts as.")] = None,
) -> None:
    """Make a token and print it once (only its hash is kept)."""
    with _open() as (_, store):
        try:
            token_id, token = bootstrap.tokens(store).create(role, agent)
        except ValueError as exc:
            _fail(str(exc))
    console.print(f"token {token_id} ({role}{f', agent {agent}' if agent else ''}); shown once, keep it safe:")
    print(token)


@tokens_app.command("list")
def tokens_list() -> None:
    """Every token: id, role, agent, when made and revoked (never the token)."""
    with _open() as (_, store):
        for t in bootstrap.tokens(store).all():
            revoked = f"  revoked {t['revoked_at']}" if t["revoked_at"] else ""
            console.print(f"{t['id']}  {t['role']:<10} {t['agent'] or '-':<16} made {t['created_at']}{revoked}")


@tokens_app.command("revoke")
def tokens_revoke(token_id: str) -> None:
    """Revoke a token by its id; requests with it get 401 from then on."""
    with _open() as (_, store):
        if not bootstrap.tokens(store).revoke(token_id):
            _fail(f"no live token with id {token_id!r}")
    console.print(f"token {token_id} revoked")
