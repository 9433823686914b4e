"""List selection (R10): which contacts of a campaign's list are queued (a filter) and in what order
within R11's tiers (sort keys). A filter is an expression over a contact's fields and variables,
read by a small grammar of our own (never ``eval``); it is stored as typed and parsed again when read.

Grammar (keywords in any case)::

    expr       := term ("or" term)*
    term       := factor ("and" factor)*
    factor     := "not" factor | "(" expr ")" | comparison
    comparison := operand op literal
                | operand ["not"] "in" "(" literal ("," literal)* ")"
                | operand "is" ["not"] "empty"
    operand    := name | "field." name | "variable." name
    op         := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    literal    := 'text' | "text" | number | date (YYYY-MM-DD)

A bare name is one of the contact's own (``name``, ``key``, ``priority``, ``agent``, ``time_zone``),
else its field of that name, else its variable. Text compares without regard to case; a number
literal compares numerically with a value that reads as a number, a date literal with a value that
starts with a date; a value that is missing or does not read as the literal's kind matches no
comparison (only ``is empty``, or ``not`` around it).
"""

from __future__ import annotations

import functools
import re
import struct
from collections.abc import Mapping
from datetime import date
from typing import Any

import attrs

from dialer_domain.model.errors import InvalidValue
from dialer_domain.model.text import MAX_NAME, check_text
from dialer_domain.model.values import ContactData, ListSelection

OWN = ("name", "key", "priority", "agent", "time_zone")
MAX_EXPRESSION = 2000
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|(?P<date>\d{4}-\d{2}-\d{2})(?![\w.])|(?P<num>-?\d+(?:\.\d+)?)(?![\w.])"
    r"|(?P<op><=|>=|!=|<>|=|<|>)|(?P<punct>[(),])|(?P<word>[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)?))"
)
_KEYWORDS = {"and", "or", "not", "in", "is", "empty"}


@attrs.frozen
class Literal:
    text: str
    number: float | None = None
    day: date | None = None


@attrs.frozen
class Compare:
    operand: str
    op: str
    value: Literal


@attrs.frozen
class In:
    operand: str
    values: tuple[Literal, ...]
    negate: bool = False


@attrs.frozen
class Empty:
    operand: str
    negate: bool = False


@attrs.frozen
class Not:
    item: Node


@attrs.frozen
class AllOf:
    items: tuple[Node, ...]


@attrs.frozen
class AnyOf:
    items: tuple[Node, ...]


Node = Compare | In | Empty | Not | AllOf | AnyOf


