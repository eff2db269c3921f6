// The musicsim dashboard: every figure it shows is read from the /_sim control plane,
// and every change it makes is a control-plane call. A live stream (/_sim/events, read
// with fetch so it can carry the admin token) says which lists moved; the page then
// reads them again. Data is put on the page as text only, never as markup.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const STATES = ["queued", "running", "succeeded", "failed", "expired"];
  const PAGE = { tasks: 100, ledger: 20, journal: 50, webhooks: 100 };
  const TOKEN_KEY = "musicsim-admin-token";

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || "",
    base: "/_sim", sandbox: "", view: "tasks", providers: [], taskId: null,
    ledgerKey: null, stream: null, song: null, clock: null,
  };

  class Refused extends Error {
    constructor(status, body) {
      super((body && body.error && body.error.message) || `answered ${status}`);
      this.status = status;
    }
  }

  // -- calls ----------------------------------------------------------------------------
  function headers(json) {
    const sent = {};
    if (state.token) sent.Authorization = "Bearer " + state.token;
    if (json) sent["Content-Type"] = "application/json";
    return sent;
  }

  async function api(method, path, body) {
    const response = await fetch(path, {
      method, headers: headers(body !== undefined), credentials: "omit", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (response.status === 401) askToken(state.token ? "The admin token was refused." : "");
    if (!response.ok) throw new Refused(response.status, data);
    return data;
  }

  const scoped = (path) => state.base + path;
  const query = (params) => {
    const kept = Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined);
    return kept.length ? "?" + new URLSearchParams(kept).toString() : "";
  };

  // -- small DOM helpers ----------------------------------------------------------------
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function cell(value, cls) { return el("td", { class: cls, text: value === null ? "–" : String(value) }); }

  // Lists are rebuilt on every change; the control that had the focus gets it back.
  function fill(box, rows) {
    const focused = document.activeElement && box.contains(document.activeElement)
      ? document.activeElement.dataset.key : null;
    box.replaceChildren(...rows);
    if (focused) {
      const again = box.querySelector(`[data-key="${CSS.escape(focused)}"]`);
      if (again) again.focus();
    }
  }

  // A list read newest first, page by page: the cursors walked so far (null: the first
  // page) and the next one, with its "Older" and "Newest" buttons and page line.
  function pager(name, load) {
    const pages = { cursors: [null], next: null, name };
    pages.cursor = () => pages.cursors[pages.cursors.length - 1];
    pages.first = () => pages.cursors.length === 1;
    pages.restart = () => { pages.cursors = [null]; };
    pages.shown = (page, noun) => {
      pages.next = page.next_cursor;
      $(name + "-older").disabled = !page.next_cursor;
      $(name + "-newest").disabled = pages.first();
      $(name + "-page").textContent = `page ${pages.cursors.length} · ${page.count} ${noun}`;
    };
    $(name + "-older").addEventListener("click", () => {
      if (!pages.next) return;
      pages.cursors.push(pages.next);
      once(name, load);
    });
    $(name + "-newest").addEventListener("click", () => { pages.restart(); once(name, load); });
    return pages;
  }

  function problem(error) {
    const box = $("problem");
    box.textContent = error ? String(error.message || error) : "";
    box.hidden = !error;
  }

  function clockText(clock) {
    const when = new Date(clock.now * 1000).toISOString().replace("T", " ").slice(0, 19);
    return `clock: ${clock.mode}${clock.mode === "scaled" ? " ×" + clock.speed : ""} · ${when}`;
  }
  const hms = (t) => (t === null || t === undefined) ? "–"
    : new Date(t * 1000).toISOString().slice(11, 19);
  const secs = (a, b) => (a === null || b === null || a === undefined || b === undefined) ? null
    : `${(b - a).toFixed(1)} s`;
  const credits = (n) => (Math.round(n * 1000) / 1000).toString();

  function badge(text, cls) { return el("span", { class: "badge " + (cls || text), text }); }

  // -- the admin token --------------------------------------------------------------------
  function askToken(message) {
    if (state.stream) state.stream.abort();
    state.stream = null;
    state.token = "";
    sessionStorage.removeItem(TOKEN_KEY);
    $("app").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("token").focus();
  }

  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    state.token = $("token").value;
    $("token").value = "";
    sessionStorage.setItem(TOKEN_KEY, state.token);
    await start();
  });

  // -- start ----------------------------------------------------------------------------
  async function start() {
    let health;
    try {
      health = await api("GET", "/_sim/health");
    } catch (error) {
      if (error.status !== 401) problem(error);
      return;
    }
    problem(null);
    $("login").hidden = true;
    $("app").hidden = false;
    state.providers = health.providers;
    const dialects = ["f-provider", "j-provider", "w-provider", "sc-provider", "nk-provider"];
    for (const id of dialects) fillOptions($(id), health.providers);
    fillOptions($("fr-provider"), [...health.providers, "media"]);
    fillOptions($("f-status"), STATES);
    await Promise.all([loadSandboxes(), loadScenarios()]);
    showClock(health.clock);
    openStream();
    await refresh();
  }

  function fillOptions(select, values) {
    const first = select.options[0] && select.options[0].value === "" ? select.options[0] : null;
    select.replaceChildren(...(first ? [first] : []), ...values.map((v) => el("option", { value: v, text: v })));
  }

  function showClock(clock) {
    state.clock = clock;
    $("clock").textContent = clockText(clock);
    // The form shows the clock's mode until someone picks another, then keeps their pick.
    if (!$("c-mode").dataset.picked) $("c-mode").value = clock.mode;
  }

  // -- the live stream ------------------------------------------------------------------
  function setLive(on) {
    $("live").textContent = on ? "live" : "offline";
    $("live").classList.toggle("on", on);
  }

  async function openStream() {
    if (state.stream) state.stream.abort();
    const control = new AbortController();
    state.stream = control;
    while (!control.signal.aborted) {
      try {
        const response = await fetch(scoped("/events"), {
          headers: headers(false), signal: control.signal, cache: "no-store", credentials: "omit",
        });
        if (response.status === 401) { askToken("The admin token was refused."); return; }
        if (response.ok) {
          setLive(true);
          await readEvents(response.body.getReader());
        }
      } catch (_) {
        if (control.signal.aborted) return;
      }
      setLive(false);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  async function readEvents(reader) {
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        heard(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  function heard(block) {
    let name = "message", data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) name = line.slice(7);
      else if (line.startsWith("data: ")) data += line.slice(6);
    }
    if (!data) return;
    const message = JSON.parse(data);
    if (name === "gone") { chooseSandbox(""); return; }
    showClock(message.clock);
    for (const topic of message.changed) moved(topic);
  }

  // What each topic's change reads again, by what is on screen; one read at a time each.
  const busy = new Map();
  function once(name, work) {
    if (busy.has(name)) { busy.set(name, true); return; }
    busy.set(name, false);
    work().catch(problemUnlessGone).finally(() => {
      const again = busy.get(name);
      busy.delete(name);
      if (again) once(name, work);
    });
  }
  function problemUnlessGone(error) { if (error.status !== 401) problem(error); }

  function moved(topic) {
    const v = state.view;
    if (topic === "tasks") {
      if (v === "tasks") once("tasks", loadTasks);
      if (v === "tasks" && state.taskId) once("task", loadTask);
      if (v === "songs") once("songs", loadSongs);
    } else if (topic === "accounts") {
      if (v === "accounts") once("accounts", loadAccounts);
      if (v === "accounts" && state.ledgerKey && ledgerPages.first()) once("ledger", loadLedger);
      if (v === "tasks" && state.taskId) once("task", loadTask);
    } else if (topic === "journal") {
      if (v === "journal" && journalPages.first()) once("journal", loadJournal);
      if (v === "tasks" && state.taskId) once("task", loadTask);
    } else if (topic === "webhooks") {
      if (v === "webhooks") once("webhooks", loadWebhooks);
      if (v === "tasks" && state.taskId) once("task", loadTask);
    } else if (topic === "faults") {
      if (v === "steering") once("rules", loadRules);
    } else if (topic === "sandboxes") {
      once("sandboxes", loadSandboxes);
    }
  }

  async function refresh() {
    const loaders = { tasks: loadTasks, songs: loadSongs, accounts: loadAccounts,
      journal: loadJournal, webhooks: loadWebhooks, steering: loadRules };
    try {
      await loaders[state.view]();
      if (state.view === "tasks" && state.taskId) await loadTask();
      if (state.view === "accounts" && state.ledgerKey) await loadLedger();
    } catch (error) { problemUnlessGone(error); }
  }

  // -- views and sandboxes --------------------------------------------------------------
  for (const button of document.querySelectorAll("nav button")) {
    button.addEventListener("click", () => showView(button.dataset.view));
  }

  function showView(view) {
    state.view = view;
    for (const button of document.querySelectorAll("nav button")) {
      button.setAttribute("aria-pressed", String(button.dataset.view === view));
    }
    for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== "view-" + view;
    refresh();
  }

  async function loadSandboxes() {
    const listed = await api("GET", "/_sim/sandboxes");
    const select = $("sandbox");
    const names = listed.sandboxes.map((s) => s.id);
    select.replaceChildren(el("option", { value: "", text: "default" }),
      ...names.map((n) => el("option", { value: n, text: n })));
    if (state.sandbox && !names.includes(state.sandbox)) { chooseSandbox(""); return; }
    select.value = state.sandbox;
  }

  $("sandbox").addEventListener("change", (event) => chooseSandbox(event.target.value));

  function chooseSandbox(name) {
    state.sandbox = name;
    state.base = name ? "/_sim/sandboxes/" + encodeURIComponent(name) : "/_sim";
    $("sandbox").value = name;
    state.taskId = null;
    $("task-detail").hidden = true;
    state.ledgerKey = null;
    ledgerPages.restart();
    $("ledger").hidden = true;
    journalPages.restart();
    openStream();
    loadScenarios().catch(problemUnlessGone);
    refresh();
  }

  // -- tasks ----------------------------------------------------------------------------
  for (const id of ["f-provider", "f-status", "f-key"]) {
    $(id).addEventListener("input", () => once("tasks", loadTasks));
  }
  $("task-filters").addEventListener("submit", (event) => event.preventDefault());

  async function loadTasks() {
    const listed = await api("GET", scoped("/tasks") + query({
      order: "newest", limit: PAGE.tasks, provider: $("f-provider").value,
      status: $("f-status").value, api_key: $("f-key").value.trim(),
    }));
    fill($("tasks").tBodies[0], listed.tasks.map(taskRow));
    $("tasks-count").textContent = listed.count > listed.tasks.length
      ? `the newest ${listed.tasks.length} of ${listed.count} tasks` : `${listed.count} tasks`;
  }

  function taskRow(task) {
    const open = el("button", { type: "button", class: "link", "data-key": "open-" + task.id,
      text: task.id, onclick: () => { state.taskId = task.id; once("task", loadTask); } });
    const stages = [secs(task.created_at, task.started_at) && "queued " + secs(task.created_at, task.started_at),
      secs(task.started_at, task.finished_at) && "ran " + secs(task.started_at, task.finished_at)]
      .filter(Boolean).join(" · ");
    const progress = el("progress", { max: "100", value: String(task.progress),
      "aria-label": `progress ${task.progress}%` });
    return el("tr", { "data-task": task.id, "data-status": task.status },
      el("td", { class: "id" }, open), cell(task.provider),
      el("td", {}, badge(task.status), " ", el("span", { class: "dialect-status", text: task.dialect_status })),
      el("td", {}, progress, " " + task.progress + "%"), cell(credits(task.cost)),
      cell(task.api_key, "id"), cell(stages || "–"));
  }

  async function loadTask() {
    const id = state.taskId;
    if (!id) return;
    const task = await api("GET", scoped("/tasks/" + encodeURIComponent(id)));
    const [answers, hooks, ledger] = await Promise.all([
      api("GET", scoped("/journal") + query({ mentions: id, order: "newest", limit: 50 })),
      api("GET", scoped("/webhooks") + query({ task_id: id })),
      api("GET", scoped("/ledger") + query({ api_key: task.api_key, task_id: id })).catch(() => ({ entries: [] })),
    ]);
    if (state.taskId !== id) return;
    const box = $("task-detail");
    box.hidden = false;
    $("td-id").textContent = id;
    const facts = [["dialect", task.provider], ["status", `${task.status} (${task.provider}: ${task.dialect_status})`],
      ["stage", task.stage], ["kind", task.kind], ["key", task.api_key], ["cost", credits(task.cost)],
      ["progress", task.progress + "%"], ["submitted", hms(task.created_at)], ["started", hms(task.started_at)],
      ["finished", hms(task.finished_at)], ["due", hms(task.eta)], ["callback", task.callback_url],
      ["error", task.error && `${task.error.code}: ${task.error.message}`],
      ["history", task.history.map((h) => `${hms(h.time)} ${h.event}`).join(", ")]];
    $("td-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { text: k }),
      el("dd", { text: v === null || v === undefined ? "–" : String(v) })]));
    $("td-request").textContent = JSON.stringify(task.params, null, 2);
    const finished = ["succeeded", "failed", "expired"].includes(task.status);
    $("td-succeed").disabled = finished;
    $("td-fail").disabled = finished;
    fill($("td-answers").tBodies[0], answers.entries.map((e) => el("tr", {},
      cell(hms(e.time)), cell(`${e.method} ${e.path}${e.query ? "?" + e.query : ""}`, "mono"),
      cell(e.status), cell(e.response.body.slice(0, 300), "mono"))));
    fill($("td-callbacks").tBodies[0], hooks.attempts.map((a) => el("tr", {},
      cell(a.stage), cell(a.attempt), cell(a.status === null ? a.error : a.status),
      cell(`${a.latency_ms} ms`))));
    fill($("td-ledger").tBodies[0], ledger.entries.map((e) => el("tr", {},
      cell(e.kind), cell(credits(e.amount)), cell(credits(e.available)), cell(credits(e.held)))));
  }

  async function settle(outcome) {
    try {
      await api("POST", scoped(`/tasks/${encodeURIComponent(state.taskId)}/outcome`), { outcome });
      await loadTask();
    } catch (error) { problemUnlessGone(error); }
  }
  $("td-succeed").addEventListener("click", () => settle("succeed"));
  $("td-fail").addEventListener("click", () => settle("fail"));
  $("td-close").addEventListener("click", () => { state.taskId = null; $("task-detail").hidden = true; });

  // -- songs ----------------------------------------------------------------------------
  async function loadSongs() {
    const listed = await api("GET", scoped("/tasks") + query({ status: "succeeded", order: "newest", limit: 50 }));
    const songs = listed.tasks.flatMap((task) => task.clips.filter((c) => c.duration > 0)
      .map((clip) => ({ clip, task })));
    $("songs-empty").hidden = songs.length > 0;
    fill($("song-list"), songs.map(({ clip, task }) => el("button", {
      type: "button", "data-key": clip.id, "data-clip": clip.id,
      onclick: () => openSong(clip.id).catch(problemUnlessGone),
    }, el("img", { src: `/media/${encodeURIComponent(clip.id)}/cover.jpeg`, alt: "" }),
    el("span", { text: `${clip.title} · ${task.provider} · ${clip.duration.toFixed(1)} s` }))));
  }

  async function openSong(clipId) {
    const song = await api("GET", scoped(`/clips/${encodeURIComponent(clipId)}/song`));
    stopStems();
    state.song = song;
    $("song").hidden = false;
    $("song-title").textContent = song.title;
    $("song-meta").textContent = `${song.provider} · task ${song.task_id} · ${song.duration.toFixed(2)} s · ${song.parts.join(", ")}`;
    $("cover").src = song.files["cover.jpeg"];
    const player = $("player");
    player.src = song.files["audio.mp3"];
    player.dataset.clip = song.id;
    $("lyrics").replaceChildren(...song.lines.map((line, i) => el("p", {
      "data-line": String(i), "data-start": String(line.start_s), "data-end": String(line.end_s), text: line.text })));
    if (!song.lines.length) $("lyrics").append(el("p", { class: "note", text: "No words are sung in this song." }));
    buildStems(song.stems);
    const timing = URL.createObjectURL(new Blob([JSON.stringify(song, null, 2)], { type: "application/json" }));
    const links = [...Object.entries(song.files).map(([name, url]) => [name, url]),
      ...song.stems.map((s) => [`stem-${s.part}.mp3`, s.url]), ["timing.json", timing]];
    $("downloads").replaceChildren(...links.map(([name, url]) => el("li", {},
      el("a", { href: url, download: `${song.id}-${name}`, text: name }))));
    drawWaveform();
  }

  function currentLine(t) {
    const lines = state.song ? state.song.lines : [];
    return lines.findIndex((line) => line.start_s <= t && t < line.end_s);
  }

  // The lyrics and the waveform follow whichever plays: the song, or its stems.
  function playing() {
    const stem = mixer && mixer.graph && mixer.stems[0].audio;
    return stem && !stem.paused ? stem.currentTime : $("player").currentTime || 0;
  }

  function followPlayer() {
    const now = currentLine(playing());
    for (const p of $("lyrics").children) p.classList.toggle("now", p.dataset.line === String(now));
    const sung = $("lyrics").querySelector("p.now");
    if (sung) {
      const box = $("lyrics");
      if (sung.offsetTop < box.scrollTop || sung.offsetTop > box.scrollTop + box.clientHeight - sung.offsetHeight) {
        box.scrollTop = sung.offsetTop - box.clientHeight / 3;
      }
    }
    drawWaveform();
  }
  for (const name of ["timeupdate", "seeked", "loadedmetadata"]) $("player").addEventListener(name, followPlayer);

  function drawWaveform() {
    const canvas = $("waveform");
    const song = state.song;
    if (!song) return;
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
    if (canvas.width !== width) canvas.width = width;
    if (canvas.height !== height) canvas.height = height;
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, width, height);
    const wave = song.waveform;
    const played = playing() / song.duration;
    const step = width / wave.length;
    for (let i = 0; i < wave.length; i++) {
      const h = Math.max(1, wave[i] * (height - 4));
      g.fillStyle = i / wave.length < played ? "#7fd1ae" : "#5b6c94";
      g.fillRect(i * step, (height - h) / 2, Math.max(1, step - 1), h);
    }
    g.fillStyle = "#ffe89a";
    g.fillRect(Math.min(width - 2, played * width), 0, 2, height);
  }
  window.addEventListener("resize", drawWaveform);

  // Stems play together through Web Audio, each through its own gain (mute and solo)
  // and level meter, into one mix with a meter of its own.
  let mixer = null;

  function buildStems(stems) {
    mixer = { stems: stems.map((s) => ({ ...s, solo: false, mute: false })), graph: null, timer: null };
    const rows = mixer.stems.map((stem) => {
      stem.meter = el("meter", { min: "0", max: "1", value: "0", "data-level": stem.part, "aria-label": `${stem.part} level` });
      stem.soloButton = el("button", { type: "button", "aria-pressed": "false", "data-solo": stem.part,
        text: "Solo", onclick: () => { stem.solo = !stem.solo; applyGains(); } });
      stem.muteButton = el("button", { type: "button", "aria-pressed": "false", "data-mute": stem.part,
        text: "Mute", onclick: () => { stem.mute = !stem.mute; applyGains(); } });
      return el("div", { class: "stem", "data-stem": stem.part },
        el("span", { class: "name", text: stem.part }), stem.soloButton, stem.muteButton, stem.meter);
    });
    mixer.mixMeter = el("meter", { min: "0", max: "1", value: "0", "data-level": "mix", "aria-label": "mix level" });
    $("stems").replaceChildren(...rows, el("div", { class: "stem" }, el("span", { class: "name", text: "mix" }), mixer.mixMeter));
  }

  function audible(stem) {
    return mixer.stems.some((s) => s.solo) ? stem.solo : !stem.mute;
  }

  function applyGains() {
    for (const stem of mixer.stems) {
      stem.soloButton.setAttribute("aria-pressed", String(stem.solo));
      stem.muteButton.setAttribute("aria-pressed", String(stem.mute));
      stem.meter.closest(".stem").dataset.audible = String(audible(stem));
      if (stem.gain) stem.gain.gain.value = audible(stem) ? 1 : 0;
    }
  }

  function level(analyser, buffer) {
    analyser.getFloatTimeDomainData(buffer);
    let sum = 0;
    for (const x of buffer) sum += x * x;
    return Math.min(1, Math.sqrt(sum / buffer.length) * 3);
  }

  async function playStems() {
    if (!mixer || !mixer.stems.length) return;
    if (!mixer.graph) {
      const context = new AudioContext();
      const mix = context.createAnalyser();
      mix.fftSize = 2048;
      mix.connect(context.destination);
      for (const stem of mixer.stems) {
        stem.audio = new Audio(stem.url);
        stem.audio.preload = "auto";
        const source = context.createMediaElementSource(stem.audio);
        stem.gain = context.createGain();
        stem.analyser = context.createAnalyser();
        stem.analyser.fftSize = 2048;
        source.connect(stem.gain).connect(stem.analyser).connect(mix);
      }
      mixer.graph = { context, mix };
      applyGains();
    }
    await mixer.graph.context.resume();
    const at = $("player").currentTime || 0;
    $("player").pause();
    for (const stem of mixer.stems) stem.audio.currentTime = at;
    await Promise.all(mixer.stems.map((stem) => stem.audio.play()));
    const buffer = new Float32Array(2048);
    clearInterval(mixer.timer);
    mixer.timer = setInterval(() => {
      for (const stem of mixer.stems) stem.meter.value = level(stem.analyser, buffer);
      mixer.mixMeter.value = level(mixer.graph.mix, buffer);
      followPlayer();
    }, 100);
  }

  function stopStems() {
    if (!mixer) return;
    clearInterval(mixer.timer);
    for (const stem of mixer.stems) {
      if (stem.audio) stem.audio.pause();
      stem.meter.value = 0;
    }
    if (mixer.mixMeter) mixer.mixMeter.value = 0;
    if (mixer.graph) { mixer.graph.context.close(); mixer.graph = null; for (const s of mixer.stems) { s.audio = null; s.gain = null; } }
  }
  $("stems-play").addEventListener("click", () => playStems().catch(problem));
  $("stems-stop").addEventListener("click", stopStems);
  $("player").addEventListener("play", () => { if (mixer && mixer.graph) stopStems(); });

  // -- accounts and the ledger ----------------------------------------------------------
  async function loadAccounts() {
    const listed = await api("GET", scoped("/accounts"));
    fill($("accounts").tBodies[0], listed.accounts.map((a) => {
      const amount = el("input", { type: "number", step: "any", value: "10", "aria-label": `credits to grant ${a.api_key}`,
        "data-key": "grant-amount-" + a.api_key, class: "grant" });
      return el("tr", { "data-account": a.api_key },
        cell(a.api_key, "id"), cell(credits(a.credits)), cell(credits(a.held)), cell(credits(a.spent)),
        cell(credits(a.granted)), cell(a.models ? a.models.join(", ") : "all"),
        el("td", {}, amount, el("button", { type: "button", "data-key": "grant-" + a.api_key, text: "Grant",
          onclick: () => grant(a.api_key, Number(amount.value)) })),
        el("td", {}, el("button", { type: "button", "data-key": "ledger-" + a.api_key, text: "Ledger",
          onclick: () => { state.ledgerKey = a.api_key; ledgerPages.restart(); once("ledger", loadLedger); } })));
    }));
  }

  async function grant(key, delta) {
    try {
      await api("POST", scoped(`/accounts/${encodeURIComponent(key)}/credits`), { delta });
      await loadAccounts();
    } catch (error) { problemUnlessGone(error); }
  }

  async function loadLedger() {
    const key = state.ledgerKey;
    if (!key) return;
    const page = await api("GET", scoped("/ledger") + query({
      api_key: key, order: "newest", limit: PAGE.ledger, cursor: ledgerPages.cursor() }));
    $("ledger").hidden = false;
    $("ledger-key").textContent = key;
    fill($("ledger-entries").tBodies[0], page.entries.map((e) => el("tr", { "data-entry": String(e.id) },
      cell(e.id), cell(hms(e.time)), cell(e.kind), cell(credits(e.amount)), cell(e.task_id, "id"),
      cell(credits(e.available)), cell(credits(e.held)), cell(credits(e.spent)))));
    ledgerPages.shown(page, "movements");
  }
  const ledgerPages = pager("ledger", loadLedger);

  $("new-key").addEventListener("submit", async (event) => {
    event.preventDefault();
    const models = $("nk-models").value.split(",").map((m) => m.trim()).filter(Boolean);
    const body = { credits: Number($("nk-credits").value || 0) };
    if ($("nk-key").value.trim()) body.api_key = $("nk-key").value.trim();
    if (models.length) body.models = models;
    try {
      const made = await api("POST", scoped("/accounts"), body);
      const provider = $("nk-provider").value;
      if (provider) {
        await api("PUT", scoped(`/rate-limits/${encodeURIComponent(provider)}`), {
          rate: Number($("nk-rate").value), burst: Number($("nk-burst").value), api_key: made.api_key });
      }
      $("nk-result").textContent = `made ${made.api_key}` + (provider ? `, limited on ${provider}` : "");
      await loadAccounts();
    } catch (error) { $("nk-result").textContent = error.message; }
  });

  // -- the journal ----------------------------------------------------------------------
  const journalFilters = ["j-provider", "j-method", "j-path", "j-status", "j-faulted", "j-mentions"];
  for (const id of journalFilters) {
    $(id).addEventListener("input", () => { journalPages.restart(); once("journal", loadJournal); });
  }
  $("journal-filters").addEventListener("submit", (event) => event.preventDefault());

  async function loadJournal() {
    const page = await api("GET", scoped("/journal") + query({
      order: "newest", limit: PAGE.journal, cursor: journalPages.cursor(),
      provider: $("j-provider").value, method: $("j-method").value, path: $("j-path").value.trim(),
      status: $("j-status").value.trim(), faulted: $("j-faulted").value, mentions: $("j-mentions").value.trim(),
    }));
    fill($("journal").tBodies[0], page.entries.map((e) => {
      const faulted = e.faults.length > 0 || e.damage;
      const bodies = el("details", {}, el("summary", { text: "bodies" }),
        el("pre", { text: `request:\n${e.request.body || "(empty)"}\n\nanswer:\n${e.response.body || "(empty)"}` }));
      return el("tr", { "data-entry": String(e.id), class: faulted ? "faulted" : "" },
        cell(e.id), cell(hms(e.time)), cell(e.provider), cell(`${e.method} ${e.path}${e.query ? "?" + e.query : ""}`, "mono"),
        cell(e.status === null ? "dropped" : e.status), cell(e.duration_ms),
        el("td", {}, faulted ? badge("faulted") : "", faulted ? " " + [...e.faults, e.damage].filter(Boolean).join(", ") : ""),
        el("td", {}, bodies));
    }));
    journalPages.shown(page, "exchanges");
  }
  const journalPages = pager("journal", loadJournal);

  // -- webhooks -------------------------------------------------------------------------
  for (const id of ["w-provider", "w-task"]) $(id).addEventListener("input", () => once("webhooks", loadWebhooks));
  $("webhook-filters").addEventListener("submit", (event) => event.preventDefault());

  async function loadWebhooks() {
    const page = await api("GET", scoped("/webhooks") + query({ order: "newest", limit: PAGE.webhooks,
      provider: $("w-provider").value, task_id: $("w-task").value.trim() }));
    fill($("webhooks").tBodies[0], page.attempts.map((a) => el("tr", { class: a.ok ? "" : "faulted" },
      cell(hms(a.time)), cell(a.provider), cell(a.task_id, "id"), cell(a.stage), cell(a.attempt),
      el("td", {}, badge(a.status === null ? "no answer" : String(a.status), a.ok ? "good" : "bad"),
        a.error ? " " + a.error : ""),
      cell(`${a.latency_ms} ms`), cell(a.signature, "id"), cell(a.url, "id"))));
    $("webhooks-count").textContent = `${page.count} attempts · ${page.pending} deliveries pending`;
  }

  // -- steering -------------------------------------------------------------------------
  $("c-mode").addEventListener("input", () => { $("c-mode").dataset.picked = "yes"; });
  $("clock-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { mode: $("c-mode").value };
    delete $("c-mode").dataset.picked;
    if ($("c-speed").value && body.mode === "scaled") body.speed = Number($("c-speed").value);
    try { showClock(await api("PUT", scoped("/clock"), body)); } catch (error) { problemUnlessGone(error); }
  });
  $("advance-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      showClock(await api("POST", scoped("/clock/advance"), { seconds: Number($("c-seconds").value) }));
    } catch (error) { problemUnlessGone(error); }
  });

  $("fault-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const match = {};
    if ($("fr-provider").value) match.provider = $("fr-provider").value;
    if ($("fr-method").value) match.method = $("fr-method").value;
    if ($("fr-path").value.trim()) match.path = $("fr-path").value.trim();
    const kind = $("fr-action").value, value = Number($("fr-value").value);
    const action = kind === "status" ? { status: value } : kind === "latency_ms" ? { latency_ms: value }
      : kind === "drop" ? { drop: true } : kind === "truncate" ? { truncate: true }
      : { task: kind.slice(5) };
    const rule = { match, action };
    if ($("fr-times").value) rule.times = Number($("fr-times").value);
    try {
      await api("POST", scoped("/faults"), rule);
      $("fr-error").textContent = "";
      await loadRules();
    } catch (error) { $("fr-error").textContent = error.message; }
  });

  async function loadRules() {
    const listed = await api("GET", scoped("/faults"));
    fill($("rules"), listed.rules.map((rule) => el("li", { "data-rule": rule.id },
      el("span", { text: `${rule.id}: ${JSON.stringify(rule.match)} → ${JSON.stringify(rule.action)}`
        + (rule.remaining === null ? "" : ` (${rule.remaining} left)`) + (rule.scenario ? ` [${rule.scenario}]` : "") + " " }),
      el("button", { type: "button", "data-key": "remove-" + rule.id, text: "Remove",
        onclick: async () => { await api("DELETE", scoped("/faults/" + encodeURIComponent(rule.id))).catch(problemUnlessGone); await loadRules(); } }))));
    if (!listed.rules.length) $("rules").replaceChildren(el("li", { class: "note", text: "no rules" }));
  }
  $("rules-clear").addEventListener("click", async () => {
    try { await api("DELETE", scoped("/faults")); await loadRules(); } catch (error) { problemUnlessGone(error); }
  });

  async function loadScenarios() {
    const listed = await api("GET", scoped("/scenarios"));
    $("sc-name").replaceChildren(...listed.scenarios.map((s) => el("option", { value: s.name, text: s.name, title: s.description })));
  }
  $("scenario-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    if ($("sc-provider").value) body.provider = $("sc-provider").value;
    try {
      await api("POST", scoped("/scenarios/" + encodeURIComponent($("sc-name").value)), body);
      await loadRules();
    } catch (error) { problemUnlessGone(error); }
  });

  $("reset-one").addEventListener("click", async () => {
    try {
      await api("POST", scoped("/reset"));
      $("reset-note").textContent = `reset ${state.sandbox || "the default sandbox"}`;
    } catch (error) { problemUnlessGone(error); }
  });
  $("reset-all").addEventListener("click", async () => {
    try {
      const listed = await api("GET", "/_sim/sandboxes");
      await api("POST", "/_sim/reset");
      for (const s of listed.sandboxes) await api("POST", `/_sim/sandboxes/${encodeURIComponent(s.id)}/reset`);
      $("reset-note").textContent = `reset the default sandbox and ${listed.sandboxes.length} more`;
    } catch (error) { problemUnlessGone(error); }
  });

  start();
})();
