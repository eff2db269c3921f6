"""GET /media/{clip_id}/{file}: the songs, covers and videos the dialects link to.

Files are made on first fetch, off the event loop, and kept in a byte-bounded LRU; a
clip's media is served only once its task has made it ready (a video a client asked to
be exported, once that export is done: until then a bare 404), and no longer once the
task's results have passed the dialect's retention. Byte ranges are honoured, so
players can seek; a clip's stream plays progressively while its song is being made.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import Callable

import orjson
from aiohttp import web

from ..core import exports
from ..core.engine import Engine
from ..core.models import SUCCEEDED, Clip
from ..core.recipes import Stem
from ..core.sandboxes import Sandboxes
from . import formats
from .cache import ByteLRU
from .files import (AUDIO_M4A, AUDIO_MP3, AUDIO_WAV, COVER, COVER_LARGE, COVER_SIZES, ROUTE,
                    STREAM_MP3, VIDEO_MP4, content_type, stem_part)
from .image import cover_jpeg
from .render import parts_of

Maker = Callable[[Clip], tuple[tuple, Callable[[], bytes]]]


def _mp3(clip: Clip) -> tuple[tuple, Callable[[], bytes]]:
    recipe = clip.recipe
    return ("mp3", recipe), lambda: formats.mp3(recipe)


def _wav(clip: Clip) -> tuple[tuple, Callable[[], bytes]]:
    recipe = clip.recipe
    return ("wav", recipe), lambda: formats.wav(recipe)


def _m4a(clip: Clip) -> tuple[tuple, Callable[[], bytes]]:
    recipe = clip.recipe
    return ("m4a", recipe), lambda: formats.m4a(recipe)


def _stem(part: str) -> Maker:
    def maker(clip: Clip) -> tuple[tuple, Callable[[], bytes]]:
        recipe = Stem(clip.recipe, part)
        return ("mp3", recipe), lambda: formats.mp3(recipe)
    return maker


def _jpeg(size: int) -> Maker:
    def maker(clip: Clip) -> tuple[tuple, Callable[[], bytes]]:
        facts = (clip.seed, clip.title, size)
        return ("jpeg", *facts), lambda: cover_jpeg(*facts)
    return maker


def _mp4(clip: Clip) -> tuple[tuple, Callable[[], bytes]]:
    recipe, seed, title = clip.recipe, clip.seed, clip.title
    return (("mp4", recipe, seed, title),
            lambda: formats.mp4(recipe, cover_jpeg(seed, title, formats.VIDEO_SIZE)))


# Cache keys are what the bytes are rendered from (the clip's recipe, never its id), so
# a reset that reuses ids cannot serve stale files, and clips with the same audio share
# them; the stream and the final file share bytes.
MAKERS: dict[str, Maker] = {
    AUDIO_MP3: _mp3,
    STREAM_MP3: _mp3,
    AUDIO_WAV: _wav,
    AUDIO_M4A: _m4a,
    COVER: _jpeg(COVER_SIZES[COVER]),
    COVER_LARGE: _jpeg(COVER_SIZES[COVER_LARGE]),
    VIDEO_MP4: _mp4,
}
# What a clip serves once its task is streaming (its words written), before it is ready:
# the stream plays and the cover shows, as on the real service.
WHILE_STREAMING = frozenset({STREAM_MP3, COVER, COVER_LARGE})
# How often a progressive stream looks at the clock for more audio, in wall seconds.
STREAM_TICK = 0.1
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _maker(name: str) -> Maker | None:
    """How a clip's file of that name is made: a fixed file, or one part alone."""
    part = stem_part(name)
    return MAKERS.get(name) or (_stem(part) if part else None)


