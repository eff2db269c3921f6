"""The Redis store's promises as a shared store, against a real redis-server: atomic
steps under concurrent connections and processes, namespaces apart, documents, logs,
token buckets and due work, the keys index and sandboxes shared, the generation."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import pytest
import redis as redis_sync

from simulator.core.models import Account, Persona
from simulator.core.store.redis import RedisStore

from redis_server import redis_url  # noqa: F401  (the fixture)
from test_store_redis import clip, grant, hold, run, task, url  # noqa: F401

# -- concurrency ---------------------------------------------------------------------------
# Run in threads of this process and in processes of their own: each waits for the word
# "go" in Redis, then sends its holds five at a time.
CONTENDER = """
import asyncio
import redis.asyncio
from simulator.core.store import InsufficientBalance
from simulator.core.store.redis import RedisStore

async def contend(url, name, tries, ready):
    store = RedisStore.open(url, "race")
    await store.check()
    signal = redis.asyncio.from_url(url)
    ready()
    while not await signal.get("go"):
        await asyncio.sleep(0.001)
    await signal.aclose()

    async def holds(first):  # five at a time, one after another
        outcomes = []
        for i in range(first, tries, 5):
            try:
                account = await store.move_credits("k", "hold", 1.0, 1.0, f"{name}-{i}",
                                                   available=-1.0, held=1.0)
                outcomes.append(account.available >= 0)
            except InsufficientBalance:
                outcomes.append(None)
        return outcomes

    outcomes = await asyncio.gather(*(holds(first) for first in range(5)))
    await store.close()
    return [outcome for some in outcomes for outcome in some]
"""
PROCESS = CONTENDER + """
import sys
print(*asyncio.run(contend(sys.argv[1], sys.argv[2], int(sys.argv[3]),
                           lambda: print("ready", flush=True))))
