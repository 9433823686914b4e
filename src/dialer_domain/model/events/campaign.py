"""Events of a campaign's stream, its list imports, and its pacing log."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

import attrs

from dialer_domain.model.events.base import DomainEvent
from dialer_domain.model.values import (
    CampaignSettings,
    CampaignStatus,
    DialMode,
    FrozenMap,
    GuideQuestion,
    ImportMode,
    ListMapping,
    ListSelection,
    OpeningHours,
    number_map,
)


@attrs.frozen(kw_only=True)
class CampaignCreated(DomainEvent):
    NAME: ClassVar[str] = "CampaignCreated"
    VERSION: ClassVar[int] = 2  # v2: settings list each wrap-up code with what it does (upcasters._settings_v2)
    name: str
    description: str
    manager: str
    priority: int
    dial_mode: DialMode
    settings: CampaignSettings
    hours: OpeningHours | None


@attrs.frozen(kw_only=True)
class CampaignSettingsChanged(DomainEvent):
    NAME: ClassVar[str] = "CampaignSettingsChanged"
    VERSION: ClassVar[int] = 2
    settings: CampaignSettings
    changed_by: str  # who (from v2; the upcaster gives v1 events "", they did not say)


@attrs.frozen(kw_only=True)
class CampaignDialModeChanged(DomainEvent):
    NAME: ClassVar[str] = "CampaignDialModeChanged"
    VERSION: ClassVar[int] = 2
    dial_mode: DialMode
    changed_by: str  # who (from v2; the upcaster gives v1 events "", they did not say)


@attrs.frozen(kw_only=True)
class CampaignPriorityChanged(DomainEvent):
    NAME: ClassVar[str] = "CampaignPriorityChanged"
    VERSION: ClassVar[int] = 2
    priority: int
    changed_by: str  # who (from v2; the upcaster gives v1 events "", they did not say)


@attrs.frozen(kw_only=True)
class CampaignHoursChanged(DomainEvent):
    NAME: ClassVar[str] = "CampaignHoursChanged"
    VERSION: ClassVar[int] = 2
    hours: OpeningHours | None
    changed_by: str  # who (from v2; the upcaster gives v1 events "", they did not say)


@attrs.frozen(kw_only=True)
class CampaignDescribed(DomainEvent):
    """The campaign's description or manager changed (R1)."""

    NAME: ClassVar[str] = "CampaignDescribed"
    description: str
    manager: str
    changed_by: str


@attrs.frozen(kw_only=True)
class CampaignRenamed(DomainEvent):
    """The campaign's name changed (R1); its identity (the id its first name gave it) does not."""

    NAME: ClassVar[str] = "CampaignRenamed"
    name: str
    previous: str
    changed_by: str


@attrs.frozen(kw_only=True)
class CampaignNameClaimed(DomainEvent):
    """On a name's own stream: this campaign took the name by a rename (the last claim holds it
    while that campaign still bears the name)."""

    NAME: ClassVar[str] = "CampaignNameClaimed"
    campaign_id: UUID
    name: str


@attrs.frozen(kw_only=True)
class CampaignStatusChanged(DomainEvent):
    NAME: ClassVar[str] = "CampaignStatusChanged"
    status: CampaignStatus
    changed_by: str


@attrs.frozen(kw_only=True)
class CampaignListMappingSet(DomainEvent):
    NAME: ClassVar[str] = "CampaignListMappingSet"
    mapping: ListMapping


@attrs.frozen(kw_only=True)
class CampaignCallGuideSet(DomainEvent):
    """R18: the campaign's call guide, whole (empty: none)."""

    NAME: ClassVar[str] = "CampaignCallGuideSet"
    VERSION: ClassVar[int] = 2
    questions: tuple[GuideQuestion, ...]
    changed_by: str  # who (from v2; the upcaster gives v1 events "", they did not say)


@attrs.frozen(kw_only=True)
class CampaignSelectionChanged(DomainEvent):
    """R10: the campaign's list selection, whole: its named filters, the active one, its sort order."""

    NAME: ClassVar[str] = "CampaignSelectionChanged"
    selection: ListSelection
    changed_by: str


@attrs.frozen(kw_only=True)
class ListImported(DomainEvent):
    """One import of a list file into the campaign (R7's import history)."""

    NAME: ClassVar[str] = "ListImported"
    import_id: UUID
    file_name: str
    sha256: str
    mode: ImportMode
    rows: int
    accepted: int
    rejected: int
    duplicates: int
    added: int
    updated: int
    reinstated: int
    withdrawn: int
    left_in_call: int
    started_at: datetime


@attrs.frozen(kw_only=True)
class ListImportRefused(DomainEvent):
    """A list file refused whole, nothing applied (R7); ``reason_code``: rejected_rows, would_withdraw_too_much, unreadable_file or conflict."""
    NAME: ClassVar[str] = "ListImportRefused"
    file_name: str
    sha256: str
    mode: ImportMode
    rows: int
    rejected: int
    duplicates: int
    reason_code: str
    reason: str


@attrs.frozen(kw_only=True)
class PacingDecided(DomainEvent):
    """Why the dialler placed calls: the inputs of one pacing decision and its result.

    Recorded on the campaign's pacing-log stream (one per campaign and day) whenever a decision
    places at least one call; every DialAttempted names the decision that caused it.
    """

    NAME: ClassVar[str] = "PacingDecided"
    campaign_id: UUID
    decision_id: UUID
    dial_mode: DialMode
    ready_agents: int
    agents_in_wrapup: int
    agents_talking: int
    calls_in_flight: int
    answered_waiting: int
    estimates: FrozenMap[str, float] = attrs.field(converter=number_map)
    target_abandon_rate: float
    calls_to_place: int
    reason: str
