"""List import (R7-R10), the drop folder, assignment (R13) and the contact HTTP API, on real stores."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from fastapi.testclient import TestClient

from adapters import lists
from adapters.persistence.eventstore import open_event_store
from dialer_domain.model.campaign import Campaign
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.events import ContactImported
from dialer_domain.model.identities import campaign_id_for, contact_id_for
from dialer_domain.model.values import CampaignSettings, ContactState, DialMode, ImportMode, ListMapping
from dialer_domain.service_layer import handlers
from dialer_domain.service_layer.handlers import CampaignSpec, create_campaign, import_history
from dialer_domain.service_layer.repository import Repository
from entrypoints import bootstrap
from entrypoints.api import create_app

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
HEADER = "id;name;phone;mobile;prio;product"


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/lists.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(url):
    s = open_sales_store(url)
    yield s
    s.close()


def open_sales_store(url):
    """The store with the campaign "Sales" and its list mapping."""
    s = open_event_store(url)
    repo = Repository(s)
    c = create_campaign(
        repo,
        CampaignSpec(name="Sales", manager="ann", dial_mode=DialMode.POWER),
        settings=CampaignSettings(skill="sales", max_per_click=2, max_held=3, caller_id_number="+4570000000"),
        hours=None,
        at=NOW,
    )
    c.set_list_mapping(ListMapping(key="id", phones=("phone", "mobile"), name="name", priority="prio", delimiter=";", common={"src": "fair"}), NOW)
    repo.save(c)
    return s


def write(tmp_path, name, *lines, encoding="utf-8"):
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", encoding=encoding)
    return p


def do_import(store, path, mode=ImportMode.APPEND, **kw):
    return lists.import_file(store, campaign_id_for("Sales"), path, mode=mode, at=NOW, ids=uuid4, **kw)


def contact(store, key):
    return Repository(store).get(ContactAttempt, contact_id_for(campaign_id_for("Sales"), key))


def test_numbers_are_normalised_to_e164_and_variables_mapped(store, tmp_path):
    p = write(tmp_path, "a.csv", HEADER, "1;Ann;20 12 34 56;+46 70 123 45 67;3;X", "2;Bo;31234567;31234567;;Y", encoding="utf-8-sig")
    report, rejects = do_import(store, p)
    assert (report.added, report.rejected, rejects) == (2, 0, [])
    ann = contact(store, "1")
    assert [n.e164 for n in ann.numbers] == ["+4520123456", "+46701234567"]
    assert ann.priority == 3 and ann.data.name == "Ann" and ann.data.variables == {"src": "fair", "product": "X"}
    assert [n.e164 for n in contact(store, "2").numbers] == ["+4531234567"]  # the repeat in the row is dialled once


def test_a_file_with_bad_rows_imports_nothing_and_names_each_row(store, tmp_path):
    p = write(
        tmp_path,
        "bad.csv",
        HEADER,
        "1;Ann;20 12 34 56;;3;X",
        "2;Bo;12;;5;Y",  # impossible
        "3;Cy;abc;;5;Y",  # not a number
        "4;Di;20 12 34 57;;11;Y",  # priority out of range
        "1;Ann again;20 12 34 58;;3;X",  # duplicate key
        "5;Ed;20 12 34 59;;5;Y;extra",  # malformed: one field too many
        ";Fi;20 12 34 60;;5;Y",  # no key
        "6;Gu;;;5;Y",  # no number
    )
    with pytest.raises(lists.ImportRejected, match=r"7 of 8 rows rejected \(6 invalid, 1 duplicate keys\), nothing imported") as info:
        do_import(store, p)
    reasons = {line: why for line, _, why in info.value.rejects}
    assert "impossible" in reasons[3] and "cannot be read" in reasons[4] and "must be 1..10" in reasons[5]
    assert "duplicate key" in reasons[6] and "more field" in reasons[7] and "empty key" in reasons[8] and "no phone number" in reasons[9]
    assert not [r for r in store.read(0, 10**6) if isinstance(r.event, ContactImported)]
    repo = Repository(store)
    [refused] = import_history(repo, repo.get(Campaign, campaign_id_for("Sales")))  # the history keeps refusals
    assert (refused.file_name, refused.reason_code, refused.rows, refused.rejected, refused.duplicates) == ("bad.csv", "rejected_rows", 8, 6, 1)


def test_skip_invalid_imports_the_good_rows_and_writes_the_rejects(store, tmp_path):
    p = write(tmp_path, "mixed.csv", HEADER, "1;Ann;20 12 34 56;;3;X", "2;Bo;12;;5;Y")
    rej = tmp_path / "rejects.csv"
    report, _ = do_import(store, p, skip_invalid=True, rejects_path=rej)
    assert (report.accepted, report.rejected, report.added) == (1, 1, 1)
    assert rej.read_text().splitlines()[1].startswith("3,2,")


def test_header_encoding_and_empty_files_are_clear_errors(store, tmp_path):
    with pytest.raises(Exception, match="the header has no column mobile"):
        do_import(store, write(tmp_path, "h.csv", "id;name;phone", "1;Ann;20123456"))
    p = tmp_path / "latin1.csv"
    p.write_bytes((HEADER + "\n1;Åse;20123456;;3;X\n").encode("latin-1"))
    with pytest.raises(Exception, match="not UTF-8"):
        do_import(store, p)
    with pytest.raises(Exception, match="empty"):
        do_import(store, write(tmp_path, "empty.csv", ""))


def test_replace_withdraws_what_is_gone_leaves_calls_alone_and_append_updates(store, tmp_path):
    do_import(store, write(tmp_path, "1.csv", HEADER, "1;Ann;20123456;;3;X", "2;Bo;31234567;;5;Y", "3;Cy;40112233;;5;Z"))
    # contact 3 is being dialled right now
    c3 = contact(store, "3")
    c3.queue(NOW)
    c3.dial(call_id=uuid4(), settings=CampaignSettings(skill="sales"), dial_mode=DialMode.POWER, agent_id=None, decision_id=None, checks=(), at=NOW)
    Repository(store).save(c3)
    report, _ = do_import(store, write(tmp_path, "2.csv", HEADER, "1;Ann B;20123456;;3;X"), mode=ImportMode.REPLACE, force=True)  # 2 of 3 go
    assert (report.updated, report.withdrawn, report.left_in_call) == (1, 1, 1)
    assert contact(store, "2").state is ContactState.WITHDRAWN
    assert contact(store, "3").state is ContactState.DIALLING
    assert contact(store, "1").data.name == "Ann B"
    assert len(store.load(contact_id_for(campaign_id_for("Sales"), "2"))) == 2  # history kept: imported, withdrawn
    report, _ = do_import(store, write(tmp_path, "3.csv", HEADER, "2;Bo;31234567;;5;Y"), mode=ImportMode.APPEND)
    assert report.reinstated == 1 and contact(store, "2").state is ContactState.NEW
    history = import_history(Repository(store), Repository(store).get(Campaign, campaign_id_for("Sales")))
    assert [(h.file_name, h.mode) for h in history] == [("1.csv", ImportMode.APPEND), ("2.csv", ImportMode.REPLACE), ("3.csv", ImportMode.APPEND)]
    assert len(history[0].sha256) == 64


def test_the_drop_folder_imports_each_file_once_and_files_it(store, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    write(drop, "good.csv", HEADER, "1;Ann;20123456;;3;X")
    write(drop, "bad.csv", HEADER, "2;Bo;12;;5;Y")
    import os
    import time

    def look(**kw):
        return dict((p.name, text) for p, text in lists.process_drop_folder(drop, lambda p: do_import(store, p), **kw))

    # just written: still being written, as far as the watcher can tell
    assert all(text.startswith("waiting: changed") for text in look(settle_seconds=60).values())
    assert list(drop.glob("*.csv")) and not list((drop / "processed").iterdir())
    for p in drop.glob("*.csv"):  # they have not changed for a minute
        os.utime(p, (time.time() - 61, time.time() - 61))
    outcomes = look(settle_seconds=60)
    assert outcomes["good.csv"].startswith("imported") and outcomes["bad.csv"].startswith("failed")
    assert not list(drop.glob("*.csv"))
    [good] = (drop / "processed").glob("good.*.csv")
    report = json.loads(good.with_suffix(".report.json").read_text())
    assert report["imported"]["added"] == 1
    [bad_report] = (drop / "failed").glob("bad.*.report.json")
    assert "impossible" in bad_report.read_text()
    assert list(lists.process_drop_folder(drop, lambda p: do_import(store, p))) == []
    # with a marker: the file waits for FILE.csv.done, which goes once the file is imported
    write(drop, "marked.csv", HEADER, "3;Cy;20123457;;5;Z")
    assert look(done_marker=".done") == {"marked.csv": "waiting for marked.csv.done"}
    (drop / "marked.csv.done").write_text("")
    assert look(done_marker=".done")["marked.csv"].startswith("imported") and not (drop / "marked.csv.done").exists()


def test_agents_obtain_contacts_up_to_max_per_click_and_max_held_r13(store, tmp_path):
    rows = [f"{i};C{i};2012345{i};;5;X" for i in range(6)]
    do_import(store, write(tmp_path, "l.csv", HEADER, *rows))
    repo = Repository(store)
    cid = campaign_id_for("Sales")
    first = handlers.obtain(repo, bootstrap.queue_reader(store), cid, "a1", at=NOW)
    assert len(first) == 2  # max per click
    assert len(handlers.obtain(repo, bootstrap.queue_reader(store), cid, "a1", at=NOW)) == 1  # room for one more under max held 3
    with pytest.raises(Exception, match="already holds 3"):
        handlers.obtain(repo, bootstrap.queue_reader(store), cid, "a1", at=NOW)
    counts = handlers.assign_all_evenly(repo, bootstrap.queue_reader(store), cid, ["a2", "a3"], at=NOW)
    assert counts == {"a2": 2, "a3": 1}


def staff_client(app, **options) -> TestClient:
    """A client with an administrator's bearer token, made on the app's own store."""
    token = bootstrap.tokens(app.state.store.get()).create("admin")[1]
    return TestClient(app, headers={"Authorization": f"Bearer {token}"}, **options)


def test_the_contact_api(store, url, tmp_path):
    client = staff_client(create_app(url))
    r = client.post("/campaigns/Sales/contacts", json={"key": "k1", "numbers": ["20 12 34 56"], "name": "Ann", "variables": {"x": "1"}})
    assert r.status_code == 201 and r.json()["numbers"] == ["+4520123456"]
    assert client.post("/campaigns/Sales/contacts", json={"key": "k1", "numbers": ["20123457"]}).status_code == 409
    bad = client.post("/campaigns/Sales/contacts", json={"key": "k2", "numbers": ["12"]})
    assert bad.status_code == 422 and "impossible" in bad.json()["detail"]
    assert client.post("/campaigns/Nope/contacts", json={"key": "k", "numbers": ["20123456"]}).status_code == 404
    assert client.post("/campaigns/Sales/contacts", json={"key": "k3", "numbers": []}).status_code == 422
    r = client.put("/campaigns/Sales/contacts/k1", json={"name": "Ann B", "priority": 8})
    assert r.status_code == 200 and r.json()["name"] == "Ann B" and r.json()["priority"] == 8
    assert client.get("/campaigns/Sales/contacts/none").status_code == 404
    r = client.delete("/campaigns/Sales/contacts/k1")
    assert r.status_code == 200 and r.json()["state"] == "withdrawn"
    assert client.put("/campaigns/Sales/contacts/k1", json={"name": "x"}).status_code == 409
    csv_bytes = (HEADER + "\n1;Ann;20123456;;3;X\n2;Bo;12;;5;Y\n").encode()
    r = client.post("/campaigns/Sales/imports", files={"file": ("up.csv", csv_bytes, "text/csv")})
    assert r.status_code == 422 and r.json()["rejects"][0]["line"] == 3 and "1 of 2 rows rejected" in r.json()["detail"]
    r = client.post("/campaigns/Sales/imports?skip_invalid=true&mode=append", files={"file": ("up.csv", csv_bytes, "text/csv")})
    assert r.status_code == 201 and r.json()["added"] == 1 and r.json()["rejected"] == 1
    assert [(h["file_name"], h["outcome"]) for h in client.get("/campaigns/Sales/imports").json()] == [("up.csv", "refused"), ("up.csv", "imported")]
    r = client.post("/campaigns/Sales/agents/a1/obtain")
    assert r.status_code == 200 and r.json()["obtained"] == ["1"]
    assert client.post("/campaigns/Sales/assignments", json={"agent": "a2", "keys": ["1"]}).json()["changed"] == 1
    assert client.post("/campaigns/Sales/assignments", json={"agent": "a2", "keys": ["zz"]}).status_code == 404
    assert "/campaigns/{campaign}/contacts" in client.get("/openapi.json").json()["paths"]


def test_the_workers_bulk_path_stores_exactly_what_the_core_makes(store, tmp_path):
    """New contacts go by the bulk path (made by the workers, COPY on PostgreSQL); the events are
    the very ones the core's import use case makes, and a conflicting batch stores nothing."""
    from dialer_domain.model.errors import ConcurrencyError
    from dialer_domain.service_layer.handlers import ImportReport, import_list

    lines = [f"{i};Name {i};2012{i:04d};;{i % 10 + 1};P{i % 3}" for i in range(400)]
    p = write(tmp_path, "big.csv", HEADER, *lines)
    import_id = uuid4()
    report, rejects = lists.import_file(store, campaign_id_for("Sales"), p, mode=ImportMode.APPEND, at=NOW, ids=lambda: import_id, workers=2)
    assert report.added == 400 and rejects == []
    again, _ = do_import(store, p, workers=2)
    assert again.added == 0 and again.updated == 0  # the second time, every row is known and unchanged
    stored = {r.event.originator_id: r.event for r in store.read(0, 10**6) if isinstance(r.event, ContactImported)}

    # the same rows through the core's use case alone, on a memory store
    memory = open_event_store("memory:")
    memory.append(store.load(campaign_id_for("Sales"))[:2])  # the campaign and its list mapping
    c = Repository(memory).get(Campaign, campaign_id_for("Sales"))
    header = HEADER.split(";")
    region = c.config.default_region
    rows = [lists.validate_row(c.list_mapping, region, n + 2, dict(zip(header, line.split(";"), strict=True))) for n, line in enumerate(lines)]

    class NewList:
        def contains(self, key):
            return False

        def mark_seen(self, key):
            pass

        def unseen(self):
            return iter(())

    report3 = ImportReport("big.csv", "", ImportMode.APPEND)
    import_list(Repository(memory), c.id, rows, mode=ImportMode.APPEND, index=NewList(), report=report3, import_id=import_id, at=NOW)
    made = {r.event.originator_id: r.event for r in memory.read(0, 10**6) if isinstance(r.event, ContactImported)}
    assert made == stored and len(made) == 400

    # a batch that collides with stored streams: nothing of it is stored
    clash = [StoredEvent(originator_id=cid, originator_version=1, topic="ContactImported", state=b"{}") for cid in list(stored)[:150]]
    before = store.max_position()
    with pytest.raises(ConcurrencyError):
        store.append_stored(clash)
    assert store.max_position() == before