"""
_contender: dict = {}
exec(CONTENDER, _contender)


def test_concurrent_holds_from_connections_and_processes_take_exactly_the_credits(url):
    credits, tries = 100, 50
    setup = RedisStore.open(url, "race")

    async def prepare():
        await setup.create_account(Account("k"))
        await grant(setup, "k", float(credits))
        await setup.close()

    run(prepare())
    results: dict[str, list[bool | None]] = {}
    ready = threading.Semaphore(0)

    def contend(name):
        results[name] = run(_contender["contend"](url, name, tries, ready.release))

    processes = [subprocess.Popen([sys.executable, "-c", PROCESS, url, f"process{i}",
                                   str(tries)], stdout=subprocess.PIPE, text=True)
                 for i in range(2)]
    threads = [threading.Thread(target=contend, args=(f"thread{i}",)) for i in range(3)]
    try:
        for thread in threads:
            thread.start()
        for process in processes:
            assert process.stdout.readline().strip() == "ready"
        for _ in threads:
            assert ready.acquire(timeout=30)
        redis_sync.Redis.from_url(url).set("go", 1)
        for thread in threads:
            thread.join()
        for i, process in enumerate(processes):
            out, _ = process.communicate(timeout=60)
            results[f"process{i}"] = [{"True": True, "None": None}[w] for w in out.split()]
    finally:
        for process in processes:
            process.kill()
    everyone = [outcome for outcomes in results.values() for outcome in outcomes]
    assert len(everyone) == 5 * tries and everyone.count(True) == credits
    assert None in everyone  # the rest were refused, never taken below zero

    async def check():
        store = RedisStore.open(url, "race")
        account = await store.get_account("k")
        ledger = await store.ledger("k")
        await store.close()
        return account, ledger

    account, ledger = run(check())
    assert (account.available, account.held, account.granted) == (0.0, float(credits),
                                                                   float(credits))
    assert [e.id for e in ledger] == list(range(1, credits + 2))
    assert sorted(e.available for e in ledger[1:]) == [float(n) for n in range(credits)]


def test_concurrent_claims_take_every_piece_of_work_exactly_once(url):
    refs = [f"w{i:03}" for i in range(150)]

    async def queue():
        store = RedisStore.open(url)
        for i, ref in enumerate(refs):
            await store.put_work(ref, float(i % 10), ref.encode())
        assert await store.work_count() == 150
        await store.close()

    run(queue())
    claimed: list[list[str]] = [[], []]

    async def claimer(mine):
        store = RedisStore.open(url)
        while batch := await store.claim_work(100.0, 1000.0, 60.0, limit=7):
            assert [due for _, due, _ in batch] == sorted(due for _, due, _ in batch)
            assert all(record == ref.encode() for ref, _, record in batch)
            mine.extend(ref for ref, _, _ in batch)
        await store.close()

    failures: list[BaseException] = []

    def claim(mine):
        try:
            run(claimer(mine))
        except BaseException as exc:  # an assertion in the thread fails the test here
            failures.append(exc)

    threads = [threading.Thread(target=claim, args=(mine,)) for mine in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [] and sorted(claimed[0] + claimed[1]) == refs


def test_work_is_held_for_its_lease_and_queued_again_unclaimed(url):
    async def scenario():
        store = RedisStore.open(url)
        await store.put_work("late", 50.0, b"L")
        await store.put_work("early", 10.0, b"E")
        await store.put_work("future", 500.0, b"F")
        assert await store.claim_work(100.0, 1000.0, 30.0) == [
            ("early", 10.0, b"E"), ("late", 50.0, b"L")]
        assert await store.claim_work(100.0, 1020.0, 30.0) == []  # still held
        assert await store.claim_work(100.0, 1031.0, 30.0, limit=1) == [("early", 10.0, b"E")]
        await store.put_work("late", 60.0, b"L2")  # queued again: nobody holds it
        assert await store.claim_work(100.0, 1032.0, 30.0) == [("late", 60.0, b"L2")]
        await store.put_work("late", 70.0, b"L3", held=1040.0)  # queued, held by the caller
        assert await store.claim_work(100.0, 1060.0, 30.0) == []
        assert await store.claim_work(100.0, 1070.5, 30.0) == [
            ("early", 10.0, b"E"), ("late", 70.0, b"L3")]
        await store.drop_work("late")
        assert await store.work_count() == 2
        assert await store.claim_work(1000.0, 5000.0, 30.0, limit=0) == []
        assert [ref for ref, _, _ in await store.claim_work(1000.0, 5000.0, 30.0)] == [
            "early", "future"]
        await store.close()

    run(scenario())


# -- namespaces, documents, the shared index -----------------------------------------------
def test_namespaces_are_apart_and_reset_wipes_only_its_own(url):
    async def scenario():
        a, b = RedisStore.open(url, "a"), RedisStore.open(url, "b")
        for store, credits in ((a, 10.0), (b, 20.0)):
            await store.create_account(Account("k"))
            await grant(store, "k", credits)
            await hold(store, "k", "bill", 1.0)
            await store.move_credits("k", "settle", 1.0, 1.0, "bill", held=-1.0, spent=1.0)
            await hold(store, "k", "t1", 1.0)
            await store.put_task(task("t1", clips=[clip("c1")]))
            await store.put_persona(Persona("p1", "k", "P", "c1", 1.0))
            await store.put_doc("clock", {"now": credits})
            await store.count("journal")
            await store.push("journal", [b"x", b"y"], 10)
            await store.put_work("w", 1.0, b"w")
        assert (await a.get_account("k")).available == 8.0
        assert (await b.get_account("k")).available == 18.0
        assert (await b.get_task("t1")).seq == 1
        assert [e.id for e in await b.ledger("k")] == [1, 2, 3, 4]
        await a.claim_key("k", "a")
        await a.add_sandbox("a", {"seed": 1})
        await a.take_token("bucket", 1.0, 1.0, 0.0)
        await a.reset()
        server = redis_sync.Redis.from_url(url)
        assert list(server.scan_iter("musicsim:a:*")) == []  # nothing of it is left
        assert len(list(server.scan_iter("musicsim:b:*"))) > 10
        assert await a.get_account("k") is None and await a.ledger("k") == []
        assert await a.get_task("t1") is None and await a.find_clip("c1") is None
        assert await a.get_persona("p1") is None and await a.get_doc("clock") is None
        assert await a.count("journal", 0) == 0 and await a.items("journal") == []
        assert await a.work_count() == 0 and await a.list_accounts() == []
        assert await b.get_doc("clock") == {"now": 20.0}
        assert [item for _, item in await b.items("journal")] == [b"x", b"y"]
        assert (await b.get_account("k")).available == 18.0 and await b.work_count() == 1
        assert await b.key_owner("k") == "a" and list(await b.sandboxes()) == ["a"]
        await a.create_account(Account("k"))
        await grant(a, "k", 1.0)  # counters start again after a reset
        assert [e.id for e in await a.ledger("k")] == [1]
        await a.put_task(task("t2"))
        assert (await a.get_task("t2")).seq == 1
        await a.close()
        await b.close()

    run(scenario())


def test_documents_counters_capped_logs_and_token_buckets(url):
    async def scenario():
        store, other = RedisStore.open(url), RedisStore.open(url, "other")
        assert await store.get_doc("faults") is None
        await store.put_doc("faults", [{"rule": 1, "rate": 0.1}])
        assert await store.get_doc("faults") == [{"rule": 1, "rate": 0.1}]
        counted = [await store.count("c", delta) for delta in (1, 5, -2)]
        assert counted == [1, 6, 4]
        await store.push("log", [b"1", b"2", b"3"], 4)
        await other.push("log", [b"elsewhere"], 4)
        await store.push("log", [b"4", b"5 6"], 4)
        assert await store.items("log") == [(2, b"2"), (3, b"3"), (5, b"4"), (6, b"5 6")]
        await store.push("log", [], 2)
        assert await store.items("log") == [(5, b"4"), (6, b"5 6")]
        await store.reset()
        await store.push("log", [b"7"], 4)
        assert await store.items("log") == [(7, b"7")]  # a position is never used again
        assert await store.items("none") == []
        assert await other.items("log") == [(4, b"elsewhere")]
        took = [await store.take_token("b", 2.0, 3.0, 100.0) for _ in range(4)]
        assert took == [(True, 2.0), (True, 1.0), (True, 0.0), (False, 0.0)]
        left = min(3.0, 0.0 + (100.3 - 100.0) * 2.0)  # refilled as Python would, exactly
        assert await store.take_token("b", 2.0, 3.0, 100.3) == (False, left)
        left = min(3.0, left + (100.5 - 100.3) * 2.0) - 1.0
        assert await store.take_token("b", 2.0, 3.0, 100.5) == (True, left)
        left = min(3.0, left + (101.15 - 100.5) * 2.0) - 1.0
        assert await store.take_token("b", 2.0, 3.0, 101.15) == (True, left)
        assert left == 0.30000000000001137  # no digit lost on the way
        assert await store.take_token("b", 2.0, 3.0, 1000.0) == (True, 2.0)  # full, no more
        assert await other.take_token("b", 2.0, 3.0, 100.0) == (True, 2.0)
        assert abs(await store.server_time() - time.time()) < 5
        await store.close()
        await other.close()

    run(scenario())


def test_keys_and_sandboxes_are_shared_and_every_change_bumps_the_generation(url):
    async def scenario():
        default, other = RedisStore.open(url), RedisStore.open(url, "sb-1")
        assert await default.generation() == 0
        assert await other.put_doc("clock", {"now": 1}) == 1
        assert await default.claim_key("sk-1", "sb-1") is True
        assert await other.claim_key("sk-1", "default") is False  # taken: no change
        assert await other.claim_key("sk-1", "sb-1") is False
        assert await default.generation() == 2
        assert await other.key_owner("sk-1") == "sb-1" and await other.key_owner("x") is None
        await default.claim_key("sk-2", "sb-1")
        await default.claim_key("sk-3", "default")
        await other.release_keys("sb-1")
        assert [await default.key_owner(k) for k in ("sk-1", "sk-2", "sk-3")] == [
            None, None, "default"]
        await other.release_key("sk-3")
        await other.release_key("sk-3")  # nobody has it: no change
        assert await default.key_owner("sk-3") is None
        assert await default.generation() == 6
        assert await default.add_sandbox("sb-2", {"seed": 2}) is True
        assert await other.add_sandbox("sb-1", {"seed": 1}) is True
        assert await default.add_sandbox("sb-2", {"seed": 9}) is False
        assert await other.sandboxes() == {"sb-2": {"seed": 2}, "sb-1": {"seed": 1}}
        assert await default.generation() == 8
        assert await default.drop_sandbox("sb-2") is True
        assert await default.drop_sandbox("sb-2") is False
        assert await other.add_sandbox("sb-2", {"seed": 3}) is True  # last in order now
        assert list(await default.sandboxes()) == ["sb-1", "sb-2"]
        await other.create_account(Account("sk-1"))
        await other.get_account("sk-1")
        assert other.seen_generation == await default.generation() == 10
        await default.put_doc("limits", {})
        await other.get_account("nobody")  # the same round trip reads it
        assert other.seen_generation == 11
        await default.close()
        await other.close()

    run(scenario())


def test_a_lost_connection_fails_what_was_waiting_and_the_next_call_connects_again(url):
    async def scenario():
        store = RedisStore.open(url)
        await store.create_account(Account("k"))
        server = redis_sync.Redis.from_url(url)
        assert server.client_kill_filter(_type="normal", skipme=True) >= 1
        await asyncio.sleep(0.2)  # the store hears the connection close
        assert (await store.get_account("k")).api_key == "k"
        blocked = asyncio.ensure_future(store._use().call("BLPOP", "nothing", 0))
        await asyncio.sleep(0.2)  # the BLPOP is waiting on the server
        server.client_kill_filter(_type="normal", skipme=True)
        with pytest.raises(redis_sync.ConnectionError, match=f"lost the connection.*{url}"):
            await blocked  # a command in flight is not sent again: it may have been run
        assert await store.get_account("k") is not None
        await store.close()

    run(scenario())
