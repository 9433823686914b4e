"""R10: the list selection's filter grammar (never eval), its evaluation, and sort orders."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer_domain.model.errors import InvalidValue
from dialer_domain.rules.selection import matches, parse_filter, parse_sort, sort_token


def facts(**kw):
    fields = kw.pop("fields", {})
    variables = kw.pop("variables", {})
    return {"name": "", "key": "k", "priority": "5", "agent": None, "time_zone": None, **kw, "fields": fields, "variables": variables}


NORTH_40 = facts(fields={"region": "North", "age": "40"}, variables={"product": "A", "last_order": "2025-11-02"})
SOUTH_20 = facts(fields={"region": "south", "age": "20"}, variables={"product": "C"})


@pytest.mark.parametrize(
    ("text", "north_40", "south_20"),
    [
        ("region = 'north' and age >= 30", True, False),
        ("product in ('A','B')", True, False),
        ("product not in ('A','B')", False, True),
        ("variable.last_order < 2026-01-01", True, False),  # south_20 has no last order: no comparison matches
        ("variable.last_order is empty", False, True),
        ("not (variable.last_order < 2026-01-01)", False, True),
        ("age > 25 or region = 'SOUTH'", True, True),
        ("field.age != 40", False, True),
        ('name = "" or priority >= 5', True, True),  # '' is no value: only the priority matches
        ("age < 'b'", True, True),  # text order when the value is text: '40' and '20' sort before 'b'
    ],
)
def test_a_filter_reads_fields_and_variables(text, north_40, south_20):
    node = parse_filter(text)
    assert (matches(node, NORTH_40), matches(node, SOUTH_20)) == (north_40, south_20)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("region = ", "expected a value"),
        ("region == 'x'", "expected a value ('text', a number or a date like 2026-01-01), found '=' at character 9"),
        ("__import__('os').system('id')", "cannot read \".system('id')\" at character 17"),
        ("region = 'north' and", "expected a field or variable name, found the end"),
        ("(age > 3", "expected ')'"),
        ("age > 3 region = 'x'", "unexpected 'region' at character 9"),
        ("a.b = 1", "only field.NAME and variable.NAME have a dot"),
        ("age ; drop table", "cannot read '; drop table' at character 5"),
        ("x = 2026-13-45", "is not a date"),
        ("   ", "needs an expression"),
        ("region not = 'x'", "'not' needs 'in'"),
    ],
)
def test_a_bad_filter_is_refused_saying_where_and_what(text, says):
    with pytest.raises(InvalidValue, match=r"filter"):
        parse_filter(text)
    with pytest.raises(InvalidValue) as exc:
        parse_filter(text)
    assert says in str(exc.value)


def test_sort_orders_order_numbers_as_numbers_text_without_case_and_missing_values_last():
    keys = parse_sort("age desc, name")
    people = [
        facts(name="bo", fields={"age": "9"}),
        facts(name="Al", fields={"age": "10"}),
        facts(name="al", fields={"age": "10"}),
        facts(name="cy"),
        facts(name="Ann", fields={"age": "-3.5"}),
    ]
    ordered = sorted(people, key=lambda f: sort_token(keys, f))
    assert [(p["name"], p["fields"].get("age")) for p in ordered] == [("Al", "10"), ("al", "10"), ("bo", "9"), ("Ann", "-3.5"), ("cy", None)]
    with pytest.raises(InvalidValue, match="is not NAME"):
        parse_sort("age upwards")
    with pytest.raises(InvalidValue, match="not a name"):
        parse_sort("1age")


@given(st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8), st.none()), min_size=2, max_size=30), st.booleans())
def test_the_sort_token_orders_as_the_values_do(values, descending):
    keys = parse_sort(f"v {'desc' if descending else 'asc'}")

    def kept(v):  # a value as a field holds it; text that reads as a number, or empty, is left out
        return None if v is None or v == "" or (isinstance(v, str) and _reads_as_number(v)) else str(v)

    people = [facts(fields={"v": kept(v)} if kept(v) is not None else {}) for v in values]
    present = [p["fields"]["v"] for p in people if "v" in p["fields"]]
    numbers = sorted((float(v) for v in present if _reads_as_number(v)), reverse=descending)
    texts = sorted((v.casefold() for v in present if not _reads_as_number(v)), reverse=descending)
    got = [sort_token(keys, p) for p in people]
    order = sorted(range(len(people)), key=lambda i: got[i])
    seen = [people[i]["fields"].get("v") for i in order]
    present_seen = [v for v in seen if v is not None]
    assert seen[len(present_seen):] == [None] * (len(seen) - len(present_seen))  # missing last
    nums_seen = [float(v) for v in present_seen if _reads_as_number(v)]
    texts_seen = [v.casefold() for v in present_seen if not _reads_as_number(v)]
    assert nums_seen == numbers and texts_seen == texts


def _reads_as_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def test_a_new_filter_takes_effect_at_the_next_top_up_and_sends_queued_contacts_it_leaves_out_back_to_the_list():
    from dialer_domain.model.events import ContactOffered, ContactReturnedToList
    from dialer_domain.model.identities import campaign_id_for
    from dialer_domain.model.values import ContactData, DialMode, PhoneNumber
    from dialer_domain.service_layer.campaign_admin import change_selection
    from dialer_domain.service_layer.handlers import add_contacts
    from dialer_domain.service_layer.repository import Repository
    from tests.unit.test_engine import events_of, login, setup

    engine, clock, _tel, _desk, store = setup(DialMode.PREVIEW, contacts=0)
    repo = Repository(store)
    cid = campaign_id_for("Sales")
    data = [ContactData(variables={"region": "north" if i % 2 else "south"}) for i in range(8)]
    rows = [(f"k{i}", (PhoneNumber(f"+4520000{i:03d}"),), data[i], 5, None) for i in range(8)]
    add_contacts(repo, cid, rows, source="test", at=clock.now())
    engine.sync()
    login(engine, "a1", "a2")
    engine.tick()
    queued_before = engine.queue.queued(cid)
    assert len(queued_before) >= 4
    changed_at = clock.now()
    change_selection(repo, repo.get(type(engine.campaign(cid)), cid), save=("north", "region = 'north'"), use="north", by="test", at=changed_at)
    engine.sync()
    clock.advance(61)
    engine.tick()
    back = [e for e in events_of(store, ContactReturnedToList) if e.reason_code == "not_selected"]
    assert back and all(engine.contact(e.originator_id).data.variables["region"] == "south" for e in back)
    for agent in ("a1", "a2"):  # their offers timed out meanwhile: ready again
        engine.ready(agent)
    engine.tick()
    later = [e for e in events_of(store, ContactOffered) if e.timestamp > changed_at]
    assert later and all(engine.contact(e.originator_id).data.variables["region"] == "north" for e in later)
    clock.advance(61)  # an offer released after the change is queued again: the next top-up sends it back too
    engine.tick()
    assert all(engine.contact(c).data.variables["region"] == "north" for c in engine.queue.queued(cid))
