"""What a shared simulator refuses: a control plane a web page cannot drive, input that
cannot break stored state, and control-plane answers that are always JSON and name the
field at fault."""

from __future__ import annotations

import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
import requests

from conftest import DEMO_KEY, Sim, bearer, start_sim

# One small submit per dialect, the extra member going where each body takes one.
SUBMITS = {
    "evolink": ("/v1/audios/generations", {"model": "suno-v4.5", "prompt": "a road trip"}),
    "acedata": ("/suno/audios", {"action": "generate", "prompt": "a road trip",
                                 "async": True}),
    "openaihk": ("/sunoapi/generate", {"gpt_description_prompt": "a road trip"}),
    "sunor": ("/api/v1/task", {"model": "suno", "task_type": "music",
                               "input": {"gpt_description_prompt": "a road trip"}}),
    "orux": ("/api/v1/tasks", {"model": "suno-v5", "prompt": "a road trip", "duration": 60}),
}


def headers(provider: str, key: str = DEMO_KEY) -> dict[str, str]:
    return {"x-api-key": key} if provider == "sunor" else bearer(key)


def submit(sim: Sim, provider: str, body: dict) -> requests.Response:
    path, _ = SUBMITS[provider]
    return requests.post(sim.base(provider) + path, json=body, headers=headers(provider),
                         timeout=10)


def nested(depth: int) -> object:
    """A value of ``depth`` nested containers, objects and arrays in turn."""
    value: object = "bottom"
    for level in range(depth):
        value = {"x": value} if level % 2 else [value]
    return value


def message_of(provider: str, answer: dict) -> str:
    """The refusal's words, wherever the dialect puts them."""
    error = answer.get("error")
    if isinstance(error, dict):
        return error.get("message", "")
    for key in ("message", "msg", "detail"):
        if isinstance(answer.get(key), str):
            return answer[key]
    return error if isinstance(error, str) else str(answer)


# -- a control plane a web page cannot drive --------------------------------------------

def test_a_cross_site_write_to_the_control_plane_is_refused_and_changes_nothing(sim):
    before = sim.admin("GET", "/accounts").json()["accounts"]
    # What a page on another site can send without a preflight: a "simple" request.
    answer = sim.admin("POST", "/accounts", data='{"credits": 5}',
                       headers={"Origin": "https://evil.example",
                                "Content-Type": "text/plain"})
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"
    assert answer.json()["error"]["param"] == "Origin"
    assert sim.admin("GET", "/accounts").json()["accounts"] == before
    reset = sim.admin("POST", "/reset", headers={"Origin": "http://attacker.test:8000"})
    assert reset.status_code == 403
    assert sim.admin("POST", "/reset", headers={"Origin": "null"}).status_code == 403


def test_the_simulators_own_origin_and_callers_without_one_are_answered(sim):
    own = f"http://{urlsplit(sim.url).netloc}"
    assert sim.admin("POST", "/accounts", json={}, headers={"Origin": own}).status_code == 201
    assert sim.admin("POST", "/accounts", json={}).status_code == 201  # curl, SDKs
    port = urlsplit(sim.url).port
    other_port = sim.admin("POST", "/reset", headers={"Origin": f"http://127.0.0.1:{port + 1}"})
    assert other_port.status_code == 403  # another port is another origin


@pytest.mark.parametrize("host", ["evil.example", "rebind.attacker.test:8000", "10.1.2.3"])
def test_a_foreign_host_is_refused(sim, host):
    answer = sim.admin("GET", "/health", headers={"Host": host})
    assert answer.status_code == 403
    assert answer.json()["error"]["param"] == "Host"
    assert host.split(":")[0] in answer.json()["error"]["message"]


@pytest.mark.parametrize("host", ["localhost", "localhost:9", "app.localhost", "127.0.0.1",
                                  "127.9.9.9:1", "[::1]:8000"])
