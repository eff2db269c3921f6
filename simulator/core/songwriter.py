"""Titles, style tags, lyrics and lengths for songs the caller did not spell out.

Simple and inspiration modes hand the service only a description; the core writes
the rest from it, deterministically from the seeded generator.
"""

from __future__ import annotations

import re

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


def title_from(prompt: str, ids: Ids) -> str:
    words = words_of(prompt) or [ids.choice(_WORDS), ids.choice(_WORDS)]
    picked = words[:3] if len(words) <= 3 else [words[0], ids.choice(words[1:])]
    return " ".join(w.capitalize() for w in picked)[:80]


def tags_from(prompt: str, ids: Ids) -> str:
    text = prompt.lower()
    found = [g for g in GENRES + MOODS + INSTRUMENTS if g in text]
    if not any(g in found for g in GENRES):
        found.insert(0, ids.choice(GENRES))
    if not any(m in found for m in MOODS):
        found.append(ids.choice(MOODS))
    return ", ".join(dict.fromkeys(found))


_SECTIONS = (("Verse 1", 4), ("Chorus", 0), ("Verse 2", 4), ("Chorus", 0), ("Bridge", 2),
             ("Chorus", 0))
_CHORUS_LINES = 4


def lyrics_from(prompt: str, ids: Ids) -> str:
    pool = words_of(prompt) + list(_WORDS)
    count = _CHORUS_LINES + sum(n for _, n in _SECTIONS)
    picks = iter(ids.rng.choices(pool, k=2 * count))
    ends = iter(ids.rng.choices(_WORDS, k=count))
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


def duration_for(lyrics: str, instrumental: bool, ids: Ids, max_seconds: float = 240.0) -> float:
    """A song length that fits its lyrics: about four seconds a sung line, 30 s minimum."""
    if instrumental or not lyrics.strip():
        seconds = ids.uniform(60.0, 180.0)
    else:
        seconds = 20.0 + 4.2 * len(_SUNG_LINE.findall(lyrics)) + ids.uniform(-6.0, 12.0)
    return round(min(max_seconds, max(30.0, seconds)), 2)
