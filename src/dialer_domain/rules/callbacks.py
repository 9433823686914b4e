"""R12: within five minutes after the appointment the system dials the contact. The window is the
campaign's ``callback_window_seconds`` (300 by default)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from dialer_domain.model.errors import InvalidValue

if TYPE_CHECKING:
    from dialer_domain.model.contact import ContactAttempt
    from dialer_domain.model.values import CampaignSettings, OpeningHours

#: R12: "within five minutes after the appointment", the default of a campaign's callback window.
CALLBACK_WINDOW_SECONDS = 300


class CallbackKept(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"


def callback_deadline(callback_at: datetime, window_seconds: int) -> datetime:
    """The last moment a callback counts as kept on time."""
    return callback_at + timedelta(seconds=window_seconds)


def callback_kept(deadline: datetime, dialled_at: datetime) -> CallbackKept:
    """A callback dialled by its deadline was kept on time; one dialled after it, late."""
    return CallbackKept.ON_TIME if dialled_at <= deadline else CallbackKept.LATE


class OutsideHours(StrEnum):
    """What becomes of a callback booked outside the campaign's opening hours (a campaign setting)."""

    REFUSE = "refuse"  # refused, with the next opening suggested
    MOVE = "move"  # moved to the next opening, with a warning


def callback_time(asked: datetime, hours: OpeningHours | None, policy: str) -> tuple[datetime, str]:
    """When a callback asked for ``asked`` is booked, and a warning when that differs: inside the
    campaign's hours it stands; outside them it is refused (``InvalidValue`` naming the next
    opening) or moved to the next opening, as the campaign's ``callback_outside_hours`` says."""
    from dialer_domain.rules import schedule  # values imports this module: schedule imports values

    if hours is None or schedule.inside_period(hours, asked):
        return asked, ""
    opening = schedule.next_opening(hours, asked)
    local = schedule.local_time(hours, asked)
    if opening is None:
        raise InvalidValue(f"callback time {local:%Y-%m-%d %H:%M} is outside the campaign's hours, which do not open in the next 14 days")
    nxt = f"{schedule.local_time(hours, opening):%Y-%m-%d %H:%M} {hours.time_zone}"
    if policy == OutsideHours.MOVE:
        return opening, f"asked for {local:%Y-%m-%d %H:%M}, outside the campaign's hours; moved to the next opening, {nxt}"
    raise InvalidValue(f"callback time {local:%Y-%m-%d %H:%M} is outside the campaign's hours; the next opening is {nxt}")


class PersonalCallbackAfterWait(StrEnum):
    """What becomes of a personal callback its own agent has not taken within the campaign's wait."""

    ANY_AGENT = "any_agent"  # offered to any agent of the campaign
    MISSED = "missed"  # it keeps waiting for its agent (reported missed once its window passes)


def personal_callback_for(contact: ContactAttempt, agent_id: str, settings: CampaignSettings, now: datetime, *, auto: bool = False) -> bool:
    """R12: whether a queued contact may be offered to ``agent_id``: any contact that is not a
    personal callback; a personal callback to its own agent; to another agent only once it has
    waited ``personal_callback_wait_seconds`` past its time and the campaign lets it go to any agent.
    In auto mode (``auto``) a callback's own agent is, failing one named, the agent the contact is assigned to."""
    from dialer_domain.model.values import ContactState  # values imports this module

    owner = contact.callback_agent or (contact.assigned_agent if auto else None)
    if contact.state_before_queue is not ContactState.CALLBACK_SCHEDULED or owner in (None, agent_id):
        return True
    if settings.personal_callback_after_wait != PersonalCallbackAfterWait.ANY_AGENT or contact.callback_at is None:
        return False
    return bool(now >= contact.callback_at + timedelta(seconds=settings.personal_callback_wait_seconds))
