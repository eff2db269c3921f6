"""The store protocol and the engine's ownership of every change: a write of a stale
copy is refused, racing changes to one task both land, and readers hold snapshots."""

from __future__ import annotations

import asyncio

import pytest

from simulator.core.engine import Engine
from simulator.core.models import Task
from simulator.core.store import CopyingStore, MemoryStore, StaleWrite, open_store


def run(work):
    return asyncio.new_event_loop().run_until_complete(work)


@pytest.mark.parametrize("store", [MemoryStore, CopyingStore])
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
    with pytest.raises(ValueError, match="memory, memory\\+copies"):
        open_store("sqlite:/tmp/x.db")
