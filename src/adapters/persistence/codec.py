"""Between domain events (attrs classes) and the JSON state stored for them: the cattrs converter,
and the functions generated per event class on top of it (ADR 0038): ``event_encoder``,
``event_decoder`` and, for a fold that declares the fields it reads, ``partial_decoder``
(ADR 0037). cattrs stays the reference: the generated functions give its bytes, its events and its
errors, and hand it what they do not convert themselves.

Decoding is most of a rebuild's time (``bench/rebuild``), so the converter's hooks for the types
events use most are made once per type and called directly: cattrs' generic paths for an optional
field and an enum ask its dispatcher for the inner type's hook on every value.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from datetime import date, datetime, time
from functools import lru_cache
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin
from uuid import UUID

import attrs
import cattrs
import orjson
from cattrs.preconf.json import make_converter

from dialer_domain.model.events import ALL_EVENTS
from dialer_domain.model.values import FrozenMap, PhoneNumber

Hook = Callable[[Any, Any], Any]


@lru_cache(maxsize=1 << 16)
def uuid_of(text: str) -> UUID:
    """Ids repeat a lot in a log (campaigns, calls, decisions): parse each once."""
    return UUID(text)


def _is_frozen_map(t: Any) -> bool:
    return t is FrozenMap or get_origin(t) is FrozenMap


def _frozen_map_unhook(conv: cattrs.Converter, t: Any) -> Callable[[Any], Any]:
    """A frozen map as a dict of its values unstructured; of text values (a contact's fields and
    variables), which unstructure as themselves, the same dict made without a call per value."""
    args = get_args(t)
    if len(args) == 2 and args[1] is str:
        return lambda m: m.as_dict() if m.__class__ is FrozenMap else dict(m)
    return lambda m: {k: conv.unstructure(v) for k, v in m.items()}


def _frozen_map_hook(conv: cattrs.Converter, t: Any) -> Hook:
    args = get_args(t) or (Any, Any)
    as_dict = dict[args[0], args[1]]  # type: ignore[valid-type]
    inner = conv.get_structure_hook(as_dict)
    return lambda v, _: FrozenMap(inner(v, as_dict))


def _optional_of(t: Any) -> Any:
    """``X`` of ``X | None`` (one type besides None), else None."""
    if get_origin(t) not in (Union, UnionType):
        return None
    args = get_args(t)
    if len(args) != 2 or NoneType not in args:
        return None
    return args[0] if args[1] is NoneType else args[1]


def _optional_hook(conv: cattrs.Converter, t: Any) -> Hook:
    """``X | None``: None, or ``X``'s own hook, looked up once (cattrs' ``_structure_optional``
    looks it up for every value)."""
    inner_type = _optional_of(t)
    inner = conv.get_structure_hook(inner_type)
    return lambda v, _: None if v is None else inner(v, inner_type)


def _enum_hook(t: type[enum.Enum]) -> Hook:
    """An enum member by its value from a table (the enum's own call is a slower path); a value the
    enum does not have still fails as the enum's call fails."""
    table = {m.value: m for m in t}

    def structure(v: Any, _: Any) -> Any:
        try:
            return table[v]
        except (KeyError, TypeError):
            return t(v)

    return structure


def _enums_in(classes: Iterable[Any]) -> set[type[enum.Enum]]:
    """The enums the fields of ``classes`` use, through nested attrs classes and type arguments."""
    found: set[type[enum.Enum]] = set()
    seen: set[int] = set()

    def walk(t: Any) -> None:
        if id(t) in seen:
            return
        seen.add(id(t))
        if isinstance(t, type) and issubclass(t, enum.Enum):
            found.add(t)
            return
        if isinstance(t, type) and attrs.has(t):
            for f in attrs.fields(attrs.resolve_types(t)):
                walk(f.type)
        for a in get_args(t):
            walk(a)

    for cls in classes:
        walk(cls)
    return found


def make_event_converter() -> cattrs.Converter:
    conv = make_converter(detailed_validation=False)
    conv.register_unstructure_hook(UUID, str)
    conv.register_structure_hook(UUID, lambda v, _: v if isinstance(v, UUID) else uuid_of(v))
    conv.register_unstructure_hook(datetime, lambda d: d.isoformat())
    conv.register_structure_hook(datetime, lambda v, _: v if isinstance(v, datetime) else datetime.fromisoformat(v))
    conv.register_unstructure_hook(date, lambda d: d.isoformat())
    conv.register_structure_hook(date, lambda v, _: v if isinstance(v, date) else date.fromisoformat(v))
    # homogeneous tuples are common in events; a direct hook beats cattrs' generic tuple path
    conv.register_structure_hook_func(lambda t: t == tuple[str, ...], lambda v, _: tuple(v))
    conv.register_structure_hook_func(
        lambda t: t == tuple[PhoneNumber, ...], lambda v, _: tuple([PhoneNumber(n["e164"], n.get("label", "")) for n in v])
    )
    # frozen mappings are stored as JSON objects, exactly as the dicts they replaced
    conv.register_unstructure_hook_factory(_is_frozen_map, lambda t: _frozen_map_unhook(conv, t))
    conv.register_structure_hook_factory(_is_frozen_map, lambda t: _frozen_map_hook(conv, t))
    conv.register_unstructure_hook(time, lambda t: t.isoformat())
    conv.register_structure_hook(time, lambda v, _: v if isinstance(v, time) else time.fromisoformat(v))
    conv.register_structure_hook_factory(lambda t: _optional_of(t) is not None, lambda t: _optional_hook(conv, t))
    # by class: the events' enums are ``StrEnum``s, which cattrs would otherwise take for ``str``
    for e in _enums_in(ALL_EVENTS):
        conv.register_structure_hook(e, _enum_hook(e))
    return conv


def event_decoder(conv: cattrs.Converter, cls: type[Any]) -> Hook:
    """``cls``'s structure hook for a converter of :func:`make_event_converter`, with the common
    conversions inlined: a stored state's field of the usual JSON type (a UUID or a datetime as
    text, an enum's value, a plain str or int) is converted in the function's own code, not through
    a call of the field's hook, and anything else goes to that hook as cattrs' own function would
    send it. A state it cannot read (a default left out, a bad value) is read again by cattrs'
    function, which gives its result or its error: so the result is cattrs', only sooner."""
    ns = _namespace(cls, __slow=conv.get_structure_hook(cls))
    args = []
    for i, f in enumerate(attrs.fields(attrs.resolve_types(cls))):
        if f.init:
            args.append(f"{f.alias}={_inline(conv, f.type, f'(v{i} := o[{f.name!r}])', f'v{i}', f'_{i}', ns)}")
    return _compiled("event decoder", cls, f"return __cl({', '.join(args)})\n", "__slow(o, __cl)", ns)


def _namespace(cls: type[Any], **more: Any) -> dict[str, Any]:
    return {"__cl": cls, "uuid_of": uuid_of, "UUID": UUID, "_fromiso": datetime.fromisoformat, **more}


def _compiled(kind: str, cls: type[Any], body: str, otherwise: str, ns: dict[str, Any]) -> Hook:
    """``def decode(o, _=None)`` running the lines of ``body``, and returning ``otherwise`` if they raise."""
    inner = "".join(f"        {line}\n" for line in body.splitlines())
    src = f"def decode(o, _=None):\n    try:\n{inner}    except Exception:\n        return {otherwise}\n"
    exec(compile(src, f"<{kind} {cls.__module__}.{cls.__qualname__}>", "exec"), ns)  # our own text, made from the class's fields
    decode: Hook = ns["decode"]
    return decode


def _inline(conv: cattrs.Converter, t: Any, first: str, v: str, key: str, ns: dict[str, Any]) -> str:
    """An expression of field type ``t`` whose condition reads the value as ``first`` (which binds
    it to ``v``) and converts it as the converter's hook for ``t`` does."""
    ns[f"h{key}"], ns[f"t{key}"] = conv.get_structure_hook(t), t
    hook = f"h{key}({v}, t{key})"
    if t in (str, int, float, bool):
        return f"({v} if {first}.__class__ is {t.__name__} else {t.__name__}({v}))"
    if t is UUID:
        return f"({v} if {first}.__class__ is UUID else uuid_of({v}) if {v}.__class__ is str else {hook})"
    if t is datetime:
        return f"(_fromiso({v}) if {first}.__class__ is str else {hook})"
    if isinstance(t, type) and issubclass(t, enum.Enum):
        ns[f"e{key}"] = {m.value: m for m in t}
        return f"(e{key}[{v}] if {first}.__class__ is str and {v} in e{key} else {hook})"
    if t == tuple[str, ...]:
        return f"(tuple({v}) if {first}.__class__ is list else {hook})"
    if isinstance(t, type) and attrs.has(t):  # a value inside the event: its own decoder
        ns[f"n{key}"] = event_decoder(conv, t)
        return f"(n{key}({v}) if {first}.__class__ is dict else {hook})"
    inner = _optional_of(t)
    if inner is not None:
        return f"(None if {first} is None else {_inline(conv, inner, v, v, key + '_', ns)})"
    return f"h{key}({first}, t{key})"


def partial_decoder(conv: cattrs.Converter, cls: type[Any], names: Iterable[str]) -> Hook:
    """A decoder of ``cls`` that sets only the fields ``names`` (and every event's stream, version
    and time), for a fold that declares what it reads (``StatisticsFold.READS``, ADR 0037): each
    is converted as :func:`event_decoder` converts it, the rest of the state is not read, and an
    object's other fields stay unset (reading one raises ``AttributeError``). A state it cannot
    read is decoded whole, which gives the whole event or the error. A field whose class converts
    or checks it, or a class with a post-init, cannot be read this way."""
    fields = attrs.fields_dict(attrs.resolve_types(cls))
    ns = _namespace(cls, __full=event_decoder(conv, cls), __new=object.__new__, __set=object.__setattr__)
    if hasattr(cls, "__attrs_post_init__"):
        raise ValueError(f"{cls.__qualname__} has a post-init: it is decoded whole")
    lines = []
    for i, name in enumerate(dict.fromkeys(("originator_id", "originator_version", "timestamp", *names))):
        f = fields.get(name)
        if f is None or not f.init:
            raise ValueError(f"{cls.__qualname__} has no field {name!r} to read")
        if f.converter is not None or f.validator is not None:
            raise ValueError(f"{cls.__qualname__}.{name} is converted or checked by its class: it is decoded whole")
        lines.append(f"__set(e, {name!r}, {_inline(conv, f.type, f'(v{i} := o[{name!r}])', f'v{i}', f'_{i}', ns)})\n")
    return _compiled("partial decoder", cls, "e = __new(__cl)\n" + "".join(lines) + "return e\n", "__full(o)", ns)


def event_encoder(conv: cattrs.Converter, cls: type[Any]) -> Callable[[Any], bytes]:
    """The JSON state of an event of ``cls``, byte for byte what cattrs' unstructuring and
    ``orjson.dumps`` of its dict give (``CattrsMapper.to_stored_event`` before, and the test's
    reference): every field but the stream and the version, in the class's order, then ``"_v"``.
    orjson writes the values it knows as cattrs' hooks would (ids as text, enums by value, tuples as
    lists); datetimes, dates and times come to ``default`` and are written by ``isoformat`` as
    the hooks write them; anything else (a ``FrozenMap``, a value class) is cattrs' own.

    Where a field's type says what ``default`` would be given (a datetime, a value class, a tuple
    of value classes), the function converts it itself, as ``default`` would, without orjson's
    call back; a value that does not fit its type sends the whole event the plain way."""
    fields = [f for f in attrs.fields(attrs.resolve_types(cls)) if f.name not in ("originator_id", "originator_version")]
    ns = _namespace(cls, _dumps=orjson.dumps, _default=_encode_default(conv), _option=_ENCODE_OPTIONS)
    plain = "".join(f"{f.name!r}: e.{f.name}, " for f in fields)
    known = "".join(f"{f.name!r}: {_encoded(conv, f.type, f'e.{f.name}', f'_{i}', ns)}, " for i, f in enumerate(fields))
    dump = "_dumps({{{}'_v': {!r}}}, default=_default, option=_option)"
    src = (
        f"def encode(e):\n    try:\n        return {dump.format(known, cls.VERSION)}\n"
        f"    except Exception:\n        return {dump.format(plain, cls.VERSION)}\n"
    )
    exec(compile(src, f"<event encoder {cls.__module__}.{cls.__qualname__}>", "exec"), ns)  # our own text, made from the class's fields
    encode: Callable[[Any], bytes] = ns["encode"]
    return encode


_ENCODE_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def _encoded(conv: cattrs.Converter, t: Any, v: str, key: str, ns: dict[str, Any]) -> str:
    """An expression of field value ``v`` (of type ``t``) as orjson is to write it: what
    ``default`` gives for a datetime (its ``isoformat``) and for a value class or a tuple of them
    (cattrs' hook of the class); anything else as it is."""
    args = get_args(t)
    if t is datetime:
        return f"{v}.isoformat()"
    if isinstance(t, type) and attrs.has(t):
        ns[f"u{key}"] = conv.get_unstructure_hook(t)
        return f"u{key}({v})"
    if get_origin(t) is tuple and len(args) == 2 and args[1] is Ellipsis and isinstance(args[0], type) and attrs.has(args[0]):
        ns[f"u{key}"] = conv.get_unstructure_hook(args[0])
        return f"[u{key}(x) for x in {v}]"
    return v


def _encode_default(conv: cattrs.Converter) -> Callable[[Any], Any]:
    hooks: dict[type[Any], Callable[[Any], Any]] = {}

    def default(value: Any) -> Any:
        if isinstance(value, (datetime, date, time)):
            return value.isoformat()
        if isinstance(value, FrozenMap):  # the converter's hook makes it a dict of its values, which orjson writes as it does
            return value.as_dict()
        hook = hooks.get(type(value))
        if hook is None:
            hook = hooks[type(value)] = conv.get_unstructure_hook(type(value))
        unstructured = hook(value)
        if unstructured is value:
            raise TypeError(f"{type(value).__name__} cannot be stored in an event")
        return unstructured

    return default
