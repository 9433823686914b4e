"""The dialler's folds of the log: what it keeps in memory between steps, and how it stays current."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID

from dialer_domain.model.agent import AgentSession
from dialer_domain.model.campaign import Campaign
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.errors import NotFound
from dialer_domain.model.events import AGENT_EVENTS, CAMPAIGN_EVENTS, AgentLoggedIn, DomainEvent
from dialer_domain.rules import abandon_cap
from dialer_domain.rules.abandon_cap import AbandonLedger
from dialer_domain.rules.pacing_estimates import PacingEstimator
from dialer_domain.service_layer.ports import EventStore, QueueView, RecordedEvent
from dialer_domain.service_layer.repository import Repository


class LogFolds:
    """Campaigns, agent sessions (by id and by agent), each campaign's pacing measurements, a cache
    of the contacts in play, the queue view they feed, and each campaign's rolling abandon counts
    (``abandons``): folds of the log up to ``position``. ``listeners`` see every batch folded (the
    simulation's statistics, tests). ``now`` tells how far back the abandon counts reach."""

    def __init__(self, store: EventStore, repo: Repository, queue: QueueView, now: Callable[[], datetime]) -> None:
        self.store = store
        self.now = now
        self.abandons = AbandonLedger()
        self.repo = repo
        self.queue = queue
        self.campaigns: dict[UUID, Campaign] = {}
        self.sessions: dict[UUID, AgentSession] = {}
        self.agents: dict[str, AgentSession] = {}
        self.contacts: dict[UUID, ContactAttempt] = {}
        self.estimators: dict[UUID, PacingEstimator] = {}
        self.position = 0
        self.listeners: list[Callable[[Sequence[RecordedEvent]], None]] = []

    def sync(self) -> int:
        """Fold what was appended since our position into the views; returns how many events.

        On start (position 0) with a queue view that keeps its own position, only the campaigns'
        and agents' events are read, and the events the abandon counts need from where their
        longest window begins: the contacts are in that view, and loaded one by one as needed."""
        count = 0
        if self.position == 0 and not self.queue.replays_log:
            head = self.store.max_position()
            count += self._read_topics(0, head, tuple(cls.NAME for cls in (*CAMPAIGN_EVENTS, *AGENT_EVENTS)))
            since = self._first_position_after(self.now() - abandon_cap.LOOK_BACK, head)
            count += self._read_topics(since, head, tuple(cls.NAME for cls in abandon_cap.EVENTS), ledger_only=True)
            self.position = head
        while True:
            batch = self.store.read(self.position, 5000)
            if not batch:
                return count
            self.ingest(batch)
            count += len(batch)

    def _read_topics(self, after: int, head: int, topics: tuple[str, ...], ledger_only: bool = False) -> int:
        count = 0
        while True:
            page = [r for r in self.store.read(after, 5000, topics) if r.position <= head]
            if not page:
                return count
            if ledger_only:
                for r in page:
                    self.abandons.apply(r.event)
            else:
                self.ingest(page, observed=False)
            after = page[-1].position
            count += len(page)

    def _first_position_after(self, when: datetime, head: int) -> int:
        """The position to read from for events stamped ``when`` or later: a binary search on the
        log's timestamps (in log order to within a step's time)."""
        lo, hi = 0, head  # read(lo) may be too early; read(hi) has nothing
        while lo < hi:
            mid = (lo + hi) // 2
            page = self.store.read(mid, 1)
            if not page or page[0].event.timestamp >= when:
                hi = mid
            else:
                lo = page[0].position
        return lo

    def ingest(self, batch: Sequence[RecordedEvent], observed: bool = True) -> None:
        if observed:
            self.queue.observe(batch)
        for rec in batch:
            ev = rec.event
            self.position = rec.position
            sid = ev.originator_id
            self.abandons.apply(ev)
            if isinstance(ev, CAMPAIGN_EVENTS):
                c = self.campaigns.get(sid)
                if c is None:
                    c = self.campaigns[sid] = Campaign(id=sid)
                    self.estimators[sid] = PacingEstimator()
                if ev.originator_version > c.version:
                    c._fold(ev)
            elif isinstance(ev, AGENT_EVENTS):
                s = self.sessions.get(sid)
                if s is None:
                    s = self.sessions[sid] = AgentSession(id=sid)
                if ev.originator_version > s.version:
                    s._fold(ev)
                if isinstance(ev, AgentLoggedIn):
                    self.agents[ev.agent_id] = s
            else:
                cached = self.contacts.get(sid)
                if cached is not None and ev.originator_version > cached.version:
                    if ev.originator_version == cached.version + 1 and not cached.pending_events:
                        cached._fold(ev)
                    else:
                        del self.contacts[sid]
        for listener in self.listeners:
            listener(batch)

    def committed(self, positions: Sequence[int], events: Sequence[DomainEvent]) -> None:
        """Fold a step's own append: directly when it follows our position, else read the log."""
        contiguous = positions and positions[0] == self.position + 1 and positions[-1] - positions[0] == len(positions) - 1
        if contiguous:
            self.ingest([RecordedEvent(p, e) for p, e in zip(positions, events, strict=True)])
        else:
            self.sync()

    def reload_session(self, stale: AgentSession) -> None:
        fresh = self.repo.find(AgentSession, stale.id)
        if fresh is None:
            self.sessions.pop(stale.id, None)
        else:
            self.sessions[stale.id] = fresh
        for agent_id, s in list(self.agents.items()):
            if s is stale:
                if fresh is None:
                    del self.agents[agent_id]
                else:
                    self.agents[agent_id] = fresh

    def contact(self, contact_id: UUID) -> ContactAttempt:
        c = self.contacts.get(contact_id)
        if c is None:
            c = self.contacts[contact_id] = self.repo.get(ContactAttempt, contact_id)
        return c

    def preload(self, contact_ids: Sequence[UUID]) -> None:
        """Load together those of these contacts not in hand yet (a queue run's, a pacing run's):
        one round trip instead of one per contact; ``contact`` then finds them."""
        missing = [cid for cid in contact_ids if cid not in self.contacts]
        if len(missing) > 1:
            self.contacts.update(self.repo.get_many(ContactAttempt, missing))

    def agent(self, agent_id: str) -> AgentSession:
        s = self.agents.get(agent_id)
        if s is None:
            raise NotFound(f"agent {agent_id!r} has never logged in")
        return s

    def campaign(self, campaign_id: UUID) -> Campaign:
        c = self.campaigns.get(campaign_id)
        if c is None:
            raise NotFound(f"no campaign with id {campaign_id}")
        return c
