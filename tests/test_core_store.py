"""The store protocol and the engine's ownership of every change: a write of a stale
copy is refused, racing changes to one task both land, and readers hold snapshots."""

from __future__ import annotations

import asyncio

import pytest
import redis

from redis_server import redis_url  # noqa: F401  (the session's server)
from simulator.core.engine import Engine
from simulator.core.models import OPENING, Account, Clip, Task
from simulator.core.store import CopyingStore, StaleWrite, open_store


def run(work):
    return asyncio.new_event_loop().run_until_complete(work)


@pytest.fixture(params=["memory", "memory+copies", "sqlite", "redis"])
def store(request, tmp_path):
    """Makes an empty store of each kind (sqlite in a file of the test's own, redis in
    the session's server, emptied); those outside the process are closed after."""
    state = request.param
    if state == "sqlite":
        state = f"sqlite:{tmp_path}/state.db"
    elif state == "redis":
        state = request.getfixturevalue("redis_url")
        redis.Redis.from_url(state).flushdb()
    opened = []

    def make():
        opened.append(open_store(state))
        return opened[-1]

    yield make
    for kept in opened:
        if hasattr(kept, "close"):
            run(kept.close())


def test_a_stale_copy_is_not_written(store):
    async def scenario():
        kept = store()
        await kept.put_task(Task("t1", "evolink", "song", "k", {}, 0.0))
        first, second = Task("t1", "evolink", "song", "k", {}, 0.0), None
        first.version = 1
        second = Task("t1", "evolink", "song", "k", {"late": True}, 0.0)
        second.version = 1
        await kept.put_task(first)  # version 1 -> 2
        with pytest.raises(StaleWrite):
            await kept.put_task(second)  # read at 1, the store is at 2 now
        stored = await kept.get_task("t1")
        assert stored.version == 2 and stored.params == {}
        with pytest.raises(StaleWrite):  # a new task must come at version 0
            await kept.put_task(Task("t2", "evolink", "song", "k", {}, 0.0, version=3))

    run(scenario())


def test_the_copying_store_hands_out_snapshots():
    async def scenario():
        kept = CopyingStore()
        await kept.put_task(Task("t1", "evolink", "song", "k", {"a": 1}, 0.0))
        read = await kept.get_task("t1")
        read.params["a"] = 2
        read.meta["b"] = 3
        again = await kept.get_task("t1")
        assert again.params == {"a": 1} and again.meta == {} and again is not read

    run(scenario())


def test_racing_changes_to_one_task_both_land():
    """A transition and a dialect's annotation racing on the same task, on a store that
    yields between every read and write: neither change is lost."""
    async def scenario():
        engine = Engine(seed=3, clock_mode="manual", state="memory+copies")
        await engine.start()
        await engine.submit("evolink", engine.demo_key, "song", task_id="t1", params={},
                            cost=1, clips=[engine.compose("a race")])
        await asyncio.gather(engine.advance(20), engine.annotate("t1", note="kept"),
                             engine.annotate("t1", other="kept too"))
        task = await engine.task("t1")
        assert task.meta == {"note": "kept", "other": "kept too"}
        assert task.status == "running" and task.stage == "text"
        await engine.advance(200)
        assert (await engine.task("t1")).status == "succeeded"
        account = await engine.account(engine.demo_key)
        assert account.spent == 1 and account.held == 0
        await engine.stop()

    run(scenario())


def test_unknown_state_stores_are_a_clear_error():
    with pytest.raises(ValueError, match="use memory, sqlite:PATH or redis"):
        open_store("postgres://localhost/x")


@pytest.mark.parametrize("state", ["memory", "memory+copies"])
def test_a_task_nobody_hears_is_written_once_with_every_event_at_its_planned_time(state):
    """Unheard, the plan is applied in one write when the task ends; it reads exactly
    as if each event had fired on time."""
    async def scenario():
        engine = Engine(seed=7, clock_mode="manual", state=state)
        await engine.start()
        spec = engine.compose("a quiet song")
        task = await engine.submit("evolink", engine.demo_key, "song", task_id="quiet",
                                   params={}, cost=10, clips=[spec, spec])
        plan = list(task.plan)
        await engine.advance(500)
        done = await engine.task("quiet")
        assert done.status == "succeeded" and done.version == 2
        assert done.history == [(task.created_at, "submitted")] + \
            [(task.created_at + offset, event) for offset, event in plan]
        assert done.started_at == task.created_at + plan[0][0]
        assert done.finished_at == task.created_at + plan[-1][0]
        account = await engine.account(engine.demo_key)
        assert account.held == 0 and account.spent == 10
        await engine.stop()

    run(scenario())


def test_a_read_between_events_applies_what_fell_due_and_nothing_more():
    async def scenario():
        engine = Engine(seed=7, clock_mode="manual")
        await engine.start()
        spec = engine.compose("a quiet song")
        task = await engine.submit("evolink", engine.demo_key, "song", task_id="quiet",
                                   params={}, cost=10, clips=[spec])
        text_at = next(offset for offset, event in task.plan if event == "stage:text")
        await engine.advance(text_at)
        seen = await engine.task("quiet")
        assert (seen.status, seen.stage, seen.version) == ("running", "text", 2)
        assert [event for _, event in seen.history] == ["submitted", "start", "stage:text"]
        assert await engine.tasks(status="running") == [seen]
        await engine.stop()

    run(scenario())


