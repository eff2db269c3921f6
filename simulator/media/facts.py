"""Facts about a recipe's audio that the dialects report: the score, lyric timing, waveform.

Clients check these against the audio (a karaoke view against the vocals, a MIDI file
against the song), so they come from the same note events the audio is rendered from
and from the rendered samples themselves, carried through every derivation.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from ..core.recipes import (INSTRUMENTS, Audio, Concat, Excerpt, Extension, Infill, Mashup,
                            Overlay, Remaster, Song, Speech, Stem)
from .audio import song_events
from .dsp import SAMPLE_RATE
from .render import parts_of, render, samples, stem_parts

_ORDER = {part: i for i, part in enumerate(INSTRUMENTS)}


@dataclass(frozen=True, slots=True)
class Note:
    instrument: str  # the part that plays it
    pitch: int  # MIDI; drums use General MIDI percussion keys
    start: float  # seconds from the start of the recipe's audio
    end: float
    velocity: float  # 0..1


def _at(seconds: float) -> float:
    """A time snapped to the sample grid the audio is cut on."""
    return samples(seconds) / SAMPLE_RATE


def _cut(notes, lo: float, hi: float, shift: float = 0.0) -> list[Note]:
    """The parts of notes sounding in [lo, hi), moved by shift."""
    out = []
    for note in notes:
        start, end = max(note.start, lo), min(note.end, hi)
        if end > start:
            out.append(replace(note, start=start + shift, end=end + shift))
    return out


def score(recipe: Audio) -> list[Note]:
    """The notes the recipe's audio plays, ordered by start time, then part and pitch."""
    return list(_score(recipe))


@lru_cache(maxsize=256)
def _score(recipe: Audio) -> tuple[Note, ...]:
    # Shifting by rounded offsets can land a hair outside the audio; keep inside it.
    notes = _cut(_notes(recipe), 0.0, recipe.duration)
    notes.sort(key=lambda n: (n.start, _ORDER[n.instrument], n.pitch))
    return tuple(notes)


def _notes(recipe: Audio) -> list[Note]:
    if isinstance(recipe, Song):
        return [Note(*event) for event in song_events(recipe.seed, recipe.duration, recipe.tags,
                                                      recipe.instrumental, form=recipe.form)]
    if isinstance(recipe, Speech):
        return []  # speech glides; it plays no notes
    end = _at(recipe.duration)
    if isinstance(recipe, Extension):
        cut = _at(max(0.0, recipe.continue_at))
        return (_cut(_score(recipe.source), 0.0, cut)
                + _cut(_score(recipe.tail), 0.0, end - cut, cut))
    if isinstance(recipe, Concat):
        out, pos = [], 0.0
        for part in recipe.parts:
            length = _at(part.duration)
            out += _cut(_score(part), 0.0, length, pos)
            pos += length
        return out
    if isinstance(recipe, Excerpt):
        start = _at(recipe.start)
        return _cut(_score(recipe.source), start, start + end, -start)
    if isinstance(recipe, Stem):
        keep = stem_parts(recipe.part)
        return [n for n in _score(recipe.source) if n.instrument in keep]
    if isinstance(recipe, Infill):
        lo = min(end, max(0.0, _at(recipe.start)))
        hi = min(end, max(lo, _at(recipe.end)))
        source = _score(recipe.source)
        return (_cut(source, 0.0, lo) + _cut(_score(recipe.fill), 0.0, hi - lo, lo)
                + _cut(source, hi, end))
    if isinstance(recipe, Overlay):
        at = _at(recipe.at)
        return list(_score(recipe.base)) + _cut(_score(recipe.layer), -at, end - at, at)
    if isinstance(recipe, Mashup):
        scale = 1.0 / len(recipe.parts)
        return [replace(n, velocity=n.velocity * scale)
                for part in recipe.parts for n in _score(part)]
    if isinstance(recipe, Remaster):
        return list(_score(recipe.source))
    raise TypeError(f"not a recipe: {recipe!r}")


