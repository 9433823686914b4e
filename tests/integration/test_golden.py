"""Golden logs: for seeds 1 and 2 and each of the five dial modes, a simulated day's event log,
serialised canonically (every event's name, stream, version and state with sorted keys, in log
order), hashes to the value recorded here. A refactoring must keep them; a deliberate change of
behaviour records the new hash in the same commit and says which log changed and why.

Print the current hashes with ``DIALER_GOLDEN_PRINT=1 pytest tests/integration/test_golden.py -s``.
"""

from __future__ import annotations

import hashlib
import os

import orjson
import pytest

from adapters.persistence.eventstore import CattrsMapper, open_event_store
from adapters.telephony.simulated import WorldParams
from dialer_domain.model.values import DialMode
from entrypoints.simulate import SimulationConfig, run_simulation

#: (mode, seed) -> sha256 of the canonical log. Changed deliberately with issue 16's calling hours:
#: each DialAttempted (v2) carries the evidence of the callee's local hours and of the do-not-call
#: lists checked, with the checks ``caller_id_set``, ``callee_local_hours`` and ``not_on_do_not_call``, and the
#: campaign's settings their ``calling_policy``. With those fields
#: taken out again, each log hashed to its earlier value: no event was added, dropped or moved.
#: Then, deliberately, no contact-first call within 72 hours of an abandoned one (Ofcom): in the
#: predictive logs a few abandoned contacts are held back instead of redialled (net +10 and +2 events,
#: their queueing and return to the list); the other eight logs equal their earlier ones without
#: the new check.
GOLDEN: dict[tuple[str, int], str] = {
    ("preview", 1): "90133dc03ee0785fb530e94d8273b4c13071973b63d8134f1763a67fa77d0104",  # 8576 events
    ("preview", 2): "ec75292e19a2dd2ce369d9157f63395b60b2354d39171ae10bb0e71c4f89452a",  # 7868 events
    ("progressive", 1): "450c597e8de0f0342d194f17744ae617b4c2b7a25b37518b1a54bbe202e0bfa2",  # 6626 events
    ("progressive", 2): "4af627568bb98df52fc76711d79383cf7acd8e2c966bdc14d5c16f17e7480463",  # 5938 events
    ("power", 1): "0b6a2634fb021cf0deb6e193bd1ad3895cb39f12e2a8b11cc838613c121bde1e",  # 7305 events
    ("power", 2): "504e745e396291797b420923f996d57df40d54b9b78de528b15ee887146c4cce",  # 6430 events
    ("predictive", 1): "292d99902c0a86992bffcc5de190a3bc264b85f6424199800c49731bae91b86f",  # 7568 events
    ("predictive", 2): "b8b9c9a169f157f827303f09ff44408485b4985c09f6a1420adeb9b531d62c2d",  # 7348 events
    ("auto", 1): "4401509538da0a57a3b3758bb7b3108ca19f1ff08fb570edcba98da1b30cf455",  # 9100 events
    ("auto", 2): "a9177a31aae1d9a5d1786287f003bd15afd3e4a2d5484adb630aa71768ca88bc",  # 8054 events
}

WORLD = WorldParams(p_callback=0.2)


def canonical_hash(store) -> tuple[str, dict[str, int]]:
    mapper = CattrsMapper()
    digest = hashlib.sha256()
    counts: dict[str, int] = {}
    dialled: set[object] = set()
    for r in store.read(0, 10**8):
        if r.event.NAME == "DialAttempted":
            dialled.add(r.event.originator_id)
        stored = mapper.to_stored_event(r.event)
        state = orjson.loads(stored.state)
        digest.update(orjson.dumps([stored.topic, str(stored.originator_id), stored.originator_version, state], option=orjson.OPT_SORT_KEYS))
        digest.update(b"\n")
        counts[stored.topic] = counts.get(stored.topic, 0) + 1
    counts["redials"] = counts.get("DialAttempted", 0) - len(dialled)
    return digest.hexdigest(), counts


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("mode", list(DialMode))
def test_a_simulated_day_makes_the_recorded_log_to_the_byte(mode, seed):
    store = open_event_store("memory:")
    cfg = SimulationConfig(mode=mode, agents=6, contacts=900, hours=2.0, seed=seed, min_redial_seconds=1200, world=WORLD)
    run_simulation(store, cfg)
    digest, counts = canonical_hash(store)
    if os.environ.get("DIALER_GOLDEN_PRINT"):
        print(f'    ("{mode.value}", {seed}): "{digest}",  # {sum(counts.values()) - counts["redials"]} events')
    # the day exercises what the refactoring must keep
    assert counts.get("DialAttempted", 0) > 100 and counts.get("CallbackScheduled", 0) > 0 and counts["redials"] > 0
    assert counts.get("CallEnded", 0) == counts.get("DialAttempted", 0)
    if mode.agent_first:
        assert counts.get("ContactOffered", 0) > 0
    if mode is DialMode.PREDICTIVE or (mode is DialMode.POWER and seed == 1):  # (power's seed 2 happens to have none)
        assert counts.get("CallAbandoned", 0) > 0
    assert GOLDEN[(mode.value, seed)] == digest
