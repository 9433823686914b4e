"""The one authorisation step every dial passes (a pure function): allowed, or blocked with reasons.

Each rule looks at a ``DialContext`` and returns None (passed) or the reason it blocks. The names of
the rules that passed are recorded on DialAttempted, with the callee's zones and local times the
hours rule judged and the do-not-call lists it looked at (``DialContext.callee``, ``.dnc``). Later
compliance rules (an abandon-rate cap) are added to the rule list without touching the engine.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import attrs

from dialer_domain.model.campaign import Campaign
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.values import ContactState
from dialer_domain.rules.calling_hours import POLICIES, CalleeCalendar, CalleeTime, NoCalendar, outside_hours, too_many_dials
from dialer_domain.rules.do_not_call import DncVerdict, DoNotCall, NoLists


@attrs.frozen
class DialContext:
    """What the rules look at. The callee's time and the do-not-call verdict are asked of their
    ports once per context (the rule and the evidence share them)."""

    campaign: Campaign
    contact: ContactAttempt
    at: datetime
    calendar: CalleeCalendar = attrs.field(factory=NoCalendar)
    do_not_call: DoNotCall = attrs.field(factory=NoLists)
    agent_id: str | None = None  # the agent reserved for this dial (agent-first modes), if any

    @functools.cached_property
    def number_index(self) -> int | None:
        return self.contact.dialable_number(self.at, self.campaign.config)

    @functools.cached_property
    def callee(self) -> CalleeTime | None:
        """Where and when the callee of the number to be dialled is (None: no number is dialable now)."""
        if self.number_index is None:
            return None
        return CalleeTime.judge(
            self.at,
            contact_zone=self.contact.data.time_zone,
            number_zones=self.calendar.zones(self.contact.numbers[self.number_index].e164),
            campaign_zone=self.campaign.hours.time_zone if self.campaign.hours is not None else "UTC",
        )

    @functools.cached_property
    def dnc(self) -> DncVerdict | None:
        """The do-not-call lists in the campaign's scope, for the number to be dialled."""
        if self.number_index is None:
            return None
        return self.do_not_call.check(self.contact.numbers[self.number_index].e164, self.campaign.id)


@attrs.frozen
class Authorisation:
    allowed: bool
    checks: tuple[str, ...]
    reasons: tuple[str, ...]
    blocked_by: tuple[str, ...] = ()  # the names of the rules that blocked


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


def dials_left(ctx: DialContext) -> str | None:
    """Every dial counts towards the campaign's lifetime limit per contact: callbacks start a new
    round of attempts (R14), never a new allowance of dials."""
    limit = ctx.campaign.config.max_dials_per_contact
    if ctx.contact.total_dials >= limit:
        return f"contact {ctx.contact.key!r} has been dialled {ctx.contact.total_dials} times, the campaign's limit per contact"
    return None


def number_available(ctx: DialContext) -> str | None:
    if ctx.contact.dialable_number(ctx.at, ctx.campaign.config) is None:
        return f"contact {ctx.contact.key!r} has no number with attempts left outside its redial delay"
    return None


#: After an abandoned call, the number is called again within this time only with an agent
#: reserved for it (Ofcom's persistent-misuse policy, 2016, section A1.13: 72 hours).
ABANDON_QUIET = timedelta(hours=72)


def abandon_quiet_over(ctx: DialContext) -> datetime | None:
    """Until when a contact-first dial must wait after the contact's last abandoned call (None: no wait)."""
    last = ctx.contact.abandoned_at
    if ctx.agent_id is not None or last is None or ctx.at >= last + ABANDON_QUIET:
        return None
    return last + ABANDON_QUIET


def not_abandoned_recently(ctx: DialContext) -> str | None:
    """No contact-first call within 72 hours of an abandoned one (an agent-first dial may)."""
    until = abandon_quiet_over(ctx)
    if until is None:
        return None
    last = ctx.contact.abandoned_at
    assert last is not None
    return f"a call to contact {ctx.contact.key!r} was abandoned at {last.isoformat()}; no call without an agent before {until.isoformat()}"


def caller_id_set(ctx: DialContext) -> str | None:
    """Every dial shows who calls: a campaign without a caller ID number places no call."""
    if not ctx.campaign.config.caller_id_number:
        return f"campaign {ctx.campaign.name!r} has no caller ID number"
    return None


def callee_local_hours(ctx: DialContext) -> str | None:
    """The campaign's calling policy in the callee's local time, in every zone the number may ring
    in, and the policy's limit of calls in 30 days (``rules.calling_hours``)."""
    callee = ctx.callee
    if callee is None:
        return None  # no number to dial: number_available says so
    policy = POLICIES[ctx.campaign.config.calling_policy]
    return outside_hours(policy, callee.zones, ctx.at, ctx.calendar.holiday) or too_many_dials(policy, ctx.contact.dial_times, ctx.at)


def not_on_do_not_call(ctx: DialContext) -> str | None:
    """The number to be dialled is on no do-not-call list in the campaign's scope, asked now."""
    verdict = ctx.dnc
    return verdict.reason if verdict is not None else None


DEFAULT_RULES: tuple[tuple[str, Rule], ...] = (
    ("campaign_open", campaign_open),
    ("contact_waiting", contact_waiting),
    ("attempts_left", attempts_left),
    ("dials_left", dials_left),
    ("number_available", number_available),
    ("caller_id_set", caller_id_set),
    ("not_abandoned_recently", not_abandoned_recently),
    ("callee_local_hours", callee_local_hours),
    ("not_on_do_not_call", not_on_do_not_call),
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
