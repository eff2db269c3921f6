"""acedata as its published clients use it: the fields they send take effect, the models
they default to work, a song is usable the moment it reads finished, and the two
endpoints they call beyond the seed (availability, custom models)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from acedata_client import call, fast, mp3_seconds, post, retrieve, songs
from conftest import DEMO_KEY, Sim, start_sim

CUSTOM = {"action": "generate", "custom": True, "title": "Neon Rain",
          "lyric": "[Verse]\nCity lights are falling through the rain\n[Chorus]\nHold on",
          "style": "synthwave, dreamy"}
URLS = [f"https://cdn.example.com/track-{i:02d}.mp3" for i in range(1, 7)]


@pytest.fixture
def ace(sim: Sim) -> Sim:
    fast(sim)
    return sim


def refused(response, message: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == {"code": "bad_request", "message": message} and body["trace_id"]


def credits(sim: Sim, key: str) -> float:
    return sim.admin("GET", f"/accounts/{key}").json()["credits"]


# --- what clients send --------------------------------------------------------------------


def test_null_optional_fields_are_not_given(sim):
    body = {"action": "generate", "prompt": "A song for rainy days", "callback_url": None,
            "style": None, "title": None, "variation_category": None, "async": True}
    answer = call(sim, "/suno/audios", body)
    sim.advance(200)
    done = retrieve(sim, answer["task_id"])
    assert done["response"]["success"] is True
    assert "style" not in done["request"] and "callback_url" not in done["request"]
    assert sim.admin("GET", "/webhooks").json()["count"] == 0


@pytest.mark.parametrize("prompt, kind", [(123, "a string"), ({}, "a string"),
                                          ([], "a string")])
def test_a_wrong_type_is_named_not_taken_for_a_long_prompt(sim, prompt, kind):
    refused(post(sim, "/suno/audios", {"action": "generate", "prompt": prompt}),
            f"prompt must be {kind}")
    refused(post(sim, "/suno/audios", {**CUSTOM, "style": 7}), "style must be a string")


def test_too_long_is_still_worded_as_the_provider_words_it(sim):
    refused(post(sim, "/suno/audios", {"action": "generate", "prompt": "x" * 201}),
            "Prompt too long.")


@pytest.mark.parametrize("model", ["chirp-v6", "chirp-v6-wild", "chirp-v6-mini"])
def test_the_clients_models_are_accepted_and_priced_as_v5_5(ace, model):
    key = ace.account(credits=10)
    made = songs(ace, {"action": "generate", "prompt": "Lo-fi for studying", "model": model,
                       "variation_category": "subtle"}, key)
    assert [s["model"] for s in made] == [model, model]
    assert credits(ace, key) == pytest.approx(10 - 0.56)


def test_an_unknown_model_is_still_refused(sim):
    refused(post(sim, "/suno/audios", {"action": "generate", "prompt": "x",
                                       "model": "chirp-v9"}), "model is invalid.")


def test_duration_sets_each_songs_length(ace):
    made = songs(ace, {**CUSTOM, "model": "chirp-v6", "duration": 200})
    assert [s["duration"] for s in made] == [200, 200]
    assert mp3_seconds(made[0]["audio_url"]) == pytest.approx(200, abs=0.1)
    short = songs(ace, {**CUSTOM, "model": "chirp-v5-5", "duration": 10})
    assert [s["duration"] for s in short] == [10, 10]


@pytest.mark.parametrize("body, message", [
    ({**CUSTOM, "model": "chirp-v6", "duration": 9}, "duration must be an integer from 10 to 360 seconds"),
    ({**CUSTOM, "model": "chirp-v6", "duration": 361}, "duration must be an integer from 10 to 360 seconds"),
    ({**CUSTOM, "model": "chirp-v6", "duration": 60.5}, "duration must be an integer"),
    ({**CUSTOM, "model": "chirp-v5", "duration": 60}, "duration is only supported by chirp-v5-5 and later"),
    ({**CUSTOM, "duration": 60}, "duration needs custom true and model chirp-v5-5 or later"),
    ({"action": "generate", "prompt": "x", "model": "chirp-v6", "custom": False, "duration": 60},
     "duration is only supported in custom mode (custom true)"),
])
def test_duration_outside_its_documented_use_is_refused(sim, body, message):
    refused(post(sim, "/suno/audios", body), message)


def test_negative_tags_keep_those_styles_out_of_the_song(ace):
    plain = songs(ace, {**CUSTOM, "style": "rock, piano, happy"})
    assert plain[0]["style"] == "rock, piano, happy"
    for name in ("negative_tags", "style_negative"):
        made = songs(ace, {**CUSTOM, "style": "rock, piano, happy", name: "piano, heavy rock"})
        assert [s["style"] for s in made] == ["happy", "happy"]
    # Styles the service writes itself avoid them too.
    for _ in range(3):
        written = songs(ace, {"action": "generate", "prompt": "a pop song",
                              "negative_tags": "pop, sad"})
        tags = written[0]["style"].split(", ")
        assert "pop" not in tags and "sad" not in tags and tags


def test_replace_section_full_song_or_candidates(ace):
    source = songs(ace, {**CUSTOM, "model": "chirp-v5-5", "duration": 60})[0]
    window = {"action": "replace_section", "audio_id": source["id"],
              "replace_section_start": 20, "replace_section_end": 35}
    full = songs(ace, window)
    assert [s["duration"] for s in full] == [60, 60]
    assert songs(ace, {**window, "replace_section_result_mode": "full_song"})[0]["duration"] == 60
    parts = songs(ace, {**window, "replace_section_result_mode": "candidates"})
    assert len(parts) == 2 and parts[0]["id"] != parts[1]["id"]
    assert [s["duration"] for s in parts] == [15, 15]
    assert mp3_seconds(parts[0]["audio_url"]) == pytest.approx(15, abs=0.1)
    refused(post(ace, "/suno/audios", {**window, "replace_section_result_mode": "both"}),
            "replace_section_result_mode must be one of: full_song, candidates")


def test_http_callbacks_to_public_hosts_are_accepted():
    """The seed states no HTTPS rule for acedata (evolink's and orux's do); the simulator's
    own rule against internal addresses still holds without --allow-local-callbacks."""
    strict = start_sim()
    try:
        answer = call(strict, "/suno/audios", {"action": "generate", "prompt": "x",
                                               "callback_url": "http://hooks.example.com/s"})
        assert answer["task_id"]
        refused(post(strict, "/suno/audios", {"action": "generate", "prompt": "x",
                                              "callback_url": "http://127.0.0.1:9/hook"}),
                "callback_url must not point to an internal address")
    finally:
        strict.stop()


# --- a song is usable once it reads finished ----------------------------------------------


def first_song_ready(sim: Sim) -> tuple[str, list[dict]]:
    """A task whose first song has succeeded while its sibling is still being made."""
    task_id = call(sim, "/suno/audios", {**CUSTOM, "async": True})["task_id"]
    for _ in range(40):
        sim.advance(5)
        data = retrieve(sim, task_id).get("response", {}).get("data", [])
        if data and [s["state"] for s in data] == ["succeeded", "running"]:
            return task_id, data
    raise AssertionError("the first song never read succeeded on its own")


@pytest.mark.parametrize("action", [
    {"action": "extend", "continue_at": 10},
    {"action": "cover", "style": "jazz"},
    {"action": "stems"},
    {"action": "remaster"},
    {"action": "concat"},
])
def test_a_succeeded_song_is_usable_while_its_sibling_runs(sim, action):
    _, data = first_song_ready(sim)
    ready, running = data[0]["id"], data[1]["id"]
    made = call(sim, "/suno/audios", {**action, "audio_id": ready, "async": True})
    assert made["task_id"]
    refused(post(sim, "/suno/audios", {**action, "audio_id": running, "async": True}),
            "The song id does not exist or has been taken offline.")


def test_companions_and_personas_take_a_succeeded_song_at_once(sim):
    _, data = first_song_ready(sim)
    ready = data[0]["id"]
    assert call(sim, "/suno/wav", {"audio_id": ready, "async": True})["task_id"]
    with ThreadPoolExecutor(1) as pool:  # a persona is answered once made: move the clock
        made = pool.submit(call, sim, "/suno/persona", {"audio_id": ready, "name": "Early"})
        while not made.done():
            sim.advance(2)
            time.sleep(0.05)
        assert made.result()["data"]["persona_id"]


# --- availability ----------------------------------------------------------------------------


def test_availability_reads_each_songs_own_state(sim):
    _, data = first_song_ready(sim)
    ready = call(sim, "/suno/availability", {"audio_id": data[0]["id"]})
    assert ready["success"] is True and ready["data"] == {
        "audio_id": data[0]["id"], "available": True, "state": "succeeded"}
    running = call(sim, "/suno/availability", {"audio_id": data[1]["id"]})
    assert running["data"]["available"] is False and running["data"]["state"] == "running"
    refused(post(sim, "/suno/availability", {"audio_id": "00000000-0000-4000-8000-000000000000"}),
            "The song id does not exist or has been taken offline.")
    other = sim.account(credits=10)
    refused(post(sim, "/suno/availability", {"audio_id": data[0]["id"]}, other),
            "The song id does not exist or has been taken offline.")
    refused(post(sim, "/suno/availability", {}), "audio_id is required")


def test_availability_is_free(sim):
    key = sim.account(credits=5)
    _, data = first_song_ready_for(sim, key)
    before = credits(sim, key)
    call(sim, "/suno/availability", {"audio_id": data[0]["id"]}, key)
    assert credits(sim, key) == before


def first_song_ready_for(sim: Sim, key: str) -> tuple[str, list[dict]]:
    task_id = call(sim, "/suno/audios", {**CUSTOM, "async": True}, key)["task_id"]
    sim.advance(300)
    return task_id, retrieve(sim, task_id, key)["response"]["data"]


# --- custom models ---------------------------------------------------------------------------


def models(sim: Sim, body: dict, key: str = DEMO_KEY, **headers: str):
    return post(sim, "/suno/custom-models", body, key, headers=headers or None)


def create_model(sim: Sim, key: str, name: str = "My Album Sound", **headers: str) -> dict:
    response = models(sim, {"action": "create", "name": name, "audio_urls": URLS}, key, **headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_custom_model_trains_then_generates(sim):
    key = sim.account(credits=20)
    created = create_model(sim, key)
    model = created["data"]
    assert created["success"] is True and created["task_id"] == model["task_id"]
    assert model["status"] == "queued" and model["name"] == "My Album Sound"
    assert model["audio_count"] == 6 and model["id"] != created["task_id"]
    seen = []
    for _ in range(80):
        sim.advance(5)
        status = models(sim, {"action": "retrieve", "id": model["id"]}, key).json()["data"]["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == "ready":
            break
    assert seen == ["queued", "uploading", "training", "ready"] or \
        seen == ["uploading", "training", "ready"]
    assert credits(sim, key) == pytest.approx(10)  # charged once it is ready
    song = {"action": "generate", "id": model["id"], "title": "Neon Rain",
            "lyric": "[Verse]\nCity lights", "style": "indie rock"}
    accepted = models(sim, song, key).json()
    assert set(accepted) == {"success", "task_id", "trace_id"}
    sim.advance(300)
    done = retrieve(sim, accepted["task_id"], key)
    assert done["type"] == "audios" and done["response"]["success"] is True
    made = done["response"]["data"]
    assert [s["title"] for s in made] == ["Neon Rain", "Neon Rain"]
    assert made[0]["style"] == "indie rock" and made[0]["lyric"] == "[Verse]\nCity lights"
    assert made[0]["model"] == "chirp-v5-5" and made[0]["state"] == "succeeded"
    assert credits(sim, key) == pytest.approx(10 - 0.9)
    listed = models(sim, {"action": "retrieve_batch", "status": "ready"}, key).json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == model["id"]
    assert models(sim, {"action": "retrieve_batch", "status": "training"}, key).json() == \
        {"items": [], "count": 0}


def test_a_model_generates_only_when_ready_and_never_with_a_persona(sim):
    key = sim.account(credits=20)
    model = create_model(sim, key)["data"]
    song = {"action": "generate", "id": model["id"], "title": "T", "lyric": "L", "style": "S"}
    refused(models(sim, song, key), "The custom model is queued; only a ready model can "
                                    "generate, and none is used in its place.")
    sim.advance(400)
    refused(models(sim, {**song, "persona_id": "p-1"}, key),
            "persona_id cannot be used with a custom model; use artist_consistency on "
            "/suno/audios")
    archived = models(sim, {"action": "delete", "id": model["id"]}, key).json()["data"]
    assert archived["status"] == "archived" and archived["capacity_released"] is False
    again = models(sim, {"action": "delete", "id": model["id"]}, key).json()["data"]
    assert again == archived
    refused(models(sim, song, key), "The custom model is archived; only a ready model can "
                                    "generate, and none is used in its place.")
    assert credits(sim, key) == pytest.approx(10)


def test_model_requests_are_checked(sim):
    key = sim.account(credits=50)
    refused(models(sim, {"action": "create", "name": "x", "audio_urls": URLS[:5]}, key),
            "audio_urls must hold 6 to 24 distinct HTTPS URLs")
    refused(models(sim, {"action": "create", "name": "x", "audio_urls": URLS[:5] + URLS[:1]},
                   key), "audio_urls must hold 6 to 24 distinct HTTPS URLs")
    refused(models(sim, {"action": "create", "name": "x",
                         "audio_urls": URLS[:5] + ["http://cdn.example.com/a.mp3"]}, key),
            "audio_urls must be publicly accessible HTTPS URLs")
    refused(models(sim, {"action": "create", "audio_urls": URLS}, key),
            "name is required when action is create")
    refused(models(sim, {"action": "generate", "id": "x", "title": "T", "lyric": "L"}, key),
            "style is required when action is generate")
    refused(models(sim, {"action": "retrieve"}, key), "id is required for this action")
    missing = models(sim, {"action": "retrieve", "id": "no-such-model"}, key)
    assert missing.status_code == 404 and missing.json()["error"] == {
        "code": "not_found", "message": "The custom model does not exist."}
    other = sim.account(credits=50)
    theirs = create_model(sim, other)["data"]["id"]
    assert models(sim, {"action": "retrieve", "id": theirs}, key).status_code == 404


def test_three_slots_and_an_idempotent_create(sim):
    key = sim.account(credits=100)
    first = create_model(sim, key, **{"Idempotency-Key": "album-sound-v1"})
    retried = create_model(sim, key, **{"Idempotency-Key": "album-sound-v1"})
    assert retried["data"]["id"] == first["data"]["id"]
    assert retried["task_id"] == first["task_id"]
    create_model(sim, key, "Second")
    third = create_model(sim, key, "Third")["data"]
    models(sim, {"action": "delete", "id": third["id"]}, key)  # archiving keeps the slot
    refused(models(sim, {"action": "create", "name": "Fourth", "audio_urls": URLS}, key),
            "This application already holds 3 custom models, the most it may; archiving "
            "does not free a slot.")
    listed = models(sim, {"action": "retrieve_batch", "limit": 2}, key).json()
    assert listed["count"] == 3 and [m["name"] for m in listed["items"]] == ["Third", "Second"]
    sim.advance(400)  # each model that becomes ready is charged, archived or not
    assert credits(sim, key) == pytest.approx(100 - 3 * 10)


def test_a_failed_training_is_not_charged_and_frees_its_slot(sim):
    key = sim.account(credits=30)
    failed = create_model(sim, key, "[sim:fail] voices")["data"]
    sim.advance(400)
    model = models(sim, {"action": "retrieve", "id": failed["id"]}, key).json()["data"]
    assert model["status"] == "failed" and model["error"]["code"]
    assert credits(sim, key) == pytest.approx(30)
    for name in ("One", "Two", "Three"):
        create_model(sim, key, name)


def test_a_models_callback_carries_it_once_ready(sim, receiver):
    key = sim.account(credits=30)
    body = {"action": "create", "name": "Hooked", "audio_urls": URLS,
            "callback_url": receiver.url}
    created = models(sim, body, key).json()
    sim.advance(400)
    delivered = receiver.wait_for(1)
    assert delivered[0]["data"]["id"] == created["data"]["id"]
    assert delivered[0]["data"]["status"] == "ready" and delivered[0]["success"] is True
