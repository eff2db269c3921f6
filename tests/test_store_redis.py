"""The Redis store against a real redis-server: every promise MemoryStore keeps, kept
the same way (a differential test drives both side by side). What only a shared store
promises is in test_store_redis_shared.py."""

from __future__ import annotations

import asyncio
from copy import copy

import pytest
import redis as redis_sync
from hypothesis import HealthCheck, given, settings, strategies as st

from simulator.core.models import OPENING, Account, Clip, Persona, Task
from simulator.core.store import InsufficientBalance, MemoryStore, StaleWrite, open_store
from simulator.core.store.redis import RedisStore

from redis_server import free_port, redis_url  # noqa: F401  (the fixture)


def run(work):
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(work)
    finally:
        loop.close()


@pytest.fixture
def url(redis_url):  # noqa: F811
    redis_sync.Redis.from_url(redis_url).flushall()
    return redis_url


def clip(clip_id: str) -> Clip:
    return Clip(clip_id, 1, 30.0, False, "a song", 1, None, None, None)


def task(task_id: str, key: str = "k", provider: str = "evolink", **fields) -> Task:
    return Task(task_id, provider, "song", key, {"prompt": "rain"}, 0.0, **fields)


async def grant(store, key, amount, time=1.0):
    return await store.move_credits(key, "grant", amount, time, None, available=amount,
                                    granted=amount)


async def hold(store, key, ref, amount, time=1.0):
    return await store.move_credits(key, "hold", amount, time, ref, available=-amount,
                                    held=amount)


def test_open_store_dispatches_and_bad_urls_are_clear(url):
    store = open_store(url, "sandbox-1")
    assert isinstance(store, RedisStore) and store.namespace == "sandbox-1"
    assert store.durable and store.shared
    for bad in ("redis://127.0.0.1:notaport/0", "redis://127.0.0.1:6379/zero",
                "redis://127.0.0.1:70000/0"):
        with pytest.raises(ValueError, match="bad redis URL"):
            RedisStore.open(bad)
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    store = RedisStore.open(nowhere)  # lazy: nothing is reached yet

    async def scenario():
        unreachable = f"cannot reach redis at {nowhere}"
        with pytest.raises(ValueError, match=unreachable):
            await store.check()
        with pytest.raises(redis_sync.ConnectionError, match=unreachable):
            await store.get_task("t1")  # the first command names the URL too
        await store.close()

    run(scenario())


def test_a_stale_write_is_refused_and_writes_nothing(url):
    async def scenario():
        kept, elsewhere = RedisStore.open(url), RedisStore.open(url)  # two processes, say
        await kept.put_task(task("t1"))
        first, second = await kept.get_task("t1"), await elsewhere.get_task("t1")
        assert (first.version, first.seq) == (1, 1) and first == second
        first.params["first"] = True
        await kept.put_task(first)
        assert first.version == 2
        second.params["late"] = True
        with pytest.raises(StaleWrite):
            await kept.put_task(second)  # read at 1, the store is at 2 now
        stored = await kept.get_task("t1")
        assert stored.version == 2 and stored.params == {"prompt": "rain", "first": True}
        with pytest.raises(StaleWrite):  # a new task must come at version 0
            await kept.put_task(task("t2", version=3))
        assert await kept.get_task("t2") is None and await kept.list_tasks() == [stored]
        assert await elsewhere.get_task("t1") == stored  # read again: what was written
        await kept.close()
        await elsewhere.close()

    run(scenario())


def test_two_stores_racing_a_put_on_one_version_one_wins(url):
    async def scenario():
        one, other = RedisStore.open(url), RedisStore.open(url)
        await one.put_task(task("t1"))
        for round_ in range(20):
            a, b = await one.get_task("t1"), await other.get_task("t1")
            a.meta["by"], b.meta["by"] = "a", "b"
            results = await asyncio.gather(one.put_task(a), other.put_task(b),
                                           return_exceptions=True)
            assert sorted(type(r).__name__ for r in results) == ["NoneType", "StaleWrite"]
            stored = await one.get_task("t1")
            assert stored.version == round_ + 2
            assert stored.meta["by"] == ("a" if results[0] is None else "b")
        await one.close()
        await other.close()

    run(scenario())


def test_tasks_list_in_seq_order_with_filters_and_clips_are_found(url):
    async def scenario():
        kept = RedisStore.open(url)
        specs = [("t3", "k1", "evolink"), ("t1", "k2", "sunor"), ("t2", "k1", "sunor")]
        for task_id, key, provider in specs:
            await kept.put_task(task(task_id, key, provider,
                                     clips=[clip(task_id + "-a"), clip(task_id + "-b")]))
        t3 = await kept.get_task("t3")
        t3.status = "running"
        await kept.put_task(t3)  # an update keeps its place
        listed = await kept.list_tasks()
        assert [(t.id, t.seq) for t in listed] == [("t3", 1), ("t1", 2), ("t2", 3)]
        assert [t.id for t in await kept.list_tasks(provider="sunor")] == ["t1", "t2"]
        assert [t.id for t in await kept.list_tasks(api_key="k1")] == ["t3", "t2"]
        assert [t.id for t in await kept.list_tasks(status="running")] == ["t3"]
        assert await kept.list_tasks("sunor", "queued", "k2") == [await kept.get_task("t1")]
        found, made = await kept.find_clip("t2-b")
        assert found == await kept.get_task("t2") and made == found.clips[1]
        assert made.id == "t2-b" and await kept.find_clip("nope") is None
        await kept.close()

    run(scenario())