def parse_filter(text: str) -> Node:
    """The filter ``text`` as a tree; a bad expression is refused naming where and what."""
    if not text.strip():
        raise InvalidValue("a filter needs an expression, e.g. region = 'north' and age >= 30")
    if len(text) > MAX_EXPRESSION:
        raise InvalidValue(f"a filter is at most {MAX_EXPRESSION} characters, not {len(text)}")
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                at = len(text) - len(text[pos:].lstrip())
                raise InvalidValue(f"filter: cannot read {text[at:at + 20]!r} at character {at + 1}")
            kind = m.lastgroup or ""
            value, at = m.group(kind), m.start(kind) + 1
            if kind == "word" and value.lower() in _KEYWORDS:
                kind, value = "kw", value.lower()
            self.tokens.append((kind, value, at))
            pos = m.end()
        self.i = 0

    def parse(self) -> Node:
        node = self._or()
        if self.i < len(self.tokens):
            _, value, at = self.tokens[self.i]
            raise InvalidValue(f"filter: unexpected {value!r} at character {at}")
        return node

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self, kind: str, value: str | None = None) -> bool:
        t = self._peek()
        if t is not None and t[0] == kind and (value is None or t[1] == value):
            self.i += 1
            return True
        return False

    def _expect(self, kind: str, value: str | None, what: str) -> tuple[str, str, int]:
        t = self._peek()
        if t is None or t[0] != kind or (value is not None and t[1] != value):
            found = f"{t[1]!r} at character {t[2]}" if t else "the end"
            raise InvalidValue(f"filter: expected {what}, found {found}")
        self.i += 1
        return t

    def _or(self) -> Node:
        items = [self._and()]
        while self._take("kw", "or"):
            items.append(self._and())
        return items[0] if len(items) == 1 else AnyOf(tuple(items))

    def _and(self) -> Node:
        items = [self._factor()]
        while self._take("kw", "and"):
            items.append(self._factor())
        return items[0] if len(items) == 1 else AllOf(tuple(items))

    def _factor(self) -> Node:
        if self._take("kw", "not"):
            return Not(self._factor())
        if self._take("punct", "("):
            node = self._or()
            self._expect("punct", ")", "')'")
            return node
        return self._comparison()

    def _comparison(self) -> Node:
        _, operand, at = self._expect("word", None, "a field or variable name")
        if operand.count(".") and operand.split(".", 1)[0] not in ("field", "variable"):
            raise InvalidValue(f"filter: {operand!r} at character {at}: only field.NAME and variable.NAME have a dot")
        if self._take("kw", "is"):
            negate = self._take("kw", "not")
            self._expect("kw", "empty", "'empty' after 'is'")
            return Empty(operand, negate)
        negate = self._take("kw", "not")
        if self._take("kw", "in"):
            self._expect("punct", "(", "'(' after 'in'")
            values = [self._literal()]
            while self._take("punct", ","):
                values.append(self._literal())
            self._expect("punct", ")", "')' closing the list")
            return In(operand, tuple(values), negate)
        if negate:
            raise InvalidValue(f"filter: after {operand!r} 'not' needs 'in'")
        _, op, _ = self._expect("op", None, f"a comparison (=, !=, <, <=, >, >=, in, is empty) after {operand!r}")
        return Compare(operand, "!=" if op == "<>" else op, self._literal())

    def _literal(self) -> Literal:
        t = self._peek()
        if t is None or t[0] not in ("str", "num", "date"):
            found = f"{t[1]!r} at character {t[2]}" if t else "the end"
            raise InvalidValue(f"filter: expected a value ('text', a number or a date like 2026-01-01), found {found}")
        self.i += 1
        kind, value, at = t
        if kind == "num":
            return Literal(value, number=float(value))
        if kind == "date":
            try:
                return Literal(value, day=date.fromisoformat(value))
            except ValueError:
                raise InvalidValue(f"filter: {value!r} at character {at} is not a date") from None
        return Literal(re.sub(r"\\(.)", r"\1", value[1:-1]))


# ---------------------------------------------------------------------- evaluation

Facts = Mapping[str, Any]  # name, key, priority, agent, time_zone; fields and variables (mappings)


def value_of(facts: Facts, operand: str) -> str | None:
    """The contact's value for ``operand`` as text (None: it has none)."""
    if operand.startswith("field."):
        found = facts.get("fields", {}).get(operand[6:])
    elif operand.startswith("variable."):
        found = facts.get("variables", {}).get(operand[9:])
    elif operand in OWN:
        found = facts.get(operand)
    else:
        found = facts.get("fields", {}).get(operand)
        if found is None:
            found = facts.get("variables", {}).get(operand)
    if found is None or found == "":
        return None
    return str(found)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


_OPS = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _compare(value: str, op: str, lit: Literal) -> bool:
    a: Any
    b: Any
    if lit.number is not None:
        a, b = _number(value), lit.number
    elif lit.day is not None:
        a, b = _day(value), lit.day
    else:
        a, b = value.casefold(), lit.text.casefold()
    return a is not None and bool(_OPS[op](a, b))


def matches(node: Node, facts: Facts) -> bool:
    """Whether a contact with these facts passes the filter."""
    match node:
        case AnyOf(items):
            return any(matches(n, facts) for n in items)
        case AllOf(items):
            return all(matches(n, facts) for n in items)
        case Not(item):
            return not matches(item, facts)
        case Empty(operand, negate):
            return (value_of(facts, operand) is None) != negate
        case In(operand, values, negate):
            v = value_of(facts, operand)
            found = v is not None and any(_compare(v, "=", lit) for lit in values)
            return found != negate if v is not None else negate
        case Compare(operand, op, lit):
            v = value_of(facts, operand)
            return v is not None and _compare(v, op, lit)
    raise TypeError(f"not a filter node: {node!r}")