def test_control_characters_are_refused_at_the_edge_and_nothing_reaches_the_store(store, url, tmp_path):
    """A NUL once reached PostgreSQL and broke the queue view; now every way in refuses it."""
    from adapters.views import statistics as projections

    client = staff_client(create_app(url))
    before = store.max_position()
    r = client.post("/campaigns/Sales/contacts", json={"key": "k1", "numbers": ["20123456"], "name": "A\u0000nn"})
    assert r.status_code == 422 and "control character U+0000 at position 2" in r.json()["detail"]
    r = client.post("/campaigns/Sales/contacts", json={"key": "k1", "numbers": ["20123456"], "variables": {"note": "a\u2028b"}})
    assert r.status_code == 422 and "U+2028" in r.json()["detail"]
    r = client.post("/campaigns/Sales/contacts", json={"key": "k\u0007", "numbers": ["20123456"]})
    assert r.status_code == 422 and "contact key" in r.json()["detail"]
    assert store.max_position() == before
    assert client.post("/campaigns/Sales/contacts", json={"key": "k1", "numbers": ["20123456"], "name": "Ann"}).status_code == 201
    r = client.post("/campaigns/Sales/agents/ag%00ent/obtain")
    assert r.status_code == 422 and "agent id" in r.json()["detail"]
    r = client.post("/campaigns/Sales/assignments", json={"agent": "a\u0000", "keys": ["k1"]})
    assert r.status_code == 422
    with pytest.raises(lists.ImportRejected) as rejected:
        do_import(store, write(tmp_path, "nul.csv", HEADER, "1;Ann;20123456;;3;X", "2;B\u0000o;31234567;;5;Y"))
    assert [(ln, k) for ln, k, _ in rejected.value.rejects] == [(3, "2")] and "U+0000" in rejected.value.rejects[0][2]
    # the views still fold and the agent can obtain
    view = projections.open_view(url, "queue")
    projections.rebuild(store, view)
    assert client.post("/campaigns/Sales/agents/a1/obtain").json()["obtained"] == ["k1"]


