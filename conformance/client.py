"""``musicsim conformance client``: run a client against a simulator, then grade what it
did from the simulator's journal, task list and webhook record."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

from rich.console import Console

from simulator.openapi import load_spec

from . import report
from .case import Case, Result
from .dialects import driver as driver_of
from .control import MusicSim

MIN_POLL_GAP_S = 0.5  # a client polls a task no more than twice a second
RETRY_AFTER_SLACK_S = 0.1  # clock granularity between the two ends
CLIENT_CREDITS = 1_000_000
REFUSED_AS_CALLERS_FAULT = {400, 401, 404, 405, 413, 415, 422}


@dataclass
class Observed:
    """What the client did, as the simulator saw it."""

    provider: str
    exit_status: int | None  # None: killed at the timeout
    output: str
    entries: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    webhooks: list[dict[str, Any]]
    forged: list[tuple[str, int | None]] = field(default_factory=list)  # url, answer


def verdict(problems: list[str], passed: str) -> tuple[str, str]:
    """Failed with the first few problems, or passed with what was seen."""
    if problems:
        return "failed", "; ".join(problems[:5])
    return "passed", passed


CHECKS: list[tuple[Case, Callable[[Observed], tuple[str, str]]]] = []


def check(name: str, title: str, seed: str):
    def register(fn):
        CHECKS.append((Case(f"client.{name}", title, seed, "client", lambda ctx: None), fn))
        return fn
    return register


@check("finished", "The client ran to its end within the time limit", "DESIGN §2: client")
def finished(seen: Observed) -> tuple[str, str]:
    if seen.exit_status is None:
        return "failed", "the client was still running at the time limit and was stopped"
    return "passed", f"exit status {seen.exit_status}"


@check("made-requests", "The client called the API", "DESIGN §2: client")
def made_requests(seen: Observed) -> tuple[str, str]:
    if not seen.entries:
        return "failed", (f"no request reached the simulator's {seen.provider} API: does the "
                          "client read MUSICSIM_BASE_URL and MUSICSIM_API_KEY?")
    return "passed", f"{len(seen.entries)} requests"


@check("valid-requests", "Every request is valid against the dialect's spec",
       "specs/<provider>.yaml: request bodies and parameters")
def valid_requests(seen: Observed) -> tuple[str, str]:
    spec = load_spec(seen.provider)
    problems = []
    for entry in _own(seen):
        template = spec.operation_for(entry["method"], entry["path"])
        if template is None:
            problems.append(f"{entry['method']} {entry['path']}: no such operation")
            continue
        operation = spec.document["paths"][template][entry["method"].lower()]
        if "requestBody" in operation and entry["request"]["body"]:
            try:
                body = json.loads(entry["request"]["body"])
            except ValueError:
                problems.append(f"{entry['method']} {entry['path']}: body is not JSON")
                continue
            violation = spec.check_body(template, entry["method"], body)
            if violation is not None:
                problems.append(f"{entry['method']} {template}: {violation.message}")
                continue
        if entry["status"] in REFUSED_AS_CALLERS_FAULT and not entry["faults"]:
            problems.append(f"{entry['method']} {entry['path']} was refused with "
                            f"{entry['status']}: {entry['response']['body'][:160]}")
    return verdict(problems, "")


@check("polling", "Polls are no faster than twice a second and stop at a terminal status",
       "seeds: task query (poll until a terminal status)")
def polling(seen: Observed) -> tuple[str, str]:
    driver = driver_of(seen.provider)
    polls = _polls(seen)
    if not polls:
        return "skipped", "the client polled no task"
    problems = []
    for task_id, entries in polls.items():
        gaps = [b["wall_time"] - a["wall_time"] for a, b in zip(entries, entries[1:])]
        fast = [g for g in gaps if g < MIN_POLL_GAP_S]
        if fast:
            problems.append(f"task {task_id} was polled {len(fast) + 1} times less than "
                            f"{MIN_POLL_GAP_S:g} s apart (shortest gap {min(fast):.3f} s)")
        ended = next((i for i, e in enumerate(entries) if _status(driver, e) in driver.terminal),
                     None)
        if ended is not None and ended < len(entries) - 1:
            problems.append(f"task {task_id} was polled {len(entries) - 1 - ended} more times "
                            f"after it was reported {_status(driver, entries[ended])!r}")
    return verdict(problems, f"{sum(len(e) for e in polls.values())} polls of {len(polls)} tasks")


@check("retry-after", "After a 429 or 503 with Retry-After, the client waits as told",
       "seeds: rate limits (429 with Retry-After)")
def retry_after(seen: Observed) -> tuple[str, str]:
    entries = _own(seen)
    told = [(i, e) for i, e in enumerate(entries) if _header(e, "retry-after") is not None]
    if not told:
        return "skipped", "no answer asked the client to wait (try --scenario rate-limited)"
    problems = []
    for index, entry in told:
        try:
            wait = float(_header(entry, "retry-after"))
        except ValueError:
            continue
        later = entries[index + 1:index + 2]
        if later and later[0]["wall_time"] - entry["wall_time"] < wait - RETRY_AFTER_SLACK_S:
            problems.append(f"told to wait {wait:g} s after {entry['status']} on "
                            f"{entry['method']} {entry['path']}, the client came back after "
                            f"{later[0]['wall_time'] - entry['wall_time']:.2f} s")
    return verdict(problems, f"waited as told {len(told)} times")


@check("failures-surfaced", "A failed task is reported: a non-zero exit or a message",
       "seeds: task status (failed)")
def failures_surfaced(seen: Observed) -> tuple[str, str]:
    failed = [t for t in seen.tasks if t.get("status") == "failed"]
    if not failed:
        return "skipped", "no task failed in this run (try --scenario failing-tasks)"
    if seen.exit_status not in (0, None):
        return "passed", f"{len(failed)} failed tasks; exit status {seen.exit_status}"
    if re.search(r"fail|error", seen.output, re.IGNORECASE):
        return "passed", f"{len(failed)} failed tasks, reported in the output"
    return "failed", (f"{len(failed)} tasks failed ({', '.join(t['id'] for t in failed[:3])}) "
                      "but the client exited 0 and said nothing of it")


@check("signatures-checked", "The client's webhook endpoint refuses a forged delivery",
       "seed 000: webhook signatures")
def signatures_checked(seen: Observed) -> tuple[str, str]:
    if not driver_of(seen.provider).signs:
        return "skipped", "the dialect does not sign its callbacks"
    if not seen.webhooks:
        return "skipped", "the client asked for no callbacks"
    if not any(a.get("ok") for a in seen.webhooks):
        return "failed", "the client's endpoint accepted no genuine delivery"
    if not seen.forged:
        return "failed", "no forged delivery could be sent while the client ran"
    accepted = [url for url, status in seen.forged if status is not None and status < 300]
    if accepted:
        return "failed", f"a delivery with a forged signature was accepted at {accepted[0]}"
    return "passed", "genuine deliveries accepted, a forged one refused"


def grade(seen: Observed) -> list[Result]:
    results = []
    for case, fn in CHECKS:
        started = time.monotonic()
        outcome, message = fn(seen)
        results.append(Result(case, outcome, message, time.monotonic() - started))
    return results


# --- running the client --------------------------------------------------------------


def run_client(provider: str, command: list[str], *, scenario: str | None = None,
               timeout: float = 300.0, speed: float | None = None) -> Observed:
    """Start a simulator (on the fast clock, or ``speed`` times real time), run the
    client against it, and collect what it did."""
    from simulator.background import Background

    clock = {"clock": "fast"} if speed is None else {"clock": "scaled", "speed": speed}
    server = Background(**clock, allow_local_callbacks=True, providers=[provider],
                        scenario=scenario).start()
    try:
        sim = MusicSim(server.url, server.settings.demo_key)
        key = sim.account(credits=CLIENT_CREDITS)
        secret = sim.admin("GET", f"/accounts/{key}").get("webhook_secret") or ""
        base = sim.base_url(provider)
        env = {**os.environ, "MUSICSIM_BASE_URL": base, "MUSICSIM_API_KEY": key,
               "MUSICSIM_PROVIDER": provider, "MUSICSIM_CALLBACK_SECRET": secret,
               f"{provider.upper()}_BASE_URL": base, f"{provider.upper()}_API_KEY": key}
        forged: list[tuple[str, int | None]] = []
        stop = threading.Event()
        watcher = threading.Thread(target=_forge, args=(sim, provider, forged, stop),
                                   daemon=True)
        if driver_of(provider).signs:
            watcher.start()
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        try:
            output, _ = process.communicate(timeout=timeout)
            status: int | None = process.returncode
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            status = None
        stop.set()
        entries = sim.journal(provider=provider, api_key=key)
        tasks = sim.tasks(provider=provider, api_key=key)
        webhooks = [a for a in sim.webhooks(provider=provider)
                    if a["task_id"] in {t["id"] for t in tasks}]
        return Observed(provider, status, output or "", entries, tasks, webhooks, forged)
    finally:
        server.stop()


def _forge(sim: MusicSim, provider: str, forged: list, stop: threading.Event) -> None:
    """Once the client has been sent a genuine delivery, send its endpoint a copy with
    the body changed and the signature kept: a client that checks signatures refuses it."""
    while not stop.wait(0.1):
        attempts = sim.webhooks(provider=provider)
        genuine = next((a for a in attempts if a.get("ok")), None)
        if genuine is None:
            continue
        try:
            data = json.loads(genuine["payload"])
            body = json.dumps({**data, "forged": True} if isinstance(data, dict) else data) + " "
        except ValueError:
            body = genuine["payload"] + " "
        request = urllib.request.Request(genuine["url"], data=body.encode(), method="POST",
                                         headers=genuine["request_headers"])
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                forged.append((genuine["url"], response.status))
        except urllib.error.HTTPError as exc:
            forged.append((genuine["url"], exc.code))
        except OSError:
            forged.append((genuine["url"], None))
        return


# --- reading the journal -------------------------------------------------------------


def _own(seen: Observed) -> list[dict[str, Any]]:
    """The client's requests, oldest first, with paths inside the provider."""
    prefix = f"/{seen.provider}"
    out = []
    for entry in sorted(seen.entries, key=lambda e: e["id"]):
        path = entry["path"]
        if path.startswith(prefix + "/"):
            path = path[len(prefix):]
        out.append({**entry, "path": path})
    return out


