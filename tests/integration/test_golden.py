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
#:   ``max_dials_per_contact``; each CallProgressed (v2) the network's time of it (``reported_at``).
#:   With those taken out again, eight logs hash to their earlier value.
#: * no contact-first call within 72 hours of an abandoned one (Ofcom): in the two predictive logs
#:   a few abandoned contacts are held back instead of redialled (net +10 and +2 events: their
#:   queueing and return to the list).
#: * a step's events are stored in the order it recorded them, across aggregates: the pacing
#:   decision before the offers it caused (preview, auto), and in the first predictive log a few
#:   steps whose aggregates changed in turn. The same events (counts equal), other positions.
#: * the abandon-rate cap (ADR 0020): every pacing decision records the campaign's rolling abandon
#:   counts (all ten logs); power and predictive start progressive and over-dial only as far as
#:   the 3% cap leaves room (power 7305 -> 7030 and 6430 -> 6232 events, predictive 7568 -> 7655
#:   and 7348 -> 6273).
GOLDEN: dict[tuple[str, int], str] = {
    ("preview", 1): "5aa09526004930ea923ecd6bc76c822a75f3d152e291caaa18a4038c809c36e7",  # 8576 events
    ("preview", 2): "96d996039ebf3a801ac71d1e3cbd7a9124c594209b7dcb8c1c8f54db4856b5e3",  # 7868 events
    ("progressive", 1): "b0af1258afceb0bbcef99148cbecd31e2e090dbac1997528fa423a1413f78f52",  # 6626 events
    ("progressive", 2): "74498319a6940de55e729e9b85bc8dbc9374e9cb8909129966999f8816dc522f",  # 5938 events
    ("power", 1): "4389edc5a2e9efb1824f85f8596d15fe2b26b3d6891d22ea80776a551761fe0e",  # 7030 events
    ("power", 2): "c18b7ffe5bb446e84f334f38612f599957c3028b7ae7cff0255ca6f9fb18304c",  # 6232 events
    ("predictive", 1): "65782c4586e50617edd94b63f389b89bfa44900f3b1692d6765aee10d29b4a60",  # 7655 events
    ("predictive", 2): "ed0056ba6737c1a15cc3751ba47480c9129c2922ecdad8f71faec89dd8edb39d",  # 6273 events
    ("auto", 1): "8e3db096219c72ac65a1d9f673d3d5528ee9e0a7a1829fd914150107017aef38",  # 9100 events
    ("auto", 2): "3cc3ee6ca8ea56d9a74cf0cdc505601981b42fb46da2c628255a88b95542e737",  # 8054 events
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
    if mode is DialMode.PREDICTIVE:  # (power, capped at 3% on a 2-hour day, abandons none)
        assert counts.get("CallAbandoned", 0) > 0
    assert GOLDEN[(mode.value, seed)] == digest