def test_records_read_back_as_written(url):
    async def scenario():
        kept = RedisStore.open(url)
        made = task("t1", clips=[clip("c1")], history=[(0.0, "submitted")],
                    plan=((1.5, "start"), (9.0, "finish")), meta={"version": 7},
                    callback_url="https://example.com/hook", retention=3600.0, ttl=600.0,
                    unheard=("start",), hearer="w0.1")
        await kept.put_task(made)
        assert await kept.get_task("t1") == made  # version and seq included
        account = Account("k", models=["suno-v4"], created_at=12.5, webhook_secret="whsec_x")
        await kept.create_account(account)
        assert await kept.get_account("k") == account and await kept.get_account("x") is None
        await kept.close()

    run(scenario())


def test_a_task_begins_with_its_hold_or_not_at_all(url):
    """The hold and the first write are one step: a refused one leaves neither (where
    MemoryStore, refusing a stale write after the hold, keeps the hold)."""
    async def scenario():
        kept = RedisStore.open(url)
        await kept.create_account(Account("k"))
        await grant(kept, "k", 10.0)
        made = task("t1", cost=4.0, clips=[clip("c1")])
        account = await kept.begin_task(made, 2.0)
        assert (account.available, account.held, made.version, made.seq) == (6.0, 4.0, 1, 1)
        assert await kept.get_task("t1") == made and (await kept.find_clip("c1"))[0] == made
        with pytest.raises(StaleWrite):
            await kept.begin_task(task("t1", cost=1.0), 3.0)
        with pytest.raises(InsufficientBalance) as refused:
            await kept.begin_task(task("t2", cost=7.0), 3.0)
        assert (refused.value.needed, refused.value.available) == (7.0, 6.0)
        with pytest.raises(KeyError):
            await kept.begin_task(task("t3", "nobody", cost=1.0), 3.0)
        assert [t.id for t in await kept.list_tasks()] == ["t1"]
        assert (await kept.get_account("k")).available == 6.0
        assert [(e.kind, e.task_id, e.time) for e in await kept.ledger("k")] == [
            ("grant", None, 1.0), ("hold", "t1", 2.0)]
        await kept.close()

    run(scenario())


def test_personas_keep_their_order_and_go(url):
    async def scenario():
        kept = RedisStore.open(url)
        for persona_id, key in (("p2", "k"), ("p1", "other"), ("p3", "k")):
            await kept.put_persona(Persona(persona_id, key, persona_id.upper(), "c1", 1.0))
        await kept.put_persona(Persona("p2", "k", "renamed", "c1", 1.0))
        assert [(p.id, p.name) for p in await kept.list_personas("k")] == [
            ("p2", "renamed"), ("p3", "P3")]
        assert (await kept.get_persona("p1")).api_key == "other"
        assert await kept.delete_persona("p2") is True
        assert await kept.delete_persona("p2") is False
        assert await kept.get_persona("p2") is None
        assert [p.id for p in await kept.list_personas("k")] == ["p3"]
        await kept.close()

    run(scenario())


def test_accounts_open_with_their_opening_entry_once(url):
    async def scenario():
        kept = RedisStore.open(url)
        opened = Account("k", available=70.0, held=0.0, spent=30.0, granted=100.0)
        await kept.open_account(opened, 5.0)
        with pytest.raises(KeyError):
            await kept.open_account(Account("k"), 6.0)
        with pytest.raises(KeyError):
            await kept.create_account(Account("k"))
        await kept.create_account(Account("a"))
        assert [a.api_key for a in await kept.list_accounts()] == ["k", "a"]
        await hold(kept, "k", "t1", 20.0, 7.0)
        assert [tuple(e) for e in await kept.ledger("k")] == [
            (0, "k", 5.0, OPENING, 100.0, None, 70.0, 0.0, 30.0),
            (1, "k", 7.0, "hold", 20.0, "t1", 50.0, 20.0, 30.0)]
        assert await kept.ledger("a") == [] and await kept.ledger("nobody") == []
        await kept.close()

    run(scenario())


def test_balances_round_trip_exactly_and_dust_is_swept(url):
    async def scenario():
        kept, memory = RedisStore.open(url), MemoryStore()
        for store in (kept, memory):
            await store.create_account(Account("k"))
            await grant(store, "k", 0.1)
            assert (await grant(store, "k", 0.2)).available == 0.30000000000000004
            await store.create_account(Account("d"))
            await grant(store, "d", 0.3)
            await hold(store, "d", "t1", 0.1)
            assert (await hold(store, "d", "t2", 0.2)).available == 0.0  # -2.8e-17: dust
            with pytest.raises(InsufficientBalance) as refused:
                await hold(store, "k", "t3", 0.4)
            assert (refused.value.needed, refused.value.available) == \
                (0.4, 0.30000000000000004)
            with pytest.raises(KeyError):
                await grant(store, "nobody", 1.0)
        for key in ("k", "d"):
            assert await kept.get_account(key) == await memory.get_account(key)
            assert await kept.ledger(key) == await memory.ledger(key)
        assert [e.available for e in await kept.ledger("k")] == [0.1, 0.30000000000000004]
        assert [e.id for e in await kept.ledger("d")] == [3, 4, 5]  # one count per namespace
        await kept.close()

    run(scenario())


