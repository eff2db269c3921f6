"""Songs made from earlier songs, the same whichever dialect asks.

Every gateway resells Suno's edit actions (extend, concat, cover, stems, infill, add
instrumental or vocals, remaster, mashup, vox) under its own names. Here each one is
defined once: which recipe its audio is made from, and what the new clip remembers of
its sources in ``lineage``. Dialects check their own rules and render; they call these
for what the song is.

A ``title`` or ``tags`` left None is taken from the source song.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Iterable

from . import songwriter
from .models import Clip
from .recipes import (INSTRUMENTAL, SILENT, VOCALS, Concat, Excerpt, Extension, Infill, Mashup,
                      Overlay, Remaster, Song, Stem, instrument_stem)

if TYPE_CHECKING:
    from .clips import ClipSpec
    from .engine import Engine

EXTENSIONS = ("extend", "upload_extend")
# Suno's twelve-way separation, in its order: (label, the instrument that plays it); the
# synthesizer plays no brass or woodwinds, so theirs are silence.
TWELVE_STEMS = (
    ("Vocals", "vocals"), ("Backing Vocals", "backing_vocals"), ("Drums", "drums"),
    ("Bass", "bass"), ("Guitar", "guitar"), ("Keyboard", "keys"),
    ("Percussion", "percussion"), ("Strings", "strings"), ("Synth", "synth"),
    ("FX", "fx"), ("Brass", SILENT), ("Woodwinds", SILENT),
)
STEM_LABELS = {part: label for label, part in TWELVE_STEMS if part != SILENT}
# Seconds of sound an upload from outside the simulator stands for: it never fetches it.
STAND_IN_SECONDS = 60.0


def fitted(song: Song, seconds: float) -> Song:
    return replace(song, duration=round(seconds, 3))


def _like(engine: Engine, source: Clip, *, title: str | None, tags: str | None,
          lyrics: str | None, instrumental: bool, derive: Callable[[Song], Any] | None,
          lineage: dict[str, Any]) -> ClipSpec:
    return engine.compose(source.title, title=title or source.title, tags=tags or source.tags,
                          lyrics=lyrics, instrumental=instrumental, derive=derive,
                          lineage=lineage)


def extension(engine: Engine, source: Clip, at: float, *, action: str = "extend",
              lyrics: str | None = None, instrumental: bool = False,
              title: str | None = None, tags: str | None = None,
              seconds: float | None = None) -> ClipSpec:
    """The source up to ``at``, then new music in its style (``seconds`` of it, when the
    dialect lets the caller say how much)."""
    recipe = source.recipe

    def make(tail: Song) -> Extension:
        return Extension(recipe, at, tail if seconds is None else fitted(tail, seconds))

    return _like(engine, source, title=title, tags=tags, lyrics=lyrics,
                 instrumental=instrumental or source.instrumental, derive=make,
                 lineage={"action": action, "source": source.id, "continue_at": at})


async def chain(engine: Engine, clip: Clip) -> list[tuple[Clip, float]]:
    """The extension chain ending at ``clip``: each clip with where its part starts."""
    links = [(clip, 0.0)]
    while (clip.lineage or {}).get("action") in EXTENSIONS:
        found = await engine.find_clip(clip.lineage.get("source") or "")
        if found is None:
            break
        links[0] = (links[0][0], float(clip.lineage["continue_at"]))
        clip = found[1]
        links.insert(0, (clip, 0.0))
    return links


async def concat(engine: Engine, last: Clip) -> ClipSpec:
    """The whole song an extension chain stands for: each part up to where the next
    one took over, joined; ``history`` lists the parts as Suno's concat does."""
    links = await chain(engine, last)
    parts, history = [], []
    for index, (clip, start) in enumerate(links):
        # The recipe's own length, not the clip's rounded duration: a last part that
        # ran past the audio would end the whole song in a sample of silence.
        end = links[index + 1][1] if index + 1 < len(links) else clip.recipe.duration
        parts.append(clip.recipe if (start, end) == (0, clip.recipe.duration)
                     else Excerpt(clip.recipe, start, end))
        entry: dict[str, Any] = {"id": clip.id}
        if index + 1 < len(links):
            entry.update(continue_at=end, infill=False, source="web", type="gen")
        history.append(entry)
    joined = Concat(tuple(parts))
    lyrics = "\n\n".join(c.lyrics for c, _ in links if c.lyrics)
    return _like(engine, last, title=None, tags=None, lyrics=lyrics,
                 instrumental=last.instrumental, derive=lambda _: joined,
                 lineage={"action": "concat", "source": last.id, "history": history})


