"""Paging of the control plane's long lists (ledger, tasks, journal, webhook attempts):
``limit`` and ``cursor`` in, ``next_cursor`` and a ``Link: rel="next"`` header out.

Walking every page gives the whole list once, in order; items added between reads come
on a later page; a cursor names a position, so the journal dropping its oldest entries
does not shift it; a cursor that is not this list's is refused naming ``cursor``.
"""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from conftest import DEMO_KEY, Receiver, Sim, bearer, start_sim

from simulator.config import PROVIDERS, RateLimit

SONG = {"model": "suno-v4.5", "prompt": "a paging song"}
MISSING = "task-unified-1766319089-zzzzzzz"  # + one character: well-formed, nobody's
MEMBER = {"/ledger": "entries", "/tasks": "tasks", "/journal": "entries",
          "/webhooks": "attempts"}


def page(sim: Sim, path: str, **params: Any) -> requests.Response:
    response = sim.admin("GET", path, params=params)
    assert response.status_code == 200, response.text
    return response


def check_link(sim: Sim, path: str, response: requests.Response, params: dict) -> None:
    """The Link header is there exactly when there is a next page, and names this
    request's query with the new cursor."""
    following = response.json()["next_cursor"]
    if following is None:
        assert "Link" not in response.headers
        return
    link = response.links["next"]["url"]
    parts = urlsplit(link)
    assert parts.path == f"/_sim{path}"
    sent = {k: str(v) for k, v in params.items() if k != "cursor"}
    assert parse_qs(parts.query) == {k: [v] for k, v in {**sent, "cursor": following}.items()}


