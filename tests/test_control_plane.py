"""The /_sim control plane: accounts, credits, ledger, clock, tasks, journal, access."""

from __future__ import annotations

import json

import requests

from conftest import DEMO_KEY, bearer, start_sim

SIMPLE = {"model": "suno-v4.5", "prompt": "control plane song"}


def submit(sim, key=DEMO_KEY, body=SIMPLE):
    return requests.post(f"{sim.base()}/v1/audios/generations", json=body, headers=bearer(key),
                         timeout=10)


def test_health_names_providers_and_clock(sim):
    health = sim.admin("GET", "/health").json()
    assert health["status"] == "ok" and health["providers"] == ["evolink", "acedata", "openaihk", "sunor", "orux"]
    assert health["clock"]["mode"] == "manual" and health["clock"]["speed"] == 0


def test_accounts_credits_and_ledger(sim):
    created = sim.admin("POST", "/accounts", json={"api_key": "sk-team-a", "credits": 50})
    assert created.status_code == 201
    account = created.json()
    assert account | {"created_at": 0, "webhook_secret": ""} == {
        "api_key": "sk-team-a", "credits": 50, "held": 0, "spent": 0, "granted": 50,
        "models": None, "created_at": 0, "webhook_secret": ""}
    # Each key has its own signing secret, the same on every read.
    assert account["webhook_secret"].startswith("whsec_") and len(account["webhook_secret"]) > 30
    again = sim.admin("GET", "/accounts/sk-team-a").json()["webhook_secret"]
    assert again == account["webhook_secret"]
    other = sim.admin("POST", "/accounts", json={"credits": 1}).json()["webhook_secret"]
    assert other != account["webhook_secret"]
    assert sim.admin("POST", "/accounts", json={"api_key": "sk-team-a"}).status_code == 409
    made_up = sim.admin("POST", "/accounts").json()
    assert made_up["api_key"].startswith("sk-sim-") and made_up["credits"] == 10_000
    topped = sim.admin("POST", "/accounts/sk-team-a/credits", json={"delta": 25}).json()
    assert topped["credits"] == 75 and topped["granted"] == 75
    too_much = sim.admin("POST", "/accounts/sk-team-a/credits", json={"delta": -100})
    assert too_much.status_code == 409 and too_much.json()["error"]["code"] == "insufficient_credits"
    assert sim.admin("POST", "/accounts/sk-nobody/credits", json={"delta": 1}).status_code == 404
    assert sim.admin("POST", "/accounts/sk-team-a/credits", json={"delta": "x"}).status_code == 400
    submit(sim, "sk-team-a")
    entries = sim.admin("GET", "/ledger", params={"api_key": "sk-team-a"}).json()["entries"]
    assert [(e["kind"], e["amount"], e["available"], e["held"]) for e in entries] == [
        ("grant", 50, 50, 0), ("grant", 25, 75, 0), ("hold", 24, 51, 24)]
    assert sim.admin("GET", "/ledger").status_code == 400
    assert sim.admin("GET", "/accounts/sk-team-a").json()["credits"] == 51
    keys = [a["api_key"] for a in sim.admin("GET", "/accounts").json()["accounts"]]
    assert {"sk-team-a", DEMO_KEY, made_up["api_key"]} <= set(keys)


def test_reset_restores_defaults(sim):
    sim.account(credits=5)
    submit(sim)
    assert sim.admin("POST", "/reset").json() == {"status": "reset"}
    accounts = sim.admin("GET", "/accounts").json()["accounts"]
    assert [(a["api_key"], a["credits"]) for a in accounts] == [(DEMO_KEY, 10_000)]
    assert sim.admin("GET", "/tasks").json()["count"] == 0


def test_clock_modes_and_advance(sim):
    before = sim.admin("GET", "/clock").json()
    after = sim.advance(12.5)
    assert after["now"] == before["now"] + 12.5
    fast = sim.admin("PUT", "/clock", json={"mode": "fast"}).json()
    assert fast["mode"] == "fast" and fast["speed"] == 10
    scaled = sim.admin("PUT", "/clock", json={"speed": 3}).json()
    assert scaled["mode"] == "scaled" and scaled["speed"] == 3
    assert sim.admin("PUT", "/clock", json={"mode": "sideways"}).status_code == 400
    assert sim.admin("POST", "/clock/advance", json={"seconds": -1}).status_code == 400


def test_tasks_listing_and_filters(sim):
    ids = [submit(sim).json()["id"] for _ in range(3)]
    sim.admin("POST", f"/tasks/{ids[0]}/outcome", json={"outcome": "fail"})
    listing = sim.admin("GET", "/tasks", params={"provider": "evolink"}).json()
    assert listing["count"] == 3 and {t["id"] for t in listing["tasks"]} == set(ids)
    failed = sim.admin("GET", "/tasks", params={"status": "failed"}).json()
    assert [t["id"] for t in failed["tasks"]] == [ids[0]]
    limited = sim.admin("GET", "/tasks", params={"limit": 1}).json()
    assert limited["count"] == 3 and len(limited["tasks"]) == 1
    assert sim.admin("GET", "/tasks", params={"status": "done"}).status_code == 400
    assert sim.admin("GET", "/tasks/nope").status_code == 404
    assert sim.admin("POST", "/tasks/nope/outcome", json={"outcome": "fail"}).status_code == 404


