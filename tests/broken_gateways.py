"""Gateways that break a dialect on purpose, so the conformance runner can check itself.

:class:`Proxy` is a small aiohttp reverse proxy on 127.0.0.1 (its own thread and loop)
in front of a simulator, for one provider: ``/{provider}/...`` goes to the simulator's
``/{provider}/...`` unchanged (method, path, query, body, auth header) and the answer comes
back. A :class:`Breakage` alters that traffic; the honest one (the base class) alters
nothing, so an honest proxy must pass every case the simulator passes.

What the proxy knows of a dialect it reads from the conformance driver: the auth header
(``driver.auth``), the submit and poll requests (``song_request``/``poll_request``), the
callback field, the status words, how a callback names its stage, and how the dialect
words each refusal (``driver.refusal``). Where a status word sits in a poll answer
differs by dialect: :func:`with_status` writes one.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from conformance.dialect import NO_CREDITS, RATE_LIMITED
from conformance.dialects import driver as driver_of
from conformance.dialects.openaihk.driver import clips_of

DEMO_KEY = "sk-musicsim-demo"
_MARK = "\x00MARK\x00"
_ID = "TASKIDMARK0000"
# Hop-by-hop headers, and those a proxy sets itself.
_REQUEST_DROP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive",
                 "upgrade", "proxy-connection", "te", "trailer", "accept-encoding"}
_ANSWER_DROP = {"content-length", "transfer-encoding", "connection", "keep-alive",
                "content-encoding", "date", "server"}
_UNSET = object()


def _parsed(body: bytes) -> Any:
    """A body as JSON; None when it is empty or not JSON."""
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


@dataclass
class Outgoing:
    """A caller's request on its way upstream; ``path`` is relative to the provider."""

    method: str
    path: str
    query: str
    headers: CIMultiDict
    body: bytes
    _json: Any = field(default=_UNSET, repr=False)

    @property
    def json(self) -> Any:
        if self._json is _UNSET:
            self._json = _parsed(self.body)
        return self._json

    def set_json(self, data: Any) -> None:
        self._json, self.body = data, orjson.dumps(data)


@dataclass
class Reply:
    """An answer on its way back to the caller. A streamed answer (no Content-Length, e.g.
    NDJSON snapshots) keeps its live upstream response in ``stream`` and is relayed chunk
    by chunk, as it comes: its ``body`` stays empty."""

    status: int
    headers: CIMultiDict
    body: bytes
    stream: aiohttp.ClientResponse | None = None
    _json: Any = field(default=_UNSET, repr=False)

    @property
    def data(self) -> Any:
        if self._json is _UNSET:
            self._json = _parsed(self.body)
        return self._json

    def set_data(self, data: Any) -> None:
        self._json, self.body = data, orjson.dumps(data)
        self.headers["Content-Type"] = "application/json"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 and isinstance(self.data, (dict, list))


