"""Use cases of callbacks from the outside (R12): a supervisor, a CRM or the CLI books, moves or
calls off a contact's callback, for its own agent or any agent. The campaign's hours decide
whether a time outside them is refused or moved (``rules.callbacks.callback_time``)."""

from __future__ import annotations

from datetime import datetime

import attrs

from dialer_domain.model.campaign import Campaign
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.errors import ConcurrencyError, NotAllowed
from dialer_domain.rules.callbacks import callback_time
from dialer_domain.service_layer.repository import Repository


@attrs.frozen
class Booked:
    """A callback as booked: the contact, its time, and a warning when the time differs from the one asked."""

    contact: ContactAttempt
    callback_at: datetime
    warning: str = ""
    moved: bool = False


def book_callback(
    repo: Repository, campaign: Campaign, key: str, asked: datetime, *, agent_id: str | None, by: str, now: datetime
) -> Booked:
    """Book the contact's callback at ``asked`` (or move the one booked there): for ``agent_id``
    only, or any agent. Outside the campaign's hours it is refused with the next opening, or moved
    there with a warning (the campaign's ``callback_outside_hours``)."""
    from dialer_domain.service_layer.handlers import contact_named

    at, warning = callback_time(asked, campaign.hours, campaign.config.callback_outside_hours)
    contact = contact_named(repo, campaign, key)
    booked = contact.callback_booked
    if booked:
        contact.move_callback(at, agent_id=agent_id, by=by, now=now, note=warning)
    else:
        contact.schedule_callback(at, agent_id=agent_id, by=by, now=now)
    _save(repo, contact)
    return Booked(contact, at, warning, moved=booked)


def cancel_callback(repo: Repository, campaign: Campaign, key: str, *, by: str, reason: str, close: bool, now: datetime) -> ContactAttempt:
    """Call off the contact's callback: it is done (``close``, or its last call reached an agent),
    else back in the list and due at once."""
    from dialer_domain.service_layer.handlers import contact_named

    contact = contact_named(repo, campaign, key)
    contact.cancel_callback(by=by, reason=reason, close=close, now=now)
    _save(repo, contact)
    return contact


def _save(repo: Repository, contact: ContactAttempt) -> None:
    try:
        repo.save(contact)
    except ConcurrencyError:  # a person's command on stale state: say so, the caller may try again
        raise NotAllowed(f"contact {contact.key!r} changed while the callback was booked (a call or another writer); try again") from None
