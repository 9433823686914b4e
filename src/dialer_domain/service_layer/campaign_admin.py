"""Use cases of campaign administration: settings from plain values, and one change of any of a
campaign's settings, priority, dial mode and opening hours."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import EllipsisType
from typing import Any

import attrs

from dialer_domain.model.campaign import Campaign
from dialer_domain.model.errors import InvalidValue
from dialer_domain.model.values import CampaignSettings, DialMode, OpeningHours
from dialer_domain.service_layer.repository import Repository

#: Settings whose values are tuples (JSON gives lists).
_TUPLE_SETTINGS = frozenset(f.name for f in attrs.fields(CampaignSettings) if str(f.type).startswith("tuple"))


def settings_from(values: Mapping[str, Any], base: CampaignSettings | None = None) -> CampaignSettings:
    """Campaign settings from plain values (an API body): the unknown names and the invalid values
    are refused with a clear error; with ``base``, the settings not given stay as they are."""
    known = {f.name for f in attrs.fields(CampaignSettings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidValue(f"unknown campaign setting(s): {', '.join(unknown)}; the settings are {', '.join(sorted(known))}")
    plain: dict[str, Any] = {k: tuple(v) if k in _TUPLE_SETTINGS and isinstance(v, list) else v for k, v in values.items()}
    try:
        return attrs.evolve(base, **plain) if base is not None else CampaignSettings(**plain)
    except TypeError as exc:
        raise InvalidValue(f"campaign settings: {exc}") from None


def configure_campaign(
    repo: Repository,
    campaign: Campaign,
    *,
    settings: Mapping[str, Any] | None = None,
    priority: int | None = None,
    dial_mode: DialMode | None = None,
    hours: OpeningHours | EllipsisType | None = ...,
    at: datetime,
) -> Campaign:
    """Change what is given (settings by name, priority, dial mode, opening hours; ``hours=None``
    removes them) in one append; what is not given stays."""
    if settings:
        campaign.change_settings(settings_from(settings, campaign.config), at)
    if priority is not None and priority != campaign.priority:
        campaign.change_priority(priority, at)
    if dial_mode is not None and dial_mode is not campaign.dial_mode:
        campaign.change_dial_mode(dial_mode, at)
    if not isinstance(hours, EllipsisType) and hours != campaign.hours:
        campaign.change_hours(hours, at)
    repo.save(campaign)
    return campaign
