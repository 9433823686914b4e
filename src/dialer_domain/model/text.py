"""Rules for the text people and files put into the core: no control characters (a NUL or a line
separator in a name breaks screens, CSV exports and PostgreSQL's text columns) and sensible sizes
(a 100 MB name slows every later command). Commands check these; events already stored are read
as they are, so nothing recorded before a rule existed becomes unreadable."""

from __future__ import annotations

import re
from collections.abc import Mapping

from dialer_domain.model.errors import InvalidValue

MAX_KEY = 200
MAX_NAME = 200
MAX_AGENT_ID = 100
MAX_VARIABLES = 100
MAX_VARIABLE_NAME = 100
MAX_VARIABLE_VALUE = 2000
MAX_NOTE = 2000

#: C0 and C1 control characters (tab and newline included), the Unicode line and paragraph
#: separators, and halves of surrogate pairs (which no UTF-8 text can hold)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def check_text(what: str, value: str, max_length: int, *, allow_empty: bool = True) -> None:
    if not allow_empty and not value.strip():
        raise InvalidValue(f"{what} is empty")
    if len(value) > max_length:
        raise InvalidValue(f"{what} is {len(value)} characters long; at most {max_length} are allowed")
    m = _CONTROL.search(value)
    if m is not None:
        code = f"U+{ord(m.group()):04X}"
        kind = "half of a surrogate pair" if 0xD800 <= ord(m.group()) <= 0xDFFF else "control character"
        raise InvalidValue(f"{what} contains the {kind} {code} at position {m.start() + 1}; it is not allowed in text")


def text_is_clean(value: str, max_length: int) -> bool:
    """Whether ``check_text`` would accept ``value`` (empty allowed): the quick test that lets a
    caller build its error messages only when something is wrong."""
    return len(value) <= max_length and _CONTROL.search(value) is None


def check_variables(what: str, variables: Mapping[str, str]) -> None:
    if len(variables) <= MAX_VARIABLES and all(
        name.strip() and text_is_clean(name, MAX_VARIABLE_NAME) and text_is_clean(value, MAX_VARIABLE_VALUE) for name, value in variables.items()
    ):
        return  # the usual case, decided without building a message per variable
    if len(variables) > MAX_VARIABLES:
        raise InvalidValue(f"{what}: {len(variables)} variables; at most {MAX_VARIABLES} are allowed")
    for name, value in variables.items():
        check_text(f"{what} name {name[:40]!r}", name, MAX_VARIABLE_NAME, allow_empty=False)
        check_text(f"{what} {name!r}", value, MAX_VARIABLE_VALUE)


def check_contact_key(key: str) -> None:
    check_text("contact key", key, MAX_KEY, allow_empty=False)


def check_agent_id(agent_id: str) -> None:
    check_text("agent id", agent_id, MAX_AGENT_ID, allow_empty=False)
