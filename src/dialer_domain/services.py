"""Use cases: plain functions that receive their collaborators (a repository or a store) and time.

Entrypoints translate CLI or HTTP input into calls of these; nothing here knows about either.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

import attrs

from dialer_domain.campaign import Campaign
from dialer_domain.contact import ContactAttempt
from dialer_domain.errors import ConcurrencyError, InvalidValue, NotAllowed
from dialer_domain.events import DomainEvent
from dialer_domain.ports import EventStore, campaign_id_for, contact_id_for
from dialer_domain.repository import Repository
from dialer_domain.values import CampaignSettings, CampaignStatus, ContactData, DialMode, OpeningHours, PhoneNumber


@attrs.frozen(kw_only=True)
class CampaignSpec:
    name: str
    description: str = ""
    manager: str
    priority: int = 5
    dial_mode: DialMode


def create_campaign(repo: Repository, spec: CampaignSpec, *, settings: CampaignSettings, hours: OpeningHours | None, at: datetime) -> Campaign:
    campaign = Campaign.create(
        campaign_id_for(spec.name),
        name=spec.name,
        description=spec.description,
        manager=spec.manager,
        priority=spec.priority,
        dial_mode=spec.dial_mode,
        settings=settings,
        hours=hours,
        at=at,
    )
    try:
        repo.save(campaign)
    except ConcurrencyError:
        raise NotAllowed(f"a campaign named {spec.name!r} already exists") from None
    return campaign


def set_campaign_status(repo: Repository, campaign_id: UUID, status: CampaignStatus, *, by: str, at: datetime) -> Campaign:
    campaign = repo.get(Campaign, campaign_id)
    campaign.change_status(status, at, by)
    repo.save(campaign)
    return campaign


ContactRow = tuple[str, tuple[PhoneNumber, ...], ContactData, int, str | None]


def add_contacts(repo: Repository, campaign_id: UUID, rows: Iterable[ContactRow], *, source: str, at: datetime, batch: int = 500) -> int:
    """Add new contacts (key, numbers, data, priority, assigned agent) in atomic batches."""
    repo.get(Campaign, campaign_id)  # it must exist
    pending: list[ContactAttempt] = []
    count = 0
    for key, numbers, data, priority, agent in rows:
        pending.append(
            ContactAttempt.import_(
                contact_id_for(campaign_id, key),
                campaign_id=campaign_id,
                key=key,
                numbers=numbers,
                data=data,
                priority=priority,
                assigned_agent=agent,
                source=source,
                at=at,
            )
        )
        if len(pending) >= batch:
            count += _save_new(repo, pending)
            pending = []
    if pending:
        count += _save_new(repo, pending)
    return count


def _save_new(repo: Repository, contacts: list[ContactAttempt]) -> int:
    try:
        repo.save(*contacts)
    except ConcurrencyError:
        keys = [c.key for c in contacts if repo.store.load(c.id)]
        raise NotAllowed(f"contacts already in the list: {', '.join(keys[:10])}; nothing of this batch was stored") from None
    return len(contacts)


def add_contact(
    repo: Repository,
    campaign_id: UUID,
    *,
    key: str,
    numbers: tuple[PhoneNumber, ...],
    data: ContactData,
    priority: int = 5,
    assigned_agent: str | None = None,
    at: datetime,
) -> ContactAttempt:
    add_contacts(repo, campaign_id, [(key, numbers, data, priority, assigned_agent)], source="api", at=at)
    return repo.get(ContactAttempt, contact_id_for(campaign_id, key))


def history(store: EventStore, stream_id: UUID, *, as_of: datetime | None = None) -> list[DomainEvent]:
    """Every event of one stream in order (up to ``as_of`` when given): the auditor's replay."""
    events = store.load(stream_id)
    if as_of is not None:
        events = [e for e in events if e.timestamp <= as_of]
    return events


def require_future(when: datetime, now: datetime, what: str) -> None:
    if when <= now:
        raise InvalidValue(f"{what} {when.isoformat()} is not in the future")