def _header(entry: dict[str, Any], name: str) -> str | None:
    for key, value in (entry["response"]["headers"] or {}).items():
        if key.lower() == name:
            return value
    return None


def _polls(seen: Observed) -> dict[str, list[dict[str, Any]]]:
    """Each task's polls: calls to the dialect's poll operation that name the task or
    one of its songs."""
    driver = driver_of(seen.provider)
    spec = load_spec(seen.provider)
    method, path, _ = driver.poll_request("{id}")
    template = spec.operation_for(method, path.replace("{id}", "x"))
    polls: dict[str, list[dict[str, Any]]] = {}
    for entry in _own(seen):
        if entry["method"] != method or spec.operation_for(method, entry["path"]) != template:
            continue
        text = entry["path"] + entry["request"]["body"]
        for task in seen.tasks:
            names = [task["id"], *(c.get("id") for c in task.get("clips") or ())]
            if any(n and n in text for n in names):
                polls.setdefault(task["id"], []).append(entry)
                break
    return polls


def _status(driver, entry: dict[str, Any]) -> str | None:
    try:
        return driver.status_of(json.loads(entry["response"]["body"]))
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        return None


def main(provider: str, command: list[str], *, scenario: str | None = None,
         timeout: float = 300.0, junit: str | None = None, json_path: str | None = None,
         console: Console | None = None) -> int:
    console = console or Console()
    suite = f"musicsim conformance client {provider}"
    try:
        with console.status(f"running {' '.join(command)} against a {provider} simulator"
                            + (f" (scenario {scenario})" if scenario else "")):
            seen = run_client(provider, command, scenario=scenario, timeout=timeout)
    except ValueError as exc:  # an unknown scenario
        console.print(f"musicsim: {exc}", style="red", markup=False)
        return 2
    except OSError as exc:  # the command cannot be started
        console.print(f"musicsim: cannot run {command[0]}: {exc.strerror or exc}", style="red",
                      markup=False)
        return 2
    results = grade(seen)
    report.print_report(console, suite, results)
    if junit:
        report.write_junit(junit, suite, results)
    if json_path:
        report.write_json(json_path, suite, results)
    return 0 if all(r.ok for r in results) else 1
