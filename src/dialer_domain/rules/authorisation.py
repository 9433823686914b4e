"""The one authorisation step every dial passes (a pure function): allowed, or blocked with reasons.

Each rule looks at a ``DialContext`` and returns None (passed) or the reason it blocks. The names of
the rules that passed are recorded on DialAttempted, with the callee's zones and local times the
hours rule judged (``callee_time``). Later compliance rules (do-not-call lists, an abandon-rate
cap) are added to the rule list without touching the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import attrs

from dialer_domain.model.campaign import Campaign
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.values import ContactState
from dialer_domain.rules.calling_hours import POLICIES, CalleeCalendar, CalleeTime, NoCalendar, outside_hours, too_many_dials


@attrs.frozen
class DialContext:
    campaign: Campaign
    contact: ContactAttempt
    at: datetime
    calendar: CalleeCalendar = attrs.field(factory=NoCalendar)


@attrs.frozen
class Authorisation:
    allowed: bool
    checks: tuple[str, ...]
    reasons: tuple[str, ...]
    blocked_by: tuple[str, ...] = ()  # the names of the rules that blocked


def callee_time(ctx: DialContext) -> CalleeTime | None:
    """Where and when the callee of the number the contact would be dialled on is (None: no
    number is dialable now)."""
    index = ctx.contact.dialable_number(ctx.at, ctx.campaign.config)
    if index is None:
        return None
    return CalleeTime.judge(
        ctx.at,
        contact_zone=ctx.contact.data.time_zone,
        number_zones=ctx.calendar.zones(ctx.contact.numbers[index].e164),
        campaign_zone=ctx.campaign.hours.time_zone if ctx.campaign.hours is not None else "UTC",
    )


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


def callee_local_hours(ctx: DialContext) -> str | None:
    """The campaign's calling policy in the callee's local time, in every zone the number may ring
    in, and the policy's limit of calls in 30 days (``rules.calling_hours``)."""
    callee = callee_time(ctx)
    if callee is None:
        return None  # no number to dial: number_available says so
    policy = POLICIES[ctx.campaign.config.calling_policy]
    return outside_hours(policy, callee.zones, ctx.at, ctx.calendar.holiday) or too_many_dials(policy, ctx.contact.dial_times, ctx.at)


DEFAULT_RULES: tuple[tuple[str, Rule], ...] = (
    ("campaign_open", campaign_open),
    ("contact_waiting", contact_waiting),
    ("attempts_left", attempts_left),
    ("number_available", number_available),
    ("callee_local_hours", callee_local_hours),
)


def authorise_dial(ctx: DialContext, rules: Sequence[tuple[str, Rule]] = DEFAULT_RULES) -> Authorisation:
    checks: list[str] = []
    reasons: list[str] = []
    blocked: list[str] = []
    for name, rule in rules:
        reason = rule(ctx)
        if reason is None:
            checks.append(name)
        else:
            reasons.append(f"{name}: {reason}")
            blocked.append(name)
    return Authorisation(not reasons, tuple(checks), tuple(reasons), tuple(blocked))
