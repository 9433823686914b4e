"""An import is one unit (ADR 0008): a SIGKILL in its writing pass, or a second import racing it,
leaves all of it or nothing; its workers die with it and its temporary files go. A replace that
would empty most of the list is refused. SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from pathlib import Path
from uuid import uuid4

import pytest

from adapters import lists
from adapters.persistence.eventstore import open_event_store
from dialer_domain.model.campaign import Campaign
from dialer_domain.model.events import ContactImported, ContactWithdrawn, ListImported
from dialer_domain.model.identities import campaign_id_for
from dialer_domain.model.values import ImportMode
from dialer_domain.service_layer.handlers import import_history
from dialer_domain.service_layer.repository import Repository
from tests.conftest import wait_until
from tests.integration.test_lists import NOW, open_sales_store

CAMPAIGN = campaign_id_for("Sales")


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path):
    return f"sqlite:///{tmp_path}/lists.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture
def store(url):
    s = open_sales_store(url)
    yield s
    s.close()


def write_list(path: Path, keys: range, prefix: str = "c") -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("id;name;phone;mobile;prio;product\n")
        for i in keys:
            fh.write(f"{prefix}{i};Name {i};+4520{100000 + i:06d};;5;x\n")
    return path


def imports(s) -> list:
    """The imports that happened (refusals left out)."""
    repo = Repository(s)
    return [e for e in import_history(repo, repo.get(Campaign, CAMPAIGN)) if isinstance(e, ListImported)]


def contacts_of(s) -> int:
    return sum(1 for r in s.read(0, 10**8, topics=("ContactImported",)) if isinstance(r.event, ContactImported))



def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return any(line.startswith("State:") and ("Z" in line or "X" in line) for line in fh)
    except FileNotFoundError:
        return True


def _import_and_stall(url: str, path: str, marker: str, tmpdir: str) -> None:
    """The child: import with two workers; after the second batch is written (inside the
    transaction) say so, with the workers' pids, and wait to be killed."""
    os.environ["TMPDIR"] = tmpdir
    import tempfile

    tempfile.tempdir = tmpdir
    from adapters.lists import importer as child_lists

    real = child_lists._add_prepared
    batches = []

    def stalling(store, rows):
        real(store, rows)
        batches.append(len(rows))
        if len(batches) == 2:
            workers = [str(p.pid) for p in multiprocessing.active_children()]
            Path(marker).write_text(" ".join(workers))
            threading.Event().wait()  # inside the transaction, until the test kills this process

    child_lists._add_prepared = stalling
    s = open_event_store(url)
    child_lists.import_file(s, campaign_id_for("Sales"), Path(path), mode=ImportMode.APPEND, at=NOW, ids=uuid4, workers=2)


def test_a_sigkill_in_the_writing_pass_leaves_nothing_no_worker_and_no_temp_file(store, url, tmp_path):
    path = write_list(tmp_path / "big.csv", range(10_000))
    marker = tmp_path / "writing"
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=_import_and_stall, args=(url, str(path), str(marker), str(tmpdir)))
    child.start()
    wait_until(lambda: (marker.exists() and marker.read_text() != "") or not child.is_alive(), what="the writing pass")
    assert child.is_alive(), "the import ended before it was killed"
    workers = [int(p) for p in marker.read_text().split()]
    assert len(workers) == 2
    os.kill(child.pid, signal.SIGKILL)
    child.join(30)
    wait_until(lambda: all(gone(p) for p in workers), what="the workers to die with their parent")
    assert contacts_of(store) == 0  # 4,000 were written inside the transaction: none is visible
    assert not imports(store)
    assert list(tmpdir.iterdir()) == []
    # and the same file imports whole afterwards
    report, _ = lists.import_file(store, CAMPAIGN, path, mode=ImportMode.APPEND, at=NOW, ids=uuid4)
    assert report.added == 10_000 and contacts_of(store) == 10_000


def _import_in_thread(url: str, path: Path, results: list, barrier) -> None:
    s = open_event_store(url)
    try:
        barrier.wait()
        report, _ = lists.import_file(s, CAMPAIGN, path, mode=ImportMode.APPEND, at=NOW, ids=uuid4)
        results.append(("ok", report.added))
    except Exception as exc:
        results.append(("refused", f"{type(exc).__name__}: {exc}"))
    finally:
        s.close()


def test_two_imports_at_once_store_one_whole_list_and_refuse_the_other_whole(store, url, tmp_path):
    import threading

    a = write_list(tmp_path / "a.csv", range(3000))
    b = write_list(tmp_path / "b.csv", range(3000))  # the same keys: the second to commit conflicts
    results: list = []
    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=_import_in_thread, args=(url, p, results, barrier)) for p in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    kinds = sorted(k for k, _ in results)
    if kinds == ["ok", "refused"]:
        assert contacts_of(store) == 3000 and len(imports(store)) == 1
        [why] = [v for k, v in results if k == "refused"]
        assert "ConcurrencyError: b.csv: another import or an edit changed the list of 'Sales'" in why or "a.csv" in why
        assert "nothing of it was stored" in why
    else:  # the second waited for the first and then updated what it found: both whole
        assert kinds == ["ok", "ok"] and sorted(v for _, v in results) == [0, 3000]
        assert contacts_of(store) == 3000 and len(imports(store)) == 2


def test_a_replace_that_would_withdraw_most_of_the_list_is_refused_unless_forced(store, tmp_path):
    lists.import_file(store, CAMPAIGN, write_list(tmp_path / "all.csv", range(100)), mode=ImportMode.APPEND, at=NOW, ids=uuid4)
    bad = tmp_path / "bad.csv"
    bad.write_text("id;name;phone;mobile;prio;product\nx1;A;not a number;;5;x\nx2;B;12;;5;x\n", encoding="utf-8")
    with pytest.raises(lists.ImportRejected, match=r"has no valid row: replacing the list with it would withdraw 100 of its 100"):
        lists.import_file(store, CAMPAIGN, bad, mode=ImportMode.REPLACE, at=NOW, ids=uuid4, skip_invalid=True)
    few = write_list(tmp_path / "few.csv", range(30))
    with pytest.raises(lists.ImportRejected, match=r"would withdraw 70 of its 100 contacts \(more than 50%\)"):
        lists.import_file(store, CAMPAIGN, few, mode=ImportMode.REPLACE, at=NOW, ids=uuid4)
    withdrawn = sum(1 for r in store.read(0, 10**8, topics=("ContactWithdrawn",)) if isinstance(r.event, ContactWithdrawn))
    assert withdrawn == 0 and len(imports(store)) == 1
    report, _ = lists.import_file(store, CAMPAIGN, few, mode=ImportMode.REPLACE, at=NOW, ids=uuid4, max_withdraw_share=0.8)
    assert report.withdrawn == 70
    report, _ = lists.import_file(store, CAMPAIGN, write_list(tmp_path / "one.csv", range(1)), mode=ImportMode.REPLACE, at=NOW, ids=uuid4, force=True)
    assert report.withdrawn == 29


def test_a_checking_worker_freezes_what_it_inherited_out_of_its_garbage_collection():
    """Its full collections do not walk the importer's heap (2 to 3 us a row)."""
    import gc
    from concurrent.futures import ProcessPoolExecutor

    from adapters.lists.rows import start_worker

    with ProcessPoolExecutor(1, initializer=start_worker, initargs=(os.getpid(),)) as pool:
        frozen = pool.submit(gc.get_freeze_count).result()
    assert frozen > 10_000 and gc.get_freeze_count() == 0  # the modules' objects, and only in the worker
