"""Use cases: plain functions that receive their collaborators (a repository or a store) and time.

Entrypoints translate CLI or HTTP input into calls of these; nothing here knows about either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from uuid import UUID

import attrs

from dialer_domain.model.campaign import Campaign, CampaignName
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.errors import ConcurrencyError, InvalidValue, NotAllowed, NotFound
from dialer_domain.model.events import ListImported, ListImportRefused
from dialer_domain.model.identities import campaign_id_for, campaign_name_id_for, contact_id_for
from dialer_domain.model.text import check_agent_id
from dialer_domain.model.values import (
    CampaignSettings,
    CampaignStatus,
    ContactData,
    ContactState,
    DialMode,
    ImportMode,
    ListMapping,
    OpeningHours,
    PhoneNumber,
)
from dialer_domain.rules.ordering import ASSIGNABLE_STATES
from dialer_domain.service_layer.ports import ListIndex, QueueView
from dialer_domain.service_layer.repository import Repository, iter_log


@attrs.frozen(kw_only=True)
class CampaignSpec:
    name: str
    description: str = ""
    manager: str
    priority: int = 5
    dial_mode: DialMode


def create_campaign(repo: Repository, spec: CampaignSpec, *, settings: CampaignSettings, hours: OpeningHours | None, at: datetime) -> Campaign:
    try:
        campaign_named(repo, spec.name)
    except NotFound:
        pass
    else:
        raise NotAllowed(f"a campaign named {spec.name!r} already exists")
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
        first = repo.find(Campaign, campaign.id)
        if first is not None and first.name.casefold() != spec.name.strip().casefold():
            raise NotAllowed(f"{spec.name!r} was the first name of campaign {first.name!r}, and stays its own") from None
        raise NotAllowed(f"a campaign named {spec.name!r} already exists") from None
    return campaign


def campaign_named(repo: Repository, name: str) -> Campaign:
    """The campaign that bears ``name`` now: the one it was created with (its identity), or one
    renamed to it (R1)."""
    found = repo.find(Campaign, campaign_id_for(name))
    if found is not None and found.name.casefold() == name.strip().casefold():
        return found
    claim = repo.find(CampaignName, campaign_name_id_for(name))
    if claim is not None and claim.campaign_id is not None:
        holder = repo.get(Campaign, claim.campaign_id)
        if holder.name.casefold() == name.strip().casefold():
            return holder
    raise NotFound(f"no campaign named {name!r}")


def all_campaigns(repo: Repository) -> list[Campaign]:
    """Every campaign, in the order they were created."""
    from dialer_domain.model.events import CampaignCreated

    return [repo.get(Campaign, r.event.originator_id) for r in iter_log(repo.store, topics=(CampaignCreated.NAME,))]


def contact_named(repo: Repository, campaign: Campaign, key: str) -> ContactAttempt:
    found = repo.find(ContactAttempt, contact_id_for(campaign.id, key))
    if found is None:
        raise NotFound(f"campaign {campaign.name!r} has no contact {key!r}")
    return found


def edit_contact(
    repo: Repository,
    campaign: Campaign,
    key: str,
    *,
    numbers: tuple[PhoneNumber, ...] | None = None,
    name: str | None = None,
    time_zone: str | None = None,
    variables: dict[str, str] | None = None,
    priority: int | None = None,
    source: str,
    at: datetime,
) -> ContactAttempt:
    """Change what is given, keep the rest (a contact in a call keeps its numbers: NotAllowed)."""
    c = contact_named(repo, campaign, key)
    data = ContactData(
        name=c.data.name if name is None else name,
        time_zone=c.data.time_zone if time_zone is None else time_zone,
        fields=c.data.fields,
        variables=c.data.variables if variables is None else variables,
    )
    c.update(numbers=numbers or c.numbers, data=data, priority=c.priority if priority is None else priority, source=source, at=at)
    repo.save(c)
    return c


def withdraw_contact(repo: Repository, campaign: Campaign, key: str, *, reason: str, at: datetime) -> ContactAttempt:
    """Never dialled again; its history is kept (a contact in a call: NotAllowed)."""
    c = contact_named(repo, campaign, key)
    c.withdraw(reason, at)
    repo.save(c)
    return c


def set_list_mapping(repo: Repository, campaign_name: str, mapping: ListMapping, *, region: str | None, by: str = "cli", at: datetime) -> Campaign:
    """The columns of the campaign's list files (R7), and the region of numbers written without a
    country code (checked by the caller, which knows the numbering plan)."""
    c = campaign_named(repo, campaign_name)
    c.set_list_mapping(mapping, at)
    if region is not None:
        c.change_settings(attrs.evolve(c.config, default_region=region.upper()), at, by)
    repo.save(c)
    return c


def import_history(repo: Repository, campaign: Campaign) -> list[ListImported | ListImportRefused]:
    """R7: every import of the campaign's list and every refused file, in order, read from the
    campaign's stream (the aggregate does not keep them in memory)."""
    return [e for e in repo.store.load(campaign.id) if isinstance(e, ListImported | ListImportRefused)]


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
    """One new contact; a withdrawn contact's key starts a new life of that contact (its history
    is kept and its attempts start again)."""
    existing = repo.find(ContactAttempt, contact_id_for(campaign_id, key))
    if existing is not None and existing.state is ContactState.WITHDRAWN:
        existing.reinstate(numbers=numbers, data=data, priority=priority, source="api", at=at)
        if assigned_agent is not None:
            existing.assign(assigned_agent, by="api", at=at)
        repo.save(existing)
        return existing
    add_contacts(repo, campaign_id, [(key, numbers, data, priority, assigned_agent)], source="api", at=at)
    return repo.get(ContactAttempt, contact_id_for(campaign_id, key))


