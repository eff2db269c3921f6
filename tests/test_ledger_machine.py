"""Property tests: the credit ledger's invariant and forward-only task states.

A hypothesis state machine drives the engine's Python API with accounts, grants,
submits (with and without enough credits), clock steps, forced outcomes and resets.
"""

from __future__ import annotations

import asyncio
import concurrent.futures

import requests
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from simulator.core.engine import Engine, InsufficientCredits, TaskFinished
from simulator.core.models import RANK

from conftest import bearer

MARKERS = ["", "", "", "[sim:fail]", "[sim:fail:moderation]", "[sim:slow]", "[sim:stuck]"]


class LedgerMachine(RuleBasedStateMachine):
    """The engine's Python API, driven from a loop of the machine's own, on the store
    that hands out copies (so the engine's own writes are what the checks read)."""

    def run(self, work):
        return self.loop.run_until_complete(work)

    @initialize(seed=st.integers(0, 2**32 - 1))
    def boot(self, seed):
        self.loop = asyncio.new_event_loop()
        self.engine = Engine(seed=seed, clock_mode="manual", default_credits=100,
                             state="memory+copies")
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

    @invariant()
    def books_balance(self):
        if not hasattr(self, "engine"):
            return
        for account in self.run(self.engine.accounts()):
            assert account.available >= 0 and account.held >= 0 and account.spent >= 0
            assert abs(account.available + account.held + account.spent - account.granted) < 1e-6
            tasks = self.run(self.engine.tasks(api_key=account.api_key))
            held = sum(t.cost for t in tasks if not t.terminal)
            spent = sum(t.cost for t in tasks if t.status == "succeeded")
            assert abs(account.held - held) < 1e-6 and abs(account.spent - spent) < 1e-6

    @invariant()
    def states_only_move_forward(self):
        if not hasattr(self, "engine"):
            return
        for task_id, last in self.seen.items():
            now = self.run(self.engine.task(task_id)).status
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
