"""What an acedata request makes: the songs of each ``/suno/audios`` action, and what
each companion endpoint prepares (its clips and the facts its result shows)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from ...core import derive
from ...core.clips import ClipSpec
from ...core.models import Account, Clip
from ...media import facts
from ...media.render import parts_of
from ..base import BadRequest, Provider, off_loop

TAKES = 2  # songs per generation, as the provider documents
NO_SONG = "The song id does not exist or has been taken offline."
# What an upload of audio from elsewhere stands for: the simulator never fetches it.
STAND_IN_SECONDS = {"upload": 60.0, "voices": 30.0}
VOICE_SECONDS = (10.0, 240.0)
VOX_MAX_WINDOW = 30.0


async def source(provider: Provider, account: Account, audio_id: str) -> Clip:
    """A finished song or upload of this key; any other id is refused."""
    clip = await provider.engine.own_clip(account.api_key, audio_id, provider.id)
    if clip is None:
        raise BadRequest(400, NO_SONG)
    return clip


class Songs:
    """Turns one ``/suno/audios`` request into the songs its action makes."""

    def __init__(self, provider: Provider, account: Account, body: dict[str, Any]):
        self.p, self.engine, self.account, self.body = provider, provider.engine, account, body
        self.instrumental = body.get("instrumental") is True

    async def for_action(self, action: str) -> list[ClipSpec]:
        return await ACTIONS[action](self)

    # -- helpers -------------------------------------------------------------------------
    async def _source(self, key: str = "audio_id") -> Clip:
        return await source(self.p, self.account, self.body[key])

    def _lyrics(self, fallback: str | None = None) -> str | None:
        """The caller's lyrics in custom mode; None to have them written."""
        if self.instrumental:
            return None
        if self.body.get("custom") is True and self.body.get("lyric"):
            return self.body["lyric"]
        return fallback

    def _pair(self, spec: ClipSpec) -> list[ClipSpec]:
        """Two takes of one request: same words, each its own music (the engine draws
        each clip's audio seed)."""
        return [spec] * TAKES

    def _window(self, source: Clip, name: str, start_default: float | None = None,
                inclusive_end: bool = False) -> tuple[float, float]:
        start = self.body.get(f"{name}_start", start_default)
        end = self.body[f"{name}_end"]
        if start is None:
            raise BadRequest(400, f"{name}_start is required when action is {name}")
        if start >= end:
            raise BadRequest(400, f"{name}_start must be less than {name}_end")
        beyond = end > source.duration if inclusive_end else end >= source.duration
        if beyond:
            raise BadRequest(400, f"{name}_end must be less than the duration of the song "
                                  f"({source.duration:g} s)")
        return start, end

    def _song(self, description: str, *, tags=None, lyrics=None, lineage=None) -> ClipSpec:
        """A new song: the caller's title, style and length where given, and none of the
        styles its negative tags name."""
        body = self.body
        seconds = body.get("duration")
        avoid = ", ".join(body[k] for k in ("style_negative", "negative_tags") if body.get(k))
        return self.engine.compose(
            description, title=body.get("title"), tags=body.get("style") or tags,
            lyrics=lyrics, instrumental=self.instrumental, lineage=lineage, avoid=avoid,
            derive=None if seconds is None else lambda song: derive.fitted(song, seconds))

    def _named(self) -> dict[str, str | None]:
        """The title and style the caller gave, if any, for a song made from another."""
        return {"title": self.body.get("title") or None, "tags": self.body.get("style") or None}

    # -- new songs -------------------------------------------------------------------------
    async def _generate(self, tags: str | None = None,
                        lineage: dict | None = None) -> list[ClipSpec]:
        body = self.body
        if body.get("custom") is True:
            description = body.get("lyric_prompt") or body.get("title") or body.get("style") or ""
            return self._pair(self._song(description, tags=tags, lyrics=self._lyrics(),
                                         lineage=lineage))
        return self._pair(self._song(body.get("prompt", ""), tags=tags, lineage=lineage))

    async def _persona(self, vox: bool) -> list[ClipSpec]:
        persona = await self.engine.persona(self.account.api_key, self.body["persona_id"])
        if persona is None:
            raise BadRequest(400, "The persona does not exist.")
        if vox and persona.vox_clip_id is None:
            raise BadRequest(400, "artist_consistency_vox needs a persona created with "
                                  "vox_audio_id")
        found = await self.engine.find_clip(persona.source_clip_id)
        tags = found[1].tags if found else None
        return await self._generate(tags, {"action": "artist_consistency_vox" if vox
                                           else "artist_consistency", "persona_id": persona.id})

    async def _artist_consistency(self) -> list[ClipSpec]:
        return await self._persona(vox=False)

    async def _artist_consistency_vox(self) -> list[ClipSpec]:
        return await self._persona(vox=True)

    async def _inspo(self) -> list[ClipSpec]:
        heard = [c for c in [await self.p.served_clip(u) for u in self.body["audio_urls"]] if c]
        tags = ", ".join(dict.fromkeys(t for c in heard for t in c.tags.split(", "))) or None
        return await self._generate(tags, {"action": "inspo",
                                           "references": self.body["audio_urls"]})

    # -- songs made from an earlier one ----------------------------------------------------
    async def _extend(self) -> list[ClipSpec]:
        source = await self._source()
        at = float(self.body.get("continue_at", source.duration))
        if at > source.duration:
            raise BadRequest(400, f"continue_at must not exceed the duration of the song "
                                  f"({source.duration:g} s)")
        return self._pair(derive.extension(
            self.engine, source, at, action=self.body.get("action", "extend"),
            lyrics=self._lyrics(), instrumental=self.instrumental, **self._named()))

    async def _concat(self) -> list[ClipSpec]:
        return [await derive.concat(self.engine, await self._source())]

    async def _cover(self) -> list[ClipSpec]:
        return self._pair(derive.cover(self.engine, await self._source(),
                                       action=self.body.get("action", "cover"),
                                       instrumental=self.instrumental, **self._named()))

    async def _stems(self) -> list[ClipSpec]:
        source = await self._source()
        return derive.stems(self.engine, source, lambda label: f"{source.title} - {label}")

    async def _all_stems(self) -> list[ClipSpec]:
        source = await self._source()
        return derive.instrument_stems(
            self.engine, source,
            [(part, f"{source.title} ({derive.STEM_LABELS.get(part, part)})")
             for part in parts_of(source.recipe)])

    async def _replace_section(self) -> list[ClipSpec]:
        source = await self._source()
        start, end = self._window(source, "replace_section", inclusive_end=True)
        # candidates: the new section alone, not yet merged back into the song.
        alone = self.body.get("replace_section_result_mode") == "candidates"
        return self._pair(derive.infill(
            self.engine, source, start, end, action="replace_section",
            lyrics=self._lyrics(source.lyrics or None), instrumental=self.instrumental,
            context=(start, end) if alone else None, **self._named()))

    async def _painting(self, name: str, adds: str) -> list[ClipSpec]:
        source = await self._source()
        start, end = self._window(source, name, start_default=0.0)
        return self._pair(derive.overlay(self.engine, source, start, end, adds, action=name,
                                         lyrics=self._lyrics(), **self._named()))

    async def _underpainting(self) -> list[ClipSpec]:
        return await self._painting("underpainting", derive.ADD_INSTRUMENTAL)

    async def _overpainting(self) -> list[ClipSpec]:
        return await self._painting("overpainting", derive.ADD_VOCALS)

    async def _samples(self) -> list[ClipSpec]:
        return await self._painting("samples", derive.ADD_SAMPLE)

    async def _remaster(self) -> list[ClipSpec]:
        return self._pair(derive.remaster(self.engine, await self._source(),
                                          self.body.get("variation_category")))

    async def _mashup(self) -> list[ClipSpec]:
        sources = [await source(self.p, self.account, i) for i in self.body["mashup_audio_ids"]]
        return self._pair(derive.mashup(self.engine, sources, **self._named()))