def test_journal_records_masks_and_filters(sim):
    sim.admin("DELETE", "/journal")
    task_id = submit(sim).json()["id"]
    for _ in range(4):
        requests.get(f"{sim.base()}/v1/tasks/{task_id}", headers=bearer(), timeout=10)
    requests.get(f"{sim.base()}/v1/tasks/{task_id}", headers=bearer("sk-wrong-key-123"), timeout=10)
    polls = sim.admin("GET", "/journal", params={"method": "GET", "path": "/v1/tasks/*"}).json()
    assert polls["count"] == 5
    assert [e["status"] for e in polls["entries"]] == [200, 200, 200, 200, 401]
    entry = polls["entries"][0]
    assert entry["provider"] == "evolink" and entry["path"] == f"/v1/tasks/{task_id}"
    assert DEMO_KEY not in str(entry) and entry["request"]["headers"]["Authorization"].startswith("Bearer sk-m")
    assert entry["response"]["body"].startswith("{")
    by_key = sim.admin("GET", "/journal", params={"api_key": DEMO_KEY}).json()
    assert by_key["count"] == 5  # the submit and four good polls
    submits = sim.admin("GET", "/journal", params={"method": "POST"}).json()["entries"]
    assert json.loads(submits[0]["request"]["body"]) == SIMPLE
    assert sim.admin("DELETE", "/journal").json() == {"status": "cleared"}
    assert sim.admin("GET", "/journal").json()["count"] == 0


def test_journal_bounds_bodies():
    sim = start_sim(journal_body_bytes=64)
    try:
        submit(sim, body={**SIMPLE, "prompt": "x" * 400})
        entry = sim.admin("GET", "/journal").json()["entries"][0]
        assert len(entry["request"]["body"]) == 64 and entry["truncated"] is True
    finally:
        sim.stop()


def test_admin_token_guards_the_control_plane():
    sim = start_sim(admin_token="s3cret")
    try:
        assert sim.admin("GET", "/health").status_code == 401
        wrong = sim.admin("GET", "/health", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
        assert sim.admin("GET", "/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    finally:
        sim.stop()


def test_non_loopback_callers_are_refused_without_a_token():
    """The guard reads the caller's address; a mocked transport stands in for a remote
    host, since tests send traffic to loopback only."""
    import asyncio
    from unittest import mock

    from aiohttp.test_utils import make_mocked_request

    from simulator.admin import admin_routes
    from simulator.config import load
    from simulator.core.engine import Engine
    from simulator.core.sandboxes import Sandboxes
    from simulator.metrics import Metrics

    def call(remote: str, token: str | None = None, header: str | None = None):
        engine = Engine(clock_mode="manual")
        sandboxes = Sandboxes(engine, Engine, None)
        routes = admin_routes(sandboxes, load(env={}, admin_token=token), ["evolink"],
                              Metrics(sandboxes))
        health = next(r for r in routes if r.path == "/_sim/health")
        transport = mock.Mock()
        transport.get_extra_info.side_effect = lambda name, default=None: (
            (remote, 40000) if name == "peername" else default)
        headers = {"Authorization": header} if header else {}
        request = make_mocked_request("GET", "/_sim/health", headers=headers, transport=transport)
        return asyncio.run(health.handler(request))

    refused = call("203.0.113.9")
    assert refused.status == 403 and b'"forbidden"' in refused.body
    assert call("127.0.0.1").status == 200 and call("::1").status == 200
    assert call("203.0.113.9", token="t0k").status == 401
    assert call("203.0.113.9", token="t0k", header="Bearer t0k").status == 200


def test_allowed_callback_urls_pass_the_address_rules_and_nothing_else():
    """A run's receiver on loopback, let through by name on a simulator started the
    default way: its callbacks are delivered, other internal URLs still refused."""
    from conftest import Receiver

    strict = start_sim()  # no --allow-local-callbacks
    hook = Receiver()
    try:
        orux = f"{strict.base('orux')}/api/v1/tasks"
        music = {"model": "elevenlabs-music", "prompt": "a calm loop", "duration": 10}

        def submit_to(url):
            return requests.post(orux, json={**music, "webhook_url": url}, headers=bearer(),
                                 timeout=10)

        refused = submit_to(hook.url)
        assert refused.status_code == 400 and "HTTPS" in refused.text
        allowed = strict.admin("POST", "/webhooks/allowed", json={"url": hook.url})
        assert allowed.status_code == 201 and allowed.json() == {"allowed": [hook.url]}
        accepted = submit_to(hook.url)
        assert accepted.status_code == 200, accepted.text
        assert submit_to(hook.url + "x").status_code == 400  # a sibling path is not below it
        assert submit_to(hook.url + "/case-7").status_code == 200  # a path below it is
        strict.advance(120)
        task_id = accepted.json()["task_id"]
        assert [d["task_id"] for d in hook.wait_for(1)] == [task_id]
        record = strict.admin("GET", "/webhooks", params={"task_id": task_id}).json()
        assert record["allowed"] == [hook.url]
        assert [a["status"] for a in record["attempts"]] == [200]
        bad = strict.admin("POST", "/webhooks/allowed", json={"url": "ftp://x/y"})
        assert bad.status_code == 400 and "http(s) URL" in bad.json()["error"]["message"]
        gone = strict.admin("DELETE", "/webhooks/allowed", params={"url": hook.url})
        assert gone.json() == {"allowed": []}
        assert submit_to(hook.url).status_code == 400
        strict.admin("POST", "/webhooks/allowed", json={"url": hook.url})
        strict.admin("POST", "/reset")
        assert strict.admin("GET", "/webhooks").json()["allowed"] == []
    finally:
        hook.close()
        strict.stop()
