"""Each recorded task's life: the status words its answers gave, in order, held against
the dialect's vocabulary and its forward-only order, and (with the simulator's own
timeline for the same request) against the states the simulator passes through and how
long each lasts."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from simulator.cassette import Exchange

from ..dialect import Driver
from .findings import (BACKWARD_TRANSITION, SKIPPED_STATE, TIMING, UNKNOWN_STATUS_WORD, UNSEEN,
                       Finding)

# A state's measured time differs from the simulator's when it is off by more than this
# factor either way, and by more than the polls around it can tell.
TIMING_FACTOR = 2.0
# A state the simulator holds for longer than the gap between two polls (times this)
# would have been seen had the service passed through it.
SKIP_MARGIN = 0.5


@dataclass
class Life:
    """What the recording saw of one task: ``(seconds since first seen, word, seq)``."""

    task: str
    origin: Exchange  # the exchange that first named it (its submission, usually)
    seen: list[tuple[float, str, int]] = field(default_factory=list)

    def words(self) -> list[str]:
        """The distinct words, in the order they were first seen."""
        out: list[str] = []
        for _, word, _ in self.seen:
            if word not in out:
                out.append(word)
        return out

    def first(self, word: str) -> float:
        return next(t for t, w, _ in self.seen if w == word)

    def last(self, word: str) -> float:
        return next(t for t, w, _ in reversed(self.seen) if w == word)


Timeline = list[tuple[float, str]]  # the simulator's: (seconds, word) as each began


@dataclass
class Timing:
    """One state of one task, measured beside the simulator's time for it."""

    operation: str
    state: str
    measured: float
    simulated: float
    task: str


class Lives:
    def __init__(self, provider: str, driver: Driver):
        self.provider, self.driver = provider, driver
        self.lives: dict[str, Life] = {}

    def observe(self, exchange: Exchange, operation: str) -> list[Finding]:
        """The task and status word a successful answer names, if any: an unknown word or
        a step back is a finding at once."""
        data = exchange.response_json()
        if not 200 <= exchange.status < 300 or data is None:
            return []
        try:
            task, word = self.driver.task_id_of(data), self.driver.status_of(data)
        except (AttributeError, KeyError, TypeError, ValueError):
            return []
        if not isinstance(task, str) or not task or not isinstance(word, str):
            return []
        life = self.lives.get(task)
        if life is None:
            life = self.lives[task] = Life(task, exchange)
        ranks = self.driver.ranks
        found: list[Finding] = []
        if word not in ranks:
            found.append(Finding(
                UNKNOWN_STATUS_WORD, operation, "status",
                f"task {task} is {word!r}, not a status word of {self.provider} "
                f"({', '.join(ranks)})", exchange.seq, word,
                suggestion=f"add {word!r} to {self.provider}'s status words (the status enum "
                           f"of specs/{self.provider}.yaml and the ranks of "
                           f"conformance/dialects/{self.provider}) at its place in the order"))
        words = life.words()
        before = words[-1] if words else None
        if before is not None and word != before and word in ranks and before in ranks \
                and ranks[word] <= ranks[before]:
            found.append(Finding(
                BACKWARD_TRANSITION, operation, "status",
                f"task {task} went from {before!r} {'back' if ranks[word] < ranks[before] else 'across'}"
                f" to {word!r} (seen: {' -> '.join(words + [word])})", exchange.seq, word))
        life.seen.append((exchange.at - life.origin.at, word, exchange.seq))
        return found

    def judge(self, timelines: dict[str, Timeline | None], operation_of) -> tuple[
            list[Finding], list[Timing]]:
        """Skipped states and timing, for each life whose origin has a simulated timeline
        (``timelines`` by task id)."""
        found: list[Finding] = []
        timings: list[Timing] = []
        for task, life in self.lives.items():
            timeline = timelines.get(task)
            if not timeline:
                continue
            operation = operation_of(life.origin)
            found += self._skipped(life, timeline, operation)
            for timing in self._timings(life, timeline, operation):
                timings.append(timing)
                finding = _timing_finding(life, timing)
                if finding is not None:
                    found.append(finding)
        return found, timings

    def _skipped(self, life: Life, timeline: Timeline, operation: str) -> list[Finding]:
        ranks, words, found = self.driver.ranks, life.words(), []
        if any(w not in ranks for w in words):
            return []  # an unknown word was named already; its place in the order is not known
        simulated = [w for _, w in timeline]
        for index, (start, word) in enumerate(timeline[:-1]):
            if word in words or word not in ranks:
                continue
            rank = ranks[word]
            before = [(t, w) for t, w, _ in life.seen if ranks[w] < rank]
            after = [(t, w) for t, w, _ in life.seen if ranks[w] > rank]
            if not before or not after:
                continue  # the recording never passed it
            gap = after[0][0] - before[-1][0]
            lasted = timeline[index + 1][0] - start
            kind = SKIPPED_STATE if gap < lasted * SKIP_MARGIN else UNSEEN
            found.append(Finding(
                kind, operation, "status",
                f"task {life.task} went from {before[-1][1]!r} to {after[0][1]!r} without "
                f"{word!r}, which the simulator holds for {lasted:.2f} s; the polls around it "
                f"were {gap:.2f} s apart (simulated: {' -> '.join(simulated)})",
                life.seen[0][2], word,
                details={"task": life.task, "state": word, "gap": round(gap, 3),
                         "simulated": round(lasted, 3)}))
        return found

    def _timings(self, life: Life, timeline: Timeline, operation: str) -> list[Timing]:
        words = life.words()
        simulated = {w: t for t, w in timeline}
        order = [w for _, w in timeline]
        out = []
        for index, word in enumerate(words[:-1]):
            following = words[index + 1]
            if word not in simulated or following not in simulated:
                continue
            if order.index(following) != order.index(word) + 1:
                continue  # the simulator passes through a state the recording did not see
            measured = life.first(following) - life.first(word)
            out.append(Timing(operation, word, measured,
                              simulated[following] - simulated[word], life.task))
        return out


def _timing_finding(life: Life, timing: Timing) -> Finding | None:
    measured, simulated = timing.measured, timing.simulated
    words = life.words()
    index = words.index(timing.state)
    # What the polls can tell: when the state began, and when the next one did.
    start_gap = 0.0 if index == 0 else life.first(timing.state) - life.last(words[index - 1])
    end_gap = life.first(words[index + 1]) - life.last(timing.state)
    blur = start_gap + end_gap
    low, high = sorted((max(measured, 1e-9), max(simulated, 1e-9)))
    if abs(measured - simulated) <= blur or high / low <= TIMING_FACTOR:
        return None
    pace = "slower" if measured > simulated else "faster"
    return Finding(TIMING, timing.operation, "status",
                   f"task {life.task} was {timing.state!r} for {measured:.2f} s; the simulator's "
                   f"lasts {simulated:.2f} s ({pace}, ×{measured / max(simulated, 1e-9):.1f})",
                   life.seen[0][2], timing.state,
                   details={"task": life.task, "state": timing.state,
                            "measured": round(measured, 3), "simulated": round(simulated, 3)})


def timing_table(timings: list[Timing]) -> list[dict[str, Any]]:
    """Measured and simulated durations side by side, by operation and state (medians)."""
    groups: dict[tuple[str, str], list[Timing]] = {}
    for timing in timings:
        groups.setdefault((timing.operation, timing.state), []).append(timing)
    return [{"operation": operation, "state": state, "count": len(rows),
             "measured": round(statistics.median(t.measured for t in rows), 3),
             "simulated": round(statistics.median(t.simulated for t in rows), 3)}
            for (operation, state), rows in groups.items()]
