"""What the fuzz tests exercised, and how hard they fuzz.

A fuzz test that passes says nothing about what it tried: each one tallies the rules and
operations it ran here, and the terminal summary (a hook in conftest.py) prints the
tallies, so a run that quietly stopped reaching some operation shows it.

``MUSICSIM_FUZZ=long`` (``make fuzz``) raises the budget and lets Hypothesis draw fresh
examples; otherwise the budget is small and the examples are the same every run, so CI
is not flaky.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict

from hypothesis import HealthCheck, settings

LONG = os.environ.get("MUSICSIM_FUZZ", "").lower() == "long"

_tallies: dict[str, Counter] = defaultdict(Counter)


def tally(section: str, name: str, count: int = 1) -> None:
    _tallies[section][name] += count


def budget(*, examples: int, steps: int, long_examples: int, long_steps: int) -> settings:
    """Hypothesis settings for a stateful fuzz: derandomized and without the example
    database under ``make test``, the long budget and fresh draws under ``make fuzz``."""
    common = dict(deadline=None, suppress_health_check=list(HealthCheck))
    if LONG:
        return settings(max_examples=long_examples, stateful_step_count=long_steps, **common)
    return settings(max_examples=examples, stateful_step_count=steps, derandomize=True,
                    database=None, **common)


def summarize(reporter) -> None:
    """Write every section's tallies, most frequent first, to the terminal summary."""
    if not _tallies:
        return
    reporter.write_sep("=", f"fuzz coverage ({'long' if LONG else 'short'} budget)")
    for section in sorted(_tallies):
        counts = _tallies[section]
        reporter.write_line(f"{section}: {sum(counts.values())} in {len(counts)} kinds")
        for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            reporter.write_line(f"  {count:6d}  {name}")
