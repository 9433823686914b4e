"""The README's commands, end to end through the `dialer` CLI on a SQLite file."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from entrypoints.cli import app


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("DIALER_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.output

    return invoke


def test_campaign_contacts_and_audit(run, tmp_path):
    code, out = run("campaign", "create", "Win-back", "--manager", "ann", "--mode", "power", "--hours", "mon-fri=09:00-12:00,13:00-17:00")
    assert code == 0 and "created campaign" in out
    code, out = run("campaign", "create", "Win-back", "--manager", "ann")
    assert code == 2 and "already exists" in out
    code, out = run("campaign", "status", "Nope", "enabled")
    assert code == 2 and "no campaign named 'Nope'" in out
    code, out = run("campaign", "create", "Bad", "--manager", "ann", "--hours", "mon=12:00-09:00")
    assert code == 2 and "must end after it starts" in out
    code, out = run("contact", "add", "Win-back", "c-1", "--number", "+45 20 12 34 56", "--number", "31234567", "--var", "product=X")
    assert code == 0 and "+4520123456, +4531234567" in out
    code, out = run("contact", "add", "Win-back", "c-2", "--number", "12")
    assert code == 2 and "impossible" in out
    code, out = run("audit", "contact", "Win-back/c-1", "--json")
    trail = json.loads(out)
    assert code == 0 and [e["event"] for e in trail["events"]] == ["ContactImported"] and trail["state"]["state"] == "new"
    code, out = run("audit", "contact", "Win-back/c-1", "--as-of", "2000-01-01T00:00:00+00:00")
    assert code == 2 and "no contact" in out


def test_simulate_then_stats_and_audit_on_the_store_it_leaves(run):
    code, out = run("simulate", "--mode", "predictive", "--agents", "3", "--contacts", "150", "--hours", "0.5", "--json")
    assert code == 0, out
    report = json.loads(out[out.index("{") :])
    figures = report["predictive"]
    assert figures["dials"] > 0 and 0 <= figures["abandon_rate"] <= 1 and figures["occupancy"] > 0
    name = figures["campaign"]
    code, out = run("stats", "show", "--campaign", name, "--day", "2026-11-23", "--format", "json")
    assert code == 0
    rows = json.loads(out[out.index("[") :])
    assert rows[-1]["hour"] == "day" and rows[-1]["dials"] == figures["dials"]
    code, out = run("stats", "rebuild")
    assert code == 0 and "generation 2 is live" in out
    code, out = run("stats", "rebuild", "--projection", "queue")  # the engine's queue view, built as the day ran
    assert code == 0 and "queue: generation 2 is live" in out
    code, out = run("stats", "follow", "--projection", "queue", "--timeout", "1")
    assert code == 0, out
    code, out = run("stats", "rebuild", "--projection", "agenda")
    assert code == 2 and "agenda" in out
    code, out = run("stats", "show", "--campaign", name, "--day", "2026-11-23", "--by", "agent", "--format", "csv")
    assert code == 0 and out.count("\n") == 4  # header and three agents
    code, out = run("audit", "campaign", name, "--limit", "5", "--json")
    assert code == 0 and len(json.loads(out)["events"]) == 5
    # with no options: every campaign, each on its own today (the simulated day is not today: zeros)
    result = CliRunner().invoke(app, ["stats", "show", "--format", "csv"])
    assert result.exit_code == 0 and result.stdout.startswith("campaign,day,hour,dials")
    assert name in result.stdout
    code, out = run("stats", "show", "--campaign", name, "--day", "2020-01-01", "--by", "agent", "--format", "csv")
    assert code == 0 and out.strip().startswith("agent,") and out.count("\n") == 1  # no figures: the header still
    code, out = run("stats", "rebuild")
    assert code == 0 and "read the log to position" in out and "folded the" in out


def test_messages_name_what_the_user_typed_and_an_agent_who_only_obtained_contacts_has_a_trail(run, tmp_path):
    assert run("campaign", "create", "Sales", "--manager", "ann", "--mode", "power", "--skill", "s")[0] == 0
    for args, says in [
        (("lists", "import", "Nope", "x.csv"), "no campaign named 'Nope'"),
        (("assign", "obtain", "Nope", "a1"), "no campaign named 'Nope'"),
        (("assign", "manual", "Sales", "a1", "--key", "k9"), "campaign 'Sales' has no contact 'k9'"),
        (("audit", "contact", "Sales/k9"), "campaign 'Sales' has no contact 'k9'"),
        (("audit", "contact", "Nope/k9"), "no campaign named 'Nope'"),
        (("contact", "add", "Nope", "k", "--number", "20123456"), "no campaign named 'Nope'"),
    ]:
        code, out = run(*args)
        assert code == 2 and says in out, (args, out)
    assert run("contact", "add", "Sales", "k1", "--number", "20123456")[0] == 0
    assert run("assign", "manual", "Sales", "agent-7", "--key", "k1")[0] == 0
    code, out = run("audit", "agent", "agent-7", "--json")
    assert code == 0 and [e["event"] for e in json.loads(out)["events"]] == ["ContactAssigned"]


@pytest.mark.parametrize(
    "url, says",
    [
        ("postgresql://bob:s3cret@127.0.0.1:99999/db", "the port is not a number"),
        ("postgresql://bob:s3cret@127.0.0.1:5432/db?schema=a;drop", "is not a plain name"),
        ("postgresql://bob:s3cret@127.0.0.1:1/db", "cannot open the store postgresql://bob:***@127.0.0.1:1/db"),
        ("mysql://bob:s3cret@h/db", "unsupported DIALER_DATABASE_URL"),
    ],
)
def test_a_bad_or_unreachable_database_url_is_named_without_its_password(monkeypatch, url, says):
    monkeypatch.setenv("DIALER_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "300")
    commands = (["campaign", "show", "X"], ["stats", "rebuild"])
    for args in commands[:1] if ":1/" in url else commands:  # an unreachable server takes the connect timeout once
        result = CliRunner().invoke(app, args)
        text = result.output + (repr(result.exception) if result.exception and not isinstance(result.exception, SystemExit) else "")
        assert result.exit_code == 2, text
        assert says in text and "s3cret" not in text


def test_the_cli_starts_without_the_store_and_simulation_libraries():
    """`dialer --help` must start fast (issue: 5 s): a command imports what it needs when it runs."""
    import subprocess
    import sys

    heavy = "('psycopg', 'eventsourcing', 'simpy', 'phonenumbers', 'cattrs', 'fastapi')"
    code = f"import sys, entrypoints.cli; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_simulate_checks_its_arguments_and_keeps_stdout_for_the_report(run):
    code, out = run("simulate", "--agents", "-3")
    assert code == 2 and "--agents" in out
    code, out = run("simulate", "--hours", "0")
    assert code == 2
    result = CliRunner().invoke(app, ["simulate", "--agents", "2", "--hours", "0.25", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # the progress bar went to stderr
    assert report["predictive"]["dials"] > 0


def test_campaigns_are_listed_and_edited_from_the_cli_and_a_bad_setting_is_named(run):
    code, out = run("campaign", "list")
    assert code == 0 and "no campaigns yet" in out
    assert run("campaign", "create", "Win-back", "--manager", "ann")[0] == 0
    code, out = run("campaign", "create", "Bad-id", "--manager", "ann", "--caller-id", "+4570000000")
    assert code == 2 and "caller_id_number '+4570000000' is not a valid number" in out
    code, out = run(
        "campaign", "edit", "Win-back", "--set", "max_ring_seconds=30", "--set", "auto_answer=no", "--set", "abandon_cap=none",
        "--set", "extensions=201,202", "--set", "caller_id_number=+45 70 12 34 56", "--priority", "8", "--mode", "predictive",
        "--manager", "bo", "--hours", "mon-fri=09:00-17:00", "--exception", "2026-12-24=closed", "--by", "ann",
    )
    assert code == 0 and "5 change(s) recorded" in out, out
    code, out = run("campaign", "show", "Win-back")
    shown = json.loads(out)
    assert (shown["priority"], shown["dial_mode"], shown["manager"]) == (8, "predictive", "bo")
    s = shown["settings"]
    assert (s["max_ring_seconds"], s["auto_answer"], s["abandon_cap"]) == (30, False, None)
    assert (s["extensions"], s["caller_id_number"]) == (["201", "202"], "+4570123456")
    assert shown["hours"]["exceptions"][0]["day"] == "2026-12-24"
    for args, says in [
        (("--set", "max_ring_seconds=10"), "at least 15"),
        (("--set", "max_ring=10"), "unknown campaign setting 'max_ring'"),
        (("--set", "wrapup_seconds=soon"), "setting wrapup_seconds takes a whole number, not 'soon'"),
        (("--set", "auto_answer=maybe"), "takes yes or no"),
        (("--priority", "0"), "priority must be 1..10"),
        (("--set", "noequals"), "is not name=value"),
    ]:
        code, out = run("campaign", "edit", "Win-back", *args)
        assert code == 2 and says in out, (args, out)
    assert run("campaign", "edit", "Win-back", "--set", "max_ring_seconds=30")[1].strip().endswith("nothing changed")
    code, out = run("audit", "campaign", "Win-back", "--json")
    changed = [e for e in json.loads(out)["events"] if e["event"] != "CampaignCreated"]
    assert {e["data"]["changed_by"] for e in changed} == {"ann"}
    code, out = run("campaign", "list")
    assert code == 0 and "Win-back" in out and "predictive" in out and "+4570123456" in out


def test_a_callback_is_booked_moved_and_cancelled_from_the_cli(run):
    assert run("campaign", "create", "Win-back", "--manager", "ann")[0] == 0
    assert run("contact", "add", "Win-back", "c-1", "--number", "+45 20 12 34 56")[0] == 0
    code, out = run("callback", "book", "Win-back", "c-1", "--at", "2031-01-06T10:00:00+01:00", "--agent", "agent-7")
    assert code == 0 and "callback booked: c-1 at 2031-01-06T10:00:00+01:00 for agent agent-7" in out, out
    code, out = run("callback", "book", "Win-back", "c-1", "--at", "2031-01-06T11:00:00+01:00")
    assert code == 0 and "callback moved" in out and "for any agent" in out
    code, out = run("callback", "book", "Win-back", "c-1", "--at", "tomorrow")
    assert code == 2 and "is not a time like" in out
    code, out = run("callback", "cancel", "Win-back", "c-1", "--close", "--reason", "bought online")
    assert code == 0 and "c-1 is done" in out
    code, out = run("callback", "cancel", "Win-back", "c-1")
    assert code == 2 and "no callback booked to cancel" in out


def test_filters_and_sort_orders_from_the_cli_say_what_they_select_and_a_filter_matching_nothing_is_said(run):
    assert run("campaign", "create", "Win-back", "--manager", "ann")[0] == 0
    for key, region, age in [("c-1", "north", "40"), ("c-2", "south", "25"), ("c-3", "north", "19")]:
        number = f"+45 20 12 34 5{key[-1]}"
        assert run("contact", "add", "Win-back", key, "--number", number, "--var", f"region={region}", "--var", f"age={age}")[0] == 0
    code, out = run("campaign", "filter", "save", "Win-back", "adults-north", "region = 'north' and age >= 30", "--use")
    assert code == 0 and "filter 'adults-north' selects 1 of 3 contacts in the list" in out, out
    code, out = run("campaign", "filter", "save", "Win-back", "broken", "region = ")
    assert code == 2 and "filter 'broken': expected a value" in out
    code, out = run("campaign", "filter", "save", "Win-back", "nobody", "region = 'west'", "--use")
    assert code == 0 and "matches none of the 3 contacts in the list: nothing will be dialled" in out
    code, out = run("campaign", "show", "Win-back")
    assert code == 0 and '"warning": "the filter \'nobody\' matches none' in out
    code, out = run("campaign", "sort", "Win-back", "age desc, name")
    assert code == 0 and "sort: age desc, name asc" in out
    code, out = run("campaign", "sort", "Win-back", "age sideways")
    assert code == 2 and "sort key 'age sideways' is not NAME [asc|desc]" in out  # brackets shown, not taken as markup
    code, out = run("campaign", "filter", "use", "Win-back", "--none")
    assert code == 0 and "no filter: every contact in the list" in out
    code, out = run("campaign", "filter", "use", "Win-back", "ghost")
    assert code == 2 and "filter 'ghost' is not one of the campaign's filters" in out
    assert run("campaign", "filter", "remove", "Win-back", "nobody")[0] == 0
    code, out = run("campaign", "filter", "show", "Win-back")
    assert code == 0 and '"adults-north"' in out and '"nobody"' not in out


def test_a_campaign_is_renamed_and_keeps_its_history_and_a_taken_name_is_refused(run):
    assert run("campaign", "create", "Win-back", "--manager", "ann")[0] == 0
    assert run("campaign", "create", "Spring", "--manager", "ann")[0] == 0
    assert run("contact", "add", "Win-back", "c-1", "--number", "+45 20 12 34 56")[0] == 0
    code, out = run("campaign", "edit", "Win-back", "--name", "Spring")
    assert code == 2 and "a campaign named 'Spring' already exists" in out
    code, out = run("campaign", "edit", "Win-back", "--name", "Win-back 2027", "--priority", "7", "--by", "ann")
    assert code == 0 and "2 change(s) recorded" in out, out
    code, out = run("campaign", "show", "Win-back 2027")
    assert code == 0 and json.loads(out)["priority"] == 7
    assert run("campaign", "show", "Win-back")[0] == 2  # the old name is no campaign's now
    code, out = run("audit", "contact", "Win-back 2027/c-1", "--json")
    assert code == 0 and json.loads(out)["state"]["key"] == "c-1"  # its contacts stay with it
    code, out = run("campaign", "create", "Win-back", "--manager", "bo")
    assert code == 2 and "was the first name of campaign 'Win-back 2027'" in out
    code, out = run("campaign", "edit", "Spring", "--name", "Win-back 2027")
    assert code == 2 and "already exists" in out
    assert run("campaign", "edit", "Win-back 2027", "--name", "Win-back")[0] == 0  # back to its first name
    assert run("campaign", "edit", "Spring", "--name", "Win-back 2027")[0] == 0  # the name is free again
    code, out = run("campaign", "show", "Win-back 2027")
    assert json.loads(out)["manager"] == "ann" and json.loads(out)["name"] == "Win-back 2027"
    assert run("campaign", "show", "Win-back")[0] == 0


@pytest.mark.parametrize(("value", "says"), [("soon", "is not a number of seconds"), ("9", "outside 0 to 5 seconds"), ("-1", "outside 0 to 5")])
def test_serve_refuses_a_bad_pacing_interval_naming_it_before_anything_starts(monkeypatch, tmp_path, value, says):
    monkeypatch.setenv("DIALER_DATABASE_URL", f"sqlite:///{tmp_path}/d.db")
    monkeypatch.setenv("DIALER_PACE_EVERY_SECONDS", value)
    result = CliRunner().invoke(app, ["serve", "--port", "0"])
    assert result.exit_code != 0 and "DIALER_PACE_EVERY_SECONDS" in result.output and says in result.output, result.output
    assert not (tmp_path / "d.db").exists()  # refused before the store was opened


def test_the_live_service_takes_its_pacing_interval_from_the_environment(monkeypatch):
    from entrypoints import bootstrap

    monkeypatch.setenv("DIALER_PACE_EVERY_SECONDS", "0.5")
    assert bootstrap.engine_config().pace_every_seconds == 0.5
    monkeypatch.setenv("DIALER_PACE_EVERY_SECONDS", "0")
    assert bootstrap.engine_config().pace_every_seconds == 0
    monkeypatch.delenv("DIALER_PACE_EVERY_SECONDS")
    assert bootstrap.engine_config().pace_every_seconds is None  # automatic: by the number of agents logged in