def test_the_api_refuses_bad_input_with_clear_json_errors_and_documents_them(store, url, monkeypatch):
    from entrypoints import api_guards

    client = staff_client(create_app(url), raise_server_exceptions=False)
    before = store.max_position()
    good = (HEADER + "\n1;Ann;20123456;;3;X\n").encode()
    for name, says in [
        ("..", "names no file"),
        (".", "names no file"),
        ("/", "names no file"),
        ("a\u0000b.csv", "U+0000"),
        ("x" * 300, "at most 255"),
    ]:
        body = b'--B\r\nContent-Disposition: form-data; name="file"; filename="' + name.encode() + b'"\r\nContent-Type: text/csv\r\n\r\n'
        multipart = {"content-type": "multipart/form-data; boundary=B"}
        r = client.post("/campaigns/Sales/imports", content=body + good + b"\r\n--B--\r\n", headers=multipart)
        assert r.status_code == 422 and says in r.json()["detail"], (name, r.text)
    headers = {"content-type": "application/json"}
    r = client.post("/campaigns/Sales/contacts", content=b'{"key": "k", "numbers": ["20123456"], "priority": NaN}', headers=headers)
    assert r.status_code == 422 and "priority" in r.json()["detail"]
    r = client.post("/campaigns/Sales/contacts", content=b'{"key": "k", "numbers": ["20123456"], "name": "\\ud800"}', headers=headers)
    assert r.status_code == 422 and "surrogate" in r.json()["detail"]
    r = client.post("/campaigns/Sales/contacts", json={"key": "k", "numbers": ["20123456"], "name": "x" * (2 << 20)})
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
    monkeypatch.setattr(api_guards, "MAX_UPLOAD_BYTES", 1000)
    r = client.post("/campaigns/Sales/imports", files={"file": ("big.csv", good * 100, "text/csv")})
    assert r.status_code == 413
    assert store.max_position() == before  # nothing of the above was stored

    def broken(*a, **k):
        raise RuntimeError("a fault of ours, with secret details")

    monkeypatch.setattr(handlers, "obtain", broken)
    r = client.post("/campaigns/Sales/agents/a1/obtain")
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert r.json()["detail"].startswith("internal error ") and "secret" not in r.text
    documented = client.get("/openapi.json").json()["paths"]["/campaigns/{campaign}/contacts"]["post"]["responses"]
    assert {"404", "409", "413", "422"} <= set(documented)


