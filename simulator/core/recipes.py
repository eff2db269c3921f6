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


# -- recipes as JSON ------------------------------------------------------------------------
# A state file keeps each derived clip's recipe, since the clip's audio is made from it.
# A recipe is written as a list of nodes, each naming earlier ones by index, the last
# being the whole: a chain of extensions nests one level per link, and as a tree it
# would soon pass the nesting bound a JSON body is held to. Shared parts are written
# once. RECIPE_FORMAT is bumped when a kind's fields change; a reader refuses any other.
RECIPE_FORMAT = 1
# The longest a read recipe may last, and any time in it: what a media link renders on
# request is bounded by what was loaded.
LONGEST_RECIPE = 6 * 3600.0
SEED_MAX = 2 ** 32 - 1  # every seed a recipe holds is drawn as 32 bits

# Each kind's fields, in its dataclass's order: "audio" names another node, "audios" a
# list of them, "song" a node that must be a Song; the rest are plain JSON values.
_FIELDS: dict[str, tuple[type, tuple[tuple[str, str], ...]]] = {
    "song": (Song, (("seed", "int"), ("duration", "number"), ("tags", "str"),
                    ("instrumental", "bool"), ("form", "strs"))),
    "speech": (Speech, (("text", "str"), ("seed", "int"))),
    "extension": (Extension, (("source", "audio"), ("continue_at", "number"),
                              ("tail", "song"))),
    "concat": (Concat, (("parts", "audios"),)),
    "excerpt": (Excerpt, (("source", "audio"), ("start", "number"), ("end", "number"))),
    "stem": (Stem, (("source", "audio"), ("part", "str"))),
    "infill": (Infill, (("source", "audio"), ("start", "number"), ("end", "number"),
                        ("fill", "audio"))),
    "overlay": (Overlay, (("base", "audio"), ("layer", "audio"), ("at", "number"))),
    "mashup": (Mashup, (("parts", "audios"),)),
    "remaster": (Remaster, (("source", "audio"),)),
}
_KIND_OF = {cls: kind for kind, (cls, _) in _FIELDS.items()}
_PLAIN = {"int": int, "number": (int, float), "str": str, "bool": bool}

# A new kind of recipe that is not given a written form here would be lost from every
# state file: refuse to start instead.
if set(_KIND_OF) != set(Audio.__args__) or any(
        tuple(name for name, _ in fields) != cls.__slots__
        for cls, fields in _FIELDS.values()):
    raise TypeError("recipes._FIELDS must list every Audio kind with all its fields")


class RecipeError(ValueError):
    """A written recipe that cannot be read; ``param`` names the member at fault, from
    the recipe down (``nodes.2.source``)."""

    def __init__(self, message: str, param: str):
        super().__init__(f"{param}: {message}")
        self.param = param


def dump_recipe(recipe: Audio) -> dict:
    """``recipe`` as JSON: ``{"format": RECIPE_FORMAT, "nodes": [...]}``."""
    nodes: list[dict] = []
    written: dict[Audio, int] = {}

    def node(audio: Audio) -> int:
        if audio in written:
            return written[audio]
        kind = _KIND_OF[type(audio)]
        out: dict = {"kind": kind}
        for name, sort in _FIELDS[kind][1]:
            value = getattr(audio, name)
            if sort in ("audio", "song"):
                value = node(value)
            elif sort == "audios":
                value = [node(part) for part in value]
            elif sort == "strs":
                value = list(value)
            out[name] = value
        written[audio] = len(nodes)
        nodes.append(out)
        return written[audio]

    node(recipe)
    return {"format": RECIPE_FORMAT, "nodes": nodes}


def load_recipe(data: dict) -> Audio:
    """The recipe ``dump_recipe`` wrote, checked node by node (RecipeError)."""
    if data.get("format") != RECIPE_FORMAT:
        raise RecipeError(f"must be {RECIPE_FORMAT} (this simulator's recipe format)",
                          "format")
    made: list[Audio] = []
    nodes = data.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        raise RecipeError("must be a non-empty list", "nodes")
    for index, node in enumerate(nodes):
        where = f"nodes.{index}"
        if not isinstance(node, dict) or node.get("kind") not in _FIELDS:
            raise RecipeError(f"kind must be one of {', '.join(_FIELDS)}", f"{where}.kind")
        cls, fields = _FIELDS[node["kind"]]
        unknown = sorted(set(node) - {"kind", *(name for name, _ in fields)})
        if unknown:
            raise RecipeError(f"a {node['kind']} node has no {unknown[0]}",
                              f"{where}.{unknown[0]}")
        values = [_field(node, name, sort, made, f"{where}.{name}") for name, sort in fields]
        audio = cls(*values)
        if not 0 <= audio.duration <= LONGEST_RECIPE:
            raise RecipeError(f"lasts {audio.duration} s; a recipe lasts 0 to "
                              f"{LONGEST_RECIPE:g} s", where)
        made.append(audio)
    return made[-1]


def _field(node: dict, name: str, sort: str, made: list[Audio], where: str):
    if name not in node:
        raise RecipeError("is required", where)
    value = node[name]

    def earlier(ref, at: str) -> Audio:
        if type(ref) is not int or not 0 <= ref < len(made):
            raise RecipeError("must be the index of an earlier node" if made else
                              "must be the index of an earlier node, and none comes "
                              "before this one", at)
        return made[ref]

    if sort == "audio":
        return earlier(value, where)
    if sort == "song":
        song = earlier(value, where)
        if not isinstance(song, Song):
            raise RecipeError("must name a song node", where)
        return song
    if sort == "audios":
        if not isinstance(value, list) or not value:
            raise RecipeError("must be a non-empty list of node indices", where)
        return tuple(earlier(ref, f"{where}.{i}") for i, ref in enumerate(value))
    if sort == "strs":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RecipeError("must be a list of strings", where)
        return tuple(value)
    if not isinstance(value, _PLAIN[sort]) or (sort != "bool" and isinstance(value, bool)):
        raise RecipeError(f"must be a {'number' if sort == 'number' else sort}", where)
    if sort == "number" and not 0 <= value <= LONGEST_RECIPE:
        raise RecipeError(f"must be from 0 to {LONGEST_RECIPE:g} seconds", where)
    if sort == "int" and not 0 <= value <= SEED_MAX:
        raise RecipeError(f"must be from 0 to {SEED_MAX}", where)
    return value
