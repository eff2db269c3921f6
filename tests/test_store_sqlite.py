"""The SQLite store: the same answers as the in-memory store for every operation (folding
included, held to it by a differential property), everything back after reopening the
file, namespaces kept apart, and no credit nor piece of work given twice when two
processes share one file."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import example, given, settings, strategies as st

from simulator.core.models import MOVEMENTS, Account, Clip, Persona, Task
from simulator.core.store import InsufficientBalance, MemoryStore, StaleWrite, open_store
from simulator.core.store.sqlfile import SqlFile
from simulator.core.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parent.parent


def run(work):
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(work)
    finally:
        loop.close()


def clip(clip_id: str) -> Clip:
    return Clip(clip_id, 1, 30.0, False, "a song", 1, None, None, None)


def a_task(task_id: str, key: str = "k", created_at: float = 1.0, **fields) -> Task:
    return Task(task_id, "evolink", "song", key, {"prompt": task_id}, created_at,
                clips=[clip(f"{task_id}-c0"), clip(f"{task_id}-c1")], **fields)


# -- the same answers as MemoryStore ------------------------------------------------------
KEYS = ("a", "b", "c")  # "c" has no account until a step makes one
TASKS = ("t1", "t2")
REFS = TASKS + ("bill-1", "bill-2")
KEY = st.sampled_from(("a", "a", "a", "b", "c"))
MOVE = st.tuples(st.sampled_from(["hold", "settle", "release"]), KEY, st.sampled_from(REFS),
                 st.sampled_from([1, 2, 5, 10, 0.1, 0.2, 0.3]))
OPS = st.one_of(
    MOVE, MOVE, MOVE,
    st.tuples(st.just("put"), KEY, st.sampled_from(TASKS), st.just(0)),
    st.tuples(st.just("forget"), st.just(None), st.sampled_from(TASKS), st.just(0)),
    st.tuples(st.just("grant"), KEY, st.just(None), st.sampled_from([-5, 10, 0.3, -0.1])),
    st.tuples(st.sampled_from(["create", "open"]), KEY, st.just(None),
              st.sampled_from([0, 10, 0.3])),
)


async def apply(store, op, time_):
    """One step; what it answered, or the kind of error it raised."""
    kind, key, ref, amount = op
    try:
        if kind == "create":
            await store.create_account(Account(key))
        elif kind == "open":
            await store.open_account(Account(key, amount, 0.0, 0.0, amount), time_)
        elif kind == "put":
            task = await store.get_task(ref)
            if task is None:
                task = a_task(ref, key, created_at=time_)
            else:
                task.history.append((time_, "touched"))
                task.status = "running"
            await store.put_task(task)
        elif kind == "forget":
            return await store.forget_task(ref)
        else:
            deltas = dict(zip(("available", "held", "spent", "granted"),
                              (per * amount for per in MOVEMENTS[kind])))
            await store.move_credits(key, kind, amount, time_, ref, **deltas)
        return "done"
    except (KeyError, InsufficientBalance, StaleWrite) as exc:
        return type(exc).__name__


@pytest.fixture(scope="module")
def shared_file(tmp_path_factory):
    return f"sqlite:{tmp_path_factory.mktemp('differential')}/state.db"


namespaces = itertools.count()


# Paths random steps seldom take: a bill ended twice keeps its place among loose bills
# (the one ended first folds first, up to its last end), and a task's own loose entry
# goes with it, so the bill of that name made after it never folds by position.
@example(ops=[("put", "a", "t1", 0), ("hold", "a", "t1", 1), ("hold", "a", "bill-1", 2),
              ("settle", "a", "bill-1", 1), ("hold", "a", "bill-2", 1),
              ("settle", "a", "bill-2", 1), ("settle", "a", "t1", 1),
              ("release", "a", "bill-1", 1), ("forget", None, "t1", 0)])
@example(ops=[("hold", "a", "bill-1", 2), ("settle", "a", "bill-1", 1),
              ("hold", "a", "t1", 1), ("settle", "a", "t1", 1),
              ("release", "a", "bill-1", 1), ("put", "a", "t1", 0),
              ("forget", None, "t1", 0), ("put", "a", "t2", 0), ("hold", "a", "t1", 1),
              ("hold", "a", "t2", 1), ("forget", None, "t2", 0)])
@settings(max_examples=400, deadline=None)
@given(ops=st.lists(OPS, min_size=30, max_size=120))
def test_every_step_answers_as_the_memory_store_does(shared_file, ops):
    """Accounts, grants, holds, settles and releases (of tasks and of bills that are no
    task), task writes and tasks let go, in any order: after each step both stores hold
    the same accounts, ledgers and tasks, so folding matches entry for entry."""
    async def scenario():
        memory = MemoryStore()
        sqlite = SqliteStore.open(shared_file, f"n{next(namespaces)}")
        try:
            for store in (memory, sqlite):
                await apply(store, ("create", "a", None, 0), 0.0)
                await apply(store, ("grant", "a", None, 100), 0.0)
                await apply(store, ("open", "b", None, 30), 0.0)
            for step, op in enumerate(ops):
                assert await apply(sqlite, op, float(step)) == \
                    await apply(memory, op, float(step)), op
                for key in KEYS:
                    assert await sqlite.get_account(key) == await memory.get_account(key)
                    assert await sqlite.ledger(key) == await memory.ledger(key)
                assert await sqlite.list_tasks() == await memory.list_tasks()
                for task_id in TASKS:
                    assert await sqlite.find_clip(f"{task_id}-c1") == \
                        await memory.find_clip(f"{task_id}-c1")
        finally:
            await sqlite.close()

    run(scenario())


# -- the file -----------------------------------------------------------------------------
async def fill(store: SqliteStore) -> None:
    await store.create_account(Account("k", models=["suno-v4"], created_at=5.0))
    await store.open_account(Account("old", 7.0, 0.0, 3.0, 10.0), 2.0)
    await store.move_credits("k", "grant", 100, 1.0, None, available=100, granted=100)
    await store.move_credits("k", "hold", 10, 2.0, "t1", available=-10, held=10)
    await store.put_task(a_task("t1", meta={"note": [1, 2]}, plan=((1.0, "start"),)))
    await store.put_task(a_task("t2", status="succeeded"))
    await store.put_persona(Persona("p1", "k", "Voice", "t1-c0", 3.0, kind="vox"))
    await store.put_doc("clock", {"now": 12.5, "mode": "manual"})
    await store.count("submits", 3)
    await store.push("journal", [b"one", b"two", b"three"], 2)
    await store.put_work("hook-1", 30.0, b"record")
    await store.put_work("hook-2", 40.0, b"claimed")
    assert await store.claim_work(35.0, time.time(), 3600.0) == \
        [("hook-1", 30.0, b"record")]
    await store.claim_key("k", store.namespace)
    await store.add_sandbox("sb-1", {"seed": 4})


async def contents(store: SqliteStore) -> list:
    return [await store.list_accounts(), await store.ledger("k"), await store.ledger("old"),
            await store.list_tasks(), await store.find_clip("t1-c1"),
            await store.list_personas("k"), await store.get_doc("clock"),
            await store.count("submits", 0), await store.items("journal"),
            await store.work_count(), await store.key_owner("k"), await store.sandboxes(),
            await store.generation()]


def test_a_reopened_file_gives_back_everything(tmp_path):
    url = f"sqlite:{tmp_path}/state.db"

    async def scenario():
        first = SqliteStore.open(url)
        await fill(first)
        before = await contents(first)
        await first.close()  # the last store on the file: its connection closes
        again = SqliteStore.open(url)
        after = await contents(again)
        await again.close()
        return before, after

    before, after = run(scenario())
    assert after == before
    with closing(sqlite3.connect(tmp_path / "state.db")) as db:  # what durability rests on
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    accounts, ledger, old, tasks = before[:4]
    assert [a.api_key for a in accounts] == ["k", "old"]
    assert accounts[0].models == ["suno-v4"]
    assert [(e.id, e.kind, e.task_id) for e in ledger] == \
        [(1, "grant", None), (2, "hold", "t1")]
    assert [(e.kind, e.amount, e.available, e.spent) for e in old] == \
        [("opening", 10, 7, 3)]
    assert [(t.id, t.seq, t.version) for t in tasks] == [("t1", 1, 1), ("t2", 2, 1)]
    assert tasks[0].meta == {"note": [1, 2]} and tasks[0].plan == ((1.0, "start"),)
    assert before[4:] == [(tasks[0], tasks[0].clips[1]),
                          [Persona("p1", "k", "Voice", "t1-c0", 3.0, kind="vox")],
                          {"now": 12.5, "mode": "manual"}, 3, [(2, b"two"), (3, b"three")], 2,
                          "default", {"sb-1": {"seed": 4}}, 3]
    # The claim was kept too: a process of its own finds only the unclaimed piece.
    assert run_child(CLAIM, url, "x", "10") == ["hook-2"]


def test_a_stale_write_through_another_connection_is_refused(tmp_path):
    """Two connections to one file, as two processes have: each with what it read."""
    url = f"sqlite:{tmp_path}/state.db"

    async def scenario():
        one = SqliteStore.open(url)
        two = SqliteStore(SqlFile(tmp_path / "state.db", "normal"), "default")
        await one.put_task(a_task("t1"))
        mine, theirs = await one.get_task("t1"), await two.get_task("t1")
        mine.status = "running"
        await one.put_task(mine)
        theirs.meta["late"] = True
        with pytest.raises(StaleWrite):
            await two.put_task(theirs)
        assert theirs.version == 1
        seen = await two.get_task("t1")
        assert (seen.status, seen.version, seen.meta) == ("running", 2, {})
        with pytest.raises(StaleWrite):
            await one.put_task(a_task("t9", version=2))
        assert await one.get_task("t9") is None
        # A task made again after a reset, at the version one still has decoded, is read
        # afresh: a decoded task is known by the write that made it, not its version.
        await two.reset()
        again = a_task("t1", meta={"again": True})
        await two.put_task(again)
        await two.put_task(again)
        assert again.version == 2 == (await one.get_task("t1")).version
        assert (await one.get_task("t1")).meta == {"again": True}
        await one.close()
        two._file.db.close()

    run(scenario())


def test_stores_of_one_namespace_in_one_process_read_alike(tmp_path):
    """One process's stores of a namespace share what they read, so none reads an
    older copy of what another wrote."""
    url = f"sqlite:{tmp_path}/state.db"

    async def scenario():
        one, two = SqliteStore.open(url), SqliteStore.open(url)
        await one.put_task(a_task("t1"))
        assert await two.get_task("t1") is await one.get_task("t1")
        task = await two.get_task("t1")
        task.status = "running"
        await two.put_task(task)
        assert (await one.get_task("t1")).version == 2
        await one.open_account(Account("k", 5.0, 0.0, 0.0, 5.0), 1.0)
        await two.move_credits("k", "grant", 1.0, 2.0, None, available=1.0, granted=1.0)
        assert (await one.get_account("k")).available == 6.0
        await one.close()
        await two.close()

    run(scenario())


def test_namespaces_are_apart_and_a_reset_wipes_only_its_own(tmp_path):
    url = f"sqlite:{tmp_path}/state.db"

    async def scenario():
        one, two = SqliteStore.open(url, "one"), SqliteStore.open(url, "two")
        for store in (one, two):
            await fill(store)
        await two.put_task(a_task("t3", "k"))
        await one.forget_task("t1")
        assert [t.id for t in await one.list_tasks()] == ["t2"]
        assert [t.id for t in await two.list_tasks()] == ["t1", "t2", "t3"]
        assert await two.claim_key("k", "two") is False  # keys are one index for all
        generation = await one.generation()
        await one.reset()
        assert await one.generation() == generation + 1
        assert [await one.list_accounts(), await one.list_tasks(), await one.ledger("k"),
                await one.get_doc("clock"), await one.count("submits", 0),
                await one.items("journal"), await one.work_count(),
                await one.find_clip("t2-c0"), await one.list_personas("k")] == \
            [[], [], [], None, 0, [], 0, None, []]
        assert await one.key_owner("k") == "one" and "sb-1" in await one.sandboxes()
        assert len(await two.list_accounts()) == 2 and len(await two.ledger("k")) == 2
        assert await two.get_doc("clock") == {"now": 12.5, "mode": "manual"}
        assert await two.count("submits", 0) == 3 and await two.work_count() == 2
        await one.put_task(a_task("t3"))
        assert (await one.get_task("t3")).seq == 1 and (await two.get_task("t3")).seq == 3
        await one.close()
        await two.close()

    run(scenario())


def test_documents_counters_logs_work_keys_and_sandboxes(tmp_path):
    url = f"sqlite:{tmp_path}/state.db"

    async def scenario():
        store, other = SqliteStore.open(url), SqliteStore.open(url, "sb")
        start = await store.generation()
        assert await store.get_doc("rules") is None
        assert await other.put_doc("rules", [{"match": "x"}]) == start + 1
        await store.get_account("nobody")  # reads the generation along with the account
        assert store.seen_generation == start + 1
        assert await other.get_doc("rules") == [{"match": "x"}]
        counted = [await store.count("n"), await store.count("n", 4),
                   await store.count("n", -2)]
        assert counted == [1, 5, 3]
        await store.push("log", [b"a", b"b"], 3)
        await store.push("log", [b"c", b"d"], 3)
        await store.push("other", [b"z"], 0)
        kept = await store.items("log")
        assert [item for _, item in kept] == [b"b", b"c", b"d"]
        assert [seq for seq, _ in kept] == sorted({seq for seq, _ in kept})  # positions
        assert await store.items("other") == []
        # Each item keeps its position as older ones go.
        await store.push("log", [b"e"], 3)
        assert (await store.items("log"))[:2] == kept[1:]

        assert [await store.take_token("b", 1.0, 2.0, 100.0),
                await store.take_token("b", 1.0, 2.0, 100.0),
                await store.take_token("b", 1.0, 2.0, 100.0),
                await store.take_token("b", 1.0, 2.0, 100.5)] == \
            [(True, 1.0), (True, 0.0), (False, 0.0), (False, 0.5)]
        assert await store.take_token("b", 1.0, 2.0, 101.0) == (True, 0.0)

        await store.put_work("late", 50.0, b"L")
        await store.put_work("early", 10.0, b"E")
        await store.put_work("future", 500.0, b"F")
        assert await store.claim_work(100.0, 1000.0, 30.0) == [("early", 10.0, b"E"),
                                                              ("late", 50.0, b"L")]
        assert await store.claim_work(100.0, 1010.0, 30.0) == []  # held by the claim
        await store.put_work("late", 60.0, b"L2")  # queued again: unclaimed
        assert await store.claim_work(100.0, 1020.0, 30.0) == [("late", 60.0, b"L2")]
        assert await store.claim_work(100.0, 1031.0, 30.0) == [("early", 10.0, b"E")]
        await store.drop_work("early")
        assert await store.work_count() == 2 and await other.work_count() == 0
        assert await store.claim_work(1000.0, 9999.0, 30.0, limit=1) == \
            [("late", 60.0, b"L2")]
        await store.put_work("held", 5.0, b"H", held=10010.0)  # claimed as it is queued
        assert await store.claim_work(100.0, 10020.0, 30.0) == []
        assert await store.claim_work(100.0, 10030.0, 30.0) == [("late", 60.0, b"L2")]
        assert await store.claim_work(100.0, 10041.0, 30.0) == [("held", 5.0, b"H")]

        before = await store.generation()
        assert await store.claim_key("k1", "default") is True
        assert await other.claim_key("k1", "sb") is False
        assert await other.claim_key("k2", "sb") is True
        assert await store.generation() == before + 2
        await other.release_key("k2")
        assert await store.key_owner("k2") is None and await store.generation() == before + 3
        await store.release_keys("sb")
        assert await store.key_owner("k1") == "default"
        assert await store.key_owner("k2") is None
        assert await store.add_sandbox("b", {"n": 1}) and await store.add_sandbox("a", {})
        assert not await other.add_sandbox("b", {"n": 2})
        assert await other.sandboxes() == {"b": {"n": 1}, "a": {}}
        assert await store.drop_sandbox("b") and not await store.drop_sandbox("b")
        assert await store.sandboxes() == {"a": {}}
        assert await store.generation() == before + 6
        await store.close()
        await other.close()

    run(scenario())


def test_tasks_list_in_creation_order_by_stored_status(tmp_path):
    async def scenario():
        store = open_store(f"sqlite://{tmp_path}/state.db?synchronous=full")
        assert store.durable and store.shared and store.namespace == "default"
        for task_id, provider, key in (("b", "evolink", "k"), ("a", "sunor", "k"),
                                       ("c", "evolink", "j")):
            await store.put_task(Task(task_id, provider, "song", key, {}, 0.0))
        first = await store.get_task("a")
        first.status = "succeeded"
        await store.put_task(first)
        lists = [[t.id for t in await store.list_tasks(*filters)] for filters in
                 [(), ("evolink",), (None, "succeeded"), (None, None, "k"),
                  ("evolink", "queued", "j")]]
        await store.close()
        return lists

    assert run(scenario()) == [["b", "a", "c"], ["b", "c"], ["a"], ["b", "a"], ["c"]]


@pytest.mark.parametrize("url, says", [
    ("sqlite:{tmp}/nowhere/state.db", "does not exist"),
    ("sqlite:{tmp}", "is a directory"),
    ("sqlite:{tmp}/notes.txt", "not a database"),
    ("sqlite:{tmp}/state.db?synchronous=sometimes", "synchronous"),
], ids=["missing", "directory", "text", "query"])
def test_a_bad_path_is_a_one_line_value_error_naming_it(tmp_path, url, says):
    (tmp_path / "notes.txt").write_text("not the tables you are looking for\n" * 50)
    url = url.format(tmp=tmp_path)
    with pytest.raises(ValueError, match=says) as caught:
        open_store(url)
    message = str(caught.value)
    assert "\n" not in message
    assert str(tmp_path) in message


# -- two processes on one file ------------------------------------------------------------
HOLDS = """
import asyncio, sys
from simulator.core.store import InsufficientBalance, open_store
async def main(url, name, tries):
    store = open_store(url)
    won = 0
    for i in range(tries):
        try:
            await store.move_credits("k", "hold", 1, 1.0, f"{name}-{i}", available=-1,
                                     held=1)
            won += 1
        except InsufficientBalance:
            pass
    return won