ACTIONS: dict[str, Callable[[Songs], Awaitable[list[ClipSpec]]]] = {
    "generate": Songs._generate, "extend": Songs._extend, "upload_extend": Songs._extend,
    "concat": Songs._concat, "cover": Songs._cover, "upload_cover": Songs._cover,
    "artist_consistency": Songs._artist_consistency,
    "artist_consistency_vox": Songs._artist_consistency_vox, "stems": Songs._stems,
    "all_stems": Songs._all_stems, "replace_section": Songs._replace_section,
    "underpainting": Songs._underpainting, "overpainting": Songs._overpainting,
    "samples": Songs._samples, "remaster": Songs._remaster, "mashup": Songs._mashup,
    "inspo": Songs._inspo,
}


# -- the companion endpoints -------------------------------------------------------------
@dataclass(frozen=True)
class Prepared:
    clips: list[ClipSpec]
    meta: dict[str, Any]


Prepare = Callable[[Provider, Account, dict[str, Any]], Awaitable[Prepared]]


async def _text(provider, account, body) -> Prepared:
    return Prepared([], {"seed": provider.engine.ids.seed32()})


async def _mashup_lyrics(provider, account, body) -> Prepared:
    return Prepared([], {})


async def _persona(provider, account, body) -> Prepared:
    clip = await source(provider, account, body["audio_id"])
    vox = None
    if "vox_audio_id" in body:
        vox = await source(provider, account, body["vox_audio_id"])
        if (vox.lineage or {}).get("action") != "vox":
            raise BadRequest(400, "vox_audio_id must be an id returned by /suno/vox")
    persona = await provider.engine.create_persona(
        account.api_key, body["name"], clip, description=body.get("description", ""),
        kind="vox" if vox else "persona", vox=vox)
    return Prepared([], {"persona_id": persona.id})


