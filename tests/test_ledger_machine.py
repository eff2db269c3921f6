"""Property tests: the credit ledger's invariant and forward-only task states.

A hypothesis state machine drives the engine's Python API with accounts, grants,
submits (with and without enough credits), clock steps, forced outcomes and tasks let go
(by a cap on finished tasks, and one by one, in any order), so the ledger's folding into
its opening entry is held to the invariant too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures

import requests
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from simulator.core.engine import Engine, InsufficientCredits, TaskFinished, TaskNotFound
from simulator.core.models import MOVEMENTS, OPENING, RANK

from conftest import bearer

MARKERS = ["", "", "", "[sim:fail]", "[sim:fail:moderation]", "[sim:slow]", "[sim:stuck]"]


class LedgerMachine(RuleBasedStateMachine):
    """The engine's Python API, driven from a loop of the machine's own, on the store
    that hands out copies (so the engine's own writes are what the checks read)."""

    def run(self, work):
        return self.loop.run_until_complete(work)

    @initialize(seed=st.integers(0, 2**32 - 1), max_tasks=st.sampled_from([None, 1, 2, 5]))
    def boot(self, seed, max_tasks):
        self.loop = asyncio.new_event_loop()
        self.engine = Engine(seed=seed, clock_mode="manual", default_credits=100,
                             state="memory+copies", max_tasks=max_tasks)
        self.run(self.engine.start())
        self.keys = [self.engine.demo_key]
        self.seen: dict[str, str] = {}
        self.submitted = 0

    def teardown(self):
        if hasattr(self, "loop"):
            self.run(self.engine.stop())
            self.loop.close()

    @rule(credits=st.integers(0, 500))
    def open_account(self, credits):
        self.keys.append(self.run(self.engine.create_account(credits=credits)).api_key)

    @rule(data=st.data(), delta=st.integers(-300, 300))
    def grant(self, data, delta):
        key = data.draw(st.sampled_from(self.keys))
        before = self.run(self.engine.account(key)).available
        try:
            self.run(self.engine.grant(key, delta))
        except InsufficientCredits:
            assert before + delta < 0
            assert self.run(self.engine.account(key)).available == before

    @rule(data=st.data(), cost=st.integers(1, 120), marker=st.sampled_from(MARKERS))
    def submit(self, data, cost, marker):
        key = data.draw(st.sampled_from(self.keys))
        available = self.run(self.engine.account(key)).available
        self.submitted += 1
        try:
            task = self.run(self.engine.submit(
                "evolink", key, "song", task_id=f"t{self.submitted}", params={}, cost=cost,
                clips=[self.engine.compose("a song")],
                steering=self.engine.steering(marker)))
        except InsufficientCredits:
            assert available < cost
            assert self.run(self.engine.account(key)).available == available
            return
        assert available >= cost
        self.seen[task.id] = task.status

    @rule(seconds=st.floats(0, 120))
    def advance(self, seconds):
        self.run(self.engine.advance(seconds))

    @precondition(lambda self: self.seen)
    @rule(data=st.data(), outcome=st.sampled_from(["succeed", "fail"]))
    def force(self, data, outcome):
        task_id = data.draw(st.sampled_from(sorted(self.seen)))
        try:
            self.run(self.engine.force_outcome(task_id, outcome))
        except TaskFinished:
            assert self.run(self.engine.task(task_id)).terminal
        except TaskNotFound:  # the cap let it go, finished, since it was last looked at
            assert self.run(self.engine.task(task_id)) is None

    @precondition(lambda self: self.seen)
    @rule(data=st.data())
    def let_go(self, data):
        """A finished task let go, whichever: the order retention lets tasks go in is not
        the order they finished in."""
        finished = sorted(task.id for task in self.run(self.engine.tasks()) if task.terminal)
        if not finished:
            return
        task_id = data.draw(st.sampled_from(finished))
        assert self.run(self.engine.store.forget_task(task_id)) is True
        assert self.run(self.engine.task(task_id)) is None
        assert self.run(self.engine.store.forget_task(task_id)) is False

    @invariant()
    def books_balance(self):
        if not hasattr(self, "engine"):
            return
        for account in self.run(self.engine.accounts()):
            assert account.available >= 0 and account.held >= 0 and account.spent >= 0
            assert abs(account.available + account.held + account.spent - account.granted) < 1e-6
            tasks = self.run(self.engine.tasks(api_key=account.api_key))
            # Only finished tasks are ever let go: every credit held is a kept task's.
            held = sum(t.cost for t in tasks if not t.terminal)
            spent = sum(t.cost for t in tasks if t.status == "succeeded")
            assert abs(account.held - held) < 1e-6 and account.spent >= spent - 1e-6

    @invariant()
    def ledger_adds_up_from_its_opening(self):
        """At most one opening entry, first, none of its totals negative; from it, each
        following movement applied in order reaches the balances; and every movement of
        a task still kept is still there."""
        if not hasattr(self, "engine"):
            return
        for account in self.run(self.engine.accounts()):
            entries = self.run(self.engine.ledger_entries(account.api_key))
            kinds = [e.kind for e in entries]
            assert OPENING not in kinds[1:], kinds
            totals = [0.0, 0.0, 0.0, 0.0]  # available, held, spent, granted
            if kinds[:1] == [OPENING]:
                opening = entries.pop(0)
                assert opening.id == 0 and opening.task_id is None
                totals = [opening.available, opening.held, opening.spent, opening.amount]
                assert min(totals[:3]) >= 0 and opening.held == 0, opening
            assert [e.id for e in entries] == sorted({e.id for e in entries})
            for entry in entries:
                for i, per_credit in enumerate(MOVEMENTS[entry.kind]):
                    totals[i] += per_credit * entry.amount
            balances = [account.available, account.held, account.spent, account.granted]
            assert all(abs(a - b) < 1e-6 for a, b in zip(totals, balances)), (totals, balances)
            moved = {e.task_id for e in entries}
            for task in self.run(self.engine.tasks(api_key=account.api_key)):
                assert task.id in moved, task.id

    @invariant()
    def states_only_move_forward(self):
        if not hasattr(self, "engine"):
            return
        for task_id, last in list(self.seen.items()):
            task = self.run(self.engine.task(task_id))
            if task is None:  # let go: it had finished, whether or not it was seen to
                del self.seen[task_id]
                continue
            now = task.status
            assert RANK[now] >= RANK[last]
            if RANK[now] == RANK[last]:
                assert now == last  # a terminal state never flips
            self.seen[task_id] = now


TestLedgerMachine = LedgerMachine.TestCase
TestLedgerMachine.settings = settings(max_examples=60, stateful_step_count=40, deadline=None,
                                      suppress_health_check=[HealthCheck.too_slow])


def test_concurrent_submits_never_spend_the_same_credits(sim):
    key = sim.account(credits=24 * 3)  # enough for exactly three suno-v4.5 requests
    body = {"model": "suno-v4.5", "prompt": "race"}

    def one(_):
        return requests.post(f"{sim.base()}/v1/audios/generations", json=body,
                             headers=bearer(key), timeout=10).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(one, range(16)))
    assert statuses.count(200) == 3 and statuses.count(402) == 13
    account = sim.admin("GET", f"/accounts/{key}").json()
    assert account["credits"] == 0 and account["held"] == 72


