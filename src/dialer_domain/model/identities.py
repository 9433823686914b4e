"""Identities: every id the core derives (a campaign from its name, a contact from its key, an agent's
session from the day, a pacing log from the day), and seeded ids for simulations and tests."""

from __future__ import annotations

import random
from collections.abc import Callable
from hashlib import sha1
from uuid import UUID

#: Namespace of every derived id (campaign by name, contact by key, agent session by day).
NAMESPACE = UUID("6f1c5a52-7d0e-4d61-9a0b-4b9a3e2f8c11")


def uuid5(namespace: UUID, name: str) -> UUID:
    """``uuid.uuid5``, the same id, without the library function's import of ``hashlib`` at each
    call (a list import derives an id per contact)."""
    return UUID(bytes=sha1(namespace.bytes + name.encode("utf-8"), usedforsecurity=False).digest()[:16], version=5)


def campaign_id_for(name: str) -> UUID:
    return uuid5(NAMESPACE, f"campaign/{name.strip().casefold()}")


def campaign_name_id_for(name: str) -> UUID:
    """The stream that says which campaign holds a name it was renamed to (a campaign's first name
    is its identity, ``campaign_id_for``)."""
    return uuid5(NAMESPACE, f"campaign-name/{name.strip().casefold()}")


def contact_id_for(campaign_id: UUID, key: str) -> UUID:
    return uuid5(campaign_id, f"contact/{key}")


def agent_session_id_for(agent_id: str, day: str) -> UUID:
    return uuid5(NAMESPACE, f"agent/{agent_id}/{day}")


def pacing_log_id_for(campaign_id: UUID, day: str) -> UUID:
    return uuid5(campaign_id, f"pacing/{day}")


def seeded_ids(seed: int) -> Callable[[], UUID]:
    """Deterministic ids from a seeded generator (simulations, tests)."""
    rng = random.Random(seed)

    def make() -> UUID:
        return UUID(int=rng.getrandbits(128), version=4)

    return make
