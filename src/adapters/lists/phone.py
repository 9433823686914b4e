"""Phone numbers from people's writing to E.164, with the phonenumbers library."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import phonenumbers

from dialer_domain.model.errors import InvalidValue
from dialer_domain.model.values import PhoneNumber

_E164 = phonenumbers.PhoneNumberFormat.E164
# the library's own switch: keep its compiled metadata patterns instead of recompiling those that
# fall out of the re module's small cache (a list import checks millions of numbers)
phonenumbers.enable_pattern_cache()


def e164(text: str, region: str) -> str:
    """The E.164 form of a number as written (``region`` for numbers written without their
    country code). Raises InvalidValue whose message says what is wrong with it: 'cannot be read
    (...)', 'is impossible (wrong length)' or 'is not a valid number in region XX'."""
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue(f"cannot be read ({exc})") from None
    if parsed.extension:
        raise InvalidValue(f"has an extension ({parsed.extension}), which cannot be dialled; give the number without it")
    # a valid number is a possible one: the possibility check only words the rejection
    if not phonenumbers.is_valid_number(parsed):
        if not phonenumbers.is_possible_number(parsed):
            raise InvalidValue("is impossible (wrong length)")
        raise InvalidValue(f"is not a valid number in region {region}")
    return phonenumbers.format_number(parsed, _E164)


def caller_id(settings: Mapping[str, Any], region: str) -> dict[str, Any]:
    """Campaign settings as given, with ``caller_id_number`` (if given, and not empty) checked as a
    real number by the numbering plan and written in E.164: a caller ID that is not a valid number
    is refused, naming it."""
    found = dict(settings)
    raw = found.get("caller_id_number")
    if isinstance(raw, str) and raw.strip():
        try:
            found["caller_id_number"] = e164(raw.strip(), region)
        except InvalidValue as exc:
            raise InvalidValue(f"caller_id_number {raw[:40]!r} {exc}") from None
    return found


def normalise(raw: str, default_region: str = "DK", label: str = "") -> PhoneNumber:
    text = raw.strip()
    if not text:
        raise InvalidValue("empty phone number")
    try:
        return PhoneNumber(e164(text, default_region), label)
    except InvalidValue as exc:
        raise InvalidValue(f"phone number {raw!r} {exc}") from None
