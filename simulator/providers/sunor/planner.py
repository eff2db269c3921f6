"""What a sunor task makes, by model and task type: Suno music in its three modes,
lyrics, an upload, a concat; Udio music, repeatable from a seed."""

from __future__ import annotations

import zlib
from typing import Any, Awaitable, Callable

from ...core import derive
from ...core.clips import ClipSpec
from ...core.models import Account, Clip
from ..base import BadRequest, Provider

TAKES = 2  # clips per music task, for both models
BAD_INPUT = "Invalid input parameters for the selected task type: "


class Planner:
    def __init__(self, provider: Provider, account: Account, given: dict[str, Any]):
        self.p, self.engine, self.account, self.given = provider, provider.engine, account, given

    async def songs(self, model: str, kind: str) -> list[ClipSpec]:
        return await PLANS[(model, kind)](self)

    async def _own(self, field: str) -> Clip:
        clip_id = self.given[field]
        clip = await self.engine.own_clip(self.account.api_key, clip_id, self.p.id)
        if clip is None:
            raise BadRequest(400, f"{BAD_INPUT}{field} {clip_id} is not a finished clip of "
                                  f"this API key")
        return clip

    async def suno_music(self) -> list[ClipSpec]:
        given = self.given
        instrumental = given.get("make_instrumental") is True
        if given.get("continue_clip_id"):
            source = await self._own("continue_clip_id")
            at = float(given.get("continue_at", source.duration))
            if at > source.duration:
                raise BadRequest(400, f"continue_at must not exceed the clip's duration "
                                      f"({source.duration:g} s)")
            spec = derive.extension(self.engine, source, at,
                                    lyrics=None if instrumental else given.get("prompt") or None,
                                    instrumental=instrumental, title=given.get("title"),
                                    tags=given.get("tags") or None)
        elif given.get("gpt_description_prompt"):
            spec = self.engine.compose(given["gpt_description_prompt"],
                                       instrumental=instrumental)
        elif given.get("prompt") or given.get("tags"):
            lyrics = given.get("prompt") or None
            spec = self.engine.compose(given.get("title") or given.get("tags") or "",
                                       title=given.get("title"), tags=given.get("tags"),
                                       lyrics=None if instrumental else lyrics,
                                       instrumental=instrumental or lyrics is None)
        else:
            raise BadRequest(400, f"{BAD_INPUT}suno music needs gpt_description_prompt "
                                  f"(inspiration), prompt or tags (custom) or continue_clip_id "
                                  f"(continuation)")
        return [spec] * TAKES

    async def suno_lyrics(self) -> list[ClipSpec]:
        return []

    async def suno_upload(self) -> list[ClipSpec]:
        url = self.given["url"]
        return [derive.upload(self.engine, url, await self.p.served_clip(url))]

    async def suno_concat(self) -> list[ClipSpec]:
        return [await derive.concat(self.engine, await self._own("clip_id"))]

    async def udio_music(self) -> list[ClipSpec]:
        given = self.given
        kind = given.get("lyrics_type", "generate")
        if kind == "user" and not given.get("lyrics"):
            raise BadRequest(400, f"{BAD_INPUT}lyrics_type user needs lyrics")
        style = ", ".join(t for t in (given.get("tags"), given["prompt"]) if t)

        def take(seed: int | None) -> ClipSpec:
            return self.engine.compose(given["prompt"],
                                       tags=style if given.get("tags") else None,
                                       lyrics=given.get("lyrics") if kind == "user" else None,
                                       instrumental=kind == "instrumental", seed=seed)

        if given.get("seed") is None:
            return [take(None)] * TAKES
        # The same seed always gives the same tracks: each take's own seed comes from it.
        return [take(zlib.crc32(f"udio:{given['seed']}:{n}".encode())) for n in range(TAKES)]


PLANS: dict[tuple[str, str], Callable[[Planner], Awaitable[list[ClipSpec]]]] = {
    ("suno", "music"): Planner.suno_music, ("suno", "lyrics"): Planner.suno_lyrics,
    ("suno", "upload"): Planner.suno_upload, ("suno", "concat"): Planner.suno_concat,
    ("udio", "music"): Planner.udio_music,
}
