"""What a fold reads of the log (ADR 0037), and what folds applied to the same events read of them
together.

A fold names ``EVENTS``, every class its ``apply`` looks at, and ``READS``, for some of them the
fields it reads besides every event's stream, version and time; a class it looks at and has not
declared is read whole. A store may then decode only the declared fields (``EventStore.read``'s
``reads``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from dialer_domain.model.events import DomainEvent

Reads = Mapping[type[DomainEvent], tuple[str, ...]]


def reads_together(classes: Iterable[type[DomainEvent]], *folds: tuple[Sequence[type[DomainEvent]], Reads]) -> Reads:
    """The declaration of folds applied to the same events, each given as its ``EVENTS`` and its
    ``READS``, for each of ``classes``:
    - a class no fold looks at: nothing besides the stream, version and time;
    - a class every fold that looks at it has declared: the fields any of them reads, in the
      order they first name them;
    - a class a fold looks at and has not declared is left out: it is read whole."""
    out: dict[type[DomainEvent], tuple[str, ...]] = {}
    for cls in classes:
        names: dict[str, None] = {}
        whole = False
        for looks_at, declaration in folds:
            if cls not in looks_at:
                continue
            declared = declaration.get(cls)
            if declared is None:
                whole = True
                break
            names.update(dict.fromkeys(declared))
        if not whole:
            out[cls] = tuple(names)
    return MappingProxyType(out)
