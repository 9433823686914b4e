"""Do-not-call lists at the moment of dialling (issue 16): a number added while its contact is
queued is never dialled; the contact's other numbers are; the dial records the lists it checked."""

from __future__ import annotations

from dialer_domain.model.events import AttemptsExhausted, ContactQueued, DialAttempted, NumberSkipped
from dialer_domain.model.identities import campaign_id_for
from dialer_domain.model.values import DEFAULT_DISPOSITIONS, ContactData, ContactState, DialMode, Disposition, PhoneNumber
from dialer_domain.rules.do_not_call import DncVerdict
from dialer_domain.service_layer.handlers import add_contacts
from dialer_domain.service_layer.repository import Repository
from tests.unit.test_engine import events_of, login, setup


class Lists:
    """One list, 'internal', for every campaign."""

    def __init__(self) -> None:
        self.numbers: set[str] = set()
        self.revision = 0
        self.asked: list[str] = []
        self.asked_together: list[tuple[str, ...]] = []

    def add(self, number: str, numbers=(), *, by: str = "", reason: str = "") -> None:
        """``add(number)`` in these tests, or the port's ``add(list, numbers, by=, reason=)``."""
        for n in numbers or [number]:
            self.numbers.add(n)
        self.revision += 1

    def check(self, e164, campaign_id) -> DncVerdict:
        self.asked.append(e164)
        return DncVerdict.of([("internal", self.revision, e164 in self.numbers)])

    def check_many(self, numbers, campaign_id):
        self.asked_together.append(tuple(numbers))
        return {n: DncVerdict.of([("internal", self.revision, n in self.numbers)]) for n in numbers}


def one_contact(*numbers: str):
    engine, clock, tel, _, store = setup(DialMode.POWER, contacts=0)
    engine.do_not_call = lists = Lists()
    rows = [("c-1", tuple(PhoneNumber(n) for n in numbers), ContactData(name="C"), 5, None)]
    add_contacts(Repository(store), campaign_id_for("Sales"), rows, source="test", at=clock.now())
    engine.sync()
    return engine, clock, tel, store, lists


def test_a_number_added_while_its_contact_is_queued_is_never_dialled():
    engine, clock, tel, store, lists = one_contact("+4520000001")
    engine.log_in("a1", skills=("sales",))
    engine.tick()  # the agent is not ready yet: the contact is queued, nothing is dialled
    [queued] = events_of(store, ContactQueued)
    lists.add("+4520000001")
    engine.ready("a1")
    engine.tick()
    assert tel.placed == []
    [skipped] = events_of(store, NumberSkipped)
    assert skipped.number == "+4520000001" and "do-not-call list internal" in skipped.reason
    [done] = events_of(store, AttemptsExhausted)
    assert done.reason.startswith("no number left to dial")
    assert engine.contact(queued.originator_id).state is ContactState.EXHAUSTED
    clock.advance(3600)
    engine.tick()
    assert tel.placed == []  # and it is not taken up again
    seen = engine.compliance_now(engine.campaign(campaign_id_for("Sales")), clock.now())  # the supervisor's view
    assert seen["refused_24h"] == {"not_on_do_not_call": 1} and "do-not-call list internal" in seen["last_refusal"]["why"]
    assert (seen["answered_24h"], seen["abandon_rate_24h"], seen["pacing"]) == (0, None, "progressive (held by the cap)")
    clock.advance(24 * 3600)
    assert engine.compliance_now(engine.campaign(campaign_id_for("Sales")), clock.now())["refused_24h"] == {}


def test_the_contacts_other_number_is_dialled_and_the_dial_names_the_lists_it_checked():
    engine, clock, tel, store, lists = one_contact("+4520000001", "+4520000002")
    lists.add("+4520000001")
    login(engine, "a1")
    engine.tick()
    assert [e.number for e in events_of(store, NumberSkipped)] == ["+4520000001"]
    clock.advance(61)
    engine.tick()  # the next queue top-up
    assert len(tel.placed) == 1 and tel.numbers[tel.placed[0]] == "+4520000002"
    dial = events_of(store, DialAttempted)[0]
    assert "not_on_do_not_call" in dial.checks and dial.dnc_checked == ("internal@1",)
    assert lists.asked.count("+4520000002") == 1  # asked once per dial: the rule and the evidence share the answer