def cover(engine: Engine, source: Clip, *, action: str = "cover", lyrics: str | None = None,
          instrumental: bool = False, title: str | None = None,
          tags: str | None = None) -> ClipSpec:
    """A new performance of the source's song: its words (unless others are given) to
    new music."""
    instrumental = instrumental or source.instrumental
    words = None if instrumental else lyrics or source.lyrics or None
    return _like(engine, source, title=title, tags=tags, lyrics=words,
                 instrumental=instrumental, derive=None,
                 lineage={"action": action, "source": source.id})


def stems(engine: Engine, source: Clip, title: Callable[[str], str],
          action: str = "stems") -> list[ClipSpec]:
    """Vocals and instrumental, in that order; together they are the source."""
    recipe = source.recipe
    return [engine.compose(source.title, title=title(label), tags=source.tags,
                           lyrics=source.lyrics,
                           instrumental=part == INSTRUMENTAL,
                           derive=lambda _, part=part: Stem(recipe, part),
                           lineage={"action": action, "source": source.id, "part": part})
            for part, label in ((VOCALS, "Vocals"), (INSTRUMENTAL, "Instrumental"))]


def instrument_stems(engine: Engine, source: Clip, titled: Iterable[tuple[str, str]],
                     action: str = "all_stems") -> list[ClipSpec]:
    """One clip per ``(instrument, title)``; stems of all the instruments the source has
    sum to it, and a SILENT one is silence."""
    recipe = source.recipe
    return [engine.compose(source.title, title=title, tags=source.tags,
                           lyrics=source.lyrics,
                           instrumental=instrument not in ("vocals", "backing_vocals"),
                           derive=lambda _, i=instrument: Stem(recipe, instrument_stem(i)),
                           lineage={"action": action, "source": source.id, "part": instrument})
            for instrument, title in titled]


def infill(engine: Engine, source: Clip, start: float, end: float, *, action: str,
           lyrics: str | None, instrumental: bool = False, title: str | None = None,
           tags: str | None = None, context: tuple[float, float] | None = None) -> ClipSpec:
    """The source with ``start``–``end`` made anew; everything outside it is kept.

    With ``context``, the clip is only that stretch around the window (as Suno's infill
    answers), and :func:`whole_infill` puts it back into the full song.
    """
    recipe = source.recipe
    history = [{"id": source.id, "infill": True, "infill_start_s": start,
                "infill_end_s": end, "infill_dur_s": round(end - start, 3),
                "source": "web", "type": "gen"}]

    def make(fill: Song) -> Any:
        whole = Infill(recipe, start, end, fitted(fill, end - start))
        return whole if context is None else Excerpt(whole, *context)

    return _like(engine, source, title=title, tags=tags, lyrics=lyrics,
                 instrumental=instrumental or source.instrumental, derive=make,
                 lineage={"action": action, "source": source.id, "history": history,
                          "start": start, "end": end, "context": context})


def whole_infill(engine: Engine, clip: Clip) -> ClipSpec:
    """The full song an infill clip belongs in: its source with the window replaced."""
    made = clip.recipe
    whole = made.source if isinstance(made, Excerpt) else made
    return engine.compose(clip.title, title=clip.title, tags=clip.tags,
                          lyrics=clip.lyrics or None, instrumental=clip.instrumental,
                          derive=lambda _: whole,
                          lineage={"action": "concat", "source": clip.id, "infill": True,
                                   "history": (clip.lineage or {}).get("history")})


# What an overlay adds over ``start``–``end`` of the source.
ADD_INSTRUMENTAL, ADD_VOCALS, ADD_SAMPLE = "instrumental", "vocals", "sample"
_LAYERS: dict[str, Callable[[Song], Any]] = {
    ADD_INSTRUMENTAL: lambda s: replace(s, instrumental=True),
    ADD_VOCALS: lambda s: Stem(replace(s, instrumental=False), VOCALS),
    ADD_SAMPLE: lambda s: Stem(replace(s, instrumental=True), INSTRUMENTAL),
}


def overlay(engine: Engine, source: Clip, start: float, end: float, adds: str, *,
            action: str, lyrics: str | None = None, title: str | None = None,
            tags: str | None = None) -> ClipSpec:
    """The source with new music (``adds``) laid over ``start``–``end``."""
    recipe, layer = source.recipe, _LAYERS[adds]
    vocals = adds == ADD_VOCALS
    return _like(engine, source, title=title, tags=tags,
                 lyrics=(lyrics or source.lyrics or None) if vocals else source.lyrics or None,
                 instrumental=source.instrumental and not vocals,
                 derive=lambda new: Overlay(recipe, layer(fitted(new, end - start)), start),
                 lineage={"action": action, "source": source.id, "start": start, "end": end})


