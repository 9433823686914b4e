"""Assignment on the queue view (R13): agents obtain contacts, or they are dealt out evenly."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from adapters.eventstore import RecorderEventStore
from adapters.queue_view import QUEUE_TOPICS, QueueViewMixin, open_queue
from dialer_domain.campaign import Campaign
from dialer_domain.queue import LiveQueue
from dialer_domain.repository import Repository, iter_log
from dialer_domain.services import assign_evenly, obtain_contacts
from dialer_domain.text import check_agent_id
from dialer_domain.values import ContactState


def _campaign_queue(store: RecorderEventStore) -> LiveQueue:
    """The list as the engine sees it, on the memory store: a fold of the log (one read of it)."""
    q = LiveQueue()
    for r in iter_log(store, page=20000, topics=QUEUE_TOPICS):
        q.apply(r.event)
    return q


def _unassigned_in_order(q: LiveQueue, campaign_id: UUID) -> list[UUID]:
    free = (ContactState.NEW, ContactState.PENDING)
    entries = [e for e in q.entries.values() if e.campaign_id == campaign_id and e.assigned_agent is None and e.state in free]
    entries.sort(key=lambda e: (e.key(), e.stamp))
    return [e.contact_id for e in entries]


def _queue_view(store: RecorderEventStore) -> tuple[QueueViewMixin, int] | None:
    """The persisted queue view, caught up with the log (SQLite and PostgreSQL), and its live generation."""
    if not store.url.startswith(("sqlite", "postgres")):
        return None
    queue = open_queue(store, store.url)
    return queue.view, queue.generation()


def obtain(store: RecorderEventStore, repo: Repository, campaign_id: UUID, agent_id: str, *, at: datetime) -> list[UUID]:
    """R13 on the queue view: the agent's unprocessed contacts counted, the first unassigned ones taken."""
    check_agent_id(agent_id)  # before the view is asked: a NUL breaks PostgreSQL's text
    campaign = repo.get(Campaign, campaign_id)
    found = _queue_view(store)
    if found is None:
        q = _campaign_queue(store)
        held, unassigned = q.assigned_unprocessed(campaign_id, agent_id), _unassigned_in_order(q, campaign_id)
    else:
        view, gen = found
        held = view.held_by(gen, campaign_id, agent_id)
        unassigned = view.unassigned(gen, campaign_id, limit=campaign.config.max_per_click + 100)
    return obtain_contacts(repo, campaign, agent_id, held=held, unassigned=unassigned, at=at)


def assign_all_evenly(store: RecorderEventStore, repo: Repository, campaign_id: UUID, agents: list[str], *, at: datetime) -> dict[str, int]:
    repo.get(Campaign, campaign_id)
    for agent in agents:
        check_agent_id(agent)
    found = _queue_view(store)
    unassigned = _unassigned_in_order(_campaign_queue(store), campaign_id) if found is None else found[0].unassigned(found[1], campaign_id)
    return assign_evenly(repo, unassigned, agents, by="automatic assignment", at=at)
