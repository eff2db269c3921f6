"""--check-answers: every answer is held against its spec, a mismatch is logged and kept,
and in this suite it fails the test that caused it (tests/conftest.py)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import requests
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from conftest import Sim, bearer
from simulator.answers import LOGGED, AnswerChecker, admin_middleware, collecting
from simulator.config import load
from simulator.providers.evolink import render

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).resolve().parent / "conftest.py"
NOT_FOUND = {"error": {"code": 404, "message": "Task not found or expired",
                       "type": "not_found_error"}}


@pytest.fixture
def checker() -> AnswerChecker:
    return AnswerChecker(["evolink", "acedata", "admin"])


def check(checker: AnswerChecker, response: web.StreamResponse, path: str = "/v1/tasks/t1",
          method: str = "GET", spec: str = "evolink", **options):
    return checker.check(spec, method, path, response, **options)


@pytest.mark.wrong_answers
def test_a_conforming_answer_passes_and_a_wrong_body_is_named(checker):
    assert check(checker, web.json_response(NOT_FOUND, status=404)) is None
    found = check(checker, web.json_response({"error": {"code": 404}}, status=404))
    assert found is not None and found.status == 404 and found.method == "GET"
    assert found.path == "/v1/tasks/t1" and found.spec == "evolink"
    assert any("'message' is a required property" in v for v in found.violations), found
    assert "GET /v1/tasks/t1 answered 404 against specs/evolink.yaml" in str(found)
    assert list(checker.mismatches) == [found]


@pytest.mark.wrong_answers
def test_an_undocumented_status_fails_unless_a_fault_rule_chose_it(checker):
    teapot = web.json_response(NOT_FOUND, status=418)
    found = check(checker, teapot)
    assert found is not None and "status 418 is not documented" in found.violations[0]
    assert check(checker, teapot, injected=True) is None
    # A status the spec documents is held to its schema, whoever chose it.
    assert check(checker, web.json_response({}, status=503), injected=True) is not None


@pytest.mark.wrong_answers
def test_content_types_and_bodies_that_are_not_json(checker):
    html = web.Response(text="<h1>oops</h1>", status=404, content_type="text/html")
    assert "content type text/html is not documented" in check(checker, html).violations[0]
    broken = web.Response(body=b"{not json", status=404, content_type="application/json")
    assert "not valid JSON" in check(checker, broken).violations[0]
    # A stream: its status and content type are checked, the body it sent is not kept.
    stream = web.StreamResponse(status=200, headers={"Content-Type": "application/x-ndjson"})
    assert check(checker, stream, "/suno/audios", "POST", "acedata") is None
    stream = web.StreamResponse(status=200, headers={"Content-Type": "text/event-stream"})
    assert check(checker, stream, "/suno/audios", "POST", "acedata") is not None


def test_media_and_unknown_routes_have_no_spec_to_hold_them_to(checker):
    assert check(checker, web.Response(body=b"ID3", content_type="audio/mpeg"),
                 "/media/c1.mp3", spec="media") is None
    assert check(checker, web.Response(text="nope", status=404), "/v9/nothing") is None
    assert not checker.mismatches


async def _admin_answer(checker: AnswerChecker, path: str, body: dict) -> None:
    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.json_response(body)

    await admin_middleware(checker)(make_mocked_request("GET", path), handler)


@pytest.mark.wrong_answers
def test_the_control_plane_is_held_to_admin_yaml(checker):
    asyncio.run(_admin_answer(checker, "/_sim/clock", {"mode": "manual", "speed": 1, "now": 0}))
    assert not checker.mismatches
    asyncio.run(_admin_answer(checker, "/_sim/clock", {"mode": 7}))
    asyncio.run(_admin_answer(checker, "/evolink/v1/tasks/t1", {"not": "checked here"}))
    # A control-plane route the spec does not describe: its routes are not made from it.
    asyncio.run(_admin_answer(checker, "/_sim/undocumented", {}))
    assert [(m.spec, m.path) for m in checker.mismatches] == [
        ("admin", "/_sim/clock"), ("admin", "/_sim/undocumented")]
    assert checker.mismatches[1].violations == (
        "specs/admin.yaml has no operation GET /_sim/undocumented",)


@pytest.mark.wrong_answers
def test_a_server_answering_against_its_spec_is_caught_and_logged(sim: Sim, monkeypatch,
                                                                  caplog):
    created = requests.post(f"{sim.base()}/v1/audios/generations", headers=bearer(),
                            json={"model": "suno-v5", "prompt": "checked"}, timeout=10)
    assert created.status_code == 200
    task_id = created.json()["id"]
    answers = sim._server.answers
    assert answers is not None and not answers.mismatches  # the suite runs with the check
    original = render.task
    monkeypatch.setattr(render, "task", lambda *args: {
        k: v for k, v in original(*args).items() if k != "status"})
    with caplog.at_level(logging.WARNING, logger="simulator.answers"), collecting() as found:
        polled = requests.get(f"{sim.base()}/v1/tasks/{task_id}", headers=bearer(), timeout=10)
    assert polled.status_code == 200 and "status" not in polled.json()  # sent all the same
    assert [(m.method, m.path, m.status) for m in found] == [("GET", f"/v1/tasks/{task_id}", 200)]
    assert "'status' is a required property" in found[0].violations[0]
    assert list(answers.mismatches) == found
    assert any(LOGGED in r.getMessage() and f"/v1/tasks/{task_id}" in r.getMessage()
               and r.levelno == logging.WARNING for r in caplog.records)


def test_the_setting_comes_from_flag_environment_and_file(tmp_path):
    assert load(env={}).check_answers is False
    assert load(env={}, check_answers=True).check_answers is True
    assert load(env={"MUSICSIM_CHECK_ANSWERS": "1"}).check_answers is True
    assert load(env={"MUSICSIM_CHECK_ANSWERS": "0"}).check_answers is False
    config = tmp_path / "sim.toml"
    config.write_text("check_answers = true\n")
    assert load(config, env={}).check_answers is True


def test_the_suite_fails_the_test_whose_answer_broke_its_spec(pytester):
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(test_broken='''
        import pytest, requests
        from simulator.providers.evolink import render

        def wrong(monkeypatch, sim):
            monkeypatch.setattr(render, "task", lambda *args: {"id": "only"})
            return requests.post(f"{sim.base()}/v1/audios/generations",
                                 headers={"Authorization": "Bearer sk-musicsim-demo"},
                                 json={"model": "suno-v5", "prompt": "x"}, timeout=10)

        def test_unaware(monkeypatch, sim):
            assert wrong(monkeypatch, sim).status_code == 200

        @pytest.mark.wrong_answers
        def test_on_purpose(monkeypatch, sim):
            assert wrong(monkeypatch, sim).status_code == 200

        def test_honest(sim):
            assert sim.admin("GET", "/health").status_code == 200
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_unaware*",
        "*1 answer(s) broke their spec:*",
        "*POST /v1/audios/generations answered 200 against specs/evolink.yaml: *"
        "'status' is a required property*"])


def test_a_path_is_held_to_the_operation_it_is_whole():
    """A trailing newline is part of the path (a task id of "\\n" is an id like any
    other): the path is an operation's only when the template matches all of it."""
    from simulator.openapi import load_spec

    admin = load_spec("admin")
    assert admin.operation_for("GET", "/_sim/tasks") == "/_sim/tasks"
    assert admin.operation_for("GET", "/_sim/tasks/") == "/_sim/tasks"
    assert admin.operation_for("GET", "/_sim/tasks/\n") == "/_sim/tasks/{task_id}"
    assert admin.operation_for("GET", "/_sim/tasks\n") is None
