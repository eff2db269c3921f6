"""How a song's tags choose its style, and what each style plays.

One table decides tempo range, groove and instrumentation for every genre, so the parts
a song has (its stems) are known from its tags alone, before any note is planned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..core.recipes import INSTRUMENTS

# Drum patterns as 16th steps within a bar; bass patterns as (onset, length, interval).
DRUMS = {
    "pop": {"kick": (0, 8, 10), "snare": (4, 12), "hat": tuple(range(0, 16, 2))},
    "rock": {"kick": (0, 6, 8, 10), "snare": (4, 12), "hat": tuple(range(0, 16, 2))},
    "metal": {"kick": tuple(range(0, 16, 2)), "snare": (4, 12), "hat": (0, 4, 8, 12)},
    "four": {"kick": (0, 4, 8, 12), "snare": (4, 12), "hat": tuple(range(16)),
             "open": (2, 6, 10, 14)},
    "boom": {"kick": (0, 7, 10), "snare": (4, 12), "hat": tuple(range(0, 16, 2))},
    "soft": {"kick": (0, 8), "snare": (4, 12), "hat": (0, 4, 8, 12)},
    "none": {},
}
BASS = {
    "pop": ((0, 6, 0), (6, 2, 0), (8, 6, 0), (14, 2, 7)),
    "rock": tuple((s, 2, 0) for s in range(0, 16, 2)),
    "metal": tuple((s, 2, 0) for s in range(0, 16, 2)),
    "four": ((2, 2, 0), (6, 2, 0), (10, 2, 0), (14, 2, 12)),
    "boom": ((0, 6, 0), (7, 3, 0), (10, 4, 7)),
    "soft": ((0, 8, 0), (8, 8, 7)),
    "none": ((0, 16, 0),),
}
# Chord hits a bar as (onset, length) in 16ths, by chord instrument.
CHORD_HITS = {
    "pad": ((0, 16),),
    "saw": ((0, 16),),
    "piano": ((0, 8), (8, 8)),
    "skank": ((2, 2), (6, 2), (10, 2), (14, 2)),
    "power": ((0, 6), (6, 2), (8, 6), (14, 2)),
    "chug": tuple((s, 2) for s in range(0, 16, 2)),
}

# The instrument a style's chords are played on, which is the part (and the stem) they
# are separated into: strummed and palm-muted chords are a guitar, a saw lead a synth.
CHORD_PART = {"power": "guitar", "chug": "guitar", "pluck": "guitar", "saw": "synth",
              "pad": "strings", "piano": "keys", "skank": "keys"}


@dataclass(frozen=True)
class Style:
    bpm: tuple[int, int]
    drums: str
    chords: str  # pad | saw | piano | skank | pluck | power | chug
    bright: float  # 0..1, how many harmonics the chords carry
    drive: float = 0.0  # tanh distortion on chords and bass
    swing: float = 0.0  # delay of off-beat 8ths, as a fraction of an 8th
    minor: float = 0.4  # chance of a minor key when the tags do not say
    sevenths: bool = False
    lofi: bool = False  # vinyl crackle and a dulled top end
    pump: bool = False  # side-chain style ducking of the chords on every beat
    riser: bool = False  # a noise swell into each chorus


# First match wins; tokens are compared after tokens() folds spellings together.
_GENRES = (
    ({"metal", "metalcore", "djent", "thrash", "deathcore"},
     Style((128, 150), "metal", "chug", 1.0, drive=4.0, minor=0.9)),
    ({"rock", "punk", "grunge", "hardrock", "indie"},
     Style((108, 142), "rock", "power", 0.8, drive=2.0, minor=0.45)),
    ({"edm", "techno", "house", "trance", "dance", "electronic", "dubstep", "synthwave", "electro",
      "disco"}, Style((120, 132), "four", "saw", 0.9, minor=0.5, pump=True, riser=True)),
    ({"ambient", "meditation", "sleep", "drone", "classical", "orchestral", "cinematic"},
     Style((70, 82), "none", "pad", 0.3, minor=0.5)),
    ({"lofi", "chillhop", "chill", "chillout"},
     Style((70, 88), "boom", "piano", 0.25, swing=0.22, minor=0.5, sevenths=True, lofi=True)),
    ({"hiphop", "rap", "trap", "boombap", "rnb"},
     Style((82, 98), "boom", "piano", 0.5, swing=0.12, minor=0.6, sevenths=True)),
    ({"reggae", "ska", "dub"}, Style((72, 90), "soft", "skank", 0.5, minor=0.3)),
    ({"jazz", "blues", "soul", "funk", "swing"},
     Style((90, 128), "soft", "piano", 0.5, swing=0.3, minor=0.4, sevenths=True)),
    ({"ballad", "acoustic", "folk", "country", "singer", "songwriter", "romantic"},
     Style((76, 108), "soft", "pluck", 0.55, minor=0.35)),
)
_DEFAULT = Style((96, 126), "pop", "pad", 0.6)
MINOR_WORDS = {"sad", "dark", "melancholic", "melancholy", "minor", "gloomy", "moody", "somber",
               "sombre", "gothic", "emo", "haunting", "tragic", "angry", "sorrow"}
MAJOR_WORDS = {"happy", "upbeat", "major", "cheerful", "sunny", "joyful", "uplifting", "summer",
               "bright", "fun"}
FAST_WORDS = {"fast", "energetic", "upbeat", "hyper", "aggressive", "intense", "heavy"}
SLOW_WORDS = {"slow", "calm", "relaxing", "mellow", "slowed", "dreamy", "soft", "lullaby"}


def tokens(tags: str) -> frozenset[str]:
    t = tags.lower()
    t = re.sub(r"lo[\s_-]?fi", "lofi", t)
    t = re.sub(r"hip[\s_-]?hop", "hiphop", t)
    t = re.sub(r"r\s*&\s*b", "rnb", t)
    t = re.sub(r"hard[\s_-]rock", "hardrock", t)
    return frozenset(re.findall(r"\w+", t))


def style_for(words: frozenset[str]) -> Style:
    style = next((s for keys, s in _GENRES if keys & words), _DEFAULT)
    if "piano" in words or "keys" in words:
        style = replace(style, chords="piano")
    elif "guitar" in words and style.chords not in ("power", "chug"):
        style = replace(style, chords="pluck")
    elif words & {"synth", "synthesizer", "strings", "violin", "pad"}:
        synth = bool(words & {"synth", "synthesizer"})
        style = replace(style, chords="saw" if synth else "pad")
    return style


def song_parts(tags: str, instrumental: bool) -> tuple[str, ...]:
    """The parts a song of these tags has, from its style alone, without rendering.

    A part is named when the style plays it; a song shorter than a verse can end before
    an occasional one (the riser into the first chorus) sounds.
    """
    style = style_for(tokens(tags))
    has = {CHORD_PART[style.chords], "bass"}
    if not instrumental:
        has |= {"vocals", "backing_vocals"}
    if DRUMS[style.drums]:
        has |= {"drums", "percussion"}
    if style.lofi or style.riser:
        has.add("fx")
    return tuple(part for part in INSTRUMENTS if part in has)