class Proxy:
    """A reverse proxy for one provider of the simulator at ``upstream``.

    ``house_key`` is the gateway's own upstream key and ``client_keys`` the keys it hands
    out to its callers (only breakages that swap keys look at them).
    """

    def __init__(self, provider: str, upstream: str, breakage: "Breakage | None" = None, *,
                 house_key: str = DEMO_KEY, client_keys: tuple[str, ...] = (DEMO_KEY,)):
        self.provider = provider
        self.upstream = upstream.rstrip("/")
        self.driver = driver_of(provider)
        self.breakage = breakage or Breakage()
        self.house_key = house_key
        self.client_keys = set(client_keys) | {house_key}
        self.url = ""
        self.hooks: dict[str, str] = {}  # hook id -> the caller's callback URL
        self.files: dict[str, str] = {}  # media id -> the upstream media URL
        self._ids = itertools.count(1)
        self._learn_dialect()

    # --- what the proxy knows of the dialect --------------------------------------------

    def _learn_dialect(self) -> None:
        driver = self.driver
        method, path, body = driver.song_request("prompt", callback_url=_MARK)
        self.submit_method, self.submit_path = method, path
        self.callback_field = next((k for k, v in (body or {}).items() if v == _MARK), None) \
            if isinstance(body, dict) else None
        method, path, body = driver.poll_request(_ID)
        self.poll_method = method
        if _ID in path:
            before, _, after = path.partition(_ID)
            self.poll_path = re.compile(re.escape(before) + r"[^/?]+" + re.escape(after) + "$")
        else:
            self.poll_path = re.compile(re.escape(path) + "$")
        self.auth_template = driver.auth(_MARK)

    def is_submit(self, out: Outgoing) -> bool:
        return out.method == self.submit_method and out.path == self.submit_path

    def is_poll(self, out: Outgoing) -> bool:
        return out.method == self.poll_method and bool(self.poll_path.match(out.path)) \
            and not self.is_submit(out)

    def key_of(self, headers: CIMultiDict) -> str | None:
        for name, template in self.auth_template.items():
            value = headers.get(name)
            prefix, _, suffix = template.partition(_MARK)
            if value is not None and value.startswith(prefix) and value.endswith(suffix):
                return value[len(prefix):len(value) - len(suffix)] if suffix else value[len(prefix):]
        return None

    def set_key(self, headers: CIMultiDict, key: str) -> None:
        for name, template in self.auth_template.items():
            headers[name] = template.replace(_MARK, key)

    def hook_url(self, original: str) -> str:
        """An address of this proxy that relays deliveries to ``original``."""
        hook = str(next(self._ids))
        self.hooks[hook] = original
        return f"{self.url}/_hooks/{hook}"

    def file_url(self, original: str) -> str:
        """An address of this proxy that serves (what the breakage makes of) ``original``."""
        file = str(next(self._ids))
        self.files[file] = original
        return f"{self.url}/_files/{file}"

    @property
    def base(self) -> str:
        return f"{self.url}/{self.provider}"

    # --- serving ------------------------------------------------------------------------

    def start(self) -> "Proxy":
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        box: dict[str, BaseException] = {}

        async def boot() -> None:
            self.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=300, connect=15), auto_decompress=True)
            app = web.Application(client_max_size=64 * 1024 ** 2)
            app.router.add_route("*", f"/{self.provider}/{{tail:.*}}", self._forward)
            app.router.add_post("/_hooks/{hook}", self._hook)
            app.router.add_get("/_files/{file}", self._file)
            self.runner = web.AppRunner(app, access_log=None)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", 0).start()
            self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(boot())
            except BaseException as exc:  # surfaced by start()
                box["error"] = exc
            finally:
                ready.set()
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True, name=f"broken-gateway-{self.provider}").start()
        if not ready.wait(10) or "error" in box:
            raise RuntimeError(f"the proxy did not start: {box.get('error')}")
        self.breakage.bind(self)
        return self

    def stop(self) -> None:
        async def down() -> None:
            await self.runner.cleanup()
            await self.session.close()
        asyncio.run_coroutine_threadsafe(down(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)

    def __enter__(self) -> "Proxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def send(self, out: Outgoing, key: str | None = None) -> Reply:
        """``out`` as the simulator answers it (with ``key`` instead of the caller's)."""
        headers = CIMultiDict(out.headers)
        if key is not None:
            self.set_key(headers, key)
        target = self.upstream + f"/{self.provider}" + out.path + (f"?{out.query}" if out.query else "")
        response = await self.session.request(out.method, URL(target, encoded=True),
                                              headers=headers, data=out.body or None,
                                              allow_redirects=False)
        kept = CIMultiDict((k, v) for k, v in response.headers.items()
                           if k.lower() not in _ANSWER_DROP)
        if response.content_length is None and response.status != 204 and out.method != "HEAD":
            return Reply(response.status, kept, b"", stream=response)
        try:
            return Reply(response.status, kept, await response.read())
        finally:
            response.release()

    @staticmethod
    def discard(reply: Reply) -> None:
        """Let go of an answer the caller will not see."""
        if reply.stream is not None:
            reply.stream.close()

    async def _forward(self, request: web.Request) -> web.Response:
        prefix = f"/{self.provider}"
        raw, _, query = request.raw_path.partition("?")  # as sent, still percent-encoded
        out = Outgoing(request.method, raw[len(prefix):] or "/", query,
                       CIMultiDict((k, v) for k, v in request.headers.items()
                                   if k.lower() not in _REQUEST_DROP),
                       await request.read())
        self.breakage.request(out)
        try:
            reply = await self.breakage.exchange(out)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return web.json_response({"error": f"upstream: {exc}"}, status=502)
        self.breakage.reply(out, reply)
        if reply.stream is None:
            return web.Response(status=reply.status, body=reply.body, headers=reply.headers)
        relayed = web.StreamResponse(status=reply.status, headers=reply.headers)
        try:
            await relayed.prepare(request)
            async for chunk in reply.stream.content.iter_any():
                await relayed.write(chunk)
            await relayed.write_eof()
        finally:
            reply.stream.release()
        return relayed

    async def _hook(self, request: web.Request) -> web.Response:
        original = self.hooks.get(request.match_info["hook"])
        if original is None:
            return web.Response(status=404)
        body = await request.read()
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            payload = None
        if not self.breakage.relay(self.driver.callback_stage(payload), payload):
            return web.json_response({"received": True})
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _REQUEST_DROP}
        body = self.breakage.delivery(body, payload)
        try:
            async with self.session.post(original, data=body, headers=headers) as response:
                answer = await response.read()
                return web.Response(status=response.status, body=answer,
                                    content_type=response.content_type)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return web.Response(status=502, text="the caller's callback URL did not answer")

    async def _file(self, request: web.Request) -> web.Response:
        original = self.files.get(request.match_info["file"])
        if original is None:
            return web.Response(status=404)
        async with self.session.get(original) as response:
            body = await response.read()
            kind = response.headers.get("Content-Type", "application/octet-stream")
        body = self.breakage.file(body)
        return web.Response(body=body, headers={"Content-Type": kind})