class HttpLedgerMachine(RuleBasedStateMachine):
    """The same invariants through the public surface, with bursts of concurrent submits
    from several threads racing for one account's credits."""

    sim = None  # set by the test below

    @initialize()
    def boot(self):
        self.sim.admin("POST", "/reset")
        self.sim.admin("PUT", "/clock", json={"mode": "manual"})
        self.keys = [self.sim.account(credits=100)]
        self.seen: dict[str, str] = {}

    @rule(credits=st.integers(0, 200))
    def open_account(self, credits):
        self.keys.append(self.sim.account(credits=credits))

    @rule(data=st.data(), burst=st.integers(1, 8), marker=st.sampled_from(MARKERS))
    def concurrent_submits(self, data, burst, marker):
        key = data.draw(st.sampled_from(self.keys))
        before = self.sim.admin("GET", f"/accounts/{key}").json()["credits"]
        body = {"model": "suno-v4.5", "prompt": f"burst {marker}"}

        def one(_):
            return requests.post(f"{self.sim.base()}/v1/audios/generations", json=body,
                                 headers=bearer(key), timeout=10)

        with concurrent.futures.ThreadPoolExecutor(max_workers=burst) as pool:
            answers = list(pool.map(one, range(burst)))
        accepted = [a.json()["id"] for a in answers if a.status_code == 200]
        assert all(a.status_code in (200, 402) for a in answers)
        assert len(accepted) == min(burst, int(before // 24))
        for task_id in accepted:
            self.seen[task_id] = "queued"

    @rule(seconds=st.sampled_from([1, 5, 20, 60, 200]))
    def advance(self, seconds):
        self.sim.advance(seconds)

    @precondition(lambda self: self.seen)
    @rule(data=st.data(), outcome=st.sampled_from(["succeed", "fail"]))
    def force(self, data, outcome):
        task_id = data.draw(st.sampled_from(sorted(self.seen)))
        answer = self.sim.admin("POST", f"/tasks/{task_id}/outcome", json={"outcome": outcome})
        assert answer.status_code in (200, 409)

    @invariant()
    def books_balance_and_states_move_forward(self):
        if not hasattr(self, "keys"):
            return
        for key in self.keys:
            account = self.sim.admin("GET", f"/accounts/{key}").json()
            assert min(account["credits"], account["held"], account["spent"]) >= 0
            assert abs(account["credits"] + account["held"] + account["spent"]
                       - account["granted"]) < 1e-6
        for task in self.sim.admin("GET", "/tasks").json()["tasks"]:
            last = self.seen.get(task["id"], "queued")
            assert RANK[task["status"]] >= RANK[last]
            assert RANK[task["status"]] > RANK[last] or task["status"] == last
            self.seen[task["id"]] = task["status"]


def test_ledger_over_http_with_concurrent_bursts(sim):
    HttpLedgerMachine.sim = sim
    run = HttpLedgerMachine.TestCase()
    run.settings = settings(max_examples=12, stateful_step_count=15, deadline=None,
                            suppress_health_check=list(HealthCheck))
    run.runTest()
