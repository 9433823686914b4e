"""What a contact must be: a key, one or more distinct numbers (R8), a priority 1..10 (R11), and
what it shows an agent (R9) as text without control characters, of sensible size."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from dialer_domain.model.errors import InvalidValue
from dialer_domain.model.text import MAX_NAME, check_contact_key, check_text, check_variables
from dialer_domain.model.values import CallOutcome, CampaignSettings, ContactData, PhoneNumber, check_priority
from dialer_domain.rules.schedule import zone


def check_contact_data(key: str, data: ContactData) -> None:
    """What a contact shows an agent: text without control characters, of sensible size, and a
    time zone that exists."""
    check_text(f"contact {key[:40]!r} name", data.name, MAX_NAME)
    if data.time_zone is not None:
        check_text(f"contact {key[:40]!r} time zone", data.time_zone, MAX_NAME)
        zone(data.time_zone)
    check_variables(f"contact {key[:40]!r} field", data.fields)
    check_variables(f"contact {key[:40]!r} variable", data.variables)


def check_contact(key: str, numbers: tuple[PhoneNumber, ...], data: ContactData, priority: int) -> None:
    """Every rule a contact's details keep, whoever writes them (an import, the API, the CLI)."""
    if not key.strip():
        raise InvalidValue("a contact needs a key")
    check_contact_key(key)
    if not numbers:
        raise InvalidValue(f"contact {key!r} has no phone number")
    seen = [n.e164 for n in numbers]
    if len(set(seen)) != len(seen):
        raise InvalidValue(f"contact {key!r} lists a phone number twice")
    check_priority(priority, "contact priority")
    check_contact_data(key, data)


def exhaustion_reason(attempts: int, settings: CampaignSettings) -> str:
    """Why a contact has no attempt left (R14)."""
    if attempts >= settings.max_attempts_per_contact:
        return f"{attempts} attempts, the campaign's maximum per contact"
    return f"every number has had its {settings.attempts_per_number} attempts"


def next_number(
    attempts: Sequence[int], last_attempt_at: Sequence[datetime | None], at: datetime, settings: CampaignSettings | None
) -> int | None:
    """The number to dial next (R8): among numbers with attempts left and past their redial delay,
    the one tried least this round, first in dialling order on a tie."""
    best: int | None = None
    for i, tried in enumerate(attempts):
        if settings is not None:
            if tried >= settings.attempts_per_number:
                continue
            last = last_attempt_at[i]
            if last is not None and at < last + timedelta(seconds=settings.min_redial_seconds):
                continue
        if best is None or tried < attempts[best]:
            best = i
    return best


#: The attempts a number is given when it is not dialled again this round: more than any campaign allows.
DEAD_NUMBER = 1 << 30


class NumbersTried(NamedTuple):
    """A contact's attempts this round: in all, per number, and when each number was last tried."""

    attempts: int
    per_number: Sequence[int]
    last_at: Sequence[datetime | None]


def next_dial_after(
    tried: NumbersTried, index: int, counts: bool, settings: CampaignSettings, at: datetime, *, dead: bool = False
) -> datetime | None:
    """When the contact may be dialled again after a call on number ``index`` ended (None: no
    attempt left). ``counts``: the call was an attempt; ``dead``: that number is not dialled again
    this round. A number tried waits the redial delay (R5); another number of the contact the
    delay between numbers (R8)."""
    attempts = tried.attempts + (1 if counts else 0)
    if attempts >= settings.max_attempts_per_contact:
        return None
    per_number = list(tried.per_number)
    last = list(tried.last_at)
    if counts:
        per_number[index] += 1
        last[index] = at
    if dead:
        per_number[index] = DEAD_NUMBER
    candidates = []
    for i in range(len(per_number)):
        if per_number[i] >= settings.attempts_per_number:
            continue
        t = last[i]
        fresh = at + timedelta(seconds=settings.next_number_delay_seconds)
        candidates.append(fresh if t is None else max(at, t + timedelta(seconds=settings.min_redial_seconds)))
    return min(candidates) if candidates else None


_OUTCOME_LIMITS = {CallOutcome.NO_ANSWER: "attempts_no_answer", CallOutcome.BUSY: "attempts_busy", CallOutcome.ABANDONED: "attempts_dropped"}
_OUTCOME_WORDS = {CallOutcome.NO_ANSWER: "no answer", CallOutcome.BUSY: "busy", CallOutcome.ABANDONED: "dropped"}


def outcome_limit(outcome: CallOutcome, times: int, settings: CampaignSettings) -> str | None:
    """R5's attempts per outcome: why the number is not dialled again this round when this call
    made ``times`` calls on it end with ``outcome`` and the campaign allows no more of them (None: it may)."""
    name = _OUTCOME_LIMITS.get(outcome)
    limit = getattr(settings, name) if name else None
    if limit is None or times < limit:
        return None
    return f"{_OUTCOME_WORDS[outcome]} {times} times, the campaign's limit for a number"
