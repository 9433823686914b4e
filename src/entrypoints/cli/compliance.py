"""`dialer audit compliance`: the report a compliance officer files (issue 16)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from entrypoints.cli.common import _fail, _open, audit_app, console


@audit_app.command("compliance")
def audit_compliance(
    campaign: Annotated[str, typer.Option(help="The campaign's name.")],
    from_day: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD, in the campaign's zone.")],
    to_day: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD, in the campaign's zone (included).")],
    out: Annotated[Path | None, typer.Option(help="Write the report to this file (Markdown; .json for JSON).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every dial of the period re-checked from its recorded evidence (callee hours, caller ID, ring
    time, do-not-call lists), what was held back or skipped, and the abandon rate over the period,
    24 hours and 30 days against the 3% limit."""
    from adapters.views.compliance import compliance_report

    try:
        first, last = date.fromisoformat(from_day), date.fromisoformat(to_day)
    except ValueError:
        _fail(f"--from and --to are days like 2026-11-23; got {from_day!r} and {to_day!r}")
    with _open() as (_, store):
        report = compliance_report(store, campaign, first, last)
    if out is not None:
        out.write_text(json.dumps(report, indent=2) if out.suffix == ".json" else markdown(report), encoding="utf-8")
        console.print(f"compliance report for {report['campaign']} written to {out}")
    if as_json:
        print(json.dumps(report, indent=2))
    elif out is None:
        console.print(markdown(report), markup=False, highlight=False)


def markdown(r: dict[str, Any]) -> str:
    """The report as a Markdown document a compliance officer can file."""
    a = r["abandon_rate"]

    def rate(w: dict[str, Any]) -> str:
        shown = "no call answered" if w["rate"] is None else f"{w['rate']:.2%}"
        verdict = "within" if w["within_limit"] else "OVER"
        return f"{shown} ({w['abandoned']} of {w['answered_by_a_person']}), {verdict} the {a['limit']:.0%} limit"

    ok = (
        r["dials_outside_callee_hours"] == 0
        and r["dials_without_caller_id"] == 0
        and r["dials_ringing_under_15_s"] == 0
        and r["dials_not_checked_against_do_not_call_lists"] == 0
        and all(a[k]["within_limit"] for k in ("period", "rolling_24_hours", "rolling_30_days"))
    )
    wait = r["longest_wait_before_the_abandon_message_s"]
    lines = [
        f"# Compliance report: {r['campaign']}",
        "",
        f"Period: {r['period']['from']} to {r['period']['to']} ({r['time_zone']}). Generated {r['generated_at']} from the event log.",
        "",
        f"**Verdict: {'no breach found' if ok else 'BREACHES FOUND (see the table, and the dials listed below)'}.**",
        "",
        "| check | result |",
        "|---|---|",
        f"| dials | {r['dials']} ({', '.join(f'{k}: {v}' for k, v in r['dials_by_policy'].items()) or 'none'}) |",
        f"| dials outside the callee's hours, re-checked from their evidence | {r['dials_outside_callee_hours']} |",
        f"| dials with no callee-hours evidence (recorded before it existed) | {r['dials_without_callee_evidence']} |",
        f"| dials without a caller ID | {r['dials_without_caller_id']} |",
        f"| dials ringing under 15 s | {r['dials_ringing_under_15_s']} |",
        f"| do-not-call lists checked | {', '.join(r['do_not_call_lists_checked']) or 'none defined'} |",
        f"| dials not checked against the do-not-call lists | {r['dials_not_checked_against_do_not_call_lists']} |",
        f"| numbers skipped for a do-not-call list | {r['numbers_skipped_for_do_not_call']} |",
        f"| contacts held back (the callee's hours, 72 h after an abandoned call) | {r['contacts_held_back']} |",
        f"| dials refused, by rule | {', '.join(f'{k}: {v}' for k, v in r['dials_refused_by_rule'].items()) or 'none'} |",
        f"| abandon rate, the period | {rate(a['period'])} |",
        f"| abandon rate, rolling 24 hours (UK) | {rate(a['rolling_24_hours'])} |",
        f"| abandon rate, rolling 30 days (US) | {rate(a['rolling_30_days'])} |",
        f"| longest wait before the abandoned-call message | {'none abandoned' if wait is None else f'{wait:.2f} s'} "
        f"(within {r['abandon_message_within_s']:g} s) |",
    ]
    if r["offending_dials"]:
        lines += ["", "## Offending dials", "", "| at | number | why | zones | callee's local time |", "|---|---|---|---|---|"]
        for d in r["offending_dials"]:
            lines.append(f"| {d['at']} | {d['number']} | {d['why']} | {', '.join(d['callee_zones'])} | {', '.join(d['callee_local_times'])} |")
    return "\n".join(lines) + "\n"
