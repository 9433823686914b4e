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

#: (mode, seed) -> sha256 of the canonical log. Changed deliberately with issue 16:
#: * each DialAttempted (v2) carries the evidence of the callee's local hours, the do-not-call
#:   lists checked and whether it keeps a callback, with the checks ``dials_left``,
#:   ``caller_id_set``, ``not_abandoned_recently``, ``callee_local_hours`` and
#:   ``not_on_do_not_call``; the campaign's settings carry ``calling_policy`` and
#:   ``max_dials_per_contact``. With those taken out again, eight logs hash to their earlier value.
#: * no contact-first call within 72 hours of an abandoned one (Ofcom): in the two predictive logs
#:   a few abandoned contacts are held back instead of redialled (net +10 and +2 events: their
#:   queueing and return to the list).
GOLDEN: dict[tuple[str, int], str] = {
    ("preview", 1): "fc4dff627a30301e299a6bd7e68f855af5d68a1a8a2a0862b1ebcede3a395536",  # 8576 events
    ("preview", 2): "b067a59d504aa7eb55ea20ace5549fb010dc1d51fc487c98a55d36d5ee1c02bc",  # 7868 events
    ("progressive", 1): "f0474a4fd144a9e0f28264693faa086b2d68ce798393b077e0426cb30ffb9591",  # 6626 events
    ("progressive", 2): "6e48c8702b4eaaed8bfcd1878d667d2cb767bdf69a1254d837b96fc0509c4b17",  # 5938 events
    ("power", 1): "57d4781cf42bd6a6af31915427488d7b1295e90ebd0d42c7f765f0f75dd9dfed",  # 7305 events
    ("power", 2): "cc64819998699f4608991e21146c4d21b9e2e70f35c062db9c497a5943604684",  # 6430 events
    ("predictive", 1): "f69c0f4162c4a75ba558f5a45d68e2e217efdc1f2f614c22b201cc53dc77abb5",  # 7568 events
    ("predictive", 2): "6b9f9a00f6c34c7900fd35ea42dbe53e0de430db6b77a47ebb76e4dc1945f9f1",  # 7348 events
    ("auto", 1): "906151d55b9f626429c1e0f99fedf7a53139ccd91c64e87261d7e637c657a96e",  # 9100 events
    ("auto", 2): "4f5e8d90a6f1f96c8ad629697b696816403544c16a496d713ec48d2f1fa6a3cd",  # 8054 events
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
