"""Titles, style tags, lyrics and lengths for songs the caller did not spell out.

Simple and inspiration modes hand the service only a description; the core writes the
rest from it. Each writer is a pure function of (description, seed), so a song keeps
only the seed and its words are written when first read, identically every time.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache

from .ids import Ids

GENRES = ("pop", "rock", "jazz", "classical", "electronic", "hip-hop", "r&b", "country", "folk",
          "lo-fi", "ambient", "metal", "blues", "funk", "soul", "reggae", "edm", "indie", "synthwave")
MOODS = ("happy", "sad", "energetic", "calm", "romantic", "dark", "uplifting", "dreamy", "melancholic")
INSTRUMENTS = ("piano", "guitar", "drums", "bass", "violin", "saxophone", "synthesizer", "strings")
_WORDS = ("light", "night", "road", "heart", "fire", "dream", "sky", "city", "river", "home",
          "summer", "rain", "stars", "morning", "echo", "shadow", "gold", "ocean", "wind", "time")
_STOP = {"a", "an", "the", "and", "or", "of", "about", "with", "for", "to", "in", "on", "song",
         "music", "track", "my", "your", "is", "it", "that", "this", "at", "by"}


def words_of(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-zA-Z']+", text.lower()) if w not in _STOP and len(w) > 2]


@lru_cache(maxsize=4096)
def title_from(prompt: str, seed: int) -> str:
    rng = random.Random(seed)
    words = words_of(prompt) or [rng.choice(_WORDS), rng.choice(_WORDS)]
    picked = words[:3] if len(words) <= 3 else [words[0], rng.choice(words[1:])]
    return " ".join(w.capitalize() for w in picked)[:80]


_STYLE_ORDER = GENRES + MOODS + INSTRUMENTS
_STYLE_WORDS = re.compile("|".join(re.escape(w) for w in sorted(_STYLE_ORDER, key=len, reverse=True)))


@lru_cache(maxsize=4096)
def tags_from(prompt: str, seed: int, avoid: str = "") -> str:
    """Style tags for a description: the styles it mentions, plus a genre and a mood when
    it names none; nothing that ``avoid`` (negative tags) rules out."""
    rng = random.Random(seed)
    banned = _banned(avoid)
    mentioned = set(_STYLE_WORDS.findall(prompt.lower()))
    found = [w for w in _STYLE_ORDER if w in mentioned and not _hits(w, banned)]
    if not any(w in GENRES for w in found):
        found.insert(0, rng.choice(_allowed(GENRES, banned)))
    if not any(w in MOODS for w in found):
        found.append(rng.choice(_allowed(MOODS, banned)))
    return ", ".join(found)


def without_avoided(tags: str, avoid: str) -> str:
    """Given style tags less every tag a negative tag rules out."""
    banned = _banned(avoid)
    return ", ".join(t.strip() for t in tags.split(",") if t.strip() and not _hits(t, banned))


def _banned(avoid: str) -> frozenset[str]:
    """The words negative tags rule out: "heavy metal, screaming" bans any tag with
    "heavy", "metal" or "screaming" in it."""
    return frozenset(re.findall(r"[a-z]+", avoid.lower())) - _STOP


def _hits(tag: str, banned: frozenset[str]) -> bool:
    return not banned.isdisjoint(re.findall(r"[a-z]+", tag.lower()))


def _allowed(choices: tuple[str, ...], banned: frozenset[str]) -> tuple[str, ...]:
    return tuple(c for c in choices if not _hits(c, banned)) or choices if banned else choices


_SECTIONS = (("Verse 1", 4), ("Chorus", 0), ("Verse 2", 4), ("Chorus", 0), ("Bridge", 2),
             ("Chorus", 0))
_CHORUS_LINES = 4
# Lines sung in a written song: every section's own lines, the chorus each time it comes.
WRITTEN_SUNG_LINES = sum(n or _CHORUS_LINES for _, n in _SECTIONS)


@lru_cache(maxsize=1024)
def lyrics_from(prompt: str, seed: int) -> str:
    rng = random.Random(seed)
    pool = words_of(prompt) + list(_WORDS)
    count = _CHORUS_LINES + sum(n for _, n in _SECTIONS)
    picks = iter(rng.choices(pool, k=2 * count))
    ends = iter(rng.choices(_WORDS, k=count))
    lines = [f"{next(picks).capitalize()} and {next(picks)} under the {next(ends)}"
             for _ in range(count)]
    chorus, rest = lines[:_CHORUS_LINES], lines[_CHORUS_LINES:]
    sections = []
    for name, length in _SECTIONS:
        body = chorus if name == "Chorus" else rest[:length]
        rest = rest[length:]
        sections.append(f"[{name}]\n" + "\n".join(body))
    return "\n\n".join(sections)


_SUNG_LINE = re.compile(r"^[ \t]*[^\s\[]", re.MULTILINE)  # a line with words, not a [Section] tag


_SECTION_TAG = re.compile(r"^[ \t]*\[([^\]\n]+)\]", re.MULTILINE)
_KINDS = ("pre-chorus", "chorus", "verse", "bridge", "intro", "outro", "hook", "interlude",
          "solo", "breakdown", "drop", "refrain")


@lru_cache(maxsize=1024)  # keyed by whole lyrics: as many as lyrics_from keeps
def form_of(lyrics: str) -> tuple[str, ...]:
    """The song's sections in the order its lyrics mark them ([Verse 2] → "verse",
    [Pre-Chorus] → "pre-chorus", an unknown tag → "verse"), so the music can follow."""
    form = []
    for tag in _SECTION_TAG.findall(lyrics or ""):
        words = tag.lower().replace("_", "-").replace(" ", "-")
        form.append(next((kind for kind in _KINDS if kind in words), "verse"))
    return tuple(form)


def sung_lines(lyrics: str) -> int:
    return len(_SUNG_LINE.findall(lyrics))


def duration_for(sung: int, ids: Ids, max_seconds: float = 240.0) -> float:
    """A song length that fits its lyrics: about four seconds a sung line, 30 s minimum;
    an instrumental (no sung lines) runs one to three minutes."""
    if not sung:
        seconds = ids.uniform(60.0, 180.0)
    else:
        seconds = 20.0 + 4.2 * sung + ids.uniform(-6.0, 12.0)
    return round(min(max_seconds, max(30.0, seconds)), 2)


_SECTION_SPLIT = re.compile(r"\n\s*\n|(?=^\[)", re.MULTILINE)

_TEXTURES = {
    "pop": "glossy hooks over a steady four-on-the-floor pulse",
    "rock": "driving guitars and live drums",
    "jazz": "swung brushes, walking bass and extended chords",
    "classical": "orchestral strings and patient dynamics",
    "electronic": "pulsing synths and a sidechained groove",
    "hip-hop": "punchy boom-bap drums and a deep sub bass",
    "r&b": "smooth keys and a laid-back groove",
    "country": "twangy guitars and a shuffling backbeat",
    "folk": "fingerpicked acoustic guitar and close harmonies",
}


def sections_of(lyrics: str) -> list[str]:
    """A lyric's sections ([Verse], [Chorus], … or blank-line separated stanzas)."""
    return [part.strip() for part in _SECTION_SPLIT.split(lyrics.strip()) if part.strip()]


def mash_lyrics(lyrics_a: str, lyrics_b: str) -> str:
    """Two lyrics woven into one: their sections alternate, A first, nothing dropped."""
    a, b = sections_of(lyrics_a), sections_of(lyrics_b)
    woven = [part for pair in zip(a, b) for part in pair]
    longer = a if len(a) > len(b) else b
    return "\n\n".join(woven + longer[min(len(a), len(b)):])


@lru_cache(maxsize=1024)
def upsample_style(prompt: str, seed: int) -> str:
    """A short style prompt grown into a production description that keeps its words."""
    tags = tags_from(prompt, seed)
    genre = next((g for g in GENRES if g in tags.split(", ")), "pop")
    rng = random.Random(seed)
    instrument = rng.choice(INSTRUMENTS)
    texture = _TEXTURES.get(genre, "a warm, polished mix")
    return (f"{prompt.strip().rstrip('.')}; {tags}, built on {texture}, with {instrument} "
            f"carrying the melody and a wide, modern mix")
