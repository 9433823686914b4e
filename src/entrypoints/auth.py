"""Authentication and roles on the HTTP API: ``Authorization: Bearer <token>`` (issued by
``dialer tokens create``). 401 without a valid token; 403 for an action the role may not take, or
an agent acting on another agent's session. Twilio's webhooks are not here: they carry Twilio's
signature instead."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from adapters.auth.tokens import Principal
from entrypoints import bootstrap

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def authenticated(request: Request) -> Principal:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "this needs a bearer token (Authorization: Bearer ...; `dialer tokens create` makes one)", headers=_CHALLENGE)
    found = bootstrap.tokens(request.app.state.store.get()).verify(token.strip())
    if found is None:
        raise HTTPException(401, "the bearer token is not valid: unknown, revoked or malformed", headers=_CHALLENGE)
    return found


Caller = Annotated[Principal, Depends(authenticated)]


def staff(caller: Caller) -> Principal:
    """Supervisors and administrators."""
    if caller.role not in ("supervisor", "admin"):
        raise HTTPException(403, f"a {caller.role} token may not do this; it needs a supervisor's or an administrator's")
    return caller


Staff = Annotated[Principal, Depends(staff)]


def who(caller: Principal) -> str:
    """Who made a change over HTTP, as the events name them: the token's role and id."""
    return f"{caller.role} token {caller.token_id}"


def as_agent(agent: str, caller: Caller) -> Principal:
    """The agent themselves (an agent's token acts only on its own session), or staff."""
    if caller.role == "agent" and caller.agent != agent:
        raise HTTPException(403, "an agent's token acts only on that agent's own session")
    return caller


ActingAs = Annotated[Principal, Depends(as_agent)]
