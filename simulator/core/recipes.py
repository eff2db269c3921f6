"""What a clip's audio is, as a value: a new song, or something made from other clips.

Derived actions (extend, concat, stems, infill, …) must produce what they claim, so a
clip records how its audio is made from its sources instead of a file. The media layer
renders a recipe to samples; the core only needs its duration. Recipes are frozen and
hashable, so they double as cache keys, and they hold their sources by value, so a
recipe renders the same whatever happens to the clips it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Union

# The parts a song can be separated into. Two-way separation gives vocals (lead and
# backing together) and instrumental; the full separation gives one track per
# instrument the song has, where the lead alone is LEAD_VOCALS.
VOCALS, INSTRUMENTAL, LEAD_VOCALS = "vocals", "instrumental", "lead_vocals"
INSTRUMENTS = ("vocals", "backing_vocals", "drums", "percussion", "bass", "guitar", "keys",
               "strings", "synth", "fx")
# The stem of an instrument the synthesizer never plays (a twelve-way separation names
# brass, woodwinds): it takes no part, so it is silence.
SILENT = "silent"


def instrument_stem(instrument: str) -> str:
    """The stem name that takes exactly one instrument of INSTRUMENTS."""
    return LEAD_VOCALS if instrument == "vocals" else instrument  # SILENT stays SILENT


@dataclass(frozen=True, slots=True)
class Song:
    """Newly synthesized music, fully determined by its seed and style."""

    seed: int
    duration: float
    tags: str
    instrumental: bool
    form: tuple[str, ...] = ()  # the sections its lyrics mark, in order; () for the usual


# Speech is laid out syllable by syllable: a vowel group of a word is a syllable.
SYLLABLE_S, WORD_GAP_S, PAUSE_S, LEAD_S = 0.16, 0.06, 0.32, 0.15
_WORD = re.compile(r"[^\W_]+|[.,;:!?…]", re.UNICODE)
_VOWEL_GROUP = re.compile(r"[aeiouyàáâäèéêëìíîïòóôöùúûü]+", re.IGNORECASE)


@lru_cache(maxsize=1024)
def speech_plan(text: str) -> tuple[tuple[float, float, str], ...]:
    """Where each spoken syllable falls: (start, seconds, its vowels); a sentence's
    punctuation is a pause. The core reads a speech clip's length from it without
    rendering; the media layer voices the same plan."""
    at, plan = LEAD_S, []
    for token in _WORD.findall(text):
        if not token[0].isalnum():
            at += PAUSE_S
            continue
        groups = _VOWEL_GROUP.findall(token) or [token[:1]]
        for vowels in groups:
            plan.append((round(at, 3), SYLLABLE_S, vowels.lower()))
            at += SYLLABLE_S
        at += WORD_GAP_S
    return tuple(plan)


@dataclass(frozen=True, slots=True)
class Speech:
    """``text`` read aloud by one voice (seeded): text-to-speech."""

    text: str
    seed: int

    @property
    def duration(self) -> float:
        plan = speech_plan(self.text)
        end = plan[-1][0] + plan[-1][1] if plan else 0.0
        return round(max(1.0, end + LEAD_S), 3)


@dataclass(frozen=True, slots=True)
class Extension:
    """The source up to ``continue_at``, then new music in the source's style."""

    source: "Audio"
    continue_at: float
    tail: Song

    @property
    def duration(self) -> float:
        return self.continue_at + self.tail.duration


@dataclass(frozen=True, slots=True)
class Concat:
    """Parts played one after another."""

    parts: tuple["Audio", ...]

    @property
    def duration(self) -> float:
        return sum(part.duration for part in self.parts)


@dataclass(frozen=True, slots=True)
class Excerpt:
    """The source between ``start`` and ``end`` seconds."""

    source: "Audio"
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Stem:
    """One separated part of a source: ``vocals``, ``instrumental`` or an instrument."""

    source: "Audio"
    part: str

    @property
    def duration(self) -> float:
        return self.source.duration


@dataclass(frozen=True, slots=True)
class Infill:
    """The source with ``[start, end)`` replaced by ``fill`` (which lasts end − start)."""

    source: "Audio"
    start: float
    end: float
    fill: "Audio"

    @property
    def duration(self) -> float:
        return self.source.duration


@dataclass(frozen=True, slots=True)
class Overlay:
    """The base with ``layer`` mixed in from ``at`` seconds (cut to the base's length)."""

    base: "Audio"
    layer: "Audio"
    at: float = 0.0

    @property
    def duration(self) -> float:
        return self.base.duration


@dataclass(frozen=True, slots=True)
class Mashup:
    """Several sources mixed together, as long as the longest."""

    parts: tuple["Audio", ...]

    @property
    def duration(self) -> float:
        return max(part.duration for part in self.parts)


@dataclass(frozen=True, slots=True)
class Remaster:
    """The source, mastered again: same music, louder and brighter."""

    source: "Audio"

    @property
    def duration(self) -> float:
        return self.source.duration


Audio = Union[Song, Speech, Extension, Concat, Excerpt, Stem, Infill, Overlay, Mashup,
              Remaster]


def _same(self: Audio, memo: dict) -> Audio:
    return self


# A recipe is an immutable value: a store that hands out copies of tasks shares it.
for _kind in (Song, Speech, Extension, Concat, Excerpt, Stem, Infill, Overlay, Mashup, Remaster):
    _kind.__deepcopy__ = _same