async def _voices(provider, account, body) -> Prepared:
    spec, duration = await _uploaded(provider, body["audio_url"], "voices")
    low, high = VOICE_SECONDS
    if not low <= duration <= high:
        raise BadRequest(400, f"audio_url must be {low:g} to {high:g} seconds long "
                              f"(this one is {duration:g})")
    name = body.get("name") or f"VOICE_{provider.engine.ids.token(12).upper()}"
    return Prepared([spec], {"name": name, "pending_persona": body.get("description", "")})


async def _upload(provider, account, body) -> Prepared:
    spec, _ = await _uploaded(provider, body["audio_url"], "upload", body.get("name"))
    return Prepared([spec], {})


async def _file(provider, account, body) -> Prepared:
    return Prepared([], {"audio_id": (await source(provider, account, body["audio_id"])).id})


async def _midi(provider, account, body) -> Prepared:
    clip = await source(provider, account, body["audio_id"])
    return Prepared([], {"audio_id": clip.id,
                         "instruments": await off_loop(facts.midi_instruments, clip.recipe)})


async def _timing(provider, account, body) -> Prepared:
    clip = await source(provider, account, body["audio_id"])
    return Prepared([], {"audio_id": clip.id,
                         "timing": await off_loop(facts.timing, clip.recipe, clip.lyrics)})


async def _vox(provider, account, body) -> Prepared:
    clip = await source(provider, account, body["audio_id"])
    start, end = body["vocal_start"], body["vocal_end"]
    if start >= end:
        raise BadRequest(400, "vocal_start must be less than vocal_end")
    if end > clip.duration:
        raise BadRequest(400, f"vocal_end must be within the song ({clip.duration:g} s)")
    if end - start >= VOX_MAX_WINDOW:
        raise BadRequest(400, "the vocal range must be shorter than 30 seconds")
    wave = await off_loop(facts.waveform, derive.vocal_window(clip, start, end), 64)
    return Prepared([derive.vox(provider.engine, clip, start, end)],
                    {"audio_id": clip.id, "aggregates": facts.waveform_aggregates(wave)})


async def _uploaded(provider, url: str, purpose: str,
                    name: str | None = None) -> tuple[ClipSpec, float]:
    spec = derive.upload(provider.engine, url, await provider.served_clip(url),
                         purpose=purpose, title=name, seconds=STAND_IN_SECONDS[purpose])
    return spec, spec.derive(None).duration


@dataclass(frozen=True)
class Companion:
    """A companion endpoint: the job kind it runs, whether it may answer later (async or
    callback_url), whether it streams, and what it prepares."""

    prepare: Prepare
    job: str = "export"
    can_defer: bool = False
    streams: bool = False


COMPANIONS: dict[str, Companion] = {
    "lyrics": Companion(_text, "text", can_defer=True, streams=True),
    "mashup-lyrics": Companion(_mashup_lyrics, "text"),
    "style": Companion(_text, "text"),
    "persona": Companion(_persona), "voices": Companion(_voices),
    "upload": Companion(_upload, can_defer=True), "mp4": Companion(_file),
    "mp3": Companion(_file, can_defer=True), "wav": Companion(_file, can_defer=True),
    "midi": Companion(_midi, can_defer=True), "timing": Companion(_timing),
    "vox": Companion(_vox, can_defer=True),
}