# ---------------------------------------------------------------------- list import (R7) and assignment (R13)


@attrs.frozen
class ImportRow:
    line: int
    key: str
    numbers: tuple[PhoneNumber, ...]
    data: ContactData
    priority: int = 5
    agent: str | None = None


@attrs.frozen
class PreparedRow:
    """A checked row as a bulk-importing adapter holds it (see ``import_list``'s ``add_new``): the
    new contact's id and the state of its ContactImported, made ahead of time, and the whole row,
    read by ``whole()`` only if the list holds the key already."""

    line: int
    key: str
    contact_id: UUID
    prepared: bytes = attrs.field(repr=False)
    whole: Callable[[], ImportRow] = attrs.field(eq=False, repr=False)


@attrs.define
class ImportReport:
    file_name: str
    sha256: str
    mode: ImportMode
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    added: int = 0
    updated: int = 0
    reinstated: int = 0
    withdrawn: int = 0
    left_in_call: int = 0
    notes: list[str] = attrs.field(factory=list)

    def as_event_fields(self) -> dict[str, object]:
        return {k: v for k, v in attrs.asdict(self).items() if k != "notes"}


def import_source(import_id: UUID) -> str:
    """The ``source`` an import's events carry."""
    return f"import {import_id}"


def import_list(
    repo: Repository,
    campaign_id: UUID,
    rows: Iterable[ImportRow | PreparedRow],
    *,
    mode: ImportMode,
    index: ListIndex,
    report: ImportReport,
    import_id: UUID,
    at: datetime,
    batch: int = 2000,
    add_new: Callable[[Sequence[PreparedRow]], None] | None = None,
) -> ImportReport:
    """Apply validated rows to the list as events: APPEND adds and updates; REPLACE also withdraws
    the contacts the file no longer has (never deleting; a call in progress is left alone).

    ``add_new``, if given, appends the contacts of ``PreparedRow``s the list does not hold yet, a
    batch at a time: an adapter's bulk path, whose rows must carry exactly the contact id and the
    ``ContactImported`` that ``ContactAttempt.import_`` makes for the row with
    ``import_source(import_id)`` and ``at`` (the list import's workers make them so, ahead of
    time). Any other row is read whole and goes through the aggregates."""
    campaign = repo.get(Campaign, campaign_id)
    source = import_source(import_id)
    pending: list[ContactAttempt] = []
    new_rows: list[PreparedRow] = []

    def flush() -> None:
        if new_rows and add_new is not None:
            add_new(list(new_rows))
            new_rows.clear()
        if pending:
            repo.save(*pending)
            pending.clear()

    for item in rows:
        index.mark_seen(item.key)
        new = not index.contains(item.key)
        if new and add_new is not None and isinstance(item, PreparedRow):
            report.added += 1
            new_rows.append(item)
            if len(new_rows) >= batch:
                flush()
            continue
        row = item.whole() if isinstance(item, PreparedRow) else item
        if new:
            report.added += 1
            pending.append(
                ContactAttempt.import_(
                    contact_id_for(campaign_id, row.key),
                    campaign_id=campaign_id,
                    key=row.key,
                    numbers=row.numbers,
                    data=row.data,
                    priority=row.priority,
                    assigned_agent=row.agent,
                    source=source,
                    at=at,
                )
            )
        else:
            contact = repo.get(ContactAttempt, contact_id_for(campaign_id, row.key))
            before = contact.version
            reinstating = contact.state is ContactState.WITHDRAWN
            try:
                if reinstating:
                    contact.reinstate(numbers=row.numbers, data=row.data, priority=row.priority, source=source, at=at)
                else:
                    contact.update(numbers=row.numbers, data=row.data, priority=row.priority, source=source, at=at)
                if row.agent is not None:
                    contact.assign(row.agent, by=source, at=at)
            except NotAllowed as exc:
                report.left_in_call += 1
                report.notes.append(f"line {row.line}: {exc}")
                continue
            if contact.version > before:
                if reinstating:
                    report.reinstated += 1
                else:
                    report.updated += 1
                pending.append(contact)
        if len(pending) >= batch:
            flush()
    flush()
    if mode is ImportMode.REPLACE:
        for key in index.unseen():
            contact = repo.get(ContactAttempt, contact_id_for(campaign_id, key))
            if contact.state is ContactState.WITHDRAWN:
                continue
            try:
                contact.withdraw(f"not in the list replaced by {report.file_name}", at)
            except NotAllowed as exc:
                report.left_in_call += 1
                report.notes.append(str(exc))
                continue
            report.withdrawn += 1
            pending.append(contact)
            if len(pending) >= batch:
                flush()
        flush()
    campaign.record_import(at, import_id=import_id, started_at=at, **report.as_event_fields())
    repo.save(campaign)
    return report


