"""The dashboard at /_sim/ui, driven in a real headless Chromium (tests/browser.py).

One check per thing the page does: it loads clean; tasks move live; a task's page; a
song plays, with its lyrics in time, its waveform and its stems; accounts, grants, keys
and the ledger's pages; the journal and webhook attempts; steering (faults, scenarios,
the clock, outcomes, resets, sandboxes); the admin token; a phone-wide screen; the
keyboard; and live updates across `--workers`.
"""

from __future__ import annotations

import time

import pytest
import requests
from browser import Browser
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from conftest import DEMO_KEY, Receiver, Sim, bearer, start_sim
from served import Served

from simulator.config import RateLimit

SONG = {"model": "suno-v4.5", "prompt": "a dashboard song about lanterns"}
LYRICS = ("[Verse]\nSoft rain on neon glass\nThe city hums a lullaby\nStreet lights fold "
          "into the dark\n\n[Chorus]\nHold me in the midnight glow\nNever let the morning "
          "go\nHold me till the echoes fade\n")
ORUX_SONG = {"model": "suno-v5", "prompt": "dreamy synth pop with drums and bass",
             "lyrics": LYRICS, "duration": 60}
VIEWS = ("tasks", "songs", "accounts", "journal", "webhooks", "steering")


@pytest.fixture(scope="module")
def browser():
    made = Browser()
    yield made
    made.driver.get("about:blank")  # its streams close before the servers stop
    made.close()


def ui(sim: Sim) -> str:
    return f"{sim.url}/_sim/ui"