def test_a_task_with_a_callback_gets_one_write_per_event_on_time():
    async def scenario():
        engine = Engine(seed=7, clock_mode="manual")
        await engine.start()
        heard = []

        async def listener(task, event):
            heard.append((task.history[-1][0], event, task.version))

        engine.subscribe("evolink", listener)
        spec = engine.compose("a loud song")
        task = await engine.submit("evolink", engine.demo_key, "song", task_id="loud",
                                   params={}, cost=10, clips=[spec],
                                   callback_url="https://example.com/hook")
        await engine.advance(500)
        assert [(at, event) for at, event, _ in heard] == \
            [(task.created_at + offset, event) for offset, event in task.plan]
        assert [version for _, _, version in heard] == [2, 3, 4, 5]
        await engine.stop()

    run(scenario())


def test_a_read_that_ends_a_task_returns_what_the_dialect_noted_as_it_heard_the_end():
    async def scenario():
        engine = Engine(seed=7, clock_mode="manual", state="memory+copies")
        await engine.start()

        async def listener(task, event):
            if event == "finish":
                await engine.annotate(task.id, noted=True)

        engine.subscribe("evolink", listener)
        spec = engine.compose("a quiet song")
        await engine.submit("evolink", engine.demo_key, "song", task_id="quiet", params={},
                            cost=10, clips=[spec])
        engine.clock.advance(500)  # time passes; the read comes before the scheduler
        done = await engine.task("quiet")
        assert done.status == "succeeded" and done.meta == {"noted": True}
        await engine.stop()

    run(scenario())


def test_a_reader_never_sees_an_end_without_what_the_dialect_noted_as_it_heard_it():
    """The end is written by the scheduler while the dialect is still noting something on
    the task: a read from another request waits for the note instead of seeing the task
    ended without it."""
    async def scenario():
        engine = Engine(seed=7, clock_mode="manual", state="memory+copies")
        await engine.start()
        heard = asyncio.Event()

        async def listener(task, event):
            if event == "finish":
                heard.set()
                await asyncio.sleep(0.05)  # the dialect takes its time
                await engine.annotate(task.id, noted=True)

        engine.subscribe("evolink", listener)
        await engine.submit("evolink", engine.demo_key, "song", task_id="slow", params={},
                            cost=10, clips=[engine.compose("a slow note")])
        ending = asyncio.ensure_future(engine.advance(500))
        await heard.wait()  # the end is written; the note is not yet
        read = await engine.task("slow")
        listed = await engine.tasks("evolink")
        await ending
        assert read.status == "succeeded" and read.meta == {"noted": True}
        assert [task.meta for task in listed] == [{"noted": True}]
        await engine.stop()

    run(scenario())


def test_forgetting_a_task_folds_its_movements_and_what_came_before_into_the_opening(store):
    """A task let go takes its clips' index entries with it, and its movements fold into
    the key's opening entry with the grants and ended bills up to its newest; a task
    still kept, and a bill still held, keep their entries."""
    async def scenario():
        kept = store()
        await kept.create_account(Account("k"))

        async def move(kind, amount, ref, time, **deltas):
            await kept.move_credits("k", kind, amount, time, ref, **deltas)

        clip = Clip("c-b", 1, 30.0, False, "", 1, None, None, None)
        await kept.put_task(Task("A", "evolink", "song", "k", {}, 0.0,
                                 clips=[Clip("c-a", 1, 30.0, False, "", 1, None, None, None)]))
        await kept.put_task(Task("B", "evolink", "song", "k", {}, 0.0, clips=[clip]))
        await move("grant", 100, None, 1.0, available=100, granted=100)
        await move("hold", 10, "A", 2.0, available=-10, held=10)
        await move("hold", 20, "B", 3.0, available=-20, held=20)
        await move("hold", 5, "bill-1", 4.0, available=-5, held=5)
        await move("settle", 5, "bill-1", 4.0, held=-5, spent=5)
        await move("settle", 20, "B", 6.0, held=-20, spent=20)
        await move("grant", 7, None, 7.0, available=7, granted=7)
        await move("hold", 3, "bill-2", 8.0, available=-3, held=3)
        assert await kept.forget_task("B") is True
        assert await kept.forget_task("B") is False and await kept.get_task("B") is None
        assert await kept.find_clip("c-b") is None and await kept.find_clip("c-a") is not None
        assert [(e.id, e.kind, e.task_id) for e in await kept.ledger("k")] == [
            (0, OPENING, None), (2, "hold", "A"), (7, "grant", None), (8, "hold", "bill-2")]
        opening = (await kept.ledger("k"))[0]
        assert (opening.amount, opening.available, opening.held, opening.spent,
                opening.time) == (100, 75, 0, 25, 6.0)
        await move("settle", 3, "bill-2", 9.0, held=-3, spent=3)
        await move("settle", 10, "A", 10.0, held=-10, spent=10)
        assert await kept.forget_task("A") is True
        account = await kept.get_account("k")
        assert (account.available, account.held, account.spent, account.granted) == \
            (69, 0, 38, 107)
        assert [tuple(e)[3:] for e in await kept.ledger("k")] == [
            (OPENING, 107, None, 69, 0, 38)]
        assert await kept.list_tasks() == []

    run(scenario())
