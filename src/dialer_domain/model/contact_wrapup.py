"""What follows a contact's call: the agent's wrap-up code with the call guide's answers (R18), and
callbacks booked, moved and called off (R12). A part of the ContactAttempt aggregate, kept in its
own module; it records the contact's events like every other command."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from dialer_domain.model.errors import InvalidValue, NotAllowed
from dialer_domain.model.events import (
    CallbackCancelled,
    CallbackMoved,
    CallbackScheduled,
    ContactClosed,
    ContactReturnedToList,
    DispositionRecorded,
    DomainEvent,
)
from dialer_domain.model.text import MAX_NOTE, check_agent_id, check_text
from dialer_domain.model.values import CampaignSettings, ContactState, Disposition, GuideQuestion

E = TypeVar("E", bound=DomainEvent)

#: States in which a callback cannot be booked, moved or called off: the call is under way.
_BUSY = (ContactState.OFFERED, ContactState.DIALLING, ContactState.CONNECTED)
#: States a disposition that ends the contact finishes (from the others it is finished already).
_OPEN = (ContactState.NEW, ContactState.PENDING, ContactState.QUEUED)


def check_answers(answers: Mapping[str, str], guide: tuple[GuideQuestion, ...]) -> None:
    """The call guide's answers (R18): each to one of the guide's questions, and one of the answers
    it offers when it offers some; free answers are text of a note's size."""
    offered = {q.question: q.answers for q in guide}
    for question, answer in answers.items():
        if question not in offered:
            raise InvalidValue(f"the call guide has no question {question[:60]!r}")
        choices = offered[question]
        if choices and answer not in choices:
            raise InvalidValue(f"{answer[:40]!r} is not an answer to {question[:60]!r}; it takes {', '.join(choices)}")
        check_text(f"the answer to {question[:40]!r}", answer, MAX_NOTE)


class WrapUp:
    """The contact's commands after a call (mixed into ContactAttempt)."""

    __slots__ = ()

    if TYPE_CHECKING:
        key: str
        state: ContactState
        state_before_queue: ContactState
        last_call_id: UUID | None
        last_call_connected: bool

        def _record(self, cls: type[E], at: datetime, **fields: Any) -> E: ...

        def _reopen(self, reason: str, settings: CampaignSettings, at: datetime) -> None: ...

    def record_disposition(
        self,
        call_id: UUID | None,
        code: str,
        *,
        agent_id: str | None,
        note: str,
        settings: CampaignSettings,
        at: datetime,
        answers: Mapping[str, str] | None = None,
        guide: tuple[GuideQuestion, ...] = (),
        callback_at: datetime | None = None,
    ) -> Disposition:
        """The agent's wrap-up code for the last call and the call guide's answers. A code that
        books a callback needs its time; a code that ends the contact finishes it, attempts or not."""
        d = settings.disposition(code)
        check_text("a disposition's note", note, MAX_NOTE)
        check_answers(answers or {}, guide)
        if d.callback and callback_at is None:
            raise InvalidValue(f"disposition {code} books a callback: give its time")
        if call_id is not None and call_id != self.last_call_id:
            raise NotAllowed(f"call {call_id} is not the last call of contact {self.key!r}")
        if self.state is ContactState.DIALLING:
            raise NotAllowed(f"contact {self.key!r} is still being dialled")
        self._record(DispositionRecorded, at, call_id=call_id, code=code, agent_id=agent_id, note=note, success=d.success, answers=answers or {})
        if d.ends_contact and self.state in _OPEN:
            why = f"disposition {code} ends the contact"
            if self.state is ContactState.QUEUED:
                self._record(ContactReturnedToList, at, reason=why, not_before=None)
            self._record(ContactClosed, at, reason=why, closed_by=f"agent {agent_id}" if agent_id else "disposition")
        elif not (d.ends_contact or d.callback or callback_at) and self.state is ContactState.DONE and self.last_call_connected:
            self._reopen(f"disposition {code} does not end the contact", settings, at)
        return d

    def schedule_callback(self, callback_at: datetime, *, agent_id: str | None, by: str, now: datetime) -> None:
        """R12: a callback at ``callback_at`` (for ``agent_id`` only, or any agent), a new round of attempts."""
        if callback_at <= now:
            raise InvalidValue(f"callback time {callback_at.isoformat()} is not in the future (now {now.isoformat()})")
        if agent_id is not None:
            check_agent_id(agent_id)
        if self.state in (ContactState.WITHDRAWN, *_BUSY):
            raise NotAllowed(f"contact {self.key!r} is {self.state.value}; a callback cannot be set now")
        self._take_back_from_queue("a callback was booked", now)
        self._record(CallbackScheduled, now, callback_at=callback_at, agent_id=agent_id, scheduled_by=by)

    def move_callback(self, callback_at: datetime, *, agent_id: str | None, by: str, now: datetime, note: str = "") -> None:
        """R12: the booked callback at another time or for another agent; its round stays."""
        if callback_at <= now:
            raise InvalidValue(f"callback time {callback_at.isoformat()} is not in the future (now {now.isoformat()})")
        if agent_id is not None:
            check_agent_id(agent_id)
        self._require_callback("move")
        self._take_back_from_queue("its callback was moved", now)
        self._record(CallbackMoved, now, callback_at=callback_at, agent_id=agent_id, moved_by=by, note=note)

    def cancel_callback(self, *, by: str, reason: str, close: bool, now: datetime) -> None:
        """R12: the booked callback called off. The contact is done if its last call reached an
        agent or ``close``; else it is back in the list, due at once."""
        check_text("why the callback is cancelled", reason, MAX_NOTE)
        self._require_callback("cancel")
        self._take_back_from_queue("its callback was cancelled", now)
        then = ContactState.DONE if close or self.last_call_connected else ContactState.PENDING
        self._record(CallbackCancelled, now, cancelled_by=by, reason=reason, then=then)

    @property
    def callback_booked(self) -> bool:
        """A callback is booked and not dialled yet (it may be waiting in the queue)."""
        return self.state is ContactState.CALLBACK_SCHEDULED or (
            self.state is ContactState.QUEUED and self.state_before_queue is ContactState.CALLBACK_SCHEDULED
        )

    def _require_callback(self, what: str) -> None:
        if not self.callback_booked:
            raise NotAllowed(f"contact {self.key!r} is {self.state.value} and has no callback booked to {what}")

    def _take_back_from_queue(self, why: str, at: datetime) -> None:
        if self.state is ContactState.QUEUED:
            self._record(ContactReturnedToList, at, reason=why, not_before=None)