# --- breakages ------------------------------------------------------------------------------


class Breakage:
    """An honest gateway: the hooks pass everything through unchanged."""

    name = "honest"

    def bind(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.driver = proxy.driver

    def request(self, out: Outgoing) -> None:
        """Alter the caller's request before it goes upstream."""

    async def exchange(self, out: Outgoing) -> Reply:
        """What goes upstream for ``out``, and which answer comes back."""
        return await self.proxy.send(out)

    def reply(self, out: Outgoing, reply: Reply) -> None:
        """Alter the answer on its way back."""

    def relay(self, stage: str | None, payload: Any) -> bool:
        """Whether a callback delivery reaches the caller (only with rewritten hooks)."""
        return True

    def delivery(self, body: bytes, payload: Any) -> bytes:
        """What a relayed callback delivery's body becomes."""
        return body

    def file(self, body: bytes) -> bytes:
        """What a media file served by the proxy becomes."""
        return body

    def __repr__(self) -> str:
        return self.name


def with_status(provider: str, data: Any, word: str) -> Any:
    """A poll answer of ``provider`` showing the status ``word`` instead of its own."""
    if provider == "sunor":  # {"code", "data": {"status", …}}
        return {**data, "data": {**data["data"], "status": word}}
    if provider == "openaihk":  # a feed: every clip has the batch's word
        clips = [{**clip, "status": word} for clip in clips_of(data)]
        return clips if isinstance(data, list) else {**data, "clips": clips}
    if provider == "acedata":  # a task record: the word is its response's shape
        record = {k: v for k, v in data.items() if k != "response"}
        response = {k: v for k, v in (data.get("response") or {}).items()
                    if k not in ("success", "error")}
        if word == "pending":
            return record
        if word == "running":
            return {**record, "response": response}
        if word == "succeeded":
            return {**record, "response": {"data": [], **response, "success": True}}
        if word == "failed":
            return {**record, "response": {**response, "success": False, "error": {
                "code": "api_error", "message": "the gateway says it failed"}}}
        return data  # acedata has no other words: its status is a shape
    return {**data, "status": word}  # evolink, orux: a top-level status


def _matches(driver, reply: "Reply", kind: str) -> bool:
    """Whether an answer is the dialect's refusal of ``kind``."""
    refusal = driver.refusal(kind)
    error = driver.error_of(reply.data) if reply.stream is None else None
    return reply.status == refusal.status and error is not None \
        and all(error.get(k) == v for k, v in refusal.error)


def _replaced(data: Any, strings: dict[str, str]) -> Any:
    """``data`` with every string that is a key of ``strings`` replaced."""
    if isinstance(data, dict):
        return {k: _replaced(v, strings) for k, v in data.items()}
    if isinstance(data, list):
        return [_replaced(v, strings) for v in data]
    return strings.get(data, data) if isinstance(data, str) else data


def _rename(data: Any, old: str, new: str) -> Any:
    if isinstance(data, dict):
        return {(new if k == old else k): _rename(v, old, new) for k, v in data.items()}
    if isinstance(data, list):
        return [_rename(v, old, new) for v in data]
    return data


def _rename_status(data: Any, words: dict) -> Any:
    """``data`` with every key that holds a status word renamed."""
    if isinstance(data, dict):
        renamed = {}
        for key, value in data.items():
            if isinstance(value, str) and value in words:
                key = "state" if key != "state" else "status"
            renamed[key] = _rename_status(value, words)
        return renamed
    if isinstance(data, list):
        return [_rename_status(v, words) for v in data]
    return data


class RenameField(Breakage):
    """Every successful answer calls a field by another name: ``old`` -> ``new`` (evolink
    ``status`` -> ``state``), or with no ``old``, whichever key holds a status word of the
    dialect (``status`` -> ``state``, ``state`` -> ``status``)."""

    name = "rename-field"

    def __init__(self, old: str | None = "status", new: str = "state"):
        self.old, self.new = old, new

    def reply(self, out: Outgoing, reply: Reply) -> None:
        if reply.ok:
            reply.set_data(_rename(reply.data, self.old, self.new) if self.old
                           else _rename_status(reply.data, self.driver.ranks))


class _Status(Breakage):
    """A breakage of the status word of poll answers, wherever the dialect keeps it."""

    def bind(self, proxy: Proxy) -> None:
        super().bind(proxy)
        ranks = self.driver.ranks
        self.initial = min(ranks, key=ranks.get)
        self.terminal = self.driver.terminal
        self.moving = [w for w in ranks if w not in self.terminal]

    def reply(self, out: Outgoing, reply: Reply) -> None:
        if not (self.proxy.is_poll(out) and reply.ok):
            return
        word = self.driver.status_of(reply.data)
        if word is None:
            return
        shown = self.word(out, word)
        if shown != word:
            reply.set_data(with_status(self.proxy.provider, reply.data, shown))

    @staticmethod
    def task(out: Outgoing) -> tuple[str, bytes]:
        """Which task a poll reads (acedata names it in the body)."""
        return out.path, out.body

    def word(self, out: Outgoing, word: str) -> str:
        return word


class SkipState(_Status):
    """A task still queued or processing upstream is reported succeeded, with no results
    yet."""

    name = "skip-state"

    def word(self, out: Outgoing, word: str) -> str:
        return self.driver.succeeded if word in self.moving else word


class StatusBackwards(_Status):
    """When a task's status changes from a word past the first, the caller is shown the
    first word once more (e.g. processing -> pending)."""

    name = "status-backwards"

    def bind(self, proxy: Proxy) -> None:
        super().bind(proxy)
        self.shown: dict[str, str] = {}
        self.flapped: set[str] = set()

    def word(self, out: Outgoing, word: str) -> str:
        task = self.task(out)
        before = self.shown.get(task)
        if before is not None and before != word and before != self.initial \
                and task not in self.flapped:
            self.flapped.add(task)
            word = self.initial
        self.shown[task] = word
        return word


class UnknownWord(_Status):
    """A task in progress is reported with a word outside the dialect's vocabulary."""

    name = "unknown-word"

    def word(self, out: Outgoing, word: str) -> str:
        strange = "in_progress" if "running" in self.driver.ranks else "running"
        return strange if word in self.moving and word != self.initial else word


class FailedAsSucceeded(_Status):
    """A task that failed upstream is reported succeeded."""

    name = "failed-as-succeeded"

    def word(self, out: Outgoing, word: str) -> str:
        return self.driver.succeeded if word in self.driver.failed else word


class AnyKey(Breakage):
    """A key the gateway does not know is forwarded as its own valid upstream key: a bad
    key gets a 200."""

    name = "any-key"

    def request(self, out: Outgoing) -> None:
        key = self.proxy.key_of(out.headers)
        if key is not None and key not in self.proxy.client_keys:
            self.proxy.set_key(out.headers, self.proxy.house_key)


class OneUpstreamKey(Breakage):
    """Every caller's request goes upstream with the gateway's one key, so a caller can
    poll another caller's task."""

    name = "one-upstream-key"

    def request(self, out: Outgoing) -> None:
        if self.proxy.key_of(out.headers) in self.proxy.client_keys:
            self.proxy.set_key(out.headers, self.proxy.house_key)


class ChargeTwice(Breakage):
    """Each submit is sent upstream twice; the caller gets the first answer."""

    name = "charge-twice"

    async def exchange(self, out: Outgoing) -> Reply:
        first = await self.proxy.send(out)
        if self.proxy.is_submit(out):
            self.proxy.discard(await self.proxy.send(out))
        return first


class _Hooked(Breakage):
    """Callbacks go to the proxy, which relays them to the caller's URL."""

    def request(self, out: Outgoing) -> None:
        name = self.proxy.callback_field
        body = out.json
        if self.proxy.is_submit(out) and name and isinstance(body, dict) and body.get(name):
            out.set_json({**body, name: self.proxy.hook_url(body[name])})


class DropFinalStage(_Hooked):
    """Callbacks are relayed to the caller's URL except the last stage of the dialect."""

    name = "drop-final-stage"

    def relay(self, stage: str | None, payload: Any) -> bool:
        return stage != self.driver.callback_stages[-1]


class CallbackRenameField(_Hooked):
    """Callbacks are relayed with a field renamed (evolink ``status`` -> ``state``); the
    stage field is left alone, so every stage still arrives in order."""

    name = "callback-rename-field"

    def __init__(self, old: str = "status", new: str = "state"):
        self.old, self.new = old, new

    def delivery(self, body: bytes, payload: Any) -> bytes:
        return orjson.dumps(_rename(payload, self.old, self.new)) if payload else body


class _Media(Breakage):
    """A breakage of the audio links of answers: every ``audio_url`` of any object (a
    result, a clip, a song), and wherever else the answer repeats that link (evolink's
    ``results``, orux's ``audio_urls``)."""

    def reply(self, out: Outgoing, reply: Reply) -> None:
        if not reply.ok:
            return
        links: dict[str, str] = {}

        def collect(node: Any) -> None:
            if isinstance(node, dict):
                url = node.get("audio_url")
                if isinstance(url, str) and url and url not in links:
                    links[url] = self.link(node)
                for value in node.values():
                    collect(value)
            elif isinstance(node, list):
                for value in node:
                    collect(value)

        collect(reply.data)
        if any(old != new for old, new in links.items()):
            reply.set_data(_replaced(reply.data, links))

    def link(self, item: dict) -> str:
        return item["audio_url"]


class AudioIsCover(_Media):
    """The audio link points at the cover image."""

    name = "audio-is-cover"

    def link(self, item: dict) -> str:
        return item.get("image_url") or item["audio_url"]


class TruncatedAudio(_Media):
    """The audio link is served by the proxy, cut to its first half (with an honest
    Content-Length)."""

    name = "truncated-audio"

    def bind(self, proxy: Proxy) -> None:
        super().bind(proxy)
        self.links: dict[str, str] = {}

    def link(self, item: dict) -> str:
        original = item["audio_url"]
        if original not in self.links:
            self.links[original] = self.proxy.file_url(original)
        return self.links[original]

    def file(self, body: bytes) -> bytes:
        return body[:len(body) // 2]


class KeepsResults(Breakage):
    """A finished task is served from the gateway's cache for ever: results past the
    dialect's retention still show as succeeded (links that no longer work)."""

    name = "keeps-results"

    def bind(self, proxy: Proxy) -> None:
        super().bind(proxy)
        self.kept: dict[tuple[str, bytes], tuple[int, Any]] = {}

    def reply(self, out: Outgoing, reply: Reply) -> None:
        if not self.proxy.is_poll(out):
            return
        task = (out.path, out.body)
        if reply.ok and self.driver.status_of(reply.data) == self.driver.succeeded:
            self.kept[task] = (reply.status, reply.data)
        elif task in self.kept:
            reply.status, data = self.kept[task]
            reply.set_data(data)


class DropRetryAfter(Breakage):
    """429s reach the caller without their Retry-After header."""

    name = "drop-retry-after"

    def reply(self, out: Outgoing, reply: Reply) -> None:
        if reply.status == 429:
            reply.headers.popall("Retry-After", None)


MADE_UP_ID = "00000000-0000-4000-8000-00000000dead"
# A submit answer of each dialect for a task no upstream has: (status, body).
MADE_UP = {
    "evolink": (200, {"created": 1700000000, "id": "task-unified-1700000000-madeup00",
                      "model": "suno-v4", "object": "audio.generation.task", "progress": 0,
                      "status": "pending", "task_info": {"can_cancel": False},
                      "type": "audio"}),
    "acedata": (200, {"success": True, "task_id": MADE_UP_ID, "trace_id": MADE_UP_ID}),
    "openaihk": (200, {"id": MADE_UP_ID, "status": "complete",
                       "clips": [{"id": MADE_UP_ID, "status": "submitted"}]}),
    "sunor": (202, {"code": 202, "data": {"task_id": MADE_UP_ID, "type": "music",
                                          "status": "pending", "credits_charged": 10,
                                          "created_at": "2026-01-01T00:00:00Z"}}),
    "orux": (200, {"task_id": "task_01HZZZZZZZZZZZZZZZZZZZZZZ0", "status": "QUEUED"}),
}


class MadeUpTask(Breakage):
    """An upstream 5xx on submit is hidden behind a made-up task (in the dialect's
    submit shape) that the upstream never had."""

    name = "made-up-task"

    def reply(self, out: Outgoing, reply: Reply) -> None:
        if self.proxy.is_submit(out) and reply.status >= 500:
            reply.status, body = MADE_UP[self.proxy.provider]
            reply.headers.popall("Retry-After", None)
            reply.set_data(body)


class ErrorShape(Breakage):
    """Error answers keep their status but lose the dialect's error shape: a bare
    ``{"message": ...}``."""

    name = "error-shape"

    def reply(self, out: Outgoing, reply: Reply) -> None:
        if reply.status >= 400 and reply.stream is None:
            reply.set_data({"message": f"gateway error {reply.status}"})


class RateLimitAsServerError(Breakage):
    """429s reach the caller as 503s (body and headers kept): a client cannot tell
    "slow down" from "the service is down"."""

    name = "rate-limit-as-503"

    def reply(self, out: Outgoing, reply: Reply) -> None:
        if reply.status == 429:
            reply.status = 503


# A status each dialect documents for its submit, other than its out-of-credits one: a
# gateway answering it instead breaks no schema, only the refusal.
OTHER_STATUS = {"evolink": 403, "acedata": 400, "openaihk": 400, "sunor": 403, "orux": 403}


class CreditsRestatus(Breakage):
    """The upstream's out-of-credits refusal reaches the caller with another status (one
    the dialect documents for something else), its body unchanged."""

    name = "credits-restatus"

    def reply(self, out: Outgoing, reply: Reply) -> None:
        if _matches(self.driver, reply, NO_CREDITS):
            reply.status = OTHER_STATUS[self.proxy.provider]


class CreditsRecoded(Breakage):
    """The upstream's out-of-credits refusal keeps its status, but its code and type are
    the dialect's rate-limit words (orux's ``quota_exceeded`` → ``rate_limit_exceeded``):
    a client told to wait where it should top up."""

    name = "credits-recoded"

    def reply(self, out: Outgoing, reply: Reply) -> None:
        if _matches(self.driver, reply, NO_CREDITS):
            data = reply.data
            words = dict(self.driver.refusal(RATE_LIMITED).error)
            if self.proxy.provider == "sunor":  # the whole body is the error
                reply.set_data({**data, **words})
            else:
                reply.set_data({**data, "error": {**data["error"], **words}})


class WrongErrorStatus(Breakage):
    """Upstream 400s reach the caller as 422s."""

    name = "wrong-error-status"

    def reply(self, out: Outgoing, reply: Reply) -> None:
        if reply.status == 400:
            reply.status = 422


BREAKAGES = (RenameField, SkipState, StatusBackwards, UnknownWord, FailedAsSucceeded, AnyKey,
             OneUpstreamKey, ChargeTwice, DropFinalStage, CallbackRenameField, AudioIsCover,
             TruncatedAudio, DropRetryAfter, RateLimitAsServerError, MadeUpTask, KeepsResults,
             ErrorShape, WrongErrorStatus, CreditsRestatus, CreditsRecoded)