def test_an_api_edit_on_stale_state_gets_a_clear_409_and_stores_nothing(store, url, monkeypatch):
    from dialer_domain.model.errors import ConcurrencyError

    client = staff_client(create_app(url))
    assert client.post("/campaigns/Sales/contacts", json={"key": "k1", "numbers": ["20123456"], "name": "Ann"}).status_code == 201
    real_save = Repository.save

    def someone_else_first(self, *aggregates):
        raise ConcurrencyError("another writer appended first; none of these were stored: x v2")

    monkeypatch.setattr(Repository, "save", someone_else_first)
    r = client.put("/campaigns/Sales/contacts/k1", json={"name": "Ann B"})
    assert r.status_code == 409 and "read it again and retry" in r.json()["detail"]
    monkeypatch.setattr(Repository, "save", real_save)
    assert client.get("/campaigns/Sales/contacts/k1").json()["name"] == "Ann"


def test_the_api_limits_text_checks_zones_takes_any_key_re_adds_withdrawn_ones_and_serves_docs_offline(store, url):
    client = staff_client(create_app(url))
    r = client.post("/campaigns/Sales/contacts", json={"key": "k1", "numbers": ["20123456"], "name": "x" * 300})
    assert r.status_code == 422 and "at most 200" in r.json()["detail"]
    r = client.post("/campaigns/Sales/contacts", json={"key": "k1", "numbers": ["20123456"], "time_zone": "Mars/Olympus"})
    assert r.status_code == 422 and "unknown time zone 'Mars/Olympus'" in r.json()["detail"]
    assert client.post("/campaigns/Sales/contacts", json={"key": "A/1", "numbers": ["20123456"], "name": "Ann"}).status_code == 201
    assert client.get("/campaigns/Sales/contacts/A/1").json()["name"] == "Ann"
    assert client.put("/campaigns/Sales/contacts/A/1", json={"name": "Ann B"}).json()["name"] == "Ann B"
    assert client.delete("/campaigns/Sales/contacts/A/1").json()["state"] == "withdrawn"
    again = client.post("/campaigns/Sales/contacts", json={"key": "A/1", "numbers": ["31234567"], "name": "Ann again"})
    assert again.status_code == 201 and again.json()["state"] == "new" and again.json()["numbers"] == ["+4531234567"]
    history = store.load(contact_id_for(campaign_id_for("Sales"), "A/1"))
    assert [e.NAME for e in history] == ["ContactImported", "ContactUpdated", "ContactWithdrawn", "ContactReinstated"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn.jsdelivr" not in docs.text and "unpkg" not in docs.text
    assets = re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css))"', docs.text)
    assert assets and all(client.get(a).status_code == 200 for a in assets)
