"""Upcasters: how a stored event of an older schema version becomes the next version's state
(ADR 0002). Each takes the stored state (a dict) and returns the state of version + 1; the event
store runs them in order from the stored version up to the class's ``VERSION``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: The campaign's change events that name who changed it from their version 2.
CHANGED_BY_EVENTS = ("CampaignSettingsChanged", "CampaignDialModeChanged", "CampaignPriorityChanged", "CampaignHoursChanged", "CampaignCallGuideSet")

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def _upcast_agent_paused_v1(state: dict[str, Any]) -> dict[str, Any]:
    """AgentPaused v1 had one free-text ``reason``; v2 splits a code from a note."""
    from dialer_domain.model.values import PAUSE_REASONS

    reason = str(state.pop("reason", "") or "")
    code = reason.strip().lower().replace(" ", "_")
    state["reason_code"] = code if code in PAUSE_REASONS else "other"
    state["note"] = "" if code in PAUSE_REASONS else reason
    return state


def _upcast_dial_attempted_v1(state: dict[str, Any]) -> dict[str, Any]:
    """DialAttempted v2 carries the evidence of the callee's local hours and the do-not-call lists
    looked at, and whether it keeps a callback; a v1 dial judged none and said nothing of it."""
    state.setdefault("calling_policy", "")
    state.setdefault("callee_zones", [])
    state.setdefault("callee_zone_source", "")
    state.setdefault("callee_local_times", [])
    state.setdefault("dnc_checked", [])
    state.setdefault("callback", False)
    return state


def _upcast_returned_to_list_v1(state: dict[str, Any]) -> dict[str, Any]:
    """ContactReturnedToList v2 may say when the contact may be queued again; v1 never did."""
    state.setdefault("not_before", None)
    return state


def _upcast_call_progressed_v1(state: dict[str, Any]) -> dict[str, Any]:
    """CallProgressed v2 may say when the network saw it happen; v1 did not."""
    state.setdefault("reported_at", None)
    return state


def _upcast_dial_attempted_v2(state: dict[str, Any]) -> dict[str, Any]:
    """DialAttempted v3 may name the ready agent a contact-first call was placed for; v2 did not."""
    state.setdefault("placed_for", None)
    return state


def _coded(name: str) -> Upcaster:
    """The events that give a cause in words carry its stable code beside it from the version
    after this one (issue 16); an older event gets the code its words have (``model.causes``)."""
    from dialer_domain.model.causes import cause_code

    def upcast(state: dict[str, Any]) -> dict[str, Any]:
        state.setdefault("reason_code", cause_code(name, str(state.get("reason", ""))))
        return state

    return upcast


def _upcast_changed_by_v1(state: dict[str, Any]) -> dict[str, Any]:
    """A campaign's change events say who made the change from v2 (issue 17); v1 did not."""
    state.setdefault("changed_by", "")
    if isinstance(state.get("settings"), dict):  # CampaignSettingsChanged v2 holds v2 settings
        _settings_v2(state["settings"])
    return state


def _upcast_campaign_created_v1(state: dict[str, Any]) -> dict[str, Any]:
    """CampaignCreated v2 holds v2 settings (``_settings_v2``)."""
    _settings_v2(state["settings"])
    return state


def _settings_v2(settings: dict[str, Any]) -> None:
    """Campaign settings v1 listed wrap-up codes by name, and the codes that add the number to the
    do-not-call list apart; v2 lists each code with what it does (issue 17). A default code keeps
    what it always meant (a sale is a success and ends the contact); another gets no property but
    the do-not-call one it had."""
    from dialer_domain.model.values import DEFAULT_DISPOSITION_SET

    defaults = {d.code: d for d in DEFAULT_DISPOSITION_SET}
    dnc = set(settings.pop("do_not_call_dispositions", ()) or ())
    out = []
    for code in settings.get("dispositions", [d.code for d in DEFAULT_DISPOSITION_SET]):
        if not isinstance(code, str):
            out.append(code)
            continue
        d = defaults.get(code)
        out.append({
            "code": code,
            "label": d.label if d else code.replace("_", " "),
            "success": bool(d and d.success),
            "ends_contact": bool(d and d.ends_contact),
            "callback": False,
            "do_not_call": code in dnc,
        })
    settings["dispositions"] = out


def _upcast_disposition_v1(state: dict[str, Any]) -> dict[str, Any]:
    """DispositionRecorded v2 says whether the code counted as a success and holds the call guide's
    answers; in v1 the only success code was the default sale, and answers were not kept."""
    state.setdefault("success", state.get("code") == "sale")
    state.setdefault("answers", {})
    return state


#: (event name, from version) -> function giving the state of version + 1
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("AgentPaused", 1): _upcast_agent_paused_v1,
    ("CampaignCreated", 1): _upcast_campaign_created_v1,
    ("DispositionRecorded", 1): _upcast_disposition_v1,
    ("DialAttempted", 1): _upcast_dial_attempted_v1,
    ("DialAttempted", 2): _upcast_dial_attempted_v2,
    ("ContactReturnedToList", 1): _upcast_returned_to_list_v1,
    ("CallProgressed", 1): _upcast_call_progressed_v1,
    ("ContactReturnedToList", 2): _coded("ContactReturnedToList"),
    ("ContactWithdrawn", 1): _coded("ContactWithdrawn"),
    ("CallAbandoned", 1): _coded("CallAbandoned"),
    ("CallEnded", 1): _coded("CallEnded"),
    ("NumberSkipped", 1): _coded("NumberSkipped"),
    ("AttemptsExhausted", 1): _coded("AttemptsExhausted"),
    **{(name, 1): _upcast_changed_by_v1 for name in CHANGED_BY_EVENTS},
}
