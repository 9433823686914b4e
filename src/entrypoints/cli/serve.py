"""`dialer serve`: run campaigns in real time (the dialler, the HTTP API, live streams, webhooks)."""

from __future__ import annotations

import os
import signal
from typing import Annotated

import typer

from dialer_domain.model.values import DialMode
from entrypoints import bootstrap
from entrypoints.cli.common import _fail, app, console


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[bool, typer.Option("--demo", help="Create (once) and run the demo campaign and list.")] = False,
    demo_mode: Annotated[DialMode, typer.Option(help="The demo campaign's dial mode when it is created.")] = DialMode.PREVIEW,
    bots: Annotated[int, typer.Option(min=0, max=200, help="Simulated agents who take calls (simulated telephony only).")] = 0,
    speed: Annotated[float, typer.Option(min=0.1, max=3600.0, help="Simulated telephony: how much faster than the wall clock.")] = 1.0,
    seed: Annotated[int | None, typer.Option(help="Seed of the simulated world.")] = None,
) -> None:
    """Run campaigns in real time: the dialler on the wall clock, the HTTP API with the agents' and
    supervisors' routes and live streams (OpenAPI at /docs), and the telephony's webhooks.
    Telephony is DIALER_TELEPHONY (simulated by default; twilio or sip, configured by their
    DIALER_TWILIO_* or DIALER_SIP_* variables). DIALER_PACE_EVERY_SECONDS (0 to 5) paces power
    and predictive campaigns at most so often (0: after every event; unset: 0 below 100 agents
    logged in, 0.5 from there). SIGTERM or Ctrl-C stops gracefully: no new dials, calls in
    progress end."""
    import uvicorn

    from adapters.persistence.engine_lock import EngineAlreadyRunning, engine_lock
    from entrypoints.api import create_app
    from entrypoints.demo import DEMO_SKILL, ensure_demo_campaign
    from entrypoints.service import LiveService

    telephony = os.environ.get("DIALER_TELEPHONY", "simulated")
    if bots and telephony != "simulated":
        _fail("--bots needs simulated telephony (DIALER_TELEPHONY unset or simulated)")
    try:
        bootstrap.engine_config()  # a bad DIALER_PACE_EVERY_SECONDS is named before anything starts
    except ValueError as exc:
        _fail(str(exc))
    try:
        store = bootstrap.store()
    except (ValueError, bootstrap.StoreUnavailable) as exc:
        _fail(str(exc))
    try:
        with engine_lock(store):
            if demo:
                repo, _ = bootstrap.repository_on(store)
                ensure_demo_campaign(repo, at=bootstrap.WallClock().now(), mode=demo_mode)
            service = LiveService(store, telephony=telephony, speed=speed, seed=seed)
            if bots:
                service.register_bots(bots)  # before the dialler starts: offers to bots reach them
            service.start()
            if bots:
                service.add_bots(bots, (DEMO_SKILL,))
            console.print(f"dialler running ({telephony} telephony{f', {speed:g}x' if speed != 1 else ''}); API on http://{host}:{port}/docs")
            if demo:
                tokens = bootstrap.tokens(store)
                agent_token, boss_token = tokens.create("agent", "me")[1], tokens.create("supervisor")[1]
                base = f"http://{host}:{port}"
                console.print("demo tokens (shown once): agent 'me' and a supervisor")
                print(f"export AGENT_TOKEN={agent_token} BOSS_TOKEN={boss_token}")
                console.print(
                    f"log in as agent 'me':  curl -X POST {base}/agents/me/login -H \"Authorization: Bearer $AGENT_TOKEN\" "
                    f"-H 'content-type: application/json' -d '{{\"skills\": [\"{DEMO_SKILL}\"]}}'",
                    soft_wrap=True,
                )
                console.print(f"get ready and watch:   curl -X POST {base}/agents/me/ready -H \"Authorization: Bearer $AGENT_TOKEN\"", soft_wrap=True)
                console.print(f"                       curl -N {base}/agents/me/events -H \"Authorization: Bearer $AGENT_TOKEN\"", soft_wrap=True)
                console.print(
                    f"take an offer:        curl -X POST {base}/agents/me/offers/OFFER_ID/accept -H \"Authorization: Bearer $AGENT_TOKEN\"",
                    soft_wrap=True,
                )
            # uvicorn stops gracefully on SIGTERM or Ctrl-C (the app's lifespan stops the dialler), then
            # raises the signal again to the handler that was there before it: let that one return,
            # so that the store is closed and the command exits 0 after a graceful stop
            previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
            try:
                uvicorn.run(create_app(service=service), host=host, port=port, log_level="warning")
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
            service.stop()
    except EngineAlreadyRunning as exc:
        _fail(str(exc))
    finally:
        store.close()
