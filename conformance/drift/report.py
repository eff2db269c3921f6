"""``musicsim drift``'s report: findings grouped by operation and field, with a count and
one example each, the timing side by side, and (``--suggest``) the spec changes that
would make the simulator agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from . import Analysis
from .findings import Finding


def groups(findings: list[Finding]) -> list[dict[str, Any]]:
    """One row per (operation, field, kind): how often, and the first example."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for finding in findings:
        key = (finding.operation, finding.field, finding.kind)
        row = rows.get(key)
        if row is None:
            rows[key] = {"operation": finding.operation, "field": finding.field,
                         "kind": finding.kind, "count": 1, "informational": finding.informational,
                         "example": finding.to_json()}
        else:
            row["count"] += 1
    return sorted(rows.values(), key=lambda r: (r["informational"], r["operation"], r["field"],
                                                r["kind"]))


def suggestions(findings: list[Finding]) -> list[str]:
    """Each distinct spec change the findings call for, in the order first met."""
    seen: dict[str, None] = {}
    for finding in findings:
        if finding.suggestion and not finding.informational:
            seen.setdefault(finding.suggestion, None)
    return list(seen)


def exit_status(analysis: Analysis, timing: bool = False) -> int:
    return 1 if analysis.differences(timing) else 0


def to_json(analysis: Analysis, timing: bool = False) -> dict[str, Any]:
    differences = analysis.differences(timing)
    return {"provider": analysis.provider, "exchanges": analysis.exchanges,
            "speed": analysis.speed, "differences": len(differences),
            "groups": groups(analysis.findings),
            "findings": [f.to_json() for f in analysis.findings],
            "timing": analysis.timing_rows(), "suggestions": suggestions(analysis.findings),
            "exit_status": exit_status(analysis, timing)}


def write_json(path: str, analysis: Analysis, timing: bool = False) -> None:
    Path(path).write_text(json.dumps(to_json(analysis, timing), indent=2, default=str) + "\n",
                          encoding="utf-8")


def print_report(console: Console, analysis: Analysis, *, timing: bool = False,
                 suggest: bool = False) -> None:
    rows = groups(analysis.findings)
    differences = analysis.differences(timing)
    if rows:
        table = Table(title=f"drift: {analysis.provider}, {analysis.exchanges} exchanges",
                      show_lines=False)
        for column in ("operation", "field", "kind", "count", "example"):
            table.add_column(column, overflow="fold")
        for row in rows:
            style = "dim" if row["informational"] and not (timing and row["kind"] == "timing") \
                else None
            table.add_row(row["operation"], row["field"] or "-", row["kind"], str(row["count"]),
                          row["example"]["message"], style=style)
        console.print(table)
    timings = analysis.timing_rows()
    if timings:
        table = Table(title=f"timing (seconds at speed {analysis.speed:g}; medians)")
        for column in ("operation", "state", "tasks", "measured", "simulated"):
            table.add_column(column)
        for row in timings:
            table.add_row(row["operation"], row["state"], str(row["count"]),
                          f"{row['measured']:.2f}", f"{row['simulated']:.2f}")
        console.print(table)
    if suggest:
        changes = suggestions(analysis.findings)
        console.print("suggested spec changes (a person decides):" if changes
                      else "no spec change suggested")
        for change in changes:
            console.print(f"  - {change}", markup=False, soft_wrap=True)
    if differences:
        console.print(f"[red]{len(differences)} difference(s) from the simulator's "
                      f"{analysis.provider} dialect[/red]")
    else:
        console.print(f"[green]no difference from the simulator's {analysis.provider} "
                      f"dialect in {analysis.exchanges} exchanges[/green]")
