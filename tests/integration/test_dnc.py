"""Do-not-call lists (issue 16) on every backend: the memory store, SQLite and PostgreSQL. Added
and removed numbers, a campaign's own list, a whole file loaded as a new version that replaces
the old one at once (a check during the load sees the old list; an import killed with SIGKILL
leaves it live), and bad input refused with what was wrong."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import pytest

from adapters.lists.dnc import DncStore
from adapters.persistence.eventstore import open_event_store
from dialer_domain.model.errors import InvalidValue, NotFound
from tests.conftest import wait_until

CAMPAIGN, OTHER = uuid4(), uuid4()
ROOT = Path(__file__).resolve().parents[2]


class DncContract:
    @pytest.fixture
    def url(self, tmp_path):
        raise NotImplementedError

    @pytest.fixture
    def dnc(self, url):
        store = open_event_store(url)
        yield DncStore(getattr(store.recorder, "datastore", None))
        store.close()

    def test_added_numbers_are_listed_with_the_lists_revision_and_removed_ones_are_not(self, dnc):
        assert dnc.check("+4520000001", CAMPAIGN).checked == ()
        dnc.add("internal", ["+4520000001", "+4520000002"], by="ann", reason="asked not to be called")
        v = dnc.check("+4520000001", CAMPAIGN)
        assert (v.checked, v.listed_on) == (("internal@1",), ("internal",))
        assert v.reason == "the number is on the do-not-call list internal"
        dnc.remove("internal", ["+4520000001"], by="ann", reason="added by mistake")
        v = dnc.check("+4520000001", CAMPAIGN)
        assert (v.checked, v.listed_on) == (("internal@2",), ())
        assert dnc.check("+4520000002", CAMPAIGN).listed_on == ("internal",)
        assert [(m.name, m.revision, m.entries) for m in dnc.lists()] == [("internal", 2, 1)]

    def test_a_campaigns_own_list_applies_to_that_campaign_only(self, dnc):
        dnc.add("win-back-optout", ["+4520000003"], scope=str(CAMPAIGN), by="ann", reason="opted out of win-back")
        assert dnc.check("+4520000003", CAMPAIGN).listed_on == ("win-back-optout",)
        assert dnc.check("+4520000003", OTHER).checked == ()
        with pytest.raises(InvalidValue, match="is for campaign"):
            dnc.add("win-back-optout", ["+4520000004"], by="ann", reason="x")  # the list keeps its scope

    def test_a_file_replaces_the_list_whole_and_a_check_during_the_load_sees_the_old_one(self, dnc):
        dnc.replace("national", ["+4520000010", "+4520000011"], source="registry-2026-10.txt", by="ops")
        seen_during: list[tuple[str, ...]] = []
        lines = ["# national registry, November", *(f"+45300{i:05d}" for i in range(25_000)), "", "+4520000011"]

        def progress(_: int) -> None:
            seen_during.append(dnc.check("+4520000010", CAMPAIGN).listed_on + dnc.check("+4530000001", CAMPAIGN).listed_on)

        meta, refused = dnc.replace("national", lines, source="registry-2026-11.txt", by="ops", progress=progress)
        assert refused == [] and meta.revision == 2 and meta.entries == 25_001
        assert seen_during and all(s == ("national",) for s in seen_during)  # the old list only: +4520000010 listed, the new number not
        assert dnc.check("+4520000010", CAMPAIGN).listed_on == ()  # gone with the old version
        assert dnc.check("+4530000001", CAMPAIGN).listed_on == ("national",)
        assert dnc.check("+4520000011", CAMPAIGN).checked == ("national@2",)
        assert meta.source.startswith("registry-2026-11.txt sha256:")

    def test_a_file_with_bad_lines_is_refused_whole_and_names_them(self, dnc):
        dnc.replace("national", ["+4520000010"], source="v1", by="ops")
        meta, refused = dnc.replace("national", ["+4520000020", "12ab", "+4520000021", "+1"], source="v2", by="ops")
        assert [no for no, _ in refused] == [2, 4] and "E.164" in refused[0][1]
        assert meta.revision == 1 and dnc.check("+4520000010", CAMPAIGN).listed_on == ("national",)
        assert dnc.check("+4520000020", CAMPAIGN).listed_on == ()

    def test_numbers_asked_together_get_the_verdicts_each_would_get_alone(self, dnc, monkeypatch):
        numbers = ["+4520000001", "+4520000002", "+4520000003", "+4520000004", "+4520000002"]
        assert dnc.check_many(numbers, CAMPAIGN) == dict.fromkeys(numbers, dnc.check(numbers[0], CAMPAIGN))  # no list yet
        dnc.add("internal", ["+4520000001", "+4520000002"], by="ann", reason="asked not to be called")
        dnc.add("national", ["+4520000002", "+4520000003"], by="ops", reason="registry")
        dnc.add("win-back-optout", ["+4520000004"], scope=str(CAMPAIGN), by="ann", reason="opted out of win-back")
        dnc.add("other-optout", ["+4520000001"], scope=str(OTHER), by="ann", reason="opted out")
        for campaign in (CAMPAIGN, OTHER):
            together = dnc.check_many(numbers, campaign)
            assert together == {n: dnc.check(n, campaign) for n in numbers}
        assert dnc.check_many(numbers, CAMPAIGN)["+4520000002"].listed_on == ("internal", "national")
        monkeypatch.setattr("adapters.lists.dnc.CHECK_MANY", 2)  # more numbers than one query asks about
        assert dnc.check_many(numbers, OTHER) == {n: dnc.check(n, OTHER) for n in numbers}

    def test_bad_names_and_numbers_and_unknown_lists_are_refused(self, dnc):
        with pytest.raises(InvalidValue, match="list name"):
            dnc.add("Bad Name!", ["+4520000001"], by="ann", reason="x")
        with pytest.raises(InvalidValue, match=r"E\.164"):
            dnc.add("internal", ["0045 20 00 00 01\x00"], by="ann", reason="x")
        with pytest.raises(InvalidValue, match="no numbers"):
            dnc.add("internal", [], by="ann", reason="x")
        with pytest.raises(NotFound, match="no do-not-call list named 'nope'"):
            dnc.remove("nope", ["+4520000001"], by="ann", reason="x")
        assert dnc.lists() == []


class TestMemory(DncContract):
    @pytest.fixture
    def url(self):
        return "memory:"


class TestSQLite(DncContract):
    @pytest.fixture
    def url(self, tmp_path):
        return f"sqlite:///{tmp_path}/dnc.db"

    def test_an_import_killed_half_way_leaves_the_old_list_live_and_the_next_one_sweeps_it(self, url, tmp_path, dnc):
        _killed_import_leaves_the_old_list(url, tmp_path, dnc)


class TestPostgres(DncContract):
    @pytest.fixture
    def url(self, pg_url):
        return pg_url

    def test_an_import_killed_half_way_leaves_the_old_list_live_and_the_next_one_sweeps_it(self, url, tmp_path, dnc):
        _killed_import_leaves_the_old_list(url, tmp_path, dnc)


def _killed_import_leaves_the_old_list(url: str, tmp_path: Path, dnc: DncStore) -> None:
    dnc.replace("national", ["+4520000010"], source="v1", by="ops")
    big = tmp_path / "registry.txt"
    big.write_text("".join(f"+4531{i:06d}\n" for i in range(400_000)))
    env = {**os.environ, "DIALER_DATABASE_URL": url, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli", "dnc", "import", str(big), "--list", "national", "--by", "ops"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: _rows(dnc) > 20_000, timeout=120, what="the import under way")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert dnc.get("national").revision == 1 and dnc.check("+4520000010", CAMPAIGN).listed_on == ("national",)
    assert dnc.check("+4531000001", CAMPAIGN).listed_on == ()
    meta, refused = dnc.replace("national", ["+4520000099"], source="v3", by="ops")
    assert refused == [] and meta.revision == 2 and meta.entries == 1
    assert _rows(dnc) == 1  # the half-loaded generation was swept with the replaced one


def _rows(dnc: DncStore) -> int:
    return int(dnc._query("SELECT COUNT(*) FROM {p}dialer_dnc_numbers", ())[0][0])


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_lists_over_http_for_staff_with_errors_that_name_what_was_wrong(backend, tmp_path, request):
    from fastapi.testclient import TestClient

    from entrypoints import bootstrap
    from entrypoints.api import create_app

    url = f"sqlite:///{tmp_path}/api.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    app = create_app(url)
    tokens = bootstrap.tokens(app.state.store.get())
    staff = {"Authorization": f"Bearer {tokens.create('supervisor')[1]}"}
    agent = {"Authorization": f"Bearer {tokens.create('agent', 'a1')[1]}"}
    with TestClient(app) as client:
        assert client.post("/campaigns", json={"name": "Win-back", "manager": "ann"}, headers=staff).status_code == 201
        body = {"numbers": ["+4520000001"], "reason": "asked on the phone"}
        assert client.post("/dnc/internal/numbers", json=body, headers=agent).status_code == 403
        r = client.post("/dnc/internal/numbers", json=body, headers=staff)
        assert r.status_code == 200 and (r.json()["revision"], r.json()["entries"]) == (1, 1)
        r = client.post("/dnc/win-back-optout/numbers", json={"numbers": ["+4520000002"], "campaign": "Win-back"}, headers=staff)
        assert r.status_code == 200 and r.json()["scope"] != "*"
        check = client.get("/dnc/check/+4520000001", params={"campaign": "Win-back"}, headers=staff).json()
        assert (check["may_call"], check["listed_on"], check["checked"]) == (False, ["internal"], ["internal@1", "win-back-optout@1"])
        assert [m["name"] for m in client.get("/dnc", headers=staff).json()] == ["internal", "win-back-optout"]
        r = client.post("/dnc/internal/numbers/remove", json=body, headers=staff)
        assert r.status_code == 200 and r.json()["entries"] == 0
        assert client.get("/dnc/check/+4520000001", params={"campaign": "Win-back"}, headers=staff).json()["may_call"] is True
        bad = client.post("/dnc/internal/numbers", json={"numbers": ["12ab"]}, headers=staff)
        assert bad.status_code == 422 and "E.164" in bad.text
        assert client.post("/dnc/No Such!/numbers", json=body, headers=staff).status_code == 422
        assert client.post("/dnc/nope/numbers/remove", json=body, headers=staff).status_code == 404
        assert client.get("/dnc/check/+4520000001", params={"campaign": "Nope"}, headers=staff).status_code == 404


def test_the_cli_adds_imports_lists_and_checks(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from entrypoints.cli import app

    monkeypatch.setenv("DIALER_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    cli = CliRunner()

    def flat(result) -> str:  # rich wraps long lines at the terminal's width
        return " ".join(result.output.split())

    assert cli.invoke(app, ["campaign", "create", "Win-back", "--manager", "ann"]).exit_code == 0
    r = cli.invoke(app, ["dnc", "add", "+4520000001", "--reason", "asked"])
    assert r.exit_code == 0 and "list internal: revision 1, 1 numbers" in flat(r)
    good = tmp_path / "registry.txt"
    good.write_text("# registry\n+4520000005\n\n+4520000006\n")
    r = cli.invoke(app, ["dnc", "import", str(good), "--list", "national"])
    assert r.exit_code == 0 and "list national: revision 1, 2 numbers (registry.txt sha256:" in flat(r)
    bad = tmp_path / "bad.txt"
    bad.write_text("+4520000007\nnot a number\n")
    r = cli.invoke(app, ["dnc", "import", str(bad), "--list", "national"])
    assert r.exit_code == 2 and "line 2:" in flat(r) and "list national is unchanged" in flat(r)
    r = cli.invoke(app, ["dnc", "check", "+4520000006", "--campaign", "Win-back"])
    assert r.exit_code == 2 and "is on national" in flat(r)
    r = cli.invoke(app, ["dnc", "check", "+4520000007", "--campaign", "Win-back"])
    assert r.exit_code == 0 and "may be called (checked internal@1, national@1)" in flat(r)
    r = cli.invoke(app, ["dnc", "lists"])
    assert "internal every campaign revision 1 1 numbers" in flat(r) and "national" in flat(r)
