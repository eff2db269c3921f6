"""What a request's songs become: the caller's asks (ClipSpec), and the clip drawn for
each, its id, audio seed and length from the run's seeded ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from . import songwriter
from .ids import Ids
from .models import Clip
from .recipes import Audio, Song


@dataclass(frozen=True)
class ClipSpec:
    """What the caller asked of one song; the engine adds id, audio seed and duration.

    A field left None is written from ``description`` with ``text_seed``, so the
    variations of one request share their words, as on the real service.
    """

    title: str | None
    tags: str | None
    lyrics: str | None
    instrumental: bool
    description: str
    text_seed: int
    # For derived audio: builds the recipe from the fresh song the engine drew for this
    # clip (its seed, duration and style), e.g. an extension's new tail.
    derive: Callable[[Song], Audio] | None = None
    lineage: dict[str, Any] | None = None
    # A seed of the caller's: the song's words, length and sound all come from it, so the
    # same seed always makes the same song (text_seed is the same number then).
    seed: int | None = None


def spec_for(ids: Ids, description: str = "", *, title: str | None = None,
             tags: str | None = None, lyrics: str | None = None, instrumental: bool = False,
             derive: Callable[[Song], Audio] | None = None,
             lineage: dict[str, Any] | None = None, avoid: str | None = None,
             seed: int | None = None) -> ClipSpec:
    """A song request; whatever the caller left out is written from its description.

    ``avoid`` (negative tags) keeps the styles it names out of the song's tags, given or
    written, and so out of the music made from them. ``seed`` fixes the song: its words,
    length and sound (see ClipSpec).
    """
    text_seed = ids.seed32() if seed is None else seed
    if avoid:
        tags = songwriter.tags_from(description, text_seed, avoid) if tags is None \
            else songwriter.without_avoided(tags, avoid)
    return ClipSpec(title, tags, lyrics, instrumental, description, text_seed, derive,
                    lineage, seed)


def draw_clip(ids: Ids, spec: ClipSpec, clip_id: Callable[[], str] | None,
              max_duration: float) -> Clip:
    """The clip made for ``spec``: a length that fits its lyrics (or its seed's), and for
    derived audio the recipe built from it."""
    if spec.instrumental:
        sung = 0
    elif spec.lyrics is None:
        sung = songwriter.WRITTEN_SUNG_LINES
    else:
        sung = songwriter.sung_lines(spec.lyrics)
    fixed = None if spec.seed is None else Ids(spec.seed)
    clip = Clip(clip_id() if clip_id else ids.uuid(),
                ids.seed32() if fixed is None else spec.seed,
                songwriter.duration_for(sung, fixed or ids, max_duration),
                spec.instrumental, spec.description, spec.text_seed, spec.title,
                spec.tags, spec.lyrics, lineage=spec.lineage)
    if spec.derive is not None:
        clip.derived = spec.derive(Song(clip.seed, clip.duration, clip.tags,
                                        clip.instrumental, songwriter.form_of(clip.lyrics)))
        clip.duration = round(clip.derived.duration, 2)
    return clip
