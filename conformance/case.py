"""Cases and their outcomes: what a catalog entry is, and how a check fails.

A case is an async function of a :class:`~conformance.context.Context` that raises
:class:`CaseFailed` when the target breaks the dialect, and :class:`Skipped` when it
cannot be run here (a need unmet, a budget spent). A skip names the option that would
let the case run (``flag``), or says the dialect has nothing for it to check
(``applies=False``): the reports list every other skip as "not checked".
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Awaitable, Callable, Iterable

if TYPE_CHECKING:
    from .context import Context

# What a case may need beyond a key: the run knows which it has.
CREDITS = "credits"            # it submits paid work
SECOND_KEY = "second_key"      # a second API key of the same service
UPSTREAM_ADMIN = "upstream_admin"  # the control plane of the simulator serving the tasks
RECEIVER = "receiver"          # a callback receiver the target can reach
SIMULATOR = "simulator"        # magic values reach a simulator (directly or upstream)
NEEDS = (CREDITS, SECOND_KEY, UPSTREAM_ADMIN, RECEIVER, SIMULATOR)

# The options of ``musicsim conformance gateway`` that let skipped cases run, and what
# each gives the run.
UPSTREAM_ADMIN_FLAG = "--upstream-admin"
SECOND_KEY_FLAG = "--second-api-key"
MAX_CREDITS_FLAG = "--max-credits"
WEBHOOK_SECRET_FLAG = "--webhook-secret"
RECEIVER_HOST_FLAG = "--receiver-host"
FLAGS = {
    UPSTREAM_ADMIN_FLAG: "--upstream-admin URL (the control plane of the simulator behind "
                         "the target)",
    SECOND_KEY_FLAG: "--second-api-key KEY (another key of the target)",
    MAX_CREDITS_FLAG: "a larger --max-credits N, or none",
    WEBHOOK_SECRET_FLAG: "--webhook-secret SECRET (the secret the target signs callbacks with)",
    RECEIVER_HOST_FLAG: "--receiver-host HOST (an address of this machine the target reaches)",
}
# The option that meets each need a run can lack.
NEED_FLAGS = {SECOND_KEY: SECOND_KEY_FLAG, UPSTREAM_ADMIN: UPSTREAM_ADMIN_FLAG,
              SIMULATOR: UPSTREAM_ADMIN_FLAG, RECEIVER: RECEIVER_HOST_FLAG}

AREAS = ("auth", "validation", "scenarios", "states", "shapes", "media", "chains", "credits",
         "ids", "rate-limits", "callbacks", "upstream", "client")


class CaseFailed(AssertionError):
    """The target broke the dialect; the message says where."""


class Skipped(Exception):
    """The case cannot run here; the message says why. ``flag`` is the option (one of
    :data:`FLAGS`) that would let it run, if one would; ``applies=False`` means there is
    nothing to check in this dialect (no balance, no callbacks), so nothing was missed."""

    def __init__(self, message: str, *, flag: str | None = None, applies: bool = True):
        super().__init__(message)
        self.flag, self.applies = flag, applies


def not_applicable(message: str) -> Skipped:
    """A skip for a case the dialect gives nothing to check."""
    return Skipped(message, applies=False)


def expect(condition: object, message: str) -> None:
    if not condition:
        raise CaseFailed(message)


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    seed: str  # the passage of the seed the case checks
    area: str
    run: Callable[["Context"], Awaitable[None]] = field(repr=False, compare=False)
    needs: frozenset[str] = frozenset()
    cost: float = 0.0  # songs' worth of credits the case may spend
    exclusive: bool = False  # changes provider-wide settings: runs alone


class Catalog:
    """The cases of one dialect, registered with :meth:`case`."""

    def __init__(self, provider: str):
        self.provider = provider
        self.cases: list[Case] = []

    def case(self, name: str, title: str, *, seed: str, area: str,
             needs: Iterable[str] = (), cost: float = 0.0, exclusive: bool = False):
        if area not in AREAS:
            raise ValueError(f"unknown area {area!r}")
        unknown = set(needs) - set(NEEDS)
        if unknown:
            raise ValueError(f"unknown needs {sorted(unknown)}")

        def register(run: Callable[["Context"], Awaitable[None]]):
            self.add(Case(f"{self.provider}.{area}.{name}", title, seed, area, run,
                          frozenset(needs), cost, exclusive))
            return run

        return register

    def add(self, case: Case) -> None:
        """Append a case (cases start in catalog order: long ones are best added first)."""
        if any(c.id == case.id for c in self.cases):
            raise ValueError(f"duplicate case id {case.id}")
        self.cases.append(case)

    def select(self, patterns: Iterable[str] | None) -> list[Case]:
        """The cases whose id matches any glob (all of them when there is none)."""
        patterns = [p for p in (patterns or ()) if p]
        if not patterns:
            return list(self.cases)
        return [c for c in self.cases
                if any(fnmatch.fnmatchcase(c.id, p) or fnmatch.fnmatchcase(c.id, f"*.{p}")
                       for p in patterns)]


@dataclass
class Result:
    case: Case
    outcome: str  # passed | failed | skipped | error
    message: str = ""
    seconds: float = 0.0
    skip: Skipped | None = field(default=None, repr=False, compare=False)  # why, if skipped

    @property
    def ok(self) -> bool:
        return self.outcome in ("passed", "skipped")

    @property
    def flag(self) -> str | None:
        """The option that would have let a skipped case run."""
        return self.skip.flag if self.skip is not None else None

    @property
    def unchecked(self) -> bool:
        """Skipped though the dialect has something for it to check: the run missed it."""
        return self.outcome == "skipped" and (self.skip is None or self.skip.applies)
