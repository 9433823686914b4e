"""Ports: every way the core reaches the world, in one module. Adapters implement these
Protocols: the event store, the clock, telephony, the agents' desktops, the queue view the dialler
reads, and the list index an import keeps."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

import attrs

from dialer_domain.model.events import DomainEvent
from dialer_domain.model.values import ContactData, GuideQuestion
from dialer_domain.rules.calling_hours import CalleeCalendar as CalleeCalendar  # the calendar port, beside the rule that asks it
from dialer_domain.rules.calling_hours import NoCalendar as NoCalendar
from dialer_domain.rules.do_not_call import DoNotCall as DoNotCall  # the do-not-call lists, beside their rule
from dialer_domain.rules.do_not_call import NoLists as NoLists
from dialer_domain.rules.reads import Reads


@attrs.frozen
class RecordedEvent:
    """An event with its position in the whole log (1, 2, 3 ... in commit order)."""

    position: int
    event: DomainEvent


class EventStore(Protocol):
    """Append-only store of event streams, one stream per aggregate id."""

    def append(self, events: Sequence[DomainEvent]) -> list[int]:
        """Append atomically. Each event's ``originator_version`` is the expected version + 1 of
        its stream; if another writer got there first, raise ``ConcurrencyError`` and store nothing.
        Returns the log positions given to the events."""
        ...

    def load(self, stream_id: UUID, *, up_to_version: int | None = None) -> list[DomainEvent]:
        """The stream's events in version order (empty if there is no such stream)."""
        ...

    def load_many(self, stream_ids: Sequence[UUID]) -> dict[UUID, list[DomainEvent]]:
        """Several streams at once (what ``load`` gives for each, in one round trip where the store
        can); a stream with no events is left out."""
        ...

    def read(self, after: int = 0, limit: int = 1000, topics: Sequence[str] = (), reads: Reads | None = None) -> list[RecordedEvent]:
        """The log in order, from the first position greater than ``after``; only the events with
        these names (``NAME``) if ``topics`` is not empty. With ``reads`` (a fold's declaration,
        ``rules.reads``), an event of a class it names may have only those fields set, besides
        its stream, version and time: the events are for that fold alone (ADR 0037)."""
        ...

    def max_position(self) -> int: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


@attrs.frozen
class CallRequest:
    """One outbound call: to ``number`` (E.164), showing the caller ID number and name, hung up
    with no answer after ``max_ring_seconds`` and cut after ``max_call_seconds``; with
    answering-machine detection when ``detect_machine``."""

    call_id: UUID
    number: str
    caller_id_number: str
    caller_id_name: str
    max_ring_seconds: int
    max_call_seconds: int
    detect_machine: bool


class ReportKind(enum.StrEnum):
    """What the network reports about a call or an agent's leg."""

    RINGING = "ringing"
    ANSWERED_HUMAN = "answered_human"
    ANSWERED_MACHINE = "answered_machine"  # a machine or a fax (the detector's verdict in ``detail``)
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"  # declined by the called party
    INVALID_NUMBER = "invalid_number"
    FAILED = "failed"
    COMPLETED = "completed"  # an answered call that ended
    AGENT_LEG_UP = "agent_leg_up"  # the agent's phone answered and is held for the session
    AGENT_LEG_ENDED = "agent_leg_ended"  # the agent's leg hung up (R6 while a contact rings)
    PLACED = "placed"  # the network took the call and named it (``network_call_id``); not a stage


@attrs.frozen
class CallReport:
    """A time-stamped progress report from telephony. ``call_id`` names the contact's call
    (None for an agent's leg, then ``agent_id``); ``detail`` carries what the network said (a SIP
    status, Twilio's AnsweredBy); ``sequence`` is the network's own order of reports when it has one;
    ``network_call_id`` is the network's name for the call (Twilio's CallSid), on a PLACED report."""

    kind: ReportKind
    at: datetime
    call_id: UUID | None = None
    agent_id: str | None = None
    detail: str = ""
    sequence: int | None = None
    network_call_id: str = ""


@attrs.frozen
class CallFate:
    """What the network says became of a call an earlier process placed (``Telephony.fate``).
    ``answer``: ANSWERED_HUMAN or ANSWERED_MACHINE if the call was answered; ``end``: how it ended
    (BUSY, NO_ANSWER, REJECTED, INVALID_NUMBER, FAILED or COMPLETED), or None while it is still up,
    in which case the adapter holds the call again: ``hang_up``, ``bridge`` and ``play_and_hang_up``
    act on it and its later reports reach the sink as any call's do."""

    answer: ReportKind | None
    end: ReportKind | None
    detail: str


class ReportSink(Protocol):
    """Where a telephony adapter sends its reports; safe to call from any thread."""

    def report(self, report: CallReport) -> None: ...