# --- lyrics --------------------------------------------------------------------------

_TOKEN = re.compile(r"\[[^\]\n]*\]\s*|\S+\s*")
_MARKER = re.compile(r"\[[^\]\n]*\]")
_VOWELS = re.compile(r"[aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿ]+", re.IGNORECASE)


def lyric_words(lyrics: str) -> list[str]:
    """The words as the provider reports them: trailing space or newline kept, each
    section marker ("[Verse]\\n") glued to the word after it."""
    words: list[str] = []
    pending = ""
    for match in _TOKEN.finditer(lyrics.lstrip()):
        token = match.group()
        if _MARKER.fullmatch(token.rstrip()):
            pending += token
        else:
            words.append(pending + token)
            pending = ""
    if pending and words:
        words[-1] += pending
    return words


def _syllables(word: str) -> int:
    text = _MARKER.sub("", word)
    wide = sum(1 for ch in text if ord(ch) >= 0x3000)  # CJK and kana: a syllable a glyph
    return max(1, len(_VOWELS.findall(text)) + wide)


def _slots(notes: list[Note]) -> list[tuple[float, float]]:
    """The stretches the vocal part sings, overlapping notes merged."""
    out: list[list[float]] = []
    for note in sorted(notes, key=lambda n: (n.start, n.end)):
        if out and note.start < out[-1][1]:
            out[-1][1] = max(out[-1][1], note.end)
        else:
            out.append([note.start, note.end])
    return [(a, b) for a, b in out]


def aligned_words(recipe: Audio, lyrics: str) -> list[dict]:
    """Each lyric word with the time it is sung, spread over the vocal notes in order.

    Syllables are shared out evenly over the sung notes, a word spanning its syllables'
    share; a word's time is the notes (or slices of notes) it falls on, so it starts and
    ends where the voice does. Empty when nothing is sung or there are no words.
    """
    words = lyric_words(lyrics or "")
    slots = _slots([n for n in _score(recipe) if n.instrument == "vocals"])
    if not words or not slots:
        return []
    counts = [_syllables(w) for w in words]
    total = sum(counts)
    v = len(slots)

    def begin(x: float) -> float:
        k = min(int(math.floor(x)), v - 1)
        a, b = slots[k]
        return a + (x - k) * (b - a)

    def finish(x: float) -> float:
        k = max(int(math.ceil(x)) - 1, 0)
        a, b = slots[k]
        return a + (x - k) * (b - a)

    spans, done = [], 0
    for count in counts:
        x0, x1 = v * done / total, v * (done + count) / total
        spans.append((begin(x0), finish(x1)))
        done += count
    rounded = [(round(a, 3), round(b, 3)) for a, b in spans]
    if all(a < b for a, b in rounded):
        spans = rounded
    out = []
    for i, (word, count, (start, end)) in enumerate(zip(words, counts, spans)):
        sure = 0.88 + 0.119 * (zlib.crc32(f"{i}:{word}".encode()) % 1000) / 999
        pace = min(1.0, (end - start) / count / 0.12)  # crammed syllables align worse
        out.append({"word": word, "success": True, "start_s": start, "end_s": end,
                    "p_align": round(sure * (0.4 + 0.6 * pace), 3)})
    return out


def aligned_lines(words: list[dict]) -> list[dict]:
    """The aligned words grouped into the lyric's lines: a line ends with the word that
    ends with a newline; section markers are left out."""
    lines: list[list[dict]] = [[]]
    for word in words:
        raw = word["word"]
        lines[-1].append({"text": raw.strip().split("\n")[-1].strip(),
                          "start_s": word["start_s"], "end_s": word["end_s"],
                          "success": word["success"], "p_align": word["p_align"]})
        if raw.endswith("\n"):
            lines.append([])
    return [{"text": " ".join(w["text"] for w in line), "start_s": line[0]["start_s"],
             "end_s": line[-1]["end_s"], "words": line} for line in lines if line]


