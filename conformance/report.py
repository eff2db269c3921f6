"""Reports of a run: a live progress bar and a colour table (rich), JUnit XML, JSON."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Iterable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .case import FLAGS, Result

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


def not_checked(results: list[Result]) -> dict[str | None, list[Result]]:
    """The skipped cases the dialect had something for (a skip that does not apply, such
    as a balance the dialect does not show, is left out), grouped by the option that
    would run them; None gathers those no option of the command would."""
    groups: dict[str | None, list[Result]] = {}
    for result in results:
        if result.unchecked:
            groups.setdefault(result.flag, []).append(result)
    return dict(sorted(groups.items(), key=lambda item: (item[0] is None, item[0] or "")))


def enable(flag: str | None) -> str:
    """How a group of unchecked cases could run, in words."""
    return f"with {FLAGS.get(flag, flag)}" if flag else "for other reasons (each says why)"


def skip_note(result: Result) -> str:
    """A skipped case's message as the reports give it: not applicable, or not checked
    and which option would check it."""
    if not result.unchecked:
        return f"not applicable: {result.message}"
    if result.flag:
        return f"not checked: {result.message}; run {enable(result.flag)}"
    return f"not checked: {result.message}"


def verdict(results: list[Result]) -> str:
    """The last line: failures, or that every case passed, never leaving out what was
    not checked."""
    failed = sum(1 for r in results if not r.ok)
    groups = not_checked(results)
    missed = sum(len(g) for g in groups.values())
    how = ", ".join(f"{flag} ({len(group)})" if flag else f"other reasons ({len(group)})"
                    for flag, group in groups.items())
    note = f"{missed} not checked: {how}" if missed else ""
    if failed:
        return f"{failed} of {len(results)} cases failed" + (f"; {note}" if note else "")
    if missed:
        return f"no selected case failed, but {note} (see \"not checked\" above)"
    return "all selected cases passed"


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
    groups = not_checked(results)
    if groups:
        missed = Table(title="not checked: skipped, though the dialect has something to "
                             "check there", show_lines=False)
        missed.add_column("run", overflow="fold")
        missed.add_column("case", overflow="fold")
        missed.add_column("what it checks", overflow="fold")
        for flag, group in groups.items():
            for index, result in enumerate(group):
                what = result.case.title if flag else f"{result.case.title} ({result.message})"
                missed.add_row(enable(flag) if index == 0 else "", result.case.id, what)
        console.print(missed)
    failed = sum(1 for r in results if not r.ok)
    colour = "red" if failed else "yellow" if groups else "green"
    console.print(f"[{colour}]{verdict(results)}[/{colour}]", markup=True)


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
            ET.SubElement(case, "skipped", message=skip_note(result))
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def as_json(suite: str, results: list[Result], notes: Iterable[str] = ()) -> dict:
    groups = not_checked(results)
    return {
        "suite": suite,
        # What the run did to the simulator it controlled (its clock, its allowed URLs).
        "notes": list(notes),
        "passed": all(r.ok for r in results),
        # Every case the dialect has something for ran: nothing is "not checked".
        "complete": not groups,
        "verdict": verdict(results),
        "counts": {o: sum(1 for r in results if r.outcome == o)
                   for o in ("passed", "failed", "error", "skipped")},
        "areas": scores(results),
        "not_checked": [{"flag": flag, "enable": FLAGS.get(flag) if flag else None,
                         "cases": [{"id": r.case.id, "title": r.case.title,
                                    "reason": r.message} for r in group]}
                        for flag, group in groups.items()],
        "cases": [{"id": r.case.id, "title": r.case.title, "area": r.case.area,
                   "seed": r.case.seed, "needs": sorted(r.case.needs), "outcome": r.outcome,
                   "message": r.message, "seconds": round(r.seconds, 3),
                   **({"flag": r.flag, "applies": r.unchecked} if r.outcome == "skipped"
                      else {})} for r in results],
    }


def write_json(path: str | Path, suite: str, results: list[Result],
               notes: Iterable[str] = ()) -> None:
    Path(path).write_text(json.dumps(as_json(suite, results, notes), indent=2) + "\n",
                          encoding="utf-8")
