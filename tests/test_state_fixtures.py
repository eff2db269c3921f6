"""State files: `GET`/`POST /_sim/state` and `musicsim state export|import`, through the
public surface only. A saved state, loaded anywhere, answers as the simulator it was saved
from did: every dialect's poll answer byte for byte, the media made from each clip's
recipe, balances, personas and fault rules."""

from __future__ import annotations

import copy
import importlib.util
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from conftest import DEMO_KEY, Sim, bearer, start_sim

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "three-songs.json"
FIXTURE_KEY = "sk-fixture-three-songs"
DIALECTS = ("evolink", "acedata", "openaihk", "sunor", "orux")
MUSICSIM = [sys.executable, "-m", "simulator.cli"]

pytest_plugins = ["pytester"]


def fixture() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def the_script():
    """fixtures/make_three_songs.py as a module (its main is not run)."""
    spec = importlib.util.spec_from_file_location("make_three_songs",
                                                  ROOT / "fixtures" / "make_three_songs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- calls ---------------------------------------------------------------------------------


def control(sim: Sim, method: str, path: str, sandbox: str | None = None,
            **kwargs: Any) -> requests.Response:
    prefix = f"/sandboxes/{sandbox}" if sandbox else ""
    return sim.admin(method, prefix + path, **kwargs)


def load(sim: Sim, document: Any, sandbox: str | None = None) -> requests.Response:
    return control(sim, "POST", "/state", sandbox, json=document)


def export(sim: Sim, sandbox: str | None = None, **query: Any) -> dict[str, Any]:
    response = control(sim, "GET", "/state", sandbox, params=query)
    assert response.status_code == 200, response.text
    return response.json()


def ok(response: requests.Response) -> Any:
    assert response.status_code in (200, 201, 202), response.text
    return response.json()


def poll(sim: Sim, task: dict[str, Any]) -> requests.Response:
    """The task as its own dialect's client polls it."""
    provider, key = task["provider"], task["api_key"]
    base = sim.base(provider)
    if provider == "evolink":
        return requests.get(f"{base}/v1/tasks/{task['id']}", headers=bearer(key), timeout=30)
    if provider == "acedata":
        return requests.post(f"{base}/suno/tasks", json={"action": "retrieve", "id": task["id"]},
                             headers=bearer(key), timeout=30)
    if provider == "openaihk":
        ids = ",".join(clip["id"] for clip in task["clips"])
        return requests.get(f"{base}/sunoapi/feed/{ids}", headers=bearer(key), timeout=30)
    if provider == "sunor":
        return requests.get(f"{base}/api/v1/task/{task['id']}", headers={"x-api-key": key},
                            timeout=30)
    return requests.get(f"{base}/api/v1/tasks/{task['id']}", headers=bearer(key), timeout=30)


def answers(sim: Sim, document: dict[str, Any]) -> dict[str, bytes]:
    """Every task's poll answer, byte for byte but for the host the client reached."""
    found = {}
    for task in document["tasks"]:
        response = poll(sim, task)
        assert response.status_code == 200, (task["provider"], response.text)
        found[task["id"]] = response.content.replace(sim.url.encode(), b"{origin}")
    return found


def audio(sim: Sim, clip_id: str) -> bytes:
    response = requests.get(f"{sim.url}/media/{clip_id}/audio.mp3", timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "audio/mpeg"
    return response.content


def personas(sim: Sim, key: str) -> Any:
    return ok(requests.get(f"{sim.base('acedata')}/suno/persona", params={"user_id": "u1"},
                           headers=bearer(key), timeout=30))


def balance(sim: Sim, key: str, sandbox: str | None = None) -> dict[str, Any]:
    return ok(control(sim, "GET", f"/accounts/{key}", sandbox))


# --- a state made through every dialect --------------------------------------------------


@pytest.fixture(scope="module")
def source():
    """A seeded simulator holding one key's work in every dialect, saved at a moment when
    nothing has moved since: songs, an upload, an extension and stems (derived recipes),
    a persona, a fault rule that has acted once, and a song still running."""
    sim = start_sim(seed=11)
    key = sim.account(100_000, api_key="sk-state-source")
    base = sim.url
    ok(requests.post(f"{base}/evolink/v1/audios/generations", headers=bearer(key), timeout=30,
                     json={"model": "suno-v4.5", "prompt": "a song about lighthouses"}))
    ok(requests.post(f"{base}/acedata/suno/audios", headers=bearer(key), timeout=30,
                     json={"action": "generate", "prompt": "winter choir", "async": True}))
    made = ok(requests.post(f"{base}/openaihk/sunoapi/generate", headers=bearer(key),
                            json={"gpt_description_prompt": "nostalgia"}, timeout=30))
    ok(requests.post(f"{base}/openaihk/suno/uploads/audio-url", headers=bearer(key),
                     json={"url": "https://files.example/demo-take.mp3"}, timeout=30))
    ok(requests.post(f"{base}/sunor/api/v1/task", headers={"x-api-key": key}, timeout=30,
                     json={"model": "suno", "task_type": "music",
                           "input": {"gpt_description_prompt": "rain on a tin roof"}}))
    root = ok(requests.post(f"{base}/orux/api/v1/tasks", headers=bearer(key), timeout=30,
                            json={"model": "suno-v5", "prompt": "dreamy synth pop",
                                  "duration": 60}))["task_id"]
    sim.advance(600)
    for action in ({"action": "extend", "duration": 30}, {"action": "stem"}):
        ok(requests.post(f"{base}/orux/api/v1/tasks", headers=bearer(key), timeout=30,
                         json={"model": "suno-v5", "prompt": "more", "parent_task_id": root,
                               **action}))
    clip_id = made["clips"][0]["id"]
    ok(requests.post(f"{base}/openaihk/suno/persona/create/", headers=bearer(key), timeout=30,
                     json={"root_clip_id": clip_id, "name": "Lighthouse Voice",
                           "description": "warm and low", "is_public": True}))
    sim.advance(600)
    ok(sim.admin("POST", "/faults", json={
        "match": {"provider": "sunor", "path": "/api/v1/account/balance"},
        "action": {"status": 503}, "times": 3}))
    assert requests.get(f"{base}/sunor/api/v1/account/balance", headers={"x-api-key": key},
                        timeout=30).status_code == 503
    running = ok(requests.post(f"{base}/evolink/v1/audios/generations", headers=bearer(key),
                               json={"model": "suno-v4.5", "prompt": "still going"},
                               timeout=30))["id"]
    document = export(sim, name="every-dialect")
    saw = {"answers": answers(sim, document), "account": balance(sim, key),
           "personas": personas(sim, key), "running": running,
           "media": {clip["id"]: audio(sim, clip["id"])
                     for task in document["tasks"] if task["provider"] == "orux"
                     for clip in task["clips"][:1]}}
    yield sim, key, document, saw
    sim.stop()


def test_the_export_holds_the_finished_work_and_leaves_out_the_running(source):
    _, key, document, saw = source
    assert document["musicsim_state"] == 1 and document["name"] == "every-dialect"
    assert document["clock"]["now"] == document["exported_at"]
    assert {task["provider"] for task in document["tasks"]} == set(DIALECTS)
    assert all(task["status"] in ("succeeded", "failed") for task in document["tasks"])
    assert saw["running"] not in {task["id"] for task in document["tasks"]}
    kinds = {node["kind"] for task in document["tasks"] for clip in task["clips"]
             if clip["derived"] for node in clip["derived"]["nodes"]}
    assert {"extension", "stem", "song"} <= kinds
    uploads = [clip for task in document["tasks"] for clip in task["clips"]
               if (clip["lineage"] or {}).get("action") == "upload"]
    assert len(uploads) == 1
    assert len(document["personas"]) == 1 and document["personas"][0]["api_key"] == key
    assert document["faults"] == [{"match": {"provider": "sunor",
                                             "path": "/api/v1/account/balance"},
                                   "action": {"status": 503}, "times": 2}]
    account = next(a for a in document["accounts"] if a["api_key"] == key)
    assert account["held"] > 0  # the running song's


def test_a_state_loads_into_a_fresh_simulator_and_into_a_sandbox_answering_the_same(source):
    _, key, document, saw = source
    target = start_sim()
    try:
        loaded = ok(load(target, document))
        assert loaded == {"status": "loaded", "name": "every-dialect", "accounts": 2,
                          "tasks": len(document["tasks"]), "personas": 1, "faults": 1,
                          "clock": {"mode": "manual", "speed": 0.0,
                                    "now": document["clock"]["now"]},
                          "keys": {"sk-musicsim-demo": "sk-musicsim-demo", key: key}}
        assert answers(target, document) == saw["answers"]
        for clip_id, made in saw["media"].items():
            assert audio(target, clip_id) == made  # the recipe renders the same bytes
        assert personas(target, key) == saw["personas"]
        account, before = balance(target, key), saw["account"]
        assert account["held"] == 0 and account["credits"] == before["credits"] + before["held"]
        assert (account["spent"], account["granted"]) == (before["spent"], before["granted"])
        ledger = ok(target.admin("GET", "/ledger", params={"api_key": key}))["entries"]
        assert [(e["id"], e["kind"], e["amount"]) for e in ledger] == \
            [(0, "opening", before["granted"])]
        rules = ok(target.admin("GET", "/faults"))["rules"]
        assert [(r["times"], r["remaining"], r["hits"]) for r in rules] == [(2, 2, 0)]
        gone = poll(target, {"provider": "evolink", "id": saw["running"], "api_key": key})
        assert gone.status_code == 404

        # The same work in a sandbox: the file's keys are the default sandbox's until it
        # lets them go, and only the saved key is carried (its demo key stays its own).
        ok(target.admin("POST", "/sandboxes", json={"id": "restored"}))
        clash = load(target, document, "restored")
        assert clash.status_code == 409 and clash.json()["error"]["param"] == "accounts.0.api_key"
        ok(target.admin("POST", "/reset"))
        mine = export(source[0], api_key=key)
        assert [a["api_key"] for a in mine["accounts"]] == [key]
        ok(load(target, mine, "restored"))
        assert answers(target, document) == saw["answers"]
        assert personas(target, key) == saw["personas"]
        assert balance(target, key, "restored")["credits"] == account["credits"]
        demo = ok(control(target, "GET", "/accounts", "restored"))["accounts"]
        assert [a["api_key"] for a in demo] == [f"{DEMO_KEY}-restored", key]
    finally:
        target.stop()


def test_the_same_file_loaded_twice_gives_the_same_answers(sim):
    document = fixture()
    ok(load(sim, document))
    first = answers(sim, document)
    made = ok(requests.post(f"{sim.base()}/v1/audios/generations", headers=bearer(FIXTURE_KEY),
                            json={"model": "suno-v4.5", "prompt": "in between"}, timeout=30))
    sim.advance(5000)
    ok(sim.admin("POST", "/faults", json={"action": {"status": 500}, "times": 1,
                                           "match": {"provider": "orux"}}))
    ok(load(sim, document))
    assert answers(sim, document) == first
    assert poll(sim, {"provider": "evolink", "id": made["id"],
                      "api_key": FIXTURE_KEY}).status_code == 404
    assert ok(sim.admin("GET", "/faults"))["rules"] == []


def test_ids_made_after_a_load_never_repeat_the_files_even_under_its_own_seed():
    """The fixture was made under this seed: a simulator under it, reset by the load,
    would otherwise draw the fixture's own ids for its next songs."""
    document = fixture()
    sim = start_sim(seed=the_script().SEED)
    try:
        ok(load(sim, document))
        taken = {task["id"] for task in document["tasks"]} | {
            clip["id"] for task in document["tasks"] for clip in task["clips"]}
        made = [ok(requests.post(f"{sim.base()}/v1/audios/generations",
                                 headers=bearer(FIXTURE_KEY), timeout=30,
                                 json={"model": "suno-v4.5", "prompt": prompt}))
                for prompt in ("one more", "and another")]
        sim.advance(600)
        for task in made:
            assert task["id"] not in taken
            done = ok(poll(sim, {"provider": "evolink", "id": task["id"],
                                 "api_key": FIXTURE_KEY}))
            assert done["status"] == "completed"
            assert not {r["result_id"] for r in done["result_data"]} & taken
        again = start_sim(seed=the_script().SEED)
        try:
            ok(load(again, document))
            repeat = ok(requests.post(f"{again.base()}/v1/audios/generations",
                                      headers=bearer(FIXTURE_KEY), timeout=30,
                                      json={"model": "suno-v4.5", "prompt": "one more"}))
            assert repeat["id"] == made[0]["id"]  # and a seeded run still repeats itself
        finally:
            again.stop()
    finally:
        sim.stop()


def broken(change) -> dict[str, Any]:
    document = copy.deepcopy(fixture())
    change(document)
    return document


MALFORMED = [
    (lambda d: d["tasks"][2]["clips"][0].update(seed="x"), "tasks.2.clips.0.seed"),
    (lambda d: d["tasks"][0].pop("plan"), "tasks.0.plan"),
    (lambda d: d["tasks"][0].update(status="running"), "tasks.0.status"),
    (lambda d: d["tasks"][1].update(api_key="sk-nobody"), "tasks.1.api_key"),
    (lambda d: d["tasks"][1].update(id=d["tasks"][0]["id"]), "tasks.1.id"),
    (lambda d: d["tasks"][3]["clips"][1].update(id=d["tasks"][3]["clips"][0]["id"]),
     "tasks.3.clips.1.id"),
    (lambda d: d["tasks"][14]["clips"][0]["derived"].update(
        nodes=[{"kind": "remaster", "source": 0}]),
     "tasks.14.clips.0.derived.nodes.0.source"),
    (lambda d: d["tasks"][14]["clips"][0]["derived"]["nodes"][0].update(speed=2),
     "tasks.14.clips.0.derived.nodes.0.speed"),
    (lambda d: d["accounts"][0].update(granted=1.0), "accounts.0.granted"),
    (lambda d: d.update(musicsim_state=2), "musicsim_state"),
    (lambda d: d["faults"].append({"action": {"webhook": "fail"}}), "faults.0.action"),
    (lambda d: d["personas"].append({"id": "p1", "api_key": "sk-nobody", "name": "x",
                                     "source_clip_id": "c", "created_at": 0,
                                     "description": "", "kind": "persona",
                                     "vox_clip_id": None}), "personas.0.api_key"),
]


def test_a_malformed_file_is_refused_naming_the_member_and_changes_nothing(sim):
    ok(load(sim, fixture()))
    ok(sim.admin("POST", "/clock/advance", json={"seconds": 3600}))
    before, clock = export(sim), ok(sim.admin("GET", "/clock"))
    for change, member in MALFORMED:
        refused = load(sim, broken(change))
        assert refused.status_code == 400, (member, refused.text)
        error = refused.json()["error"]
        assert error["code"] == "invalid_request" and error["param"] == member, error
    not_json = sim.admin("POST", "/state", data=b"{not json",
                         headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400
    assert export(sim) == before and ok(sim.admin("GET", "/clock")) == clock


def test_the_three_songs_fixture_has_three_finished_songs_per_dialect_that_play(sim):
    document = fixture()
    assert len(FIXTURE.read_bytes()) < 100_000  # recipes, no media
    ok(load(sim, document))
    for provider in DIALECTS:
        listed = ok(sim.admin("GET", "/tasks", params={
            "provider": provider, "api_key": FIXTURE_KEY, "status": "succeeded"}))
        assert listed["count"] == 3, provider
        task = next(t for t in document["tasks"] if t["provider"] == provider)
        answer = poll(sim, task)
        clip_id = task["clips"][0]["id"]
        link = f"{sim.url}/media/{clip_id}/"
        assert answer.status_code == 200 and link in answer.text, (provider, answer.text)
        assert len(audio(sim, clip_id)) > 10_000


def test_a_key_another_sandbox_has_is_a_conflict_and_changes_nothing(sim):
    ok(load(sim, fixture()))
    ok(sim.admin("POST", "/sandboxes", json={"id": "clash"}))
    try:
        before = export(sim, "clash")
        refused = load(sim, fixture(), "clash")
        assert refused.status_code == 409
        error = refused.json()["error"]
        assert error["code"] == "conflict" and error["param"] == "accounts.0.api_key"
        assert FIXTURE_KEY in error["message"] and "'default'" in error["message"]
        assert export(sim, "clash") == before
        assert ok(sim.admin("GET", "/tasks", params={"api_key": FIXTURE_KEY}))["count"] == 15
    finally:
        sim.admin("DELETE", "/sandboxes/clash")


def test_one_file_loads_into_many_sandboxes_under_suffixed_keys(sim):
    """Keys are unique across sandboxes: with key_suffix each sandbox gets the file's
    keys under a suffix of its own, and the file's rules follow their keys."""
    document = fixture()
    document["faults"] = [{"match": {"api_key": FIXTURE_KEY, "provider": "orux"},
                           "action": {"status": 503}}]
    answers = {}
    try:
        for name in ("s1", "s2"):
            ok(sim.admin("POST", "/sandboxes", json={"id": name}))
            loaded = ok(control(sim, "POST", "/state", name, json=document,
                                params={"key_suffix": name}))
            assert loaded["keys"] == {FIXTURE_KEY: f"{FIXTURE_KEY}-{name}"}
            rules = ok(control(sim, "GET", "/faults", name))["rules"]
            assert rules[0]["match"]["api_key"] == f"{FIXTURE_KEY}-{name}"
            task = next(t for t in document["tasks"] if t["provider"] == "sunor")
            answers[name] = poll(sim, {**task, "api_key": f"{FIXTURE_KEY}-{name}"})
            assert answers[name].status_code == 200
        assert answers["s1"].content == answers["s2"].content
        # The file's own key is nobody's; the request body was not changed by the load.
        assert poll(sim, task).status_code == 401
        assert document["faults"][0]["match"]["api_key"] == FIXTURE_KEY
        bad = control(sim, "POST", "/state", "s1", json=document,
                      params={"key_suffix": "no spaces"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "key_suffix"
    finally:
        sim.admin("DELETE", "/sandboxes")


# --- the command ---------------------------------------------------------------------------


def musicsim(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*MUSICSIM, *args], capture_output=True, text=True, timeout=120,
                          input=stdin, cwd=ROOT)


def refused_cleanly(result: subprocess.CompletedProcess, words: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr


def test_the_command_exports_and_imports_files_and_streams(sim, tmp_path: Path):
    imported = musicsim("state", "import", str(FIXTURE), "--url", sim.url)
    assert imported.returncode == 0, imported.stderr
    assert "15 task(s)" in imported.stderr
    saved = tmp_path / "saved.json"
    exported = musicsim("state", "export", str(saved), "--url", sim.url, "--key", FIXTURE_KEY,
                        "--name", "three-songs")
    assert exported.returncode == 0, exported.stderr
    again, original = json.loads(saved.read_text()), fixture()
    for member in ("name", "clock", "exported_at", "tasks", "personas", "faults"):
        assert again[member] == original[member], member
    streamed = musicsim("state", "export", "-", "--url", sim.url)
    assert streamed.returncode == 0 and json.loads(streamed.stdout)["musicsim_state"] == 1

    ok(sim.admin("POST", "/sandboxes", json={"id": "cli"}))
    try:
        sim.admin("POST", "/reset")
        piped = musicsim("state", "import", "-", "--url", sim.url, "--sandbox", "cli",
                         stdin=saved.read_text())
        assert piped.returncode == 0, piped.stderr
        listed = ok(control(sim, "GET", "/tasks", "cli", params={"api_key": FIXTURE_KEY}))
        assert listed["count"] == 15
        refused_cleanly(musicsim("state", "import", str(saved), "--url", sim.url),
                        "refused with 409")
    finally:
        sim.admin("DELETE", "/sandboxes/cli")


def test_the_command_fails_in_one_line(sim, tmp_path: Path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    refused_cleanly(musicsim("state", "export", str(tmp_path / "x.json"), "--url", closed),
                    "no simulator answered")
    assert not (tmp_path / "x.json").exists()
    refused_cleanly(musicsim("state", "import", str(tmp_path / "missing.json"), "--url",
                             sim.url), "cannot read")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    refused_cleanly(musicsim("state", "import", str(garbage), "--url", sim.url),
                    "not a JSON state file")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(broken(lambda d: d["tasks"][0].pop("plan"))))
    refused_cleanly(musicsim("state", "import", str(bad), "--url", sim.url),
                    "refused with 400")
    refused_cleanly(musicsim("state", "export", "-", "--url", sim.url, "--sandbox", "nope"),
                    "no sandbox 'nope'")
    for args in (("state", "--help"), ("state", "export", "--help"),
                 ("state", "import", "--help")):
        helped = musicsim(*args)
        assert helped.returncode == 0 and "usage:" in helped.stdout, args


# --- the pytest plugin ---------------------------------------------------------------------


def test_the_plugin_starts_tests_from_the_fixture(pytester):
    """On the plugin's own simulator (unseeded: its clock reads today), each marked test
    starts from the file's moment, so songs whose results last a day have not lapsed."""
    pytester.makepyfile(test_from_state=f'''
        import json, urllib.request
        import pytest

        FILE = {str(FIXTURE)!r}
        TASKS = json.load(open(FILE))["tasks"]
        SEEN = {{}}

        def poll(musicsim, task):
            request = urllib.request.Request(
                f"{{musicsim.base_url(task['provider'])}}/api/v1/tasks/{{task['id']}}",
                headers={{"Authorization": "Bearer {FIXTURE_KEY}"}})
            with urllib.request.urlopen(request) as response:
                return response.read()

        @pytest.mark.musicsim_state(FILE)
        def test_first(musicsim):
            orux = [t for t in TASKS if t["provider"] == "orux"]
            answer = json.loads(poll(musicsim, orux[0]))
            assert answer["status"] == "SUCCESS"
            SEEN["first"] = [poll(musicsim, task) for task in orux]
            musicsim.clock.advance(3 * 86400)

        @pytest.mark.musicsim_state(FILE)
        def test_second(musicsim):
            orux = [t for t in TASKS if t["provider"] == "orux"]
            assert [poll(musicsim, task) for task in orux] == SEEN["first"]
            assert len(musicsim.tasks(provider="sunor")) == 3
    ''')
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2)
