"""The one authorisation step every dial passes (a pure function): allowed, or blocked with reasons.

Each rule looks at a ``DialContext`` and returns None (passed) or the reason it blocks. The names of
the rules that passed are recorded on DialAttempted. Later compliance rules (do-not-call lists, the
callee's local hours, an abandon-rate cap) are added to the rule list without touching the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import attrs

from dialer_domain.model.campaign import Campaign
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.values import ContactState


@attrs.frozen
class DialContext:
    campaign: Campaign
    contact: ContactAttempt
    at: datetime


@attrs.frozen
class Authorisation:
    allowed: bool
    checks: tuple[str, ...]
    reasons: tuple[str, ...]


Rule = Callable[[DialContext], str | None]


def campaign_open(ctx: DialContext) -> str | None:
    if not ctx.campaign.may_dial(ctx.at):
        return f"campaign {ctx.campaign.name!r} is {ctx.campaign.status.value} or outside its hours"
    return None


def contact_waiting(ctx: DialContext) -> str | None:
    if ctx.contact.state not in (ContactState.QUEUED, ContactState.OFFERED):
        return f"contact {ctx.contact.key!r} is {ctx.contact.state.value}, not queued or offered"
    if ctx.contact.campaign_id != ctx.campaign.id:
        return f"contact {ctx.contact.key!r} belongs to another campaign"
    return None


def attempts_left(ctx: DialContext) -> str | None:
    limit = ctx.campaign.config.max_attempts_per_contact
    if ctx.contact.attempts >= limit:
        return f"contact {ctx.contact.key!r} has used its {limit} attempts"
    return None


def number_available(ctx: DialContext) -> str | None:
    if ctx.contact.dialable_number(ctx.at, ctx.campaign.config) is None:
        return f"contact {ctx.contact.key!r} has no number with attempts left outside its redial delay"
    return None


DEFAULT_RULES: tuple[tuple[str, Rule], ...] = (
    ("campaign_open", campaign_open),
    ("contact_waiting", contact_waiting),
    ("attempts_left", attempts_left),
    ("number_available", number_available),
)


def authorise_dial(ctx: DialContext, rules: Sequence[tuple[str, Rule]] = DEFAULT_RULES) -> Authorisation:
    checks: list[str] = []
    reasons: list[str] = []
    for name, rule in rules:
        reason = rule(ctx)
        if reason is None:
            checks.append(name)
        else:
            reasons.append(f"{name}: {reason}")
    return Authorisation(not reasons, tuple(checks), tuple(reasons))