def walk(sim: Sim, path: str, between=None, **params: Any) -> tuple[list[dict], list[int]]:
    """Every item of a list, page by page (calling ``between()`` after each page but the
    last), and the size of each page."""
    items, sizes, cursor = [], [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = page(sim, path, **query)
        answer = response.json()
        check_link(sim, path, response, query)
        items += answer[MEMBER[path]]
        sizes.append(len(answer[MEMBER[path]]))
        cursor = answer["next_cursor"]
        if cursor is None:
            return items, sizes
        if between is not None:
            between()


def grant(sim: Sim, key: str, times: int) -> None:
    for _ in range(times):
        assert sim.admin("POST", f"/accounts/{key}/credits", json={"delta": 1}).ok


def submit(sim: Sim, key: str = DEMO_KEY, **fields: Any) -> str:
    response = requests.post(f"{sim.base('evolink')}/v1/audios/generations",
                             json={**SONG, **fields}, headers=bearer(key), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def poll_missing(sim: Sim, n: int) -> None:
    answer = requests.get(f"{sim.base('evolink')}/v1/tasks/{MISSING}{n % 10}",
                          headers=bearer(), timeout=10)
    assert answer.status_code == 404


def refused(sim: Sim, path: str, cursor: str, **params: Any) -> None:
    response = sim.admin("GET", path, params={**params, "cursor": cursor})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["param"] == "cursor", error


# --- the ledger -----------------------------------------------------------------------------


def test_the_ledger_comes_in_pages_that_add_up_to_all_of_it(sim):
    key = sim.account(1)
    grant(sim, key, 60)
    whole = page(sim, "/ledger", api_key=key, limit=10_000).json()
    assert whole["count"] == 61 and len(whole["entries"]) == 61
    assert whole["next_cursor"] is None and "Link" not in page(sim, "/ledger", api_key=key).headers
    items, sizes = walk(sim, "/ledger", api_key=key, limit=16)
    assert items == whole["entries"] and sizes == [16, 16, 16, 13]
    first = page(sim, "/ledger", api_key=key, limit=16).json()
    assert first["count"] == 61 and first["next_cursor"]


def test_movements_made_between_reads_come_on_a_later_page(sim):
    key = sim.account(1)
    grant(sim, key, 9)
    other = sim.account(5)  # another key's movements share the sequence, never the pages
    items, _ = walk(sim, "/ledger", between=lambda: (grant(sim, key, 3), grant(sim, other, 1)),
                    api_key=key, limit=4)
    assert [e["id"] for e in items] == sorted({e["id"] for e in items})
    assert {e["api_key"] for e in items} == {key}
    assert items == page(sim, "/ledger", api_key=key, limit=10_000).json()["entries"]
    assert len(items) > 10


def test_a_long_ledger_is_cut_at_a_thousand_by_default(sim):
    key = sim.account(1)

    async def many():
        for _ in range(1_100):
            await sim.engine.grant(key, 1)

    sim.call(many)
    first = page(sim, "/ledger", api_key=key)
    answer = first.json()
    assert len(answer["entries"]) == 1_000 and answer["count"] == 1_101
    rest = page(sim, "/ledger", api_key=key, cursor=answer["next_cursor"]).json()
    assert len(rest["entries"]) == 101 and rest["next_cursor"] is None
    assert rest["entries"][0]["id"] == answer["entries"][-1]["id"] + 1
    # The Link header is followed as it is: the same page as passing the cursor.
    followed = requests.get(sim.url + first.links["next"]["url"], timeout=10).json()
    assert followed == rest


# --- tasks ----------------------------------------------------------------------------------


def test_tasks_come_in_creation_order_page_by_page(sim):
    ids = [submit(sim) for _ in range(7)]
    for failed in ids[1::3]:
        assert sim.admin("POST", f"/tasks/{failed}/outcome", json={"outcome": "fail"}).ok
    items, sizes = walk(sim, "/tasks", limit=3)
    assert [t["id"] for t in items] == ids and sizes == [3, 3, 1]
    failed, _ = walk(sim, "/tasks", status="failed", provider="evolink", limit=1)
    assert [t["id"] for t in failed] == ids[1::3]


def test_tasks_submitted_between_reads_come_on_a_later_page(sim):
    key = sim.account(10_000)
    ids = [submit(sim, key) for _ in range(4)]
    submit(sim)  # another key's: filtered out

    def more():
        ids.append(submit(sim, key))
        submit(sim)

    items, _ = walk(sim, "/tasks", between=more, api_key=key, limit=2)
    assert [t["id"] for t in items] == ids and len(ids) > 5


# --- the journal ----------------------------------------------------------------------------


def test_the_journal_comes_in_pages_and_keeps_up_with_new_requests(sim):
    sim.admin("DELETE", "/journal")
    for n in range(7):
        poll_missing(sim, n)
    submit(sim)  # a POST: filtered out below
    counter = iter(range(7, 100))
    items, sizes = walk(sim, "/journal", between=lambda: poll_missing(sim, next(counter)),
                        method="GET", limit=3)
    ids = [e["id"] for e in items]
    assert ids == sorted(set(ids)) and all(e["method"] == "GET" for e in items)
    whole = page(sim, "/journal", method="GET").json()
    assert whole["entries"] == items and whole["count"] == len(items) > 7
    assert whole["next_cursor"] is None


@pytest.fixture(scope="module")
def small_journal():
    """A simulator whose journal keeps only its last 5 entries."""
    server = start_sim(journal_entries=5,
                       rate_limits={p: RateLimit(0.0, 1.0) for p in PROVIDERS})
    yield server
    server.stop()


def test_a_cursor_survives_the_journal_dropping_its_oldest(small_journal):
    sim = small_journal
    assert sim.admin("POST", "/reset").ok
    for n in range(5):
        poll_missing(sim, n)
    first = page(sim, "/journal", limit=2).json()
    assert [e["path"][-1] for e in first["entries"]] == ["0", "1"]
    for n in range(5, 9):
        poll_missing(sim, n)  # the journal now keeps 4..8
    rest = page(sim, "/journal", cursor=first["next_cursor"]).json()
    # Nothing kept is skipped: an index would have started at the third entry kept (6).
    assert [e["path"][-1] for e in rest["entries"]] == ["4", "5", "6", "7", "8"]


# --- webhook attempts -----------------------------------------------------------------------


def test_webhook_attempts_come_in_pages(sim):
    receiver = Receiver()
    try:
        ids = []

        def deliver_one():
            ids.append(submit(sim, callback_url=receiver.url))
            assert sim.admin("POST", f"/tasks/{ids[-1]}/outcome", json={"outcome": "fail"}).ok
            receiver.wait_for(len(ids))
            assert len(receiver.calls) == len(ids)

        for _ in range(5):
            deliver_one()
        _wait_recorded(sim, 5)
        items, sizes = walk(sim, "/webhooks", between=lambda: (deliver_one(),
                                                               _wait_recorded(sim, len(ids))),
                            limit=2)
        assert [a["task_id"] for a in items] == ids and len(ids) > 5
        assert items == page(sim, "/webhooks").json()["attempts"]
        one, _ = walk(sim, "/webhooks", task_id=ids[2], limit=1)
        assert [a["task_id"] for a in one] == [ids[2]]
    finally:
        receiver.close()


def _wait_recorded(sim: Sim, count: int) -> None:
    """A delivery is recorded once its answer is in, a moment after the receiver saw it."""
    for _ in range(500):
        if page(sim, "/webhooks").json()["count"] >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} attempts recorded")


# --- cursors that are not this list's ---------------------------------------------------------


def test_a_cursor_not_handed_out_for_this_list_is_refused(sim):
    key = sim.account(1)
    grant(sim, key, 3)
    cursor = page(sim, "/ledger", api_key=key, limit=1).json()["next_cursor"]
    made_up, later = (base64.urlsafe_b64encode(raw).decode()
                      for raw in (b"v1:ledger:0:x", b"v2:ledger:0:1"))
    for bad in ("", "nonsense", "%%%", made_up, later):
        refused(sim, "/ledger", bad, api_key=key)
    for path in ("/tasks", "/journal", "/webhooks"):
        refused(sim, path, cursor)
    assert page(sim, "/ledger", api_key=key, cursor=cursor).json()["entries"]
    sim.admin("POST", "/reset")
    refused(sim, "/ledger", cursor, api_key=DEMO_KEY)