def assign_contacts(repo: Repository, contact_ids: Iterable[UUID], agent_id: str | None, *, by: str, at: datetime) -> int:
    """An administrator assigns (or, with None, unassigns) contacts by hand."""
    changed = []
    for cid in contact_ids:
        contact = repo.get(ContactAttempt, cid)
        before = contact.version
        contact.assign(agent_id, by=by, at=at)
        if contact.version > before:
            changed.append(contact)
    if changed:
        repo.save(*changed)
    return len(changed)


def obtain_contacts(repo: Repository, campaign: Campaign, agent_id: str, *, held: int, unassigned: Iterable[UUID], at: datetime) -> list[UUID]:
    """R13: an agent obtains unassigned contacts: at most ``max_per_click`` per click, and none once
    they hold ``max_held`` unprocessed ones. ``unassigned`` comes in dialling order."""
    cfg = campaign.config
    if held >= cfg.max_held:
        raise NotAllowed(f"agent {agent_id} already holds {held} unprocessed contacts (the most is {cfg.max_held})")
    room = min(cfg.max_per_click, cfg.max_held - held)
    taken: list[ContactAttempt] = []
    for cid in unassigned:
        if len(taken) >= room:
            break
        contact = repo.get(ContactAttempt, cid)
        if contact.assigned_agent is not None or contact.state not in ASSIGNABLE_STATES:
            continue
        contact.assign(agent_id, by=f"agent {agent_id} (obtain)", at=at)
        taken.append(contact)
    if taken:
        repo.save(*taken)
    return [c.id for c in taken]


def assign_evenly(repo: Repository, unassigned: Iterable[UUID], agents: list[str], *, by: str, at: datetime) -> dict[str, int]:
    """Automatic assignment: the unassigned contacts dealt round-robin across the agents."""
    if not agents:
        raise InvalidValue("automatic assignment needs at least one agent")
    counts = dict.fromkeys(agents, 0)
    pending: list[ContactAttempt] = []
    for i, cid in enumerate(unassigned):
        agent = agents[i % len(agents)]
        contact = repo.get(ContactAttempt, cid)
        contact.assign(agent, by=by, at=at)
        pending.append(contact)
        counts[agent] += 1
        if len(pending) >= 1000:
            repo.save(*pending)
            pending.clear()
    if pending:
        repo.save(*pending)
    return counts


def obtain(repo: Repository, queue: QueueView, campaign_id: UUID, agent_id: str, *, at: datetime) -> list[UUID]:
    """R13 on the queue view: the agent's unprocessed contacts counted, the first unassigned ones
    taken (each checked against its aggregate, the authority, before it is assigned)."""
    check_agent_id(agent_id)  # before the view is asked: a NUL breaks PostgreSQL's text
    campaign = repo.get(Campaign, campaign_id)
    held = queue.held_by(campaign_id, agent_id)
    unassigned = queue.unassigned(campaign_id, limit=campaign.config.max_per_click + 100)
    return obtain_contacts(repo, campaign, agent_id, held=held, unassigned=unassigned, at=at)


def assign_all_evenly(repo: Repository, queue: QueueView, campaign_id: UUID, agents: list[str], *, at: datetime) -> dict[str, int]:
    """Automatic assignment of every unassigned contact of the campaign, round-robin."""
    repo.get(Campaign, campaign_id)
    for agent in agents:
        check_agent_id(agent)
    return assign_evenly(repo, queue.unassigned(campaign_id), agents, by="automatic assignment", at=at)