def test_loopback_hosts_are_served(sim, host):
    assert sim.admin("GET", "/health", headers={"Host": host}).status_code == 200


def test_allowed_and_public_hosts_are_served_and_the_token_passes_everything():
    sim = start_sim(allowed_hosts=("musicsim",), public_url="https://sim.example:9443")
    try:
        assert sim.admin("GET", "/health", headers={"Host": "musicsim:8000"}).status_code == 200
        assert sim.admin("GET", "/health", headers={"Host": "sim.example"}).status_code == 200
        assert sim.admin("POST", "/reset", headers={
            "Origin": "https://sim.example:9443"}).status_code == 200
        assert sim.admin("GET", "/health", headers={"Host": "other"}).status_code == 403
    finally:
        sim.stop()
    sim = start_sim(admin_token="s3cret")
    try:
        foreign = {"Host": "evil.example", "Origin": "https://evil.example"}
        refused = sim.admin("POST", "/reset", headers=foreign)
        assert refused.status_code == 401
        assert refused.json()["error"]["param"] == "Authorization"
        passed = sim.admin("POST", "/reset",
                           headers={**foreign, "Authorization": "Bearer s3cret"})
        assert passed.status_code == 200, passed.text
    finally:
        sim.stop()


# -- input that cannot break state ------------------------------------------------------

@pytest.mark.parametrize("provider", sorted(SUBMITS))
def test_nesting_deeper_than_32_is_refused_in_the_dialects_shape(sim, provider):
    path, body = SUBMITS[provider]
    accepted = submit(sim, provider, {**body, "extra": nested(31)})  # 32 with the body
    assert accepted.status_code < 300, accepted.text
    for depth in (32, 300):  # 300: once accepted, and every task list answered 500 after
        refused = submit(sim, provider, {**body, "extra": nested(depth)})
        assert refused.status_code == 400, refused.text
        assert "deeper than 32" in message_of(provider, refused.json())
        assert "extra" in message_of(provider, refused.json())
    assert sim.admin("GET", "/tasks").status_code == 200
    for task in sim.admin("GET", "/tasks").json()["tasks"]:
        assert sim.admin("GET", f"/tasks/{task['id']}").status_code == 200


