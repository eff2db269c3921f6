"""Reports of a run: a live progress bar and a colour table (rich), JUnit XML, JSON."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .case import Result

COLOURS = {"passed": "green", "failed": "red", "error": "red", "skipped": "yellow"}


def progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[last]}"), TimeElapsedColumn(), console=console,
                    transient=False)


def scores(results: list[Result]) -> dict[str, dict[str, int]]:
    """Per area: how many passed, failed (or errored) and were skipped."""
    by_area: dict[str, dict[str, int]] = defaultdict(lambda: {"passed": 0, "failed": 0,
                                                               "skipped": 0})
    for result in results:
        outcome = "failed" if result.outcome == "error" else result.outcome
        by_area[result.case.area][outcome] += 1
    return dict(by_area)


def print_report(console: Console, title: str, results: list[Result]) -> None:
    table = Table(title=title, show_lines=False)
    table.add_column("case", overflow="fold")
    table.add_column("result")
    table.add_column("s", justify="right")
    table.add_column("detail", overflow="fold")
    for result in results:
        colour = COLOURS[result.outcome]
        table.add_row(result.case.id, f"[{colour}]{result.outcome}[/{colour}]",
                      f"{result.seconds:.1f}", result.message or result.case.title)
    console.print(table)
    summary = Table(title="score per area")
    for column in ("area", "passed", "failed", "skipped", "score"):
        summary.add_column(column, justify="left" if column == "area" else "right")
    for area, counts in scores(results).items():
        ran = counts["passed"] + counts["failed"]
        score = f"{100 * counts['passed'] / ran:.0f}%" if ran else "-"
        colour = "green" if not counts["failed"] else "red"
        summary.add_row(area, str(counts["passed"]), str(counts["failed"]),
                        str(counts["skipped"]), f"[{colour}]{score}[/{colour}]")
    console.print(summary)
    failed = sum(1 for r in results if not r.ok)
    verdict = "[green]all selected cases passed[/green]" if not failed else \
        f"[red]{failed} of {len(results)} cases failed[/red]"
    console.print(verdict)


def write_junit(path: str | Path, suite: str, results: list[Result]) -> None:
    failures = sum(1 for r in results if r.outcome == "failed")
    errors = sum(1 for r in results if r.outcome == "error")
    skipped = sum(1 for r in results if r.outcome == "skipped")
    root = ET.Element("testsuites")
    node = ET.SubElement(root, "testsuite", name=suite, tests=str(len(results)),
                         failures=str(failures), errors=str(errors), skipped=str(skipped),
                         time=f"{sum(r.seconds for r in results):.3f}")
    for result in results:
        case = ET.SubElement(node, "testcase", classname=f"{suite}.{result.case.area}",
                             name=result.case.id, time=f"{result.seconds:.3f}")
        if result.outcome in ("failed", "error"):
            child = ET.SubElement(case, "failure" if result.outcome == "failed" else "error",
                                  message=result.message[:500])
            child.text = f"{result.case.title}\n{result.case.seed}\n{result.message}"
        elif result.outcome == "skipped":
            ET.SubElement(case, "skipped", message=result.message)
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def as_json(suite: str, results: list[Result]) -> dict:
    return {
        "suite": suite,
        "passed": all(r.ok for r in results),
        "counts": {o: sum(1 for r in results if r.outcome == o)
                   for o in ("passed", "failed", "error", "skipped")},
        "areas": scores(results),
        "cases": [{"id": r.case.id, "title": r.case.title, "area": r.case.area,
                   "seed": r.case.seed, "needs": sorted(r.case.needs), "outcome": r.outcome,
                   "message": r.message, "seconds": round(r.seconds, 3)} for r in results],
    }


def write_json(path: str | Path, suite: str, results: list[Result]) -> None:
    Path(path).write_text(json.dumps(as_json(suite, results), indent=2) + "\n",
                          encoding="utf-8")