def selects_all(node: Node, many: list[Facts]) -> bool:
    """Whether the filter passes every one of these contacts."""
    return all(matches(node, f) for f in many)


# ---------------------------------------------------------------------- sort orders


@attrs.frozen
class SortKey:
    """One sort key (R10): a contact's own value, field or variable, ascending or descending."""

    operand: str
    descending: bool = False

    def __str__(self) -> str:
        return f"{self.operand} {'desc' if self.descending else 'asc'}"


def parse_sort(text: str) -> tuple[SortKey, ...]:
    """``priority desc, variable.last_order, name asc`` as sort keys (empty text: none)."""
    keys: list[SortKey] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        words = part.split()
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise InvalidValue(f"sort key {part[:60]!r} is not NAME [asc|desc]")
        if not re.fullmatch(r"(?:(?:field|variable)\.)?[A-Za-z_]\w*", words[0]):
            raise InvalidValue(f"sort key {words[0][:60]!r} is not a name, field.NAME or variable.NAME")
        keys.append(SortKey(words[0], len(words) == 2 and words[1].lower() == "desc"))
    if len(keys) > 5:
        raise InvalidValue(f"a sort order has at most 5 keys, not {len(keys)}")
    return tuple(keys)


def sort_token(keys: tuple[SortKey, ...], facts: Facts) -> str:
    """The contact's place by the sort keys as one string whose plain order is the sort order, the
    same in memory and in a database column: per key, numbers before text (text without regard to
    case), a missing value last whichever the direction."""
    out = bytearray()
    for k in keys:
        v = value_of(facts, k.operand)
        if v is None:
            out += b"\x02"
            continue
        n = _number(v)
        if n is not None:
            bits = struct.unpack(">Q", struct.pack(">d", n))[0]
            bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | (1 << 63)
            payload = b"\x00" + bits.to_bytes(8, "big")
        else:
            payload = b"\x01" + v.casefold().encode().replace(b"\x00", b"\x00\xff") + b"\x00\x00"
        if k.descending:
            payload = bytes(255 - b for b in payload)
        out += b"\x01" + payload
    return out.hex()


# ---------------------------------------------------------------------- a campaign's selection

MAX_FILTERS = 50


@attrs.frozen
class Compiled:
    """A campaign's selection ready to apply: the active filter's tree (None: every contact) and the sort keys."""

    filter: Node | None
    sort: tuple[SortKey, ...]

    def selects(self, facts: Facts) -> bool:
        return self.filter is None or matches(self.filter, facts)

    def token(self, facts: Facts) -> str:
        return sort_token(self.sort, facts) if self.sort else ""


NO_SELECTION = Compiled(None, ())


def check_selection(selection: ListSelection) -> None:
    """Every filter parses, the active one is among them, the sort order reads."""
    if len(selection.filters) > MAX_FILTERS:
        raise InvalidValue(f"a campaign has at most {MAX_FILTERS} filters, not {len(selection.filters)}")
    for name, text in selection.filters.items():
        check_text("a filter's name", name, MAX_NAME, allow_empty=False)
        try:
            parse_filter(text)
        except InvalidValue as exc:
            raise InvalidValue(f"filter {name!r}: {str(exc).removeprefix('filter: ')}") from None
    if selection.active is not None and selection.active not in selection.filters:
        known = ", ".join(selection.filters) or "none"
        raise InvalidValue(f"filter {selection.active!r} is not one of the campaign's filters ({known})")
    parse_sort(", ".join(selection.sort))


@functools.lru_cache(maxsize=256)
def compiled(selection: ListSelection) -> Compiled:
    """The selection as applied (parsed once per distinct selection)."""
    node = parse_filter(selection.filters[selection.active]) if selection.active is not None else None
    return Compiled(node, parse_sort(", ".join(selection.sort)))


def contact_facts(key: str, data: ContactData, priority: int, agent: str | None) -> dict[str, Any]:
    """What a filter or sort key may read of a contact."""
    return {
        "name": data.name,
        "key": key,
        "priority": str(priority),
        "agent": agent,
        "time_zone": data.time_zone,
        "fields": data.fields,
        "variables": data.variables,
    }