def test_nesting_past_the_parsers_limit_is_refused_too(sim):
    raw = "[" * 5000 + "]" * 5000
    answer = requests.post(sim.base("evolink") + "/v1/audios/generations", data=raw,
                           headers={**bearer(), "Content-Type": "application/json"}, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_a_three_million_character_prompt_is_refused_and_nothing_is_held(sim):
    credits = sim.admin("GET", f"/accounts/{DEMO_KEY}").json()["credits"]
    _, body = SUBMITS["sunor"]
    answer = submit(sim, "sunor", {**body, "input": {"prompt": "la " * 1_000_000,
                                                     "tags": "pop"}})
    assert answer.status_code == 400
    assert answer.json()["message"] == "input.prompt must be at most 65536 characters"
    assert sim.admin("GET", f"/accounts/{DEMO_KEY}").json()["credits"] == credits
    assert sim.admin("GET", "/tasks?provider=sunor").json()["count"] == 0


@pytest.mark.parametrize("provider", sorted(SUBMITS))
def test_text_over_64_kib_is_refused_where_the_seed_gives_no_limit(sim, provider):
    _, body = SUBMITS[provider]
    fits = submit(sim, provider, {**body, "note": "n" * 65_536})
    assert fits.status_code < 300, fits.text
    refused = submit(sim, provider, {**body, "note": "n" * 65_537})
    assert refused.status_code == 400
    assert message_of(provider, refused.json()) == "note must be at most 65536 characters"


def test_the_seeds_own_length_limits_still_word_their_refusals(sim):
    answer = submit(sim, "evolink", {"model": "suno-v4.5", "prompt": "p" * 70_000})
    assert answer.status_code == 400
    assert "65536" not in answer.json()["error"]["message"]
    assert answer.json()["error"]["param"] == "prompt"


def test_every_spec_states_its_limits():
    from simulator.openapi import load_spec, spec_ids

    for sid in spec_ids():
        limits = load_spec(sid).document["x-limits"]
        assert (limits["maxDepth"], limits["maxTextLength"]) == (32, 65536), sid


# -- accounts: made-up keys never collide -----------------------------------------------

def test_a_made_up_key_never_collides_with_one_given_before():
    sim = start_sim(seed=11)
    try:
        first = sim.account()
        assert sim.admin("POST", "/reset").status_code == 200  # rewinds the id generator
        given = sim.admin("POST", "/accounts", json={"api_key": first})
        assert given.status_code == 201
        made = sim.admin("POST", "/accounts", json={})  # drew `first` again: was a 500
        assert made.status_code == 201, made.text
        assert made.json()["api_key"] not in (first, DEMO_KEY)
        again = sim.admin("POST", "/accounts", json={"api_key": first})
        assert again.status_code == 409
        assert again.json()["error"] == {"code": "conflict", "param": "api_key",
                                         "message": f"an account with key {first!r} exists"}
    finally:
        sim.stop()


# -- answers that are JSON and name the field -------------------------------------------

@pytest.mark.parametrize("rule, param, message", [
    ({"action": {"status": 503}, "probability": 2}, "probability",
     "probability must be at most 1"),
    ({"action": {"status": 503}, "times": -3}, "times", "times must be at least 1"),
    ({"match": {"provider": "nowhere"}, "action": {"status": 503}}, "match.provider", None),
    ({"action": {"task": "dance"}}, "action.task", None),
])
def test_a_bad_fault_rule_is_refused_naming_its_field(sim, rule, param, message):
    answer = sim.admin("POST", "/faults", json=rule)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == param
    if message is not None:
        assert error["message"] == message
    assert sim.admin("GET", "/faults").json()["rules"] == []


def test_refusals_name_the_query_parameter_and_the_clock_setting(sim):
    assert sim.admin("GET", "/tasks?limit=0").json()["error"]["param"] == "limit"
    assert sim.admin("GET", "/journal?faulted=maybe").json()["error"]["param"] == "faulted"
    assert sim.admin("GET", "/ledger").json()["error"]["param"] == "api_key"
    assert sim.admin("GET", "/accounts/nobody").json()["error"]["param"] == "api_key"


@pytest.mark.parametrize("method, path, status, code", [
    ("GET", "/nothing/here", 404, "not_found"),
    ("POST", "/nothing", 404, "not_found"),
    ("DELETE", "/health", 405, "method_not_allowed"),
])
def test_what_no_control_plane_call_matches_is_answered_in_json(sim, method, path, status,
                                                                 code):
    answer = sim.admin(method, path)
    assert answer.status_code == status
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error"]["code"] == code
    if status == 405:
        assert "GET" in answer.headers["Allow"]


def test_an_ipv6_host_is_written_in_brackets():
    with socket.socket(socket.AF_INET6) as held:
        try:
            held.bind(("::", 0))
        except OSError:
            pytest.skip("no IPv6 on this machine")
        port = held.getsockname()[1]
        held.listen()
        result = subprocess.run(
            [sys.executable, "-m", "simulator.cli", "serve", "--host", "::", "--port",
             str(port)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"cannot serve on [::]:{port}" in result.stderr
    assert ":::" not in result.stderr


def test_a_pattern_anchored_at_the_end_takes_no_trailing_newline(sim):
    """JSON Schema reads ``$`` as the very end; Python's ``re`` also lets it match
    before a final newline, and a key ending in one was made (and can never be sent in
    a header)."""
    answer = sim.admin("POST", "/accounts", json={"api_key": "sk-newline\n"})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "api_key"
    assert sim.admin("POST", "/accounts", json={"api_key": "sk-newline"}).status_code == 201
