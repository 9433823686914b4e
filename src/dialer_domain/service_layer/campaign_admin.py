"""Use cases of campaign administration: settings from plain values, and one change of any of a
campaign's settings, priority, dial mode and opening hours."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from datetime import datetime
from types import EllipsisType
from typing import Any

import attrs

from dialer_domain.model.campaign import Campaign, CampaignName
from dialer_domain.model.errors import ConcurrencyError, InvalidValue, NotAllowed, NotFound
from dialer_domain.model.identities import campaign_id_for, campaign_name_id_for
from dialer_domain.model.values import CampaignSettings, DialMode, ListSelection, OpeningHours
from dialer_domain.rules.selection import parse_sort
from dialer_domain.service_layer.handlers import campaign_named
from dialer_domain.service_layer.repository import Repository

#: Settings whose values are tuples (JSON gives lists).
_TUPLE_SETTINGS = frozenset(f.name for f in attrs.fields(attrs.resolve_types(CampaignSettings)) if typing.get_origin(f.type) is tuple)


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


def setting_from_text(name: str, text: str) -> Any:
    """One setting as typed on a command line (``max_ring_seconds=30``): read as the setting's type
    (a number, yes/no, a comma-separated list, ``none`` where none is allowed); a clear error names
    the setting and what it expected."""
    fields = {f.name: f.type for f in attrs.fields(attrs.resolve_types(CampaignSettings))}
    if name not in fields:
        raise InvalidValue(f"unknown campaign setting {name!r}; the settings are {', '.join(sorted(fields))}")
    kind = fields[name]
    args = typing.get_args(kind)
    text = text.strip()
    if type(None) in args:
        if text.lower() == "none":
            return None
        kind = next(a for a in args if a is not type(None))
    try:
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError:
        raise InvalidValue(f"setting {name} takes a {'whole number' if kind is int else 'number'}, not {text[:40]!r}") from None
    if kind is bool:
        words = {"yes": True, "true": True, "on": True, "1": True, "no": False, "false": False, "off": False, "0": False}
        if text.lower() not in words:
            raise InvalidValue(f"setting {name} takes yes or no, not {text[:40]!r}")
        return words[text.lower()]
    if typing.get_origin(kind) is tuple:
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def configure_campaign(
    repo: Repository,
    campaign: Campaign,
    *,
    settings: Mapping[str, Any] | None = None,
    priority: int | None = None,
    dial_mode: DialMode | None = None,
    hours: OpeningHours | EllipsisType | None = ...,
    description: str | None = None,
    manager: str | None = None,
    name: str | None = None,
    by: str,
    at: datetime,
) -> Campaign:
    """Change what is given (settings by name, priority, dial mode, opening hours; ``hours=None``
    removes them; description, manager) in one append, each change an event naming ``by``; what
    is not given stays. A change that breaks a rule is refused whole."""
    if settings:
        campaign.change_settings(settings_from(settings, campaign.config), at, by)
    if priority is not None:
        campaign.change_priority(priority, at, by)
    if dial_mode is not None:
        campaign.change_dial_mode(dial_mode, at, by)
    if not isinstance(hours, EllipsisType):
        campaign.change_hours(hours, at, by)
    if description is not None or manager is not None:
        campaign.describe(
            description=campaign.description if description is None else description,
            manager=campaign.manager if manager is None else manager,
            at=at,
            by=by,
        )
    claims = renamed(repo, campaign, name, by=by, at=at) if name is not None else []
    try:
        repo.save(campaign, *claims)
    except ConcurrencyError:
        raise NotAllowed(f"campaign {campaign.name!r} changed meanwhile (another writer); try again") from None
    return campaign


def change_selection(
    repo: Repository,
    campaign: Campaign,
    *,
    save: tuple[str, str] | None = None,
    remove: str | None = None,
    use: str | EllipsisType | None = ...,
    sort: str | None = None,
    by: str,
    at: datetime,
) -> Campaign:
    """R10: save a named filter (name, expression), remove one, choose the active one (None: every
    contact), or set the sort order ("priority desc, variable.last_order"); one event with the whole
    selection. Refused, naming it, when an expression or a sort key does not read, or the filter to
    use or remove is not there."""
    sel = campaign.selection
    filters = dict(sel.filters)
    active = sel.active
    if save is not None:
        filters[save[0]] = save[1]
    if remove is not None:
        if remove not in filters:
            raise NotFound(f"campaign {campaign.name!r} has no filter {remove!r}")
        del filters[remove]
        if active == remove:
            active = None
    if not isinstance(use, EllipsisType):
        active = use
    keys = sel.sort if sort is None else tuple(str(k) for k in parse_sort(sort))
    campaign.set_selection(ListSelection(filters=filters, active=active, sort=keys), at, by)
    repo.save(campaign)
    return campaign


def rename_campaign(repo: Repository, campaign: Campaign, name: str, *, by: str, at: datetime) -> Campaign:
    """R1: the campaign takes a new name, if no other campaign bears it; its history, contacts and
    figures stay with it (its identity is the id its first name gave it, which stays reserved)."""
    claims = renamed(repo, campaign, name, by=by, at=at)
    try:
        repo.save(campaign, *claims)
    except ConcurrencyError:
        raise NotAllowed(f"campaign {campaign.name!r} or the name {name!r} changed meanwhile; try again") from None
    return campaign


def renamed(repo: Repository, campaign: Campaign, name: str, *, by: str, at: datetime) -> list[CampaignName]:
    """Record the rename on the campaign (refused when another campaign bears the name, or had it
    first) and return the name's claim to save in the same append."""
    try:
        other = campaign_named(repo, name)
    except NotFound:
        other = None
    if other is not None and other.id != campaign.id:
        raise NotAllowed(f"a campaign named {name!r} already exists")
    first = repo.find(Campaign, campaign_id_for(name))
    if first is not None and first.id != campaign.id:
        raise NotAllowed(f"{name!r} was the first name of campaign {first.name!r}, and stays its own")
    before = campaign.version
    campaign.rename(name, at, by)
    if campaign.version == before or campaign_id_for(name) == campaign.id:  # unchanged, or back to its first name
        return []
    claim = repo.find(CampaignName, campaign_name_id_for(name)) or CampaignName(id=campaign_name_id_for(name))
    claim.claim(campaign.id, campaign.name, at)
    return [claim]
