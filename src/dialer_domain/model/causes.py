"""Stable codes for causes (issue 16): why a call ended or was abandoned, why a contact went back to
the list, why a number was skipped or a contact had no attempt left. Each event that carries a
``reason`` in words also carries a ``reason_code`` from this catalogue, so that an auditor or a
report can count causes without parsing text.

The dialler writes its causes in a fixed set of phrasings; the code is the first entry below whose
pattern the words match. A refusal by the authorisation step ("rule: why; rule: why") is coded
``refused_<rule>`` after the first rule that refused. The end of a call in the network's own words
(busy, no answer, a SIP status) is ``network``. Stored events written before codes existed get
their code the same way when read (``adapters/persistence/upcasters.py``), so old and new agree.
A code, once written, never changes; a new phrasing gets a new entry.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import attrs

#: (code, pattern, what it means): the call causes (CallEnded, CallAbandoned)
CALL_CAUSES: tuple[tuple[str, str, str], ...] = (
    ("abandoned_no_agent", r"^no agent free within", "answered by a person, and no agent was free in time (R17)"),
    ("abandoned_contact_hung_up", r"^contact hung up before an agent was free", "the person hung up while waiting for an agent"),
    ("abandoned_at_restart", r"^answered, and no agent took the call before the restart", "a person was waiting when the dialler stopped"),
    ("settled_after_restart", r"\(asked after the dialler restarted\)$", "ended as the network said when asked after a restart"),
    ("unknown_after_restart", r"^the dialler restarted", "in progress when the dialler stopped; the network could not say"),
    ("machine_detected", r"^answering machine detected$", "an answering machine, hung up"),
    ("agent_hung_up", r"^the agent hung up$", "the agent ended the conversation"),
    ("max_duration", r"^cut at the maximum call duration$", "cut at the campaign's maximum call duration"),
    ("ring_timeout", r"^no answer within the maximum ring time$", "not answered within the campaign's ring time"),
    ("agent_leg_hung_up", r"^agent leg hung up", "the agent's own line hung up before the contact answered"),
    ("agent_paused", r"^agent paused", "the agent the call was for paused before it was answered"),
    ("agent_logged_out", r"^agent logged out", "the agent the call was for logged out before it was answered"),
    ("network_before_answer", r"^the network reported \w+ before any answer", "the network ended the call before any answer"),
)
#: the list causes (ContactReturnedToList, NumberSkipped, AttemptsExhausted, ContactWithdrawn)
LIST_CAUSES: tuple[tuple[str, str, str], ...] = (
    ("campaign_disabled", r"^campaign disabled$", "the campaign was switched off"),
    ("campaign_closed", r"^campaign outside its hours$", "the campaign's hours ended"),
    ("no_number_left", r"^no number left to dial", "every number is done or skipped"),
    ("max_attempts_per_contact", r"^\d+ attempts, the campaign's maximum per contact$", "the campaign's attempts per contact are used"),
    ("attempts_per_number", r"^every number has had its \d+ attempts$", "each number had the campaign's attempts"),
    ("withdrawn_by_import", r"^not in the list replaced by", "a list import replaced the list without it"),
    ("outcome_limit", r"^(no answer|busy|dropped) \d+ times, the campaign's limit", "that outcome's attempts on the number are used (R5)"),
    ("not_selected", r"^no longer selected by the campaign's filter", "the campaign's active filter (R10) no longer selects the contact"),
    ("closed_by_disposition", r"^disposition \S+ ends the contact$", "the agent's wrap-up code ends the contact (R18)"),
)
NETWORK = "network"
OTHER = "other"
_RULE = re.compile(r"^([a-z_]+): ")
_COMPILED = {kind: [(code, re.compile(p)) for code, p, _ in table] for kind, table in (("call", CALL_CAUSES), ("list", LIST_CAUSES))}
_CALL_EVENTS = frozenset({"CallEnded", "CallAbandoned"})


def cause_code(event_name: str, reason: str) -> str:
    """The stable code of ``reason`` on an event named ``event_name``."""
    kind = "call" if event_name in _CALL_EVENTS else "list"
    for code, pattern in _COMPILED[kind]:
        if pattern.search(reason):
            return code
    m = _RULE.match(reason)
    if m and m.group(1) in _rule_names():
        return f"refused_{m.group(1)}"
    return NETWORK if event_name == "CallEnded" else OTHER


@functools.cache
def _rule_names() -> frozenset[str]:
    from dialer_domain.rules.authorisation import DEFAULT_RULES  # the rules' names are codes already

    return frozenset(name for name, _ in DEFAULT_RULES)


def coded(event_name: str) -> Any:
    """An event's ``reason_code`` field: given, or the code of its ``reason``."""
    return attrs.field(default=attrs.Factory(lambda e: cause_code(event_name, e.reason), takes_self=True))


def catalogue() -> dict[str, str]:
    """Every code and what it means (for the README, the report and the API)."""
    from dialer_domain.rules.authorisation import DEFAULT_RULES

    out = {code: meaning for code, _, meaning in (*CALL_CAUSES, *LIST_CAUSES)}
    out.update({f"refused_{name}": f"the {name} rule refused the dial" for name, _ in DEFAULT_RULES})
    out[NETWORK] = "the call ended as the network reported it (its words are the reason)"
    out[OTHER] = "a cause written in words the catalogue does not know (see the reason)"
    return out