def submit(sim: Sim, body: dict | None = None, key: str = DEMO_KEY) -> str:
    response = requests.post(f"{sim.base()}/v1/audios/generations", json=body or SONG,
                             headers=bearer(key), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def opened(browser: Browser, sim: Sim, width: int = 1280) -> None:
    browser.open(ui(sim), width)
    browser.live()


def row_status(browser: Browser, task_id: str) -> str | None:
    rows = browser.all(f'tr[data-task="{task_id}"]')
    return rows[0].get_attribute("data-status") if rows else None


# -- load -------------------------------------------------------------------------------

def test_the_page_loads_with_no_console_errors_and_its_icon(browser, sim):
    opened(browser, sim)
    for view in VIEWS:
        browser.view(view)
    browser.view("tasks")
    icon = browser.js_async("fetch(document.querySelector('link[rel=icon]').href)"
                            ".then(r => done([r.status, r.headers.get('content-type')]))")
    assert icon == [200, "image/svg+xml"]
    assert browser.js("return document.title") == "musicsim dashboard"
    assert browser.errors() == []
    browser.screenshot("load")


# -- tasks, live ------------------------------------------------------------------------

def test_a_task_appears_live_and_moves_to_its_final_state(browser, sim):
    opened(browser, sim)
    browser.js("window.sameLoad = 'yes'")
    task_id = submit(sim)
    browser.wait(lambda: row_status(browser, task_id) == "queued", "the new task, queued")
    sim.advance(20)
    browser.wait(lambda: row_status(browser, task_id) == "running", "the task running")
    running = browser.one(f'tr[data-task="{task_id}"] .dialect-status').text
    assert running == "processing"
    sim.advance(600)
    browser.wait(lambda: row_status(browser, task_id) == "succeeded", "the task succeeded")
    row = browser.one(f'tr[data-task="{task_id}"]')
    assert row.find_element("css selector", ".dialect-status").text == "completed"
    assert "evolink" in row.text and "100%" in row.text
    assert browser.js("return window.sameLoad") == "yes"  # no reload happened
    browser.screenshot("tasks-live")
    assert browser.errors() == []


def test_tasks_filter_by_dialect_key_status_and_sandbox(browser, sim):
    rich = sim.account(100)
    mine, theirs = submit(sim), submit(sim, key=rich)
    sim.advance(600)
    third = submit(sim)
    made = sim.admin("POST", "/sandboxes", json={"id": "filtered"}).json()
    boxed = submit(sim, key=made["demo_key"])
    try:
        opened(browser, sim)
        shown = lambda: {r.get_attribute("data-task") for r in browser.all("#tasks tbody tr")}
        browser.wait(lambda: shown() == {mine, theirs, third}, "the default sandbox's tasks")
        browser.type("#f-key", rich)
        browser.wait(lambda: shown() == {theirs}, "one key's tasks")
        browser.one("#f-key").clear()
        browser.choose("#f-status", "queued")
        browser.wait(lambda: shown() == {third}, "the queued task only")
        browser.choose("#f-status", "")
        browser.choose("#f-provider", "sunor")
        browser.wait(lambda: shown() == set(), "no sunor tasks")
        browser.choose("#f-provider", "")
        browser.choose("#sandbox", "filtered")
        browser.wait(lambda: shown() == {boxed}, "the sandbox's own task")
    finally:
        sim.admin("DELETE", "/sandboxes")


def test_a_tasks_page_shows_its_request_answers_callbacks_and_ledger(browser, sim):
    receiver = Receiver()
    try:
        task_id = submit(sim, {**SONG, "callback_url": receiver.url})
        requests.get(f"{sim.base()}/v1/tasks/{task_id}", headers=bearer(), timeout=10)
        opened(browser, sim)
        browser.wait(lambda: browser.all(f'button[data-key="open-{task_id}"]'), "the task")
        browser.click(f'button[data-key="open-{task_id}"]')
        browser.wait(lambda: browser.one("#td-id").text == task_id, "the task's page")
        assert "lanterns" in browser.one("#td-request").text
        answers = browser.wait(lambda: [r.text for r in browser.all("#td-answers tbody tr")],
                               "its answers")
        assert any(f"GET /v1/tasks/{task_id}" in a for a in answers)
        assert any("POST /v1/audios/generations" in a for a in answers)
        assert [r.text.split()[0] for r in browser.all("#td-ledger tbody tr")] == ["hold"]
        browser.click("#td-succeed")  # settle it now, from the page
        browser.wait(lambda: sim.admin("GET", f"/tasks/{task_id}").json()["status"]
                     == "succeeded", "the task settled")
        browser.wait(lambda: [r.text.split()[0] for r in browser.all("#td-ledger tbody tr")]
                     == ["hold", "settle"], "the settle in its ledger")
        browser.wait(lambda: any("200" in r.text for r in browser.all("#td-callbacks tbody tr")),
                     "its delivered callback")
        assert receiver.wait_for(1)[0]
        assert browser.one("#td-succeed").get_attribute("disabled") is not None
        browser.screenshot("task-page")
    finally:
        receiver.close()


# -- songs ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def song_sim():
    """A simulator holding one finished sung song (60 s, made through orux)."""
    made = start_sim(allow_local_callbacks=True, rate_limits={"orux": RateLimit(0.0, 1.0)})
    answer = requests.post(f"{made.base('orux')}/api/v1/tasks", json=ORUX_SONG,
                           headers=bearer(), timeout=10)
    assert answer.status_code == 200, answer.text
    task_id = answer.json()["task_id"]
    made.advance(900)
    task = made.admin("GET", f"/tasks/{task_id}").json()
    assert task["status"] == "succeeded", task
    clip = task["clips"][0]
    song = made.admin("GET", f"/clips/{clip['id']}/song").json()
    yield made, song
    made.stop()


def open_song(browser: Browser, sim: Sim, song: dict, width: int = 1280,
              height: int = 900) -> None:
    browser.open(ui(sim), width, height)
    browser.live()
    browser.view("songs")
    browser.wait(lambda: browser.all(f'button[data-clip="{song["id"]}"]'), "the song")
    browser.click(f'button[data-clip="{song["id"]}"]')
    browser.wait(lambda: browser.js("return document.getElementById('player').readyState") >= 1,
                 "the song's audio")


def test_a_finished_song_plays_its_media_link_for_its_length(browser, song_sim):
    sim, song = song_sim
    open_song(browser, sim, song)
    src, duration = browser.js("const p = document.getElementById('player');"
                               "return [p.currentSrc, p.duration]")
    assert src == f"{sim.url}/media/{song['id']}/audio.mp3"
    assert abs(duration - song["duration"]) <= 0.1, (duration, song["duration"])
    assert browser.one("#cover").get_attribute("src").endswith(f"/media/{song['id']}/cover.jpeg")
    assert browser.js("return document.getElementById('cover').naturalWidth") == 512
    browser.js("document.getElementById('player').play()")
    browser.wait(lambda: browser.js("return document.getElementById('player').currentTime") > 0.3,
                 "the song playing")
    links = {a.text: a.get_attribute("href") for a in browser.all("#downloads a")}
    for name in ("audio.mp3", "audio.wav", "audio.m4a", "video.mp4", "cover.jpeg",
                 "cover-large.jpeg", "stem-vocals.mp3", "timing.json"):
        assert name in links, links
    for name, url in links.items():
        if name != "timing.json":
            got = requests.get(url, timeout=120, headers={"Range": "bytes=0-15"})
            assert got.status_code in (200, 206), (name, got.status_code)
    browser.js("document.getElementById('player').pause()")
    assert browser.errors() == []


def test_the_line_being_sung_is_highlighted_at_a_seek_point(browser, song_sim):
    sim, song = song_sim
    open_song(browser, sim, song)
    for index in (1, len(song["lines"]) - 1):
        line = song["lines"][index]
        browser.js("document.getElementById('player').currentTime = arguments[0]",
                   (line["start_s"] + line["end_s"]) / 2)
        browser.wait(lambda: [p.get_attribute("data-line")
                              for p in browser.all("#lyrics p.now")] == [str(index)],
                     f"line {index} highlighted")
        assert browser.one("#lyrics p.now").text == line["text"]
    browser.screenshot("song")


def test_the_waveform_is_drawn(browser, song_sim):
    sim, song = song_sim
    open_song(browser, sim, song)
    inked = browser.js("""
        const c = document.getElementById('waveform');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let inked = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) inked++;
        return [inked, c.width * c.height];""")
    assert inked[0] > 0.15 * inked[1], inked


def levels(browser: Browser) -> dict[str, float]:
    return browser.js("const out = {}; for (const m of document.querySelectorAll("
                      "'meter[data-level]')) out[m.dataset.level] = m.value; return out;")


def test_muting_or_soloing_a_stem_changes_what_plays(browser, song_sim):
    sim, song = song_sim
    open_song(browser, sim, song, height=1100)
    browser.js("document.getElementById('player').currentTime = arguments[0]",
               song["duration"] / 2)
    browser.click("#stems-play")
    parts = song["parts"]
    heard = browser.wait(lambda: (lambda lv: lv if sum(lv[p] > 0.005 for p in parts) >= 2
                                  and lv["mix"] > 0.005 else None)(levels(browser)),
                         "two stems heard in the mix")
    loud = max(parts, key=heard.get)
    browser.click(f'button[data-mute="{loud}"]')
    assert browser.one(f'button[data-mute="{loud}"]').get_attribute("aria-pressed") == "true"
    browser.wait(lambda: all(levels(browser)[loud] == 0 for _ in range(3)),
                 f"{loud} silent in the mix")
    assert levels(browser)["mix"] > 0  # the others play on
    browser.js("window.scrollTo(0, 0)")
    browser.screenshot("song-stem-muted")  # the README's picture
    browser.click(f'button[data-mute="{loud}"]')
    other = next(p for p in sorted(parts, key=heard.get, reverse=True) if p != loud)
    browser.click(f'button[data-solo="{other}"]')

    def only_other() -> bool:
        lv = levels(browser)
        return lv[other] > 0 and all(lv[p] == 0 for p in parts if p != other) \
            and abs(lv["mix"] - lv[other]) < 0.02
    browser.wait(only_other, f"only {other} in the mix")
    browser.screenshot("stems")
    browser.click("#stems-stop")
    assert browser.errors() == []


# -- accounts and the ledger ------------------------------------------------------------

def test_the_ledger_pages(browser, sim):
    key = sim.account(1)
    for _ in range(44):
        assert sim.admin("POST", f"/accounts/{key}/credits", json={"delta": 1}).status_code == 200
    opened(browser, sim)
    browser.view("accounts")
    browser.wait(lambda: browser.all(f'button[data-key="ledger-{key}"]'), "the account")
    browser.click(f'button[data-key="ledger-{key}"]')

    def page() -> list[int]:
        return [int(r.get_attribute("data-entry")) for r in browser.all("#ledger-entries tbody tr")]
    first = browser.wait(lambda: page() if len(page()) == 20 else None, "the first page")
    assert first == sorted(first, reverse=True)
    browser.click("#ledger-older")
    second = browser.wait(lambda: page() if page() and page()[0] < first[-1] else None,
                          "the second page")
    browser.click("#ledger-older")
    third = browser.wait(lambda: page() if page() and page()[0] < second[-1] else None,
                         "the third page")
    assert len(second) == 20 and len(third) == 5
    assert sorted(first + second + third) == [e["id"] for e in sim.admin(
        "GET", "/ledger", params={"api_key": key}).json()["entries"]]
    assert browser.one("#ledger-older").get_attribute("disabled") is not None
    assert "page 3 · 45 movements" in browser.one("#ledger-page").text
    browser.click("#ledger-newest")
    browser.wait(lambda: page() == first, "the first page again")


def test_credits_are_granted_and_a_key_made_with_models_and_a_rate_limit(browser, sim):
    opened(browser, sim)
    browser.view("accounts")
    before = sim.admin("GET", f"/accounts/{DEMO_KEY}").json()["credits"]
    browser.wait(lambda: browser.all(f'[data-key="grant-amount-{DEMO_KEY}"]'), "the demo key")
    browser.type(f'[data-key="grant-amount-{DEMO_KEY}"]', "25")
    browser.click(f'button[data-key="grant-{DEMO_KEY}"]')
    browser.wait(lambda: sim.admin("GET", f"/accounts/{DEMO_KEY}").json()["credits"]
                 == before + 25, "the grant")
    browser.type("#nk-key", "sk-made-in-the-page")
    browser.type("#nk-credits", "12")
    browser.type("#nk-models", "suno-v4.5, suno-v5")
    browser.choose("#nk-provider", "evolink")
    browser.type("#nk-rate", "2")
    browser.type("#nk-burst", "3")
    browser.click("#new-key button[type=submit]")
    browser.wait(lambda: "made sk-made-in-the-page" in browser.one("#nk-result").text, "the key")
    made = sim.admin("GET", "/accounts/sk-made-in-the-page").json()
    assert made["credits"] == 12 and made["models"] == ["suno-v4.5", "suno-v5"]
    limits = sim.admin("GET", "/rate-limits").json()["keys"]
    assert {"provider": "evolink", "api_key": "sk-made-in-the-page"}.items() <= \
        next(k for k in limits if k["api_key"] == "sk-made-in-the-page").items()
    browser.wait(lambda: browser.all('tr[data-account="sk-made-in-the-page"]'), "its row")


# -- steering, the journal and webhooks --------------------------------------------------

def test_a_fault_rule_added_in_the_page_acts_on_the_next_request(browser, sim):
    opened(browser, sim)
    browser.view("steering")
    browser.choose("#fr-provider", "evolink")
    browser.type("#fr-path", "/v1/audios/generations")
    browser.choose("#fr-action", "status")
    browser.type("#fr-value", "503")
    browser.type("#fr-times", "1")
    browser.click("#fault-form button[type=submit]")
    browser.wait(lambda: browser.all("#rules li[data-rule]"), "the rule listed")
    refused = requests.post(f"{sim.base()}/v1/audios/generations", json=SONG,
                            headers=bearer(), timeout=10)
    assert refused.status_code == 503
    submit(sim)  # `times: 1`: the next one goes through
    browser.view("journal")
    browser.choose("#j-faulted", "true")
    # Read in one step: the live stream may redraw the rows between two reads.
    shown = browser.wait(lambda: browser.js(
        "const rows = [...document.querySelectorAll('#journal tbody tr')];"
        "return rows.length && rows.every(r => r.classList.contains('faulted'))"
        " ? rows.map(r => r.innerText) : null;"), "the faulted exchange")
    assert len(shown) == 1 and "faulted" in shown[0] and "503" in shown[0]
    browser.screenshot("journal")


def test_a_scenario_applies_to_one_dialect_and_rules_are_removed(browser, sim):
    opened(browser, sim)
    browser.view("steering")
    name = browser.wait(lambda: browser.one("#sc-name").get_attribute("value"), "scenarios")
    browser.choose("#sc-provider", "sunor")
    browser.click("#scenario-form button[type=submit]")
    browser.wait(lambda: sim.admin("GET", "/faults").json()["rules"], "the scenario's rules")
    rules = sim.admin("GET", "/faults").json()["rules"]
    assert all(r["match"]["provider"] == "sunor" and r["scenario"] == name for r in rules)
    browser.wait(lambda: len(browser.all("#rules li[data-rule]")) == len(rules), "them listed")
    browser.click(f'button[data-key="remove-{rules[0]["id"]}"]')
    browser.wait(lambda: len(sim.admin("GET", "/faults").json()["rules"]) == len(rules) - 1,
                 "one removed")
    browser.click("#rules-clear")
    browser.wait(lambda: sim.admin("GET", "/faults").json()["rules"] == [], "all removed")


def test_the_clock_is_set_and_advanced_from_the_page(browser, sim):
    sim.admin("PUT", "/clock", json={"speed": 10})
    opened(browser, sim)
    browser.view("steering")
    browser.choose("#c-mode", "manual")
    browser.click("#clock-form button[type=submit]")
    browser.wait(lambda: sim.admin("GET", "/clock").json()["mode"] == "manual", "manual mode")
    before = sim.admin("GET", "/clock").json()["now"]
    browser.type("#c-seconds", "30")
    browser.click("#advance-form button[type=submit]")
    browser.wait(lambda: sim.admin("GET", "/clock").json()["now"] == pytest.approx(before + 30),
                 "the clock 30 s on")
    shown = time.strftime("%H:%M:%S", time.gmtime(before + 30))
    browser.wait(lambda: shown in browser.one("#clock").text, "the new time in the header")


def test_webhook_attempts_show_status_latency_and_signature(browser, sim):
    receiver = Receiver()
    try:
        answer = requests.post(f"{sim.base('orux')}/api/v1/tasks", headers=bearer(), timeout=10,
                               json={**ORUX_SONG, "duration": 30, "webhook_url": receiver.url})
        assert answer.status_code == 200, answer.text
        sim.advance(900)
        receiver.wait_for(1)
        opened(browser, sim)
        browser.view("webhooks")
        row = browser.wait(lambda: browser.all("#webhooks tbody tr"), "the attempt")[0]
        attempt = sim.admin("GET", "/webhooks").json()["attempts"][0]
        assert "200" in row.text and "orux" in row.text and " ms" in row.text
        assert attempt["signature"] and attempt["signature"] in row.text
    finally:
        receiver.close()


def test_a_sandbox_or_every_sandbox_is_reset_from_the_page(browser, sim):
    made = sim.admin("POST", "/sandboxes", json={"id": "resettable"}).json()
    try:
        submit(sim, key=made["demo_key"])
        submit(sim)
        opened(browser, sim)
        browser.choose("#sandbox", "resettable")
        browser.view("steering")
        browser.click("#reset-one")
        browser.wait(lambda: sim.admin("GET", "/sandboxes/resettable/tasks").json()["count"] == 0,
                     "the sandbox reset")
        assert sim.admin("GET", "/tasks").json()["count"] == 1  # the default one untouched
        submit(sim, key=made["demo_key"])
        browser.click("#reset-all")
        browser.wait(lambda: sim.admin("GET", "/tasks").json()["count"] == 0
                     and sim.admin("GET", "/sandboxes/resettable/tasks").json()["count"] == 0,
                     "every sandbox reset")
    finally:
        sim.admin("DELETE", "/sandboxes")


# -- the admin token --------------------------------------------------------------------

def test_with_an_admin_token_the_page_shows_nothing_until_it_is_given(browser):
    token = "dashboard-s3cret"
    guarded = start_sim(admin_token=token)
    try:
        browser.open(ui(guarded))
        browser.wait(lambda: browser.one("#login").is_displayed(), "the token form")
        assert not browser.one("#app").is_displayed()
        assert DEMO_KEY not in browser.driver.page_source
        assert browser.all("#tasks tbody tr") == []
        browser.type("#token", "wrong")
        browser.click("#login button[type=submit]")
        browser.wait(lambda: "refused" in browser.one("#login-error").text, "the refusal")
        assert not browser.one("#app").is_displayed()
        assert DEMO_KEY not in browser.driver.page_source
        browser.type("#token", token)
        browser.click("#login button[type=submit]")
        browser.live()  # the stream carries the token too, or it would be refused
        browser.view("accounts")
        browser.wait(lambda: browser.all(f'tr[data-account="{DEMO_KEY}"]'), "the data")
        assert browser.js("return document.cookie") == ""
        urls = browser.js("return performance.getEntriesByType('resource').map(e => e.name)"
                          ".concat([location.href])")
        assert urls and not any(token in url for url in urls)
    finally:
        browser.driver.get("about:blank")
        guarded.stop()


# -- layout and keyboard ----------------------------------------------------------------

def test_at_390_px_nothing_scrolls_sideways(browser, song_sim):
    sim, song = song_sim
    open_song(browser, sim, song, width=390)
    assert browser.js("return window.innerWidth") <= 390
    for view in VIEWS:
        browser.view(view)
        if view == "tasks":
            browser.wait(lambda: browser.all("#tasks tbody tr"), "the tasks")
            browser.click("#tasks tbody tr button")
            browser.wait(lambda: browser.one("#task-detail").is_displayed(), "a task's page")
        if view == "accounts":
            browser.click(f'button[data-key="ledger-{DEMO_KEY}"]')
            browser.wait(lambda: browser.one("#ledger").is_displayed(), "the ledger")
        width, inner = browser.js("return [document.documentElement.scrollWidth, "
                                  "window.innerWidth]")
        assert width <= inner, f"{view}: {width} > {inner}"
        browser.screenshot(f"narrow-{view}")


FOCUSABLE = ("button:not([disabled]), input:not([disabled]), select:not([disabled]), "
             "a[href], audio[controls], summary")


def test_tab_reaches_every_control(browser, song_sim):
    sim, song = song_sim
    open_song(browser, sim, song)
    for view in VIEWS:
        browser.view(view)
        if view == "tasks":
            browser.click("#tasks tbody tr button")
            browser.wait(lambda: browser.one("#task-detail").is_displayed(), "a task's page")
        if view == "accounts":
            browser.click(f'button[data-key="ledger-{DEMO_KEY}"]')
            browser.wait(lambda: browser.one("#ledger").is_displayed(), "the ledger")
        if view == "journal":
            browser.wait(lambda: browser.all("#journal tbody tr"), "the journal")
        controls = browser.js(
            "let n = 0; const out = [];"
            "for (const e of document.querySelectorAll(arguments[0])) {"
            "  if (!e.getClientRects().length) continue;"
            "  e.dataset.tabSeen = String(n++); out.push(e.dataset.tabSeen); }"
            "return out;", FOCUSABLE)
        assert len(controls) > 5, view
        browser.js("document.activeElement && document.activeElement.blur();"
                   "window.scrollTo(0, 0); window.tabbed = new Set();"
                   "document.addEventListener('focusin', e => {"
                   "  if (e.target.dataset.tabSeen) window.tabbed.add(e.target.dataset.tabSeen); });")
        ActionChains(browser.driver).send_keys(Keys.TAB * (len(controls) + 10)).perform()
        reached = set(browser.js("return [...window.tabbed]"))
        missing = browser.js("return [...document.querySelectorAll('[data-tab-seen]')]"
                             ".filter(e => !arguments[0].includes(e.dataset.tabSeen))"
                             ".map(e => e.outerHTML.slice(0, 80))", sorted(reached))
        assert set(controls) <= reached, f"{view}: Tab never reached {missing}"
        browser.js("for (const e of document.querySelectorAll('[data-tab-seen]'))"
                   " delete e.dataset.tabSeen")


# -- across --workers -------------------------------------------------------------------

def test_live_updates_reach_the_page_across_workers(browser, tmp_path):
    served = Served("--workers", "2", "--state", f"sqlite:{tmp_path / 'state.db'}",
                    "--clock", "manual")
    try:
        browser.open(f"{served.url}/_sim/ui")
        browser.live()
        ids = []
        for _ in range(8):  # spread over both workers by the kernel
            answer = requests.post(f"{served.url}/evolink/v1/audios/generations", json=SONG,
                                   headers=bearer(), timeout=10)
            assert answer.status_code == 200, answer.text
            ids.append(answer.json()["id"])
        for task_id in ids:
            browser.wait(lambda: row_status(browser, task_id) == "queued", f"{task_id} queued")
        requests.post(f"{served.url}/_sim/clock/advance", json={"seconds": 600}, timeout=10)
        for task_id in ids:
            browser.wait(lambda: row_status(browser, task_id) == "succeeded",
                         f"{task_id} succeeded", timeout=40)
        pids = {requests.get(f"{served.url}/_sim/health", timeout=10).json()["workers"]["pid"]
                for _ in range(20)}
        assert len(pids) == 2
    finally:
        browser.driver.get("about:blank")
        served.stop()
