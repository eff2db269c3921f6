"""Running a selection of cases: concurrently, except those that change provider-wide
settings, which run alone afterwards; each ends passed, failed, skipped or error."""

from __future__ import annotations

import asyncio
import time
import traceback
from typing import Callable

from .case import (NEED_FLAGS, RECEIVER, SECOND_KEY, SIMULATOR, UPSTREAM_ADMIN, Case,
                   CaseFailed, Result, Skipped)
from .context import Context, Run

OWN_KEY_CREDITS = 1_000_000
MISSING = {
    SECOND_KEY: "needs a second API key (--second-api-key)",
    UPSTREAM_ADMIN: "needs the upstream simulator's control plane (--upstream-admin URL)",
    RECEIVER: "needs a callback receiver the target can reach",
    SIMULATOR: "needs a simulator behind the target for its magic values (--upstream-admin URL)",
}


def unmet(run: Run, case: Case) -> Skipped | None:
    have = {SECOND_KEY: run.second_key, UPSTREAM_ADMIN: run.admin, RECEIVER: run.receiver,
            SIMULATOR: run.admin}
    for need in sorted(case.needs):
        if need in have and not have[need]:
            return Skipped(run.receiver_problem if need == RECEIVER and run.receiver_problem
                           else MISSING[need], flag=NEED_FLAGS.get(need))
    return None


async def run_case(run: Run, case: Case) -> Result:
    started = time.monotonic()
    reason = unmet(run, case)
    if reason:
        return Result(case, "skipped", str(reason), skip=reason)
    ctx = Context(run, case)
    try:
        if run.direct and run.admin is not None:
            # Against a simulator each case pays with a key of its own: balances stay
            # exact and one case's requests do not spend another's rate limit.
            ctx.own_key = await ctx.new_key(OWN_KEY_CREDITS)
        await asyncio.wait_for(case.run(ctx), run.timeout * 2 + 60)
    except CaseFailed as exc:
        return Result(case, "failed", _with_violations(str(exc), ctx),
                      time.monotonic() - started)
    except Skipped as exc:
        return Result(case, "skipped", str(exc), time.monotonic() - started, skip=exc)
    except asyncio.TimeoutError:
        return Result(case, "failed", _with_violations("the case did not finish in time", ctx),
                      time.monotonic() - started)
    except Exception as exc:  # an answer the case could not read is the target's fault too
        where = traceback.extract_tb(exc.__traceback__)[-1]
        message = (f"an answer could not be read: {exc.__class__.__name__}: {exc} "
                   f"({where.name}, line {where.lineno})")
        return Result(case, "error", _with_violations(message, ctx), time.monotonic() - started)
    seconds = time.monotonic() - started
    if ctx.violations:
        return Result(case, "failed", _with_violations("", ctx), seconds)
    return Result(case, "passed", "", seconds)


def _with_violations(message: str, ctx: Context) -> str:
    if not ctx.violations:
        return message
    unique = list(dict.fromkeys(ctx.violations))
    listed = "; ".join(unique[:5]) + (f"; and {len(unique) - 5} more" if len(unique) > 5 else "")
    shapes = f"answers break specs/{ctx.run.provider}.yaml: {listed}"
    return f"{message}; {shapes}" if message else shapes


async def run_cases(run: Run, cases: list[Case], *, concurrency: int = 4,
                    on_result: Callable[[Result], None] | None = None) -> list[Result]:
    """Every case's result, in catalog order."""
    results: dict[str, Result] = {}
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(case: Case) -> None:
        async with gate:
            result = await run_case(run, case)
        results[case.id] = result
        if on_result is not None:
            on_result(result)

    await asyncio.gather(*(one(c) for c in cases if not c.exclusive))
    for case in cases:
        if case.exclusive:
            await one(case)
    return [results[c.id] for c in cases]