class Telephony(Protocol):
    """Places and ends calls and holds the agents' legs; progress comes back as ``CallReport``s to
    the sink the adapter was given, asynchronously, from whatever thread the network uses."""

    def place_call(self, request: CallRequest) -> None: ...

    def open_agent_leg(self, agent_id: str, address: str) -> None:
        """Call the agent's phone or softphone once at log-in and hold the leg for the session."""
        ...

    def close_agent_leg(self, agent_id: str) -> None: ...

    def bridge(self, call_id: UUID, agent_id: str) -> None:
        """Join an answered contact to the agent's held leg."""
        ...

    def play_and_hang_up(self, call_id: UUID, message: str) -> None:
        """R17: the abandoned-call message (who called, a number to call back), then hang up."""
        ...

    def hang_up(self, call_id: UUID, reason: str) -> None: ...

    def hold(self, call_id: UUID, agent_id: str, on: bool) -> None:
        """Put the connected contact on hold (music, the agent's leg stays open) or take it off,
        back to ``agent_id``'s leg."""
        ...

    def fate(self, call_id: UUID, network_call_id: str) -> CallFate | None:
        """After a restart: what became of a call an earlier process placed, asked by the name the
        network gave it (a PLACED report). None when the adapter cannot know (its calls lived and
        died with the process that made them)."""
        ...


class QueueView(Protocol):
    """What the engine asks of the queue (R4, R11). An implementation may be a view kept elsewhere
    that lags the log: the engine checks every contact against its aggregate, the authority, before
    it queues or dials it, so a stale answer costs a skipped contact, never a second dial."""

    #: True if the view is a fold the engine must feed with the whole log on start (in memory);
    #: False if it keeps its own position (persisted), so the engine's start reads only campaigns and agents.
    replays_log: bool

    def observe(self, batch: Sequence[RecordedEvent]) -> None:
        """Events the engine has committed or read, in log order."""
        ...

    def take_due(self, campaign_id: UUID, now: datetime, limit: int, agent_owned: bool = False) -> list[UUID]:
        """Up to ``limit`` list contacts of the campaign due by ``now``, in R11 order
        (``agent_owned``: only contacts assigned to an agent)."""
        ...

    def next_queued(self, campaign_id: UUID, agent_id: str | None = None, exclude: frozenset[UUID] = frozenset()) -> UUID | None:
        """The first queued contact in R11 order (an agent's own, for auto mode), not in ``exclude``."""
        ...

    def queued(self, campaign_id: UUID) -> list[UUID]: ...

    def callbacks(self, campaign_id: UUID, now: datetime) -> tuple[int, datetime | None]:
        """R12: how many of the campaign's callbacks in the list are due by ``now``, and the
        earliest appointment after ``now`` (None: no other), so that a callback enters the queue at
        its time rather than at the next periodic top-up."""
        ...

    def queued_count(self, campaign_id: UUID) -> int: ...

    def listed(self, campaign_id: UUID) -> tuple[int, int]:
        """R10: the campaign's contacts in the list (new or pending) that its active filter selects,
        and those it leaves out (so that a filter that matches nothing is said, not dialled silently)."""
        ...

    def in_progress(self) -> list[UUID]:
        """Every contact the log leaves offered, dialling or connected (what a restart must settle)."""
        ...

    def held_by(self, campaign_id: UUID, agent_id: str) -> int:
        """R13: the contacts assigned to the agent that are not processed yet."""
        ...

    def unassigned(self, campaign_id: UUID, limit: int | None = None) -> list[UUID]:
        """R13: the campaign's unassigned contacts that may be assigned, in R11 order."""
        ...


class ListIndex(Protocol):
    """Which keys the campaign's list already holds, and which this import has seen (an adapter
    keeps these on disk so that memory stays flat for any list size)."""

    def contains(self, key: str) -> bool: ...

    def mark_seen(self, key: str) -> None: ...

    def unseen(self) -> Iterator[str]: ...


@attrs.frozen
class ScreenPop:
    """What an agent's desktop (or a CRM) shows about a contact (R9)."""

    campaign_id: UUID
    contact_id: UUID
    key: str
    data: ContactData
    numbers: tuple[str, ...]
    attempts: int
    guide: tuple[GuideQuestion, ...] = ()  # R18: the campaign's call guide

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: what an agent's stream and a CRM receive."""
        return {
            "campaign_id": str(self.campaign_id),
            "contact_id": str(self.contact_id),
            "key": self.key,
            "name": self.data.name,
            "numbers": list(self.numbers),
            "fields": dict(self.data.fields),
            "variables": dict(self.data.variables),
            "attempts": self.attempts,
            "guide": [q.as_dict() for q in self.guide],
        }


class AgentDesktop(Protocol):
    """The agents' side: offers, screen pops and wrap-up, as the engine decides them."""

    def offered(self, agent_id: str, offer_id: UUID, pop: ScreenPop, expires_at: datetime, auto_answer: bool) -> None: ...

    def connected(self, agent_id: str, call_id: UUID, pop: ScreenPop) -> None: ...

    def wrapup_started(self, agent_id: str, call_id: UUID, until: datetime) -> None: ...


class NoDesktop:
    def offered(self, agent_id: str, offer_id: UUID, pop: ScreenPop, expires_at: datetime, auto_answer: bool) -> None:
        pass

    def connected(self, agent_id: str, call_id: UUID, pop: ScreenPop) -> None:
        pass

    def wrapup_started(self, agent_id: str, call_id: UUID, until: datetime) -> None:
        pass


IdFactory = Callable[[], UUID]
