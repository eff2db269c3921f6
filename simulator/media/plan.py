"""A song's musical plan: tempo, key, chord progressions, voicings and melodies.

Every choice the seed and tags make is taken here, before any sample exists, so the
score a dialect reports and the audio it serves come from the same decisions, and the
score costs no rendering.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace

import numpy as np

from .dsp import VOWELS
from .styles import FAST_WORDS, MAJOR_WORDS, MINOR_WORDS, SLOW_WORDS, Style, style_for, tokens

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
# Four-chord loops as scale degrees (0 = tonic), one chord a bar.
_MAJOR_PROGS = ((0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4), (3, 4, 0, 0), (0, 3, 0, 4), (3, 0, 4, 5))
_MINOR_PROGS = ((0, 5, 2, 6), (0, 3, 6, 2), (0, 6, 5, 6), (0, 3, 4, 0), (5, 6, 0, 0), (0, 5, 3, 4))

# One bar of melody rhythm as (onset, length) in 16ths; endings leave room to breathe.
_CELLS = (
    ((0, 4), (4, 4), (8, 4), (12, 4)),
    ((0, 6), (6, 2), (8, 8)),
    ((0, 2), (2, 2), (4, 4), (8, 4), (12, 4)),
    ((0, 3), (3, 3), (6, 2), (8, 6), (14, 2)),
    ((2, 2), (4, 4), (8, 2), (10, 2), (12, 4)),
    ((0, 8), (8, 4), (12, 4)),
    ((0, 4), (6, 2), (8, 4), (12, 2), (14, 2)),
)
_SLOW_CELLS = (((0, 8), (8, 8)), ((0, 12), (12, 4)), ((0, 6), (6, 2), (8, 8)))
_ENDINGS = (((0, 12),), ((0, 4), (4, 10)), ((0, 6), (6, 10)))


@dataclass(frozen=True)
class Note:
    step: int  # onset, in 16ths from the start of its section
    length: int  # in 16ths
    degree: int  # scale degree above the melody tonic
    vowel: int


@dataclass
class Plan:
    """Everything about a song decided before any sample is rendered."""

    sr: int
    style: Style
    bpm: int
    step: int  # samples per 16th
    swing: int  # samples the off-beat 8ths are late by
    tonic: int  # MIDI note of the melody's tonic
    scale: tuple[int, ...]
    progs: dict[str, tuple[int, ...]]
    melodies: dict[str, list[Note]]
    kit_seed: np.random.SeedSequence  # the drum kit's noise
    detail_seed: int  # drum velocities and vinyl crackle

    @property
    def bar(self) -> int:
        return 16 * self.step

    def midi(self, degree: int, base: int) -> int:
        return base + 12 * (degree // 7) + self.scale[degree % 7]

    def voicing(self, degree: int) -> tuple[int, ...]:
        """The chord on a degree as played on keys and pads: close, around middle C."""
        degrees = (0, 2, 4, 6) if self.style.sevenths else (0, 2, 4)
        notes = []
        for d in degrees:
            m = self.midi(degree + d, self.tonic)
            while m >= 66:
                m -= 12
            while m < 54:
                m += 12
            notes.append(m)
        return tuple(sorted(notes))

    def chord_pitches(self, degree: int) -> tuple[int, ...]:
        """The chord on a degree as the style plays it: a low power chord on guitars."""
        if self.style.chords in ("power", "chug"):
            root = self.midi(degree, self.tonic - 12)
            while root >= 52:
                root -= 12
            return (root, root + 7, root + 12)
        return self.voicing(degree)

    def arpeggio(self, degree: int) -> list[int]:
        v = self.voicing(degree)
        up = [v[0] - 12, *v, v[0] + 12]
        return (up + up[-2:0:-1])[:8]


def plan_song(seed: int, tags: str, sr: int) -> Plan:
    words = tokens(tags)
    tag_key = zlib.crc32(" ".join(sorted(words)).encode())
    seq = np.random.SeedSequence([seed % (1 << 128), tag_key])
    key_seed, mel_seed, kit_seed, vel_seed = seq.spawn(4)
    key_rng, mel_rng = np.random.default_rng(key_seed), np.random.default_rng(mel_seed)
    style = style_for(words)

    lo, hi = style.bpm
    bpm = lo + key_rng.random() * (hi - lo)
    bpm += 12 * (bool(words & FAST_WORDS) - bool(words & SLOW_WORDS))
    bpm = int(round(min(150.0, max(70.0, bpm))))
    if words & MINOR_WORDS:
        minor = True
    elif words & MAJOR_WORDS:
        minor = False
    else:
        minor = bool(key_rng.random() < style.minor)
    if "dark" in words:
        style = replace(style, bright=style.bright * 0.7)
    tonic = 53 + int(key_rng.integers(12))  # F3..E4
    progs_all = _MINOR_PROGS if minor else _MAJOR_PROGS
    order = key_rng.permutation(len(progs_all))
    progs = {"verse": progs_all[order[0]], "chorus": progs_all[order[1]],
             "bridge": progs_all[order[2]]}

    step = max(1, round(sr * 60.0 / bpm / 4))
    return Plan(sr=sr, style=style, bpm=bpm, step=step, swing=round(style.swing * 2 * step),
                tonic=tonic, scale=MINOR if minor else MAJOR, progs=progs,
                melodies=_melodies(mel_rng, progs, slow=style.drums == "none"),
                kit_seed=kit_seed,
                detail_seed=int(np.random.default_rng(vel_seed).integers(1 << 62)))


def _rhythm(rng: np.random.Generator, slow: bool) -> list[tuple[int, int]]:
    """A 4-bar phrase rhythm: three bars of cells and a held ending."""
    cells = _SLOW_CELLS if slow else _CELLS
    out = []
    for bar in range(3):
        out += [(bar * 16 + o, n) for o, n in cells[rng.integers(len(cells))]]
    out += [(48 + o, n) for o, n in _ENDINGS[rng.integers(len(_ENDINGS))]]
    return out


def _phrase(rng, rhythm, prog, lo, hi, degree, offset=0):
    """Pitches for a rhythm: chord tones on strong beats, steps between, resolving home."""
    notes = []
    for i, (s, n) in enumerate(rhythm):
        chord = prog[(s // 16) % 4]
        if i == len(rhythm) - 1:
            tones = [d for d in range(lo, hi + 1) if (d - chord) % 7 in (0, 2)]
            degree = min(tones, key=lambda d: (abs(d - degree), d))
        elif s % 8 == 0:
            tones = [d for d in range(lo, hi + 1) if (d - chord) % 7 in (0, 2, 4)]
            near = [d for d in tones if abs(d - degree) <= 3] or tones
            degree = int(near[rng.integers(len(near))])
        else:
            degree += (-2, -1, -1, 1, 1, 2)[rng.integers(6)]
            degree = lo + (lo - degree) if degree < lo else degree
            degree = hi - (degree - hi) if degree > hi else degree
        notes.append(Note(offset + s, n, int(degree), int(rng.integers(len(VOWELS)))))
    return notes


def _melodies(rng, progs, slow):
    """Lead lines for each section: verses share a rhythm, the chorus repeats its hook."""
    verse_r = _rhythm(rng, slow)
    mels = {}
    for name in ("verse_a", "verse_b"):
        first = _phrase(rng, verse_r, progs["verse"], 0, 9, 2)
        mels[name] = first + _phrase(rng, verse_r, progs["verse"], 0, 9, first[-1].degree, 64)
    chorus_r = _rhythm(rng, slow)
    hook = _phrase(rng, chorus_r, progs["chorus"], 2, 11, 4)
    tail_r = [(s, n) for s, n in chorus_r if s >= 48]
    body = [Note(x.step + 64, x.length, x.degree, x.vowel) for x in hook if x.step < 48]
    start = body[-1].degree if body else 4
    ending = _phrase(rng, tail_r, progs["chorus"], 2, 11, start, 64)
    mels["chorus"] = hook + body + ending
    bridge_r = _rhythm(rng, True)
    first = _phrase(rng, bridge_r, progs["bridge"], 1, 10, 3)
    mels["bridge"] = first + _phrase(rng, bridge_r, progs["bridge"], 1, 10, first[-1].degree, 64)
    return mels
