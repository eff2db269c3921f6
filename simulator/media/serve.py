"""GET /media/{clip_id}/{file}: the songs and covers the dialects link to.

Files are made on first fetch, off the event loop, and kept in a byte-bounded LRU; a
clip's media is served only once its task has made it ready.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Callable

import orjson
from aiohttp import web

from ..core.engine import Engine
from ..core.models import Clip
from .audio import song_mp3
from .cache import ByteLRU
from .image import cover_jpeg

COVER_SIZE = 512


def _mp3(clip: Clip) -> tuple[tuple, Callable[[], bytes]]:
    facts = (clip.seed, clip.duration, clip.tags, clip.instrumental)
    return ("mp3", *facts), lambda: song_mp3(*facts)


def _jpeg(clip: Clip) -> tuple[tuple, Callable[[], bytes]]:
    facts = (clip.seed, clip.title, COVER_SIZE)
    return ("jpeg", *facts), lambda: cover_jpeg(*facts)


# file name: (what to make it from, content type). Cache keys are the facts the bytes
# are rendered from, never the clip id, so a reset that reuses ids cannot serve stale
# files; the stream and the final file share bytes.
FILES: dict[str, tuple[Callable[[Clip], tuple[tuple, Callable[[], bytes]]], str]] = {
    "audio.mp3": (_mp3, "audio/mpeg"),
    "stream.mp3": (_mp3, "audio/mpeg"),
    "cover.jpeg": (_jpeg, "image/jpeg"),
}


def _not_found(message: str) -> web.Response:
    return web.Response(body=orjson.dumps({"error": {"code": 404, "message": message}}),
                        status=404, content_type="application/json")


class MediaServer:
    def __init__(self, engine: Engine, cache_bytes: int):
        self.engine = engine
        self.cache = ByteLRU(cache_bytes)
        self._making: dict[tuple, asyncio.Future] = {}

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/media/{clip_id}/{name}", self.serve)]

    async def serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in FILES:
            return _not_found(f"no media file {name!r}")
        found = self.engine.find_clip(request.match_info["clip_id"])
        if found is None:
            return _not_found("media not found")
        task, clip = found
        if task.clips.index(clip) >= task.ready_clips:
            return _not_found("media not ready yet")
        recipe, content_type = FILES[name]
        key, make = recipe(clip)
        data = await self._get(key, make)
        etag = '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=data, content_type=content_type,
                            headers={"ETag": etag, "Cache-Control": "public, max-age=3600"})

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
