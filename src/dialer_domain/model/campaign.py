"""The Campaign aggregate (R1, R2, R3, R5)."""

from __future__ import annotations

from datetime import datetime
from typing import Self
from uuid import UUID

import attrs

from dialer_domain.model.aggregate import Aggregate
from dialer_domain.model.errors import InvalidValue, NotAllowed
from dialer_domain.model.events import (
    CampaignCallGuideSet,
    CampaignCreated,
    CampaignDescribed,
    CampaignDialModeChanged,
    CampaignHoursChanged,
    CampaignListMappingSet,
    CampaignNameClaimed,
    CampaignPriorityChanged,
    CampaignRenamed,
    CampaignSelectionChanged,
    CampaignSettingsChanged,
    CampaignStatusChanged,
    DomainEvent,
    ListImported,
    ListImportRefused,
)
from dialer_domain.model.text import MAX_NAME, MAX_NOTE, check_text
from dialer_domain.model.values import (
    CampaignSettings,
    CampaignStatus,
    DialMode,
    GuideQuestion,
    ListMapping,
    ListSelection,
    OpeningHours,
    check_priority,
    check_ring_time,
)
from dialer_domain.rules import schedule
from dialer_domain.rules.selection import check_selection

#: R18: the most questions a call guide holds.
MAX_GUIDE_QUESTIONS = 100

IMPORT_REFUSAL_CODES = ("rejected_rows", "would_withdraw_too_much", "unreadable_file", "conflict")


