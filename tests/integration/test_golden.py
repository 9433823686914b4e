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
GOLDEN: dict[tuple[str, int], str] = {
    ("preview", 1): "49a69dc5e07de4737e52139ed07acb83cf904147ecbeab45230562595c4538da",  # 8576 events
    ("preview", 2): "d75977c52791d9b63878f1241f1442d0fa146bc5d36f3e556603e5339ff4954d",  # 7868 events
    ("progressive", 1): "2928fd184a8476f6e6ad6db47a178c18a8c1f80b6efc25772b0b7853ca03363c",  # 6626 events
    ("progressive", 2): "7db5b72ad27da70f1d1f62d14ecaebba38a14071b3d500458400d645277fa2e3",  # 5938 events
    ("power", 1): "bbc5ffbed334f629abd1efd4c4891e8496170c5aaabfc29d4874b99e4b9c5b79",  # 7305 events
    ("power", 2): "c9dc3d5b4a457b09f83cdeb3b9b9ef878416c223c2ab5bb84816399385b5fb76",  # 6430 events
    ("predictive", 1): "dabdf939668bd921a8e8fe09b07254b01d1887f36afd8e7809f1d0249adcdc77",  # 7558 events
    ("predictive", 2): "d7dd01c0f5d817fb4642cc0c16a066f2b1a50780ee1ddadb6ed035a2747c5ca3",  # 7346 events
    ("auto", 1): "a8af574535fa55347ae315a2e85311288a544d4e14f13f78c46ee8aa8afd9894",  # 9100 events
    ("auto", 2): "64d1489bca8304732b1509a26ac62b625e4414e16fd533f5d950dcda6a2ba9b3",  # 8054 events
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