def sampled(engine: Engine, source: Clip, start: float, end: float, *, action: str,
            lyrics: str | None = None, instrumental: bool = False, title: str | None = None,
            tags: str | None = None) -> ClipSpec:
    """A new song built on a stretch of the source: the sample sounds under its opening."""
    sample = Excerpt(source.recipe, start, end)
    return _like(engine, source, title=title, tags=tags, lyrics=lyrics,
                 instrumental=instrumental, derive=lambda new: Overlay(new, sample, 0.0),
                 lineage={"action": action, "source": source.id, "start": start, "end": end})


def remaster(engine: Engine, source: Clip, variation: str | None = None,
             action: str = "remaster") -> ClipSpec:
    mastered = Remaster(source.recipe)
    return _like(engine, source, title=None, tags=None, lyrics=source.lyrics or None,
                 instrumental=source.instrumental, derive=lambda _: mastered,
                 lineage={"action": action, "source": source.id,
                          "variation_category": variation})


def mashup(engine: Engine, sources: list[Clip], *, action: str = "mashup",
           title: str | None = None, tags: str | None = None,
           lyrics: str | None = None) -> ClipSpec:
    """The sources mixed; words and style joined from them unless given."""
    mixed = Mashup(tuple(s.recipe for s in sources))
    joined_tags = ", ".join(dict.fromkeys(t for s in sources for t in s.tags.split(", ")))
    if lyrics is None and all(s.lyrics for s in sources[:2]):
        lyrics = songwriter.mash_lyrics(*(s.lyrics for s in sources[:2]))
    name = title or " x ".join(s.title for s in sources)
    return engine.compose(name, title=name, tags=tags or joined_tags, lyrics=lyrics,
                          instrumental=all(s.instrumental for s in sources),
                          derive=lambda _: mixed,
                          lineage={"action": action, "sources": [s.id for s in sources]})


def vocal_window(source: Clip, start: float, end: float) -> Stem:
    """The vocals of ``start``–``end``: what a vox persona is taken from."""
    return Stem(Excerpt(source.recipe, start, end), VOCALS)


def vox(engine: Engine, source: Clip, start: float, end: float) -> ClipSpec:
    window = vocal_window(source, start, end)
    return engine.compose(source.title, title=f"{source.title} (Vox)", tags=source.tags,
                          lyrics=source.lyrics, derive=lambda _: window,
                          lineage={"action": "vox", "source": source.id,
                                   "start": start, "end": end})


def extended_upload(engine: Engine, url: str, served: Clip | None, *, seconds: float,
                    lyrics: str | None = None, instrumental: bool = False,
                    tags: str | None = None, stand_in: float = STAND_IN_SECONDS) -> ClipSpec:
    """Audio uploaded and extended in one request: the whole upload, then ``seconds`` of
    new music in its style (the two-step form is :func:`upload`, then :func:`extension`)."""
    uploaded = upload(engine, url, served, seconds=stand_in)
    recipe = uploaded.derive(None)
    at = recipe.duration
    return engine.compose(uploaded.description, title=uploaded.title,
                          tags=tags or uploaded.tags, lyrics=lyrics,
                          instrumental=instrumental,
                          derive=lambda tail: Extension(recipe, at, fitted(tail, seconds)),
                          lineage={"action": "upload_extend", "url": url, "continue_at": at})


def is_upload(clip: Clip) -> bool:
    """Whether the clip is an upload (made by :func:`upload`), not a generated song."""
    return (clip.lineage or {}).get("action") == "upload"


def upload(engine: Engine, url: str, served: Clip | None, *, purpose: str = "upload",
           title: str | None = None, seconds: float = STAND_IN_SECONDS) -> ClipSpec:
    """The clip an upload becomes: the simulator's own audio when ``served`` (the clip
    behind one of its media links), otherwise a stand-in whose sound is derived from
    the URL, so the same URL always uploads the same song."""
    title = title or f"up-{engine.ids.uuid()}"
    lineage = {"action": purpose, "url": url}
    if served is not None:
        recipe = served.recipe
        return engine.compose(served.title, title=title, tags=served.tags,
                              lyrics=served.lyrics, instrumental=served.instrumental,
                              derive=lambda _: recipe, lineage=lineage)
    seed = zlib.crc32(url.encode())
    words = " ".join(re.findall(r"[a-z]+", url.rsplit("/", 1)[-1].lower()))
    tags = songwriter.tags_from(words, seed)
    stand_in = Song(seed, seconds, tags, False)
    return engine.compose(words, title=title, tags=tags, derive=lambda _: stand_in,
                          lineage=lineage)