@attrs.define
class Campaign(Aggregate):
    name: str = ""
    description: str = ""
    manager: str = ""
    priority: int = 5
    dial_mode: DialMode = DialMode.PROGRESSIVE
    status: CampaignStatus = CampaignStatus.DISABLED
    settings: CampaignSettings | None = None
    hours: OpeningHours | None = None
    created_at: datetime | None = None
    list_mapping: ListMapping | None = None
    call_guide: tuple[GuideQuestion, ...] = ()
    selection: ListSelection = attrs.field(factory=ListSelection)

    @classmethod
    def _blank(cls, aggregate_id: UUID) -> Self:
        return cls(id=aggregate_id)

    @classmethod
    def create(
        cls,
        campaign_id: UUID,
        *,
        name: str,
        description: str = "",
        manager: str,
        priority: int = 5,
        dial_mode: DialMode,
        settings: CampaignSettings,
        hours: OpeningHours | None = None,
        at: datetime,
    ) -> Campaign:
        if not name.strip():
            raise InvalidValue("a campaign needs a name")
        if not manager.strip():
            raise InvalidValue("a campaign needs a manager")
        check_text("campaign name", name, MAX_NAME)
        check_text("campaign manager", manager, MAX_NAME)
        check_text("campaign description", description, MAX_NOTE)
        check_priority(priority, "campaign priority")
        check_ring_time(settings.max_ring_seconds)
        if hours is not None:
            schedule.zone(hours.time_zone)
        campaign = cls(id=campaign_id)
        campaign._record(
            CampaignCreated,
            at,
            name=name.strip(),
            description=description,
            manager=manager.strip(),
            priority=priority,
            dial_mode=dial_mode,
            settings=settings,
            hours=hours,
        )
        return campaign

    @property
    def config(self) -> CampaignSettings:
        assert self.settings is not None, "campaign not created"
        return self.settings

    def change_settings(self, settings: CampaignSettings, at: datetime, by: str) -> None:
        check_ring_time(settings.max_ring_seconds)
        if self.status is not CampaignStatus.DISABLED and not settings.caller_id_number:
            raise NotAllowed(f"campaign {self.name!r} is {self.status.value}; it cannot lose its caller ID number (disable it first)")
        if settings != self.settings:
            self._record(CampaignSettingsChanged, at, settings=settings, changed_by=by)

    def rename(self, name: str, at: datetime, by: str) -> None:
        """R1: a new name (whether another campaign holds it is the use case's to check)."""
        if not name.strip():
            raise InvalidValue("a campaign needs a name")
        check_text("campaign name", name, MAX_NAME)
        if name.strip() != self.name:
            self._record(CampaignRenamed, at, name=name.strip(), previous=self.name, changed_by=by)

    def describe(self, *, description: str, manager: str, at: datetime, by: str) -> None:
        """R1: the campaign's description and manager."""
        if not manager.strip():
            raise InvalidValue("a campaign needs a manager")
        check_text("campaign manager", manager, MAX_NAME)
        check_text("campaign description", description, MAX_NOTE)
        if (description, manager.strip()) != (self.description, self.manager):
            self._record(CampaignDescribed, at, description=description, manager=manager.strip(), changed_by=by)

    def change_dial_mode(self, mode: DialMode, at: datetime, by: str) -> None:
        if mode is not self.dial_mode:
            self._record(CampaignDialModeChanged, at, dial_mode=mode, changed_by=by)

    def change_priority(self, priority: int, at: datetime, by: str) -> None:
        check_priority(priority, "campaign priority")
        if priority != self.priority:
            self._record(CampaignPriorityChanged, at, priority=priority, changed_by=by)

    def change_hours(self, hours: OpeningHours | None, at: datetime, by: str) -> None:
        if hours is None and self.status is CampaignStatus.AUTOMATIC:
            raise NotAllowed(f"campaign {self.name!r} is Automatic; it cannot lose its opening hours")
        if hours is not None:
            schedule.zone(hours.time_zone)
        if hours != self.hours:
            self._record(CampaignHoursChanged, at, hours=hours, changed_by=by)

    def change_status(self, status: CampaignStatus, at: datetime, by: str) -> None:
        if status is CampaignStatus.AUTOMATIC and self.hours is None:
            raise NotAllowed(f"campaign {self.name!r} has no opening hours; set them before choosing Automatic")
        if status is not CampaignStatus.DISABLED and not self.config.caller_id_number:
            raise NotAllowed(f"campaign {self.name!r} has no caller ID number; set caller_id_number before it may dial")
        if status is not self.status:
            self._record(CampaignStatusChanged, at, status=status, changed_by=by)

    def set_list_mapping(self, mapping: ListMapping, at: datetime) -> None:
        if mapping != self.list_mapping:
            self._record(CampaignListMappingSet, at, mapping=mapping)

    def set_call_guide(self, questions: tuple[GuideQuestion, ...], at: datetime, by: str) -> None:
        """R18: the call guide agents see with each call (the whole guide at once; empty: none)."""
        if len(questions) > MAX_GUIDE_QUESTIONS:
            raise InvalidValue(f"a call guide has at most {MAX_GUIDE_QUESTIONS} questions, not {len(questions)}")
        for q in questions:
            check_text("a call guide's question", q.question, MAX_NOTE, allow_empty=False)
            if len(set(q.answers)) != len(q.answers):
                raise InvalidValue(f"question {q.question[:40]!r} offers an answer twice")
            for a in q.answers:
                check_text(f"an answer to {q.question[:40]!r}", a, MAX_NAME, allow_empty=False)
        if questions != self.call_guide:
            self._record(CampaignCallGuideSet, at, questions=questions, changed_by=by)

    def set_selection(self, selection: ListSelection, at: datetime, by: str) -> None:
        """R10: the named filters, the active one and the sort order, whole; a bad expression, an
        active filter that is not among them or a bad sort key is refused, naming it."""
        check_selection(selection)
        if selection != self.selection:
            self._record(CampaignSelectionChanged, at, selection=selection, changed_by=by)

    def record_import(self, at: datetime, **report: object) -> ListImported:
        """Keep the import history (R7): when, which file, which mode, what happened to the rows."""
        return self._record(ListImported, at, **report)

    def record_import_refused(self, at: datetime, *, reason_code: str, reason: str, **report: object) -> ListImportRefused:
        """Keep a refused file in the history too, with why (a stable code beside the text)."""
        if reason_code not in IMPORT_REFUSAL_CODES:
            raise InvalidValue(f"unknown import refusal code {reason_code!r}; known: {', '.join(IMPORT_REFUSAL_CODES)}")
        return self._record(ListImportRefused, at, reason_code=reason_code, reason=reason[:2000], **report)

    def may_dial(self, at: datetime) -> bool:
        return schedule.may_dial(self.status, self.hours, at)

    def is_active(self, at: datetime) -> bool:
        return schedule.is_active(self.status, self.hours, at)

    def apply(self, event: DomainEvent) -> None:
        match event:
            case CampaignCreated():
                self.name = event.name
                self.description = event.description
                self.manager = event.manager
                self.priority = event.priority
                self.dial_mode = event.dial_mode
                self.settings = event.settings
                self.hours = event.hours
                self.created_at = event.timestamp
            case CampaignRenamed():
                self.name = event.name
            case CampaignDescribed():
                self.description = event.description
                self.manager = event.manager
            case CampaignSettingsChanged():
                self.settings = event.settings
            case CampaignDialModeChanged():
                self.dial_mode = event.dial_mode
            case CampaignPriorityChanged():
                self.priority = event.priority
            case CampaignHoursChanged():
                self.hours = event.hours
            case CampaignStatusChanged():
                self.status = event.status
            case CampaignListMappingSet():
                self.list_mapping = event.mapping
            case CampaignCallGuideSet():
                self.call_guide = event.questions
            case CampaignSelectionChanged():
                self.selection = event.selection
            case ListImported() | ListImportRefused():
                pass  # the history is the stream itself (services.import_history), not state
            case _:
                raise TypeError(f"Campaign cannot apply {event.NAME}")


@attrs.define
class CampaignName(Aggregate):
    """A name campaigns were renamed to: which campaign claimed it last."""

    campaign_id: UUID | None = None

    @classmethod
    def _blank(cls, aggregate_id: UUID) -> Self:
        return cls(id=aggregate_id)

    def claim(self, campaign_id: UUID, name: str, at: datetime) -> None:
        self._record(CampaignNameClaimed, at, campaign_id=campaign_id, name=name)

    def apply(self, event: DomainEvent) -> None:
        match event:
            case CampaignNameClaimed():
                self.campaign_id = event.campaign_id
            case _:
                raise TypeError(f"CampaignName cannot apply {event.NAME}")
