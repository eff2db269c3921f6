"""Every error of seed 004's table, in its exact shape and status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from conftest import bearer, start_sim

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "evolink"
INVALID = sorted((FIXTURES / "requests" / "invalid").glob("*.json"))
VALID = sorted((FIXTURES / "requests" / "valid").glob("*.json"))
SIMPLE = {"model": "suno-v4.5", "prompt": "A cheerful summer pop song"}


def seed_error(status: int) -> dict:
    return json.loads((FIXTURES / "errors" / f"{status}.json").read_text())


def post(sim, body, headers=None, **kwargs):
    return requests.post(f"{sim.base()}/v1/audios/generations", json=body,
                         headers=bearer() if headers is None else headers, timeout=10, **kwargs)


def assert_shape(response, status: int, exact: bool = False):
    """Same status, same keys, same type as the seed's example for that status."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    expected = seed_error(status)["error"]
    assert error["code"] == status and error["type"] == expected["type"]
    assert set(error) == set(expected), (error, expected)
    if exact:
        assert error == expected
    return error


@pytest.mark.parametrize("case", INVALID, ids=lambda p: p.stem)
def test_each_validation_rule_answers_its_error(sim, case):
    spec = json.loads(case.read_text())
    response = post(sim, spec["body"])
    assert response.status_code == spec["status"], response.text
    error = response.json()["error"]
    assert error["code"] == spec["status"]
    assert error.get("param") == spec["param"]
    assert error["message"]
    assert error["type"] == ("not_found_error" if spec["status"] == 404 else "invalid_request_error")
    assert sim.admin("GET", "/tasks").json()["count"] == 0  # nothing accepted, nothing charged


@pytest.mark.parametrize("case", VALID, ids=lambda p: p.stem)
def test_boundary_values_are_accepted(sim, case):
    response = post(sim, json.loads(case.read_text()))
    assert response.status_code == 200, response.text


def test_400_style_required_in_custom_mode_is_the_seed_example(sim):
    response = post(sim, {"model": "suno-v4.5", "custom_mode": True, "instrumental": False,
                          "title": "T", "prompt": "la la"})
    assert_shape(response, 400, exact=True)


def test_invalid_json_is_a_400(sim):
    response = requests.post(f"{sim.base()}/v1/audios/generations", data="{not json",
                             headers={**bearer(), "Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_401_missing_and_wrong_key(sim):
    assert_shape(post(sim, SIMPLE, headers={}), 401)
    wrong = post(sim, SIMPLE, headers=bearer("sk-not-a-key"))
    assert_shape(wrong, 401, exact=True)
    poll = requests.get(f"{sim.base()}/v1/tasks/task-unified-1-abcdefgh", headers={}, timeout=10)
    assert poll.status_code == 401


def test_402_insufficient_quota_charges_nothing(sim):
    key = sim.account(credits=10)
    assert_shape(post(sim, SIMPLE, headers=bearer(key)), 402, exact=True)
    account = sim.admin("GET", f"/accounts/{key}").json()
    assert account["credits"] == 10 and account["held"] == 0


def test_403_model_not_allowed_for_the_account(sim):
    key = sim.account(credits=1000, models=["suno-v4"])
    assert_shape(post(sim, SIMPLE, headers=bearer(key)), 403, exact=True)
    assert post(sim, {**SIMPLE, "model": "suno-v4"}, headers=bearer(key)).status_code == 200


def test_404_unknown_model_suggests_a_fallback(sim):
    assert_shape(post(sim, {**SIMPLE, "model": "suno-v9"}), 404, exact=True)


def test_404_unknown_task_and_400_malformed_task_id(sim):
    missing = requests.get(f"{sim.base()}/v1/tasks/task-unified-1766319089-zzzzzzzz",
                           headers=bearer(), timeout=10)
    assert missing.status_code == 404
    assert missing.json()["error"] == {"code": 404, "message": "Task not found or expired",
                                       "type": "not_found_error", "param": "task_id"}
    malformed = requests.get(f"{sim.base()}/v1/tasks/nope", headers=bearer(), timeout=10)
    assert malformed.status_code == 400 and malformed.json()["error"]["param"] == "task_id"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_outage_magic_values(sim, status):
    response = post(sim, {**SIMPLE, "prompt": f"a song [sim:{status}]"})
    assert_shape(response, status, exact=True)
    assert sim.admin("GET", "/accounts/sk-musicsim-demo").json()["held"] == 0


def test_unknown_route_and_wrong_method_answer_in_the_dialect_shape(sim):
    missing = requests.get(f"{sim.base()}/v1/nothing", headers=bearer(), timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    wrong = requests.delete(f"{sim.base()}/v1/audios/generations", headers=bearer(), timeout=10)
    assert wrong.status_code == 405 and "error" in wrong.json()


def test_429_rate_limit_with_retry_after(tmp_path):
    config = tmp_path / "sim.toml"
    config.write_text("[rate_limits.evolink]\nrate = 0.5\nburst = 2\n")
    sim = start_sim(config_file=str(config))
    try:
        answers = [requests.get(f"{sim.base()}/v1/tasks/task-unified-1-abcdefgh",
                                headers=bearer(), timeout=10) for _ in range(3)]
        assert [a.status_code for a in answers] == [404, 404, 429]
        limited = answers[-1]
        assert_shape(limited, 429)
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"]["fallback_suggestion"] == \
            f"retry after {limited.headers['Retry-After']} seconds"
        other = sim.account(credits=10)
        fresh = requests.get(f"{sim.base()}/v1/tasks/task-unified-1-abcdefgh",
                             headers=bearer(other), timeout=10)
        assert fresh.status_code == 404  # the bucket is per key
    finally:
        sim.stop()


@pytest.mark.parametrize("url,reason", [
    ("http://example.com/hook", "HTTPS"),
    ("https://127.0.0.1/hook", "internal"),
    ("https://10.1.2.3/hook", "internal"),
    ("https://localhost/hook", "internal"),
    ("https://metadata.internal/hook", "internal"),
])
def test_callback_url_rules(url, reason):
    sim = start_sim()  # without --allow-local-callbacks
    try:
        response = post(sim, {**SIMPLE, "callback_url": url})
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["param"] == "callback_url" and reason in error["message"]
        assert post(sim, {**SIMPLE, "callback_url": "https://example.com/hook"}).status_code == 200
    finally:
        sim.stop()


def test_oversized_body_is_refused_in_the_dialect_shape(sim):
    response = requests.post(f"{sim.base()}/v1/audios/generations", data=b"x" * (5 * 1024 * 1024),
                             headers={**bearer(), "Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == 413
    assert response.json()["error"]["type"] == "request_too_large_error"