def _span(header: str, size: int) -> tuple[int, int] | None:
    """The bytes ``[start, end)`` one range asks for; None when it cannot be satisfied.
    Several ranges in one request are answered with the whole file, as RFC 9110 allows."""
    if "," in header:
        return 0, size
    match = _RANGE.match(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return 0, size  # not a byte range this server understands: ignore it
    first, last = match.groups()
    if first == "":
        start, end = max(0, size - int(last)), size
    else:
        start = int(first)
        end = size if last == "" else min(size, int(last) + 1)
    if start >= size or start >= end:
        return None
    return start, end


def _made(task, now: float) -> float:
    """How much of a streaming song exists: none when streaming begins, all of it at
    the moment the task is due to finish."""
    began = next((at for at, event in task.history if event.startswith("stage:")), None)
    if began is None or task.eta is None or task.eta <= began:
        return 0.0
    return min(1.0, max(0.0, (now - began) / (task.eta - began)))


def media_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """The media server's one error shape, whatever went wrong."""
    return web.Response(body=orjson.dumps({"error": {"code": status, "message": message}}),
                        status=status, headers=headers, content_type="application/json")


def _not_found(message: str) -> web.Response:
    return media_error(404, message)


class MediaServer:
    def __init__(self, sandboxes: Sandboxes, cache_bytes: int):
        # Links are global: a clip is found in whichever sandbox made it.
        self.sandboxes = sandboxes
        self.cache = ByteLRU(cache_bytes)
        self._making: dict[tuple, asyncio.Future] = {}

    def routes(self) -> list[web.RouteDef]:
        return [web.get(ROUTE, self.serve)]

    async def serve(self, request: web.Request, key: str | None = None) -> web.StreamResponse:
        """One of a clip's files; links are open to whoever holds them, so ``key`` (what
        the edge hands every handler) is not asked for."""
        name = request.match_info["name"]
        maker, part = _maker(name), stem_part(name)
        if maker is None:
            return _not_found(f"no media file {name!r}")
        found = await self.sandboxes.find_clip(request.match_info["clip_id"])
        if found is None:
            return _not_found("media not found")
        engine, task, clip = found
        if part is not None and part not in parts_of(clip.recipe):
            return _not_found(f"this song has no {part} part; it has "
                              f"{', '.join(parts_of(clip.recipe)) or 'none'}")
        if task.expired(engine.now()):
            return media_error(410, "media expired: the task's results have passed their "
                                    "retention")
        streaming = name in WHILE_STREAMING and task.stage is not None and not task.terminal
        if not task.clip_ready(clip) and not streaming:
            return _not_found("media not ready yet")
        if name == VIDEO_MP4 and await exports.held_back(engine, clip.id, name):
            # Asked for and still being made: a CDN's bare 404, for the client to retry.
            return web.Response(status=404)
        key, make = maker(clip)
        kind = content_type(name)
        data = await self._get(key, make)
        if name == STREAM_MP3 and streaming:
            return await self._progressive(request, engine, task, data)
        etag = '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
        headers = {"ETag": etag, "Cache-Control": "public, max-age=3600",
                   "Accept-Ranges": "bytes"}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        wanted = request.headers.get("Range")
        if wanted and request.headers.get("If-Range", etag) == etag:
            span = _span(wanted, len(data))
            if span is None:
                return web.Response(status=416, headers={
                    **headers, "Content-Range": f"bytes */{len(data)}"})
            if span != (0, len(data)):
                start, end = span
                return web.Response(body=data[start:end], status=206,
                                    content_type=kind, headers={
                                        **headers,
                                        "Content-Range": f"bytes {start}-{end - 1}/{len(data)}"})
        return web.Response(body=data, content_type=kind, headers=headers)

    async def _progressive(self, request: web.Request, engine: Engine, task,
                           data: bytes) -> web.StreamResponse:
        """The stream of a song still being made: what is made so far at once, then the
        rest as simulated time makes it, ending when the song is done (or cut short if
        the task fails). No length is known in advance, as on the real service."""
        response = web.StreamResponse(headers={"Content-Type": "audio/mpeg",
                                               "Cache-Control": "no-cache"})
        await response.prepare(request)
        sent = 0
        try:
            while True:
                task = await engine.task(task.id) or task  # a fresh read each tick
                done = task.terminal
                target = len(data) if done and task.status == SUCCEEDED else \
                    int(len(data) * _made(task, engine.now()))
                if target > sent:
                    await response.write(data[sent:target])
                    sent = target
                if done or sent >= len(data):
                    break
                transport = request.transport
                if transport is None or transport.is_closing():
                    return response  # the listener has gone
                await asyncio.sleep(STREAM_TICK)
            await response.write_eof()
        except ConnectionError:
            pass  # the listener hung up mid-write
        return response

    async def _get(self, key: tuple, make: Callable[[], bytes]) -> bytes:
        data = self.cache.get(key)
        if data is not None:
            return data
        pending = self._making.get(key)
        if pending is None:
            pending = asyncio.get_running_loop().run_in_executor(None, make)
            self._making[key] = pending
            try:
                data = await pending
            finally:
                self._making.pop(key, None)
            self.cache.put(key, data)
            return data
        return await asyncio.shield(pending)
