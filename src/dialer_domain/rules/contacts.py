"""What a contact must be: a key, one or more distinct numbers (R8), a priority 1..10 (R11), and
what it shows an agent (R9) as text without control characters, of sensible size."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from dialer_domain.model.errors import InvalidValue
from dialer_domain.model.text import MAX_NAME, check_contact_key, check_text, check_variables
from dialer_domain.model.values import CampaignSettings, ContactData, PhoneNumber, check_priority
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