def lrc(pieces: list[tuple[Audio, str, float, float]]) -> str:
    """Lyrics as an LRC file, each line stamped ``[mm:ss.xx]`` with when it is sung.

    A song made of parts (an extension chain) is given as ``(audio the words are sung
    in, its lyrics, where that audio starts in the song, where the part ends)``: each
    part's words are aligned to its own voice, and only the lines heard are kept.
    """
    def stamp(seconds: float) -> str:
        centis = round(seconds * 100)
        return f"[{centis // 6000:02d}:{centis // 100 % 60:02d}.{centis % 100:02d}]"
    out = []
    for sung, lyrics, offset, until in pieces:
        for line in aligned_lines(aligned_words(sung, lyrics)):
            if offset + line["start_s"] < until:
                out.append(f"{stamp(offset + line['start_s'])}{line['text']}\n")
    return "".join(out)


# --- waveform ------------------------------------------------------------------------


def waveform(recipe: Audio, points: int = 200) -> list[float]:
    """The peak level of the rendered audio over `points` equal stretches, each 0..1."""
    if points < 1:
        raise ValueError(f"points must be at least 1, not {points}")
    x = np.abs(render(recipe))
    if len(x) == 0:
        return [0.0] * points
    starts = (np.arange(points, dtype=np.int64) * len(x)) // points
    peaks = np.maximum.reduceat(x, starts)
    return [round(min(1.0, float(p)), 5) for p in peaks]


def waveform_aggregates(wave: list[float]) -> list[dict]:
    """Suno's vox ``waveform_aggregates``: 16-bit peak pairs at two zoom levels."""
    peaks = [round(v * 32767) for v in wave]
    return [{"data": [[-p, p] for p in peaks[i::8]], "mip_map_level": 11 + i} for i in range(2)]


# --- the reports the dialects share ------------------------------------------------------

# General MIDI names for the parts, as Suno's MIDI export labels its instruments.
MIDI_NAMES = {
    "vocals": "Lead Vocals", "backing_vocals": "Choir Aahs", "drums": "Drums",
    "percussion": "Percussion", "bass": "Electric Bass (finger)",
    "guitar": "Electric Guitar (clean)", "keys": "Acoustic Grand Piano",
    "strings": "String Ensembles 1", "synth": "Lead 2 (sawtooth)", "fx": "Pad 2 (warm)",
}


def midi_instruments(recipe: Audio) -> list[dict]:
    """The score grouped by instrument: ``[{name, notes: [{pitch, start, end, velocity}]}]``."""
    instruments: dict[str, list[dict]] = {}
    for note in score(recipe):
        instruments.setdefault(MIDI_NAMES.get(note.instrument, note.instrument), []).append(
            {"pitch": note.pitch, "start": round(note.start, 5), "end": round(note.end, 5),
             "velocity": round(note.velocity, 5)})
    return [{"name": name, "notes": notes} for name, notes in instruments.items()]


def timing(recipe: Audio, lyrics: str) -> dict:
    """Suno's aligned-lyrics answer: the words, the waveform and the share of words the
    aligner was unsure of (``hoot_cer``)."""
    words = aligned_words(recipe, lyrics)
    unsure = sum(1 for w in words if w["p_align"] < 0.5)
    return {"aligned_words": words, "waveform_data": waveform(recipe),
            "hoot_cer": round(unsure / len(words), 4) if words else 0.0}


def song_sheet(recipe: Audio, lyrics: str, points: int = 400) -> dict:
    """What a player shows beside the audio: the lyric lines with the times they are
    sung, the waveform, and the parts the song can be split into (its stems)."""
    return {"duration": recipe.duration, "lines": aligned_lines(aligned_words(recipe, lyrics)),
            "waveform": waveform(recipe, points), "parts": list(parts_of(recipe))}
