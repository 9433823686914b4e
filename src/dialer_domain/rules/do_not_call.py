"""Do-not-call lists (issue 16): a number on any list in the campaign's scope is never dialled.

The lists live behind the ``DoNotCall`` port (the internal list, imported national registries,
a campaign's own list); the dialler asks it at the moment of dialling, so a number added while its
contact is queued is not dialled. The answer carries every list in scope with its revision: the
evidence a dial records (``DialAttempted.dnc_checked``). A pacing run about to dial several
contacts asks for their numbers at once (``check_many``), within the step that dials them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol
from uuid import UUID

import attrs

from dialer_domain.model.errors import NotAllowed


@attrs.frozen
class DncVerdict:
    #: every list in the campaign's scope, as "name@revision", in name order
    checked: tuple[str, ...]
    #: the lists that hold the number
    listed_on: tuple[str, ...]

    @classmethod
    def of(cls, lists: Iterable[tuple[str, int, bool]]) -> DncVerdict:
        """From (list name, revision, whether it holds the number)."""
        rows = sorted(lists)
        return cls(tuple(f"{name}@{revision}" for name, revision, _ in rows), tuple(name for name, _, hit in rows if hit))

    @property
    def reason(self) -> str | None:
        if not self.listed_on:
            return None
        return f"the number is on the do-not-call list {', '.join(self.listed_on)}"


#: The internal list: numbers added by hand, by the API, or by an agent's disposition.
INTERNAL = "internal"


class DoNotCall(Protocol):
    """The do-not-call lists (a port: ``service_layer.ports`` lists it)."""

    def check(self, e164: str, campaign_id: UUID) -> DncVerdict:
        """Every list in the campaign's scope (every campaign's and its own), and those holding ``e164``."""
        ...

    def check_many(self, numbers: Sequence[str], campaign_id: UUID) -> Mapping[str, DncVerdict]:
        """``check`` for each of ``numbers``, asked at once."""
        ...

    def add(self, name: str, numbers: Iterable[str], *, by: str, reason: str) -> object:
        """Add numbers to list ``name`` (the internal list is ``INTERNAL``), every campaign's."""
        ...


class NoLists:
    """No do-not-call list at all: for tests. The live service and the CLI are wired with the
    store's lists (``adapters.lists.dnc``)."""

    def check(self, e164: str, campaign_id: UUID) -> DncVerdict:
        return DncVerdict((), ())

    def check_many(self, numbers: Sequence[str], campaign_id: UUID) -> Mapping[str, DncVerdict]:
        return dict.fromkeys(numbers, DncVerdict((), ()))

    def add(self, name: str, numbers: Iterable[str], *, by: str, reason: str) -> object:
        raise NotAllowed("no do-not-call lists are wired in: the number cannot be added")


@attrs.frozen
class AskedTogether:
    """The lists, with the verdicts one step asked for at once (``check_many``): those numbers are
    answered from them, any other number is asked of the lists. Made and dropped within the step
    that asked, so a number added to a list before the step is always counted."""

    lists: DoNotCall
    campaign_id: UUID
    verdicts: Mapping[str, DncVerdict]

    def check(self, e164: str, campaign_id: UUID) -> DncVerdict:
        verdict = self.verdicts.get(e164) if campaign_id == self.campaign_id else None
        return verdict if verdict is not None else self.lists.check(e164, campaign_id)

    def check_many(self, numbers: Sequence[str], campaign_id: UUID) -> Mapping[str, DncVerdict]:
        return self.lists.check_many(numbers, campaign_id)

    def add(self, name: str, numbers: Iterable[str], *, by: str, reason: str) -> object:
        return self.lists.add(name, numbers, by=by, reason=reason)