# -- the differential test: MemoryStore and RedisStore side by side ----------------------
KEYS = ["k1", "k2"]
REFS = ["T1", "T2", "T3", "bill-1", "bill-2"]
KEY, REF = st.sampled_from(["k1", "k1", "k2"]), st.sampled_from(REFS)
ARGUMENTS = {
    "account": st.tuples(st.sampled_from(KEYS + ["k3"])),
    "open": st.tuples(st.sampled_from(KEYS + ["k3"]), st.sampled_from([0.1, 2.5])),
    "grant": st.tuples(KEY, st.sampled_from([0.1, 0.3, 5, -0.3, -4.0])),
    "hold": st.tuples(KEY, REF, st.sampled_from([0.3, 1, 2.5])),
    "settle": st.tuples(KEY, REF, st.sampled_from([0.1, 0.2, 0.3, 1])),
    "release": st.tuples(KEY, REF, st.sampled_from([0.1, 0.3, 1])),
    "bill": st.tuples(KEY, REF, st.sampled_from([0.1, 0.2, 1])),  # a hold, then its end
    "refund": st.tuples(KEY, REF, st.sampled_from([0.1, 0.3])),
    "put": st.tuples(st.sampled_from(REFS[:4]), KEY),
    "begin": st.tuples(st.sampled_from(REFS[:4]), KEY, st.sampled_from([0.0, 0.3, 1, 9.0])),
    "forget": st.tuples(REF),
}
STEP = st.sampled_from(["bill", "put", "hold", "forget", "grant", "settle", "begin", "refund",
                        "bill", "forget", "release", "hold", "grant", "put", "settle",
                        "account", "open"]).flatmap(
    lambda kind: ARGUMENTS[kind].map(lambda args: (kind, *args)))
# Both keys exist from the start, with credits, and two tasks are kept, so most movements
# land and folding has kept tasks to step around.
PRELUDE = [("account", "k1"), ("grant", "k1", 5), ("open", "k2", 6.0), ("put", "T1", "k1"),
           ("put", "T2", "k1")]
DELTAS = {"hold": lambda a: {"available": -a, "held": a},
          "settle": lambda a: {"held": -a, "spent": a},
          "release": lambda a: {"held": -a, "available": a}}


async def apply(store, step, time):
    kind = step[0]
    if kind in ("bill", "refund"):
        _, key, ref, amount = step
        return (await apply(store, ("hold", key, ref, amount), time),
                await apply(store, ("settle" if kind == "bill" else "release", key, ref,
                                    amount), time))
    try:  # a copy of what comes back: MemoryStore hands out its live account
        if kind == "account":
            return copy(await store.create_account(Account(step[1], created_at=time)))
        if kind == "open":
            return copy(await store.open_account(Account(step[1], available=step[2],
                                                         granted=step[2]), time))
        if kind == "grant":
            return copy(await grant(store, step[1], step[2], time))
        if kind in DELTAS:
            _, key, ref, amount = step
            return copy(await store.move_credits(key, kind, amount, time, ref,
                                                 **DELTAS[kind](amount)))
        if kind == "put":
            made = await store.get_task(step[1])
            if made is None:
                made = task(step[1], step[2], clips=[clip("c-" + step[1])])
            else:
                made.step += 1
            await store.put_task(made)
            return made.version, made.seq
        if kind == "begin":
            if await store.get_task(step[1]) is not None:
                return "exists"  # see test_a_task_begins_with_its_hold_or_not_at_all
            made = task(step[1], step[2], cost=step[3], clips=[clip("c-" + step[1])])
            account = copy(await store.begin_task(made, time))
            return account, made.version, made.seq
        return await store.forget_task(step[1])
    except InsufficientBalance as exc:
        return "insufficient", exc.api_key, exc.needed, exc.available
    except KeyError as exc:
        return "missing", exc.args


async def picture(store):
    return (await store.list_accounts(), [await store.ledger(key) for key in KEYS],
            [(t.id, t.api_key, t.version, t.seq, t.step) for t in await store.list_tasks()],
            [await store.find_clip("c-" + ref) is not None for ref in REFS])


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=20, max_size=50))
def test_the_redis_store_moves_and_folds_exactly_as_memory_does(url, steps):
    async def scenario():
        memory, kept = MemoryStore(), RedisStore.open(url, "differential")
        await kept.reset()
        try:
            for moment, step in enumerate(PRELUDE + steps):
                assert await apply(kept, step, float(moment)) == \
                    await apply(memory, step, float(moment)), step
                assert await picture(kept) == await picture(memory), step
        finally:
            await kept.close()

    run(scenario())