def test_an_agents_do_not_call_disposition_puts_the_number_on_the_internal_list_and_no_contact_rings_it_again():
    from adapters.lists.dnc import DncStore
    from dialer_domain.model.values import CallOutcome

    engine, clock, tel, _desk, store = setup(
        DialMode.PROGRESSIVE, contacts=0, dispositions=(*DEFAULT_DISPOSITIONS, Disposition(code="do_not_call", do_not_call=True, ends_contact=True))
    )
    engine.do_not_call = lists = DncStore(None)  # the real adapter, its memory mode
    rows = [(key, (PhoneNumber("+4520000001"),), ContactData(name=key), 5, None) for key in ("first", "second")]  # one number, two contacts
    add_contacts(Repository(store), campaign_id_for("Sales"), rows, source="test", at=clock.now())
    engine.sync()
    login(engine, "a1")
    engine.tick()
    [call] = tel.placed
    clock.advance(5)
    engine.on_call_progress(call, CallOutcome.ANSWERED_HUMAN)
    clock.advance(30)
    engine.end_call("a1")
    engine.dispose("a1", "do_not_call", note="asked not to be called again")
    assert lists.check("+4520000001", campaign_id_for("Sales")).listed_on == ("internal",)
    assert lists.get("internal").updated_by == "agent a1"
    engine.ready("a1")
    clock.advance(61)
    engine.tick()
    assert tel.placed == [call]  # the other contact with that number is not rung
    [skipped] = events_of(store, NumberSkipped)
    assert skipped.reason_code == "refused_not_on_do_not_call"


def test_a_campaigns_wrap_up_codes_are_checked():
    import pytest

    from dialer_domain.model.errors import InvalidValue
    from dialer_domain.model.values import CampaignSettings

    for codes, says in [
        ((*DEFAULT_DISPOSITIONS, "Stop!"), "must be lower-case letters"),
        ((*DEFAULT_DISPOSITIONS, "stop", "stop"), "name stop twice"),
        ((*DEFAULT_DISPOSITIONS, {"code": "stop", "colour": "red"}), "has no field colour"),
        ((*DEFAULT_DISPOSITIONS, {"code": "later", "callback": True, "ends_contact": True}), "cannot both book a callback and end"),
        (("sale",), "must keep the defaults"),
    ]:
        with pytest.raises(InvalidValue, match=says):
            CampaignSettings(skill="s", dispositions=codes)


def test_a_pacing_run_asks_the_lists_once_for_the_numbers_it_is_about_to_dial_and_still_skips_a_listed_one():
    engine, clock, tel, _, store = setup(DialMode.POWER, contacts=0)
    engine.do_not_call = lists = Lists()
    login(engine, "a1", "a2", "a3")  # ready, nothing to dial yet
    rows = [(f"c-{i}", (PhoneNumber(f"+452000000{i}"),), ContactData(name=f"C{i}"), 5, None) for i in range(1, 6)]
    add_contacts(Repository(store), campaign_id_for("Sales"), rows, source="test", at=clock.now())
    lists.add("+4520000002")
    engine.sync()
    clock.advance(61)
    engine.tick()  # the next queue top-up, and the three dials
    assert sorted(tel.numbers.values()) == ["+4520000001", "+4520000003", "+4520000004"]
    assert [e.number for e in events_of(store, NumberSkipped)] == ["+4520000002"]
    # the three at the queue's head asked at once; the one taken for the listed number, alone
    assert (lists.asked_together, lists.asked) == ([("+4520000001", "+4520000002", "+4520000003")], ["+4520000004"])
    assert all(d.dnc_checked == ("internal@1",) for d in events_of(store, DialAttempted))
