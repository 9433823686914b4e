"""Phone numbers from people's writing to E.164, with the phonenumbers library."""

from __future__ import annotations

import phonenumbers

from dialer_domain.errors import InvalidValue
from dialer_domain.values import PhoneNumber


def normalise(raw: str, default_region: str = "DK", label: str = "") -> PhoneNumber:
    text = raw.strip()
    if not text:
        raise InvalidValue("empty phone number")
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue(f"phone number {raw!r} cannot be read: {exc}") from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidValue(f"phone number {raw!r} is impossible (wrong length for its country)")
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidValue(f"phone number {raw!r} is not a valid number in region {default_region}")
    return PhoneNumber(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), label)