"""
CLAIM = """
import asyncio, sys, time
from simulator.core.store import open_store
async def main(url, name, limit):
    store = open_store(url)
    claimed = []
    while batch := await store.claim_work(1e9, time.time(), 3600.0, int(limit)):
        claimed += [ref for ref, _, _ in batch]
    return claimed
"""
# Each child says it is ready, then waits for the word to go, so both run at once.
STARTER = """
import json, os, sys, time
url, name, arg, ready, go = sys.argv[1:]
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.002)
print(json.dumps(asyncio.run(main(url, name, int(arg)))))
"""


def run_child(script: str, url: str, name: str, arg: str):
    """One child, started and read to the end."""
    return run_children(script, url, [(name, arg)])[0]


def run_children(script: str, url: str, children: list[tuple[str, str]]) -> list:
    where = Path(url[len("sqlite:"):]).parent
    procs = []
    for name, arg in children:
        ready, go = where / f"{name}.ready", where / "go"
        procs.append((ready, subprocess.Popen(
            [sys.executable, "-c", script + STARTER, url, name, arg, str(ready), str(go)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    deadline = time.monotonic() + 60
    while not all(ready.exists() for ready, _ in procs):
        assert time.monotonic() < deadline, "a child never started"
        time.sleep(0.01)
    (where / "go").touch()
    results = []
    for ready, proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
        ready.unlink()
    (where / "go").unlink()
    return results


def test_two_processes_holding_on_one_account_get_exactly_its_credits(tmp_path):
    url, credits, tries = f"sqlite:{tmp_path}/state.db", 2000, 1500

    async def prepare():
        store = SqliteStore.open(url)
        await store.create_account(Account("k"))
        await store.move_credits("k", "grant", credits, 0.0, None, available=credits,
                                 granted=credits)
        await store.close()

    async def outcome():
        store = SqliteStore.open(url)
        account, ledger = await store.get_account("k"), await store.ledger("k")
        await store.close()
        return account, ledger

    run(prepare())
    won = run_children(HOLDS, url, [("p", str(tries)), ("q", str(tries))])
    account, ledger = run(outcome())
    assert sum(won) == credits and min(won) >= credits - tries
    assert (account.available, account.held, account.granted) == (0, credits, credits)
    assert len(ledger) == credits + 1 and min(entry.available for entry in ledger) >= 0
    assert [entry.id for entry in ledger] == list(range(1, credits + 2))
    assert [entry.available for entry in ledger[1:]] == list(range(credits - 1, -1, -1))


def test_two_processes_claiming_work_never_both_get_one_piece(tmp_path):
    url, pieces = f"sqlite:{tmp_path}/state.db", 400

    async def prepare():
        store = SqliteStore.open(url)
        for i in range(pieces):
            await store.put_work(f"w{i}", float(i % 7), b"x")
        await store.close()

    run(prepare())
    first, second = run_children(CLAIM, url, [("p", "3"), ("q", "3")])
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(f"w{i}" for i in range(pieces))
    assert len(first) + len(second) == pieces
