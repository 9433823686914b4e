"""Value objects and enumerations of the dialer's language."""

from __future__ import annotations

import enum
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, time
from typing import Any, TypeVar

import attrs

from dialer_domain.model.errors import InvalidValue
from dialer_domain.rules.callbacks import CALLBACK_WINDOW_SECONDS

K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(Mapping[K, V]):
    """An immutable, hashable mapping that keeps its order: what a frozen event or value holds
    where it would otherwise hold a (mutable) dict. It equals any mapping with the same items."""

    __slots__ = ("_hash", "_items")

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._items: dict[K, V] = dict(items)
        self._hash: int | None = None

    def __getitem__(self, key: K) -> V:
        return self._items[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._items.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({self._items!r})"

    def as_dict(self) -> dict[K, V]:
        """A new dict of the items, in order."""
        return dict(self._items)

    def __reduce__(self) -> tuple[type[FrozenMap[K, V]], tuple[dict[K, V]]]:
        return (FrozenMap, (self._items,))


def text_map(items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> FrozenMap[str, str]:
    return items if isinstance(items, FrozenMap) else FrozenMap(items)


def number_map(items: Mapping[str, float] | Iterable[tuple[str, float]] = ()) -> FrozenMap[str, float]:
    return items if isinstance(items, FrozenMap) else FrozenMap(items)


class DialMode(enum.StrEnum):
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    POWER = "power"
    PREDICTIVE = "predictive"
    AUTO = "auto"

    @property
    def agent_first(self) -> bool:
        return self in (DialMode.PREVIEW, DialMode.AUTO)


class CampaignStatus(enum.StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    AUTOMATIC = "automatic"


class CallOutcome(enum.StrEnum):
    RINGING = "ringing"
    ANSWERED_HUMAN = "answered_human"
    ANSWERED_MACHINE = "answered_machine"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    REJECTED = "rejected"  # declined by the called party (SIP 603, Twilio's busy on a decline)
    INVALID_NUMBER = "invalid_number"  # the network says the number does not exist (that number is not dialled again this round)
    CANCELLED = "cancelled"  # hung up by our side before an answer (R6 when the agent leg left)
    COMPLETED = "completed"  # a connected call that ended normally
    ABANDONED = "abandoned"

    @property
    def is_answer(self) -> bool:
        return self in (CallOutcome.ANSWERED_HUMAN, CallOutcome.ANSWERED_MACHINE)


class ContactState(enum.StrEnum):
    NEW = "new"
    PENDING = "pending"  # attempted, waiting for its redial time
    QUEUED = "queued"
    OFFERED = "offered"  # agent-first: reserved for an agent
    DIALLING = "dialling"
    CONNECTED = "connected"
    CALLBACK_SCHEDULED = "callback_scheduled"
    DONE = "done"
    EXHAUSTED = "exhausted"
    WITHDRAWN = "withdrawn"


class AgentState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    OFFERED = "offered"
    RESERVED = "reserved"
    TALKING = "talking"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


PAUSE_REASONS: tuple[str, ...] = ("not_ready", "admin", "break", "lunch", "training", "meeting", "other")

#: R18's six default wrap-up codes; every campaign keeps them (their properties may change).
DEFAULT_DISPOSITIONS: tuple[str, ...] = (
    "answering_machine",
    "busy",
    "fax",
    "no_answer",
    "sale",
    "voicemail",
)
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@attrs.frozen(kw_only=True)
class Disposition:
    """A wrap-up code (R18) and what it does: whether it counts as a success, whether it ends the
    contact (no further attempt, whatever is left), whether it books a callback (the agent must
    give a time), whether it puts the number called on the internal do-not-call list."""

    code: str
    label: str = ""
    success: bool = False
    ends_contact: bool = False
    callback: bool = False
    do_not_call: bool = False

    def __attrs_post_init__(self) -> None:
        if not _CODE.match(self.code):
            raise InvalidValue(f"disposition code {self.code[:50]!r} must be lower-case letters, digits and _ (up to 40), starting with a letter")
        if len(self.label) > 200 or any(ord(ch) < 32 or ord(ch) == 127 for ch in self.label):
            raise InvalidValue(f"disposition {self.code}'s label must be up to 200 characters without control characters")
        if self.callback and self.ends_contact:
            raise InvalidValue(f"disposition {self.code} cannot both book a callback and end the contact")


#: The defaults' properties: a sale is a success and ends the contact; the others change nothing.
DEFAULT_DISPOSITION_SET: tuple[Disposition, ...] = tuple(
    Disposition(code=c, label=c.replace("_", " "), success=c == "sale", ends_contact=c == "sale") for c in DEFAULT_DISPOSITIONS
)


#: The codes simulated agents use (``dialer simulate``, ``serve --demo``): the defaults, a refusal
#: that ends the contact and a code that books a callback.
SIMULATED_DISPOSITIONS: tuple[Disposition, ...] = (
    *DEFAULT_DISPOSITION_SET,
    Disposition(code="not_interested", label="not interested", ends_contact=True),
    Disposition(code="callback", label="call back", callback=True),
)


def as_dispositions(items: Iterable[Disposition | str | Mapping[str, Any]]) -> tuple[Disposition, ...]:
    """A campaign's wrap-up codes from what is given: a Disposition, a bare code (a default keeps
    its properties, another gets none) or a mapping of its fields (an API body)."""
    defaults = {d.code: d for d in DEFAULT_DISPOSITION_SET}
    out: list[Disposition] = []
    for item in items:
        if isinstance(item, Disposition):
            out.append(item)
        elif isinstance(item, str):
            out.append(defaults.get(item, Disposition(code=item, label=item.replace("_", " "))))
        else:
            unknown = sorted(set(item) - {f.name for f in attrs.fields(Disposition)})
            if unknown:
                fields = "code, label, success, ends_contact, callback, do_not_call"
                raise InvalidValue(f"a disposition has no field {', '.join(unknown)}; it has {fields}")
            try:
                out.append(Disposition(**item))
            except TypeError as exc:
                raise InvalidValue(f"disposition {item.get('code', '')!r}: {exc}") from None
    return tuple(out)

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@attrs.frozen
class PhoneNumber:
    """One number of a contact, already normalised to E.164 by the list adapter."""

    e164: str
    label: str = ""

    def __attrs_post_init__(self) -> None:
        if not _E164.match(self.e164):
            raise InvalidValue(f"phone number {self.e164!r} is not in E.164 form (+ and 7-15 digits)")


@attrs.frozen
class ContactData:
    """What the agent sees on the screen pop (R9): name, fields and free variables."""

    name: str = ""
    time_zone: str | None = None
    fields: FrozenMap[str, str] = attrs.field(factory=FrozenMap, converter=text_map)
    variables: FrozenMap[str, str] = attrs.field(factory=FrozenMap, converter=text_map)


@attrs.frozen
class Period:
    start: time
    end: time

    def __attrs_post_init__(self) -> None:
        if not self.start < self.end:
            raise InvalidValue(f"opening period {self.start:%H:%M}-{self.end:%H:%M} must end after it starts")

    def contains(self, t: time) -> bool:
        return self.start <= t < self.end


@attrs.frozen
class DateException:
    """A date whose hours differ: ``periods`` empty means closed all day, else these periods
    replace the normal ones (running outside the normal hours or not inside them)."""

    day: date
    periods: tuple[Period, ...] = ()


def _week(items: Mapping[int, tuple[Period, ...]] | Iterable[tuple[int, tuple[Period, ...]]] = ()) -> FrozenMap[int, tuple[Period, ...]]:
    return items if isinstance(items, FrozenMap) else FrozenMap(items)


@attrs.frozen
class OpeningHours:
    """Days of the week (0 = Monday) with one or more periods, dated exceptions, a time zone."""

    time_zone: str
    weekly: FrozenMap[int, tuple[Period, ...]] = attrs.field(factory=FrozenMap, converter=_week)
    exceptions: tuple[DateException, ...] = ()

    def __attrs_post_init__(self) -> None:
        for day, periods in self.weekly.items():
            if not 0 <= day <= 6:
                raise InvalidValue(f"weekday {day} is not 0 (Monday) .. 6 (Sunday)")
            _check_no_overlap(periods)
        for exc in self.exceptions:
            _check_no_overlap(exc.periods)

    def periods_on(self, day: date) -> tuple[Period, ...]:
        for exc in self.exceptions:
            if exc.day == day:
                return exc.periods
        return self.weekly.get(day.weekday(), ())


def _check_no_overlap(periods: tuple[Period, ...]) -> None:
    ordered = sorted(periods, key=lambda p: p.start)
    for a, b in itertools.pairwise(ordered):
        if b.start < a.end:
            raise InvalidValue(f"opening periods {a.start:%H:%M}-{a.end:%H:%M} and {b.start:%H:%M}-{b.end:%H:%M} overlap")


def _positive(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value <= 0:
        raise InvalidValue(f"{attribute.name} must be positive, got {value}")


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise InvalidValue(f"{attribute.name} must not be negative, got {value}")


def _optional_positive(_: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value <= 0:
        raise InvalidValue(f"{attribute.name} must be positive (or none), got {value}")


def _rate(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0 < value < 1:
        raise InvalidValue(f"{attribute.name} must be between 0 and 1, got {value}")


def _optional_rate(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not 0 < value < 1:
        raise InvalidValue(f"{attribute.name} must be between 0 and 1 (or none), got {value}")


#: The calling-hours policies a campaign may follow (``rules.calling_hours.POLICIES``).
CALLING_POLICY_CODES = ("us_tcpa", "fr", "none")


@attrs.frozen(kw_only=True)
class CampaignSettings:
    """The per-campaign configuration of R5 (and the pacing knobs of R2)."""

    skill: str
    max_ring_seconds: int = attrs.field(default=25, validator=_positive)
    max_call_seconds: int = attrs.field(default=3600, validator=_positive)
    attempts_per_number: int = attrs.field(default=3, validator=_positive)
    max_attempts_per_contact: int = attrs.field(default=6, validator=_positive)
    wrapup_seconds: int = attrs.field(default=15, validator=_non_negative)
    min_redial_seconds: int = attrs.field(default=3600, validator=_non_negative)
    #: R5: a number is not dialled again this round after this many calls ending so (None: attempts_per_number alone)
    attempts_no_answer: int | None = attrs.field(default=None, validator=_optional_positive)
    attempts_busy: int | None = attrs.field(default=None, validator=_optional_positive)
    attempts_dropped: int | None = attrs.field(default=None, validator=_optional_positive)  # answered, no agent free (abandoned)
    #: R8: after a number is not answered, how long before the contact's next number (default: none beyond pacing)
    next_number_delay_seconds: int = attrs.field(default=0, validator=_non_negative)
    caller_id_number: str = ""
    caller_id_name: str = ""
    auto_answer: bool = True
    power_ratio_ready: float = attrs.field(default=1.7, validator=_non_negative)
    power_ratio_wrapup: float = attrs.field(default=0.1, validator=_non_negative)
    target_abandon_rate: float = attrs.field(default=0.03, validator=_rate)
    preview_timeout_seconds: int = attrs.field(default=15, validator=_positive)
    min_agents: int = attrs.field(default=1, validator=_positive)
    callback_window_seconds: int = attrs.field(default=CALLBACK_WINDOW_SECONDS, validator=_positive)
    #: R12: how long a personal callback due waits for its own agent, then "any_agent" takes it or it stays "missed"
    personal_callback_wait_seconds: int = attrs.field(default=300, validator=_non_negative)
    personal_callback_after_wait: str = "any_agent"
    #: a callback booked outside the hours: "refuse" (with the next opening suggested) or "move" there (R12)
    callback_outside_hours: str = "refuse"
    extensions: tuple[str, ...] = ()
    #: the wrap-up codes and what each does (R18): the six defaults and the campaign's own
    dispositions: tuple[Disposition, ...] = attrs.field(default=DEFAULT_DISPOSITION_SET, converter=as_dispositions)
    max_per_click: int = attrs.field(default=10, validator=_positive)  # R13: contacts an agent obtains per click
    max_held: int = attrs.field(default=50, validator=_positive)  # R13: no more once an agent holds this many
    max_dials_per_contact: int = attrs.field(default=20, validator=_positive)  # every dial, across callbacks and rounds
    default_region: str = "DK"  # for numbers written without +country
    calling_policy: str = "us_tcpa"  # the called party's local hours (rules.calling_hours)
    #: the rolling abandon rate (24 hours and 30 days) pacing never lets pass; None: no cap (rules.abandon_cap)
    abandon_cap: float | None = attrs.field(default=0.03, validator=_optional_rate)

    def __attrs_post_init__(self) -> None:
        if not self.skill.strip():
            raise InvalidValue("skill must not be empty")
        if self.caller_id_number and not _E164.match(self.caller_id_number):
            raise InvalidValue(f"caller_id_number {self.caller_id_number!r} is not in E.164 form")
        if self.personal_callback_after_wait not in ("any_agent", "missed"):
            raise InvalidValue(f"personal_callback_after_wait {self.personal_callback_after_wait!r} is not any_agent or missed")
        if self.callback_outside_hours not in ("refuse", "move"):
            raise InvalidValue(f"callback_outside_hours {self.callback_outside_hours!r} is not refuse or move")
        if self.calling_policy not in CALLING_POLICY_CODES:
            raise InvalidValue(f"calling_policy {self.calling_policy!r} is not one of {', '.join(CALLING_POLICY_CODES)}")
        codes = [d.code for d in self.dispositions]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise InvalidValue(f"dispositions name {', '.join(twice)} twice")
        missing = [d for d in DEFAULT_DISPOSITIONS if d not in codes]
        if missing:
            raise InvalidValue(f"dispositions must keep the defaults; missing {', '.join(missing)}")

    def disposition(self, code: str) -> Disposition:
        """The campaign's wrap-up code ``code``; refused when it has none by that name."""
        for d in self.dispositions:
            if d.code == code:
                return d
        raise InvalidValue(f"disposition {code[:50]!r} is not one of this campaign's codes: {', '.join(d.code for d in self.dispositions)}")


@attrs.frozen(kw_only=True)
class ListSelection:
    """R10: a campaign's named filters (name: expression), the one active (None: every contact),
    and its sort order ("operand asc|desc", applied inside R11's tiers). Checked by
    ``rules.selection.check_selection`` when a campaign sets it."""

    filters: FrozenMap[str, str] = attrs.field(factory=FrozenMap, converter=text_map)
    active: str | None = None
    sort: tuple[str, ...] = ()


class ImportMode(enum.StrEnum):
    REPLACE = "replace"
    APPEND = "append"


@attrs.frozen
class GuideQuestion:
    """One question of a campaign's call guide (R18) and the answers the agent may pick from
    (none: a free answer)."""

    question: str
    answers: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"question": self.question, "answers": list(self.answers)}


@attrs.frozen(kw_only=True)
class ListMapping:
    """How a campaign's list files map to contacts (R7): which columns are the key, the numbers
    (in dialling order, R8), the name, time zone, priority and assigned agent; which are free
    variables (all other columns when ``variables`` is empty); variables common to the whole list."""

    key: str
    phones: tuple[str, ...]
    name: str | None = None
    time_zone: str | None = None
    priority: str | None = None
    agent: str | None = None
    variables: tuple[str, ...] = ()
    common: FrozenMap[str, str] = attrs.field(factory=FrozenMap, converter=text_map)
    delimiter: str = ","

    def __attrs_post_init__(self) -> None:
        if not self.key.strip():
            raise InvalidValue("the list mapping needs a key column")
        if not self.phones:
            raise InvalidValue("the list mapping needs at least one phone number column")
        if len(self.delimiter) != 1:
            raise InvalidValue(f"a delimiter is one character, got {self.delimiter!r}")
        named = [self.key, *self.phones, *(c for c in (self.name, self.time_zone, self.priority, self.agent) if c)]
        if len(set(named)) != len(named):
            raise InvalidValue(f"a column is mapped twice: {', '.join(named)}")


def check_priority(priority: int, what: str = "priority") -> int:
    """R1, R11: campaign and contact priorities run 1..10, 10 highest."""
    if not 1 <= priority <= 10:
        raise InvalidValue(f"{what} must be 1..10 (10 highest), got {priority}")
    return priority


#: A call is let ring at least this long before the dialler gives up on it: the US Telemarketing
#: Sales Rule (16 CFR 310.4(b)(4)(i), 15 seconds or four rings) and Ofcom's persistent-misuse policy.
MIN_RING_SECONDS = 15


def check_ring_time(seconds: int) -> int:
    """Refused when a campaign is configured (stored settings are read as they were)."""
    if seconds < MIN_RING_SECONDS:
        raise InvalidValue(f"max_ring_seconds must be at least {MIN_RING_SECONDS} (a call rings 15 s before it is given up), got {seconds}")
    return seconds
