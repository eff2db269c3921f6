"""Songs as playable MP3s, regenerated from (seed, tags) instead of stored.

Clients and gateways download, sniff, transcode and measure the files a provider links
to, so they must be real music of the advertised length; keeping none of them on disk
means every byte has to come back identical from the same arguments. The song is
built from a few distinct 4- or 8-bar sections (each rendered once, with wavetable
oscillators and cached note renders) laid end to end, which keeps a four-minute song
far below a second of CPU. Each section is planned as note events first, then rendered
part by part (vocals, drums, guitar, …), so separated stems and the score are exact.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass, replace
from functools import lru_cache

import lameenc
import numpy as np

from ..core.recipes import INSTRUMENTS

SAMPLE_RATE = 22050  # MPEG-2 rate: half the synthesis and encoding work of 44.1 kHz
BITRATE_KBPS = 64  # mono at 22.05 kHz keeps a ~10 kHz band clean; 0.48 MB a minute
_LAME_QUALITY = 7  # LAME's "fast" setting: ~4x quicker than 2, inaudible at this rate

# lameenc writes no Xing/LAME tag, so a decoder (and mutagen, which sizes the stream
# from its byte count) sees every frame it emits. Measured for every MPEG rate and
# several bitrates: n input samples come out as ceil(n / F) * F + 1152 samples, F the
# samples per frame (576 below 32 kHz, 1152 from 32 kHz up).
_LAME_EXTRA_SAMPLES = 1152
_MPEG_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

_TABLE_N = 4096
_MASK = _TABLE_N - 1

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
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

# Vowel formants (Hz) that give the lead its sung colour.
_VOWELS = ((730, 1090, 2440), (530, 1840, 2480), (300, 2200, 3000), (570, 840, 2410),
           (320, 870, 2240))

# Drum patterns as 16th steps within a bar; bass patterns as (onset, length, interval).
_DRUMS = {
    "pop": {"kick": (0, 8, 10), "snare": (4, 12), "hat": tuple(range(0, 16, 2))},
    "rock": {"kick": (0, 6, 8, 10), "snare": (4, 12), "hat": tuple(range(0, 16, 2))},
    "metal": {"kick": tuple(range(0, 16, 2)), "snare": (4, 12), "hat": (0, 4, 8, 12)},
    "four": {"kick": (0, 4, 8, 12), "snare": (4, 12), "hat": tuple(range(16)),
             "open": (2, 6, 10, 14)},
    "boom": {"kick": (0, 7, 10), "snare": (4, 12), "hat": tuple(range(0, 16, 2))},
    "soft": {"kick": (0, 8), "snare": (4, 12), "hat": (0, 4, 8, 12)},
    "none": {},
}
_BASS = {
    "pop": ((0, 6, 0), (6, 2, 0), (8, 6, 0), (14, 2, 7)),
    "rock": tuple((s, 2, 0) for s in range(0, 16, 2)),
    "metal": tuple((s, 2, 0) for s in range(0, 16, 2)),
    "four": ((2, 2, 0), (6, 2, 0), (10, 2, 0), (14, 2, 12)),
    "boom": ((0, 6, 0), (7, 3, 0), (10, 4, 7)),
    "soft": ((0, 8, 0), (8, 8, 7)),
    "none": ((0, 16, 0),),
}
# Chord hits a bar as (onset, length) in 16ths, by chord instrument.
_CHORD_HITS = {
    "pad": ((0, 16),),
    "saw": ((0, 16),),
    "piano": ((0, 8), (8, 8)),
    "skank": ((2, 2), (6, 2), (10, 2), (14, 2)),
    "power": ((0, 6), (6, 2), (8, 6), (14, 2)),
    "chug": tuple((s, 2) for s in range(0, 16, 2)),
}


@dataclass(frozen=True)
class _Style:
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


# First match wins; tokens are compared after _tokens() folds spellings together.
_GENRES = (
    ({"metal", "metalcore", "djent", "thrash", "deathcore"},
     _Style((128, 150), "metal", "chug", 1.0, drive=4.0, minor=0.9)),
    ({"rock", "punk", "grunge", "hardrock", "indie"},
     _Style((108, 142), "rock", "power", 0.8, drive=2.0, minor=0.45)),
    ({"edm", "techno", "house", "trance", "dance", "electronic", "dubstep", "synthwave", "electro",
      "disco"}, _Style((120, 132), "four", "saw", 0.9, minor=0.5, pump=True, riser=True)),
    ({"ambient", "meditation", "sleep", "drone", "classical", "orchestral", "cinematic"},
     _Style((70, 82), "none", "pad", 0.3, minor=0.5)),
    ({"lofi", "chillhop", "chill", "chillout"},
     _Style((70, 88), "boom", "piano", 0.25, swing=0.22, minor=0.5, sevenths=True, lofi=True)),
    ({"hiphop", "rap", "trap", "boombap", "rnb"},
     _Style((82, 98), "boom", "piano", 0.5, swing=0.12, minor=0.6, sevenths=True)),
    ({"reggae", "ska", "dub"}, _Style((72, 90), "soft", "skank", 0.5, minor=0.3)),
    ({"jazz", "blues", "soul", "funk", "swing"},
     _Style((90, 128), "soft", "piano", 0.5, swing=0.3, minor=0.4, sevenths=True)),
    ({"ballad", "acoustic", "folk", "country", "singer", "songwriter", "romantic"},
     _Style((76, 108), "soft", "pluck", 0.55, minor=0.35)),
)
_DEFAULT = _Style((96, 126), "pop", "pad", 0.6)
_MINOR_WORDS = {"sad", "dark", "melancholic", "melancholy", "minor", "gloomy", "moody", "somber",
                "sombre", "gothic", "emo", "haunting", "tragic", "angry", "sorrow"}
_MAJOR_WORDS = {"happy", "upbeat", "major", "cheerful", "sunny", "joyful", "uplifting", "summer",
                "bright", "fun"}
_FAST_WORDS = {"fast", "energetic", "upbeat", "hyper", "aggressive", "intense", "heavy"}
_SLOW_WORDS = {"slow", "calm", "relaxing", "mellow", "slowed", "dreamy", "soft", "lullaby"}


def _tokens(tags: str) -> frozenset[str]:
    t = tags.lower()
    t = re.sub(r"lo[\s_-]?fi", "lofi", t)
    t = re.sub(r"hip[\s_-]?hop", "hiphop", t)
    t = re.sub(r"r\s*&\s*b", "rnb", t)
    t = re.sub(r"hard[\s_-]rock", "hardrock", t)
    return frozenset(re.findall(r"\w+", t))


# The instrument a style's chords are played on, which is the part (and the stem) they
# are separated into: strummed and palm-muted chords are a guitar, a saw lead a synth.
CHORD_PART = {"power": "guitar", "chug": "guitar", "pluck": "guitar", "saw": "synth",
              "pad": "strings", "piano": "keys", "skank": "keys"}


def _style_for(words: frozenset[str]) -> _Style:
    style = next((s for keys, s in _GENRES if keys & words), _DEFAULT)
    if "piano" in words or "keys" in words:
        style = replace(style, chords="piano")
    elif "guitar" in words and style.chords not in ("power", "chug"):
        style = replace(style, chords="pluck")
    elif words & {"synth", "synthesizer", "strings", "violin", "pad"}:
        synth = bool(words & {"synth", "synthesizer"})
        style = replace(style, chords="saw" if synth else "pad")
    return style


@dataclass(frozen=True)
class _Note:
    step: int  # onset, in 16ths from the start of its section
    length: int  # in 16ths
    degree: int  # scale degree above the melody tonic
    vowel: int


@dataclass
class _Plan:
    """Everything about a song decided before any sample is rendered."""

    sr: int
    style: _Style
    bpm: int
    step: int  # samples per 16th
    swing: int  # samples the off-beat 8ths are late by
    tonic: int  # MIDI note of the melody's tonic
    scale: tuple[int, ...]
    progs: dict[str, tuple[int, ...]]
    melodies: dict[str, list[_Note]]
    kit: dict[str, np.ndarray]
    detail_seed: int  # drum velocities and vinyl crackle

    @property
    def bar(self) -> int:
        return 16 * self.step

    def midi(self, degree: int, base: int) -> int:
        return base + 12 * (degree // 7) + self.scale[degree % 7]


def _plan(seed: int, tags: str, sr: int) -> _Plan:
    words = _tokens(tags)
    tag_key = zlib.crc32(" ".join(sorted(words)).encode())
    seq = np.random.SeedSequence([seed % (1 << 128), tag_key])
    key_rng, mel_rng, kit_rng, vel_seq = (np.random.default_rng(s) for s in seq.spawn(4))
    style = _style_for(words)

    lo, hi = style.bpm
    bpm = lo + key_rng.random() * (hi - lo)
    bpm += 12 * (bool(words & _FAST_WORDS) - bool(words & _SLOW_WORDS))
    bpm = int(round(min(150.0, max(70.0, bpm))))
    if words & _MINOR_WORDS:
        minor = True
    elif words & _MAJOR_WORDS:
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
    return _Plan(sr=sr, style=style, bpm=bpm, step=step, swing=round(style.swing * 2 * step),
                 tonic=tonic, scale=_MINOR if minor else _MAJOR, progs=progs,
                 melodies=_melodies(mel_rng, progs, slow=style.drums == "none"),
                 kit=_drum_kit(kit_rng, sr, style), detail_seed=int(vel_seq.integers(1 << 62)))


# --- melody -------------------------------------------------------------------------


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
        notes.append(_Note(offset + s, n, int(degree), int(rng.integers(len(_VOWELS)))))
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
    body = [_Note(x.step + 64, x.length, x.degree, x.vowel) for x in hook if x.step < 48]
    start = body[-1].degree if body else 4
    ending = _phrase(rng, tail_r, progs["chorus"], 2, 11, start, 64)
    mels["chorus"] = hook + body + ending
    bridge_r = _rhythm(rng, True)
    first = _phrase(rng, bridge_r, progs["bridge"], 1, 10, 3)
    mels["bridge"] = first + _phrase(rng, bridge_r, progs["bridge"], 1, 10, first[-1].degree, 64)
    return mels


# --- sound sources --------------------------------------------------------------------


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12.0)


def _harmonics(amps) -> np.ndarray:
    spectrum = np.zeros(_TABLE_N // 2 + 1, np.complex128)
    spectrum[1:len(amps) + 1] = -0.5j * _TABLE_N * np.asarray(amps, dtype=np.float64)
    wave = np.fft.irfft(spectrum, _TABLE_N)  # sum of amps[k-1] * sin(k * phase)
    return (wave / np.abs(wave).max()).astype(np.float32)


@lru_cache(maxsize=64)
def _saw(k: int) -> np.ndarray:
    return _harmonics([1.0 / i for i in range(1, k + 1)])


@lru_cache(maxsize=16)
def _mellow(k: int) -> np.ndarray:
    return _harmonics([1.0, 0.4, 0.15, 0.06][:k])


@lru_cache(maxsize=1024)
def _voice_table(vowel: int, midi: int, sr: int) -> np.ndarray:
    f0 = _hz(midi)
    k = np.arange(1, max(1, min(16, int(0.45 * sr / f0))) + 1)
    f = f0 * k
    amps = 0.3 / k
    for formant, gain in zip(_VOWELS[vowel], (1.0, 0.6, 0.3)):
        amps = amps + gain / (1.0 + ((f - formant) / (80.0 + 0.08 * formant)) ** 2)
    return _harmonics(amps)


def _kmax(freq: float, sr: int) -> int:
    return max(1, int(0.45 * sr / freq))


def _osc(table: np.ndarray, freq: float, n: int, sr: int) -> np.ndarray:
    """Constant-pitch wavetable oscillator, starting at phase zero."""
    idx = (np.arange(n, dtype=np.float64) * (freq * _TABLE_N / sr)).astype(np.int64)
    return table[idx & _MASK]


def _ar(n: int, sr: int, attack: float, release: float) -> np.ndarray:
    """Linear rise over `attack` seconds and fall to zero over the last `release` seconds."""
    return _ramps(n, (0.0, 1.0), round(attack * sr), (1.0, 0.0), round(release * sr))


def _ramps(n: int, rise: tuple[float, float], a: int, fall: tuple[float, float],
           r: int) -> np.ndarray:
    """Ones, except a linear ramp over the first a and the last r samples."""
    env = np.ones(n, np.float32)
    a = min(n, a)
    r = min(n - a, r)
    env[:a] = np.linspace(*rise, a, endpoint=False, dtype=np.float32)
    if r:
        env[n - r:] = np.linspace(*fall, r, dtype=np.float32)
    return env


def _decay(n: int, tau: float, sr: int) -> np.ndarray:
    return np.exp(np.arange(n, dtype=np.float32) * np.float32(-1.0 / (tau * sr)))


def _muffle(x: np.ndarray) -> np.ndarray:
    """A 4-sample moving average: the dull top end of a worn tape or record.

    Applied to each sound before it is mixed (the filter is linear, so that equals
    filtering the mix), which filters every cached note once instead of every section.
    """
    y = np.zeros(len(x) + 3, np.float32)
    for k in range(4):
        y[k:k + len(x)] += x
    return y * np.float32(0.25)


def _add(buf: np.ndarray, at: int, sig: np.ndarray, gain: float = 1.0) -> None:
    """Mix sig into buf from sample `at`, dropping whatever runs past the end."""
    n = min(len(sig), len(buf) - at)
    if n > 0:
        buf[at:at + n] += gain * sig[:n] if gain != 1.0 else sig[:n]


def _trimmed(x: np.ndarray, keep: int) -> np.ndarray:
    """x without the silence at the end of its ring-out (past `keep`), which would only be
    added as zeros."""
    loud = np.flatnonzero(x[keep:])
    return x[:keep + loud[-1] + 1] if len(loud) else x[:keep]


def _drum_kit(rng: np.random.Generator, sr: int, style: _Style) -> dict[str, np.ndarray]:
    """One-shot drum sounds, made once a song from shaped sine sweeps and noise."""

    def times(sec):
        return np.arange(int(sec * sr)) / sr

    def norm(x):
        x = x * _ar(len(x), sr, 0.0, 0.01)  # no step where the sample ends
        return (x / np.abs(x).max()).astype(np.float32)

    t = times(0.5)
    sweep = 46.0 + 110.0 * np.exp(-t / 0.028)
    body = 0.09 if style.drums == "metal" else 0.17
    kick = np.sin(2 * np.pi * np.cumsum(sweep) / sr) * np.exp(-t / body)
    kick = np.tanh(2.0 * kick)
    t = times(0.22)
    snare = 0.5 * np.diff(rng.standard_normal(len(t) + 1)) * np.exp(-t / 0.06)
    snare += 0.9 * np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.045)
    kit = {"kick": norm(kick), "snare": norm(snare)}
    for name, sec, tau in (("hat", 0.06, 0.012), ("open", 0.3, 0.09), ("crash", 1.6, 0.45)):
        t = times(sec)
        noise = np.diff(rng.standard_normal(len(t) + 2), n=2)
        kit[name] = norm(noise * np.exp(-t / tau))
    return kit


# --- sections ------------------------------------------------------------------------

# General MIDI percussion keys for the kit, and the part each drum is separated into.
_DRUM_PITCH = {"kick": 36, "snare": 38, "hat": 42, "open": 46, "crash": 49}
_DRUM_PART = {"kick": "drums", "snare": "drums", "hat": "percussion", "open": "percussion",
              "crash": "percussion"}
_LEAD_GAIN = 0.4
_HARMONY_GAIN = 0.14
_ECHO = ((1, 0.3), (2, 0.14), (3, 0.06))  # (repeat, gain); repeats are 3 16ths apart


@dataclass(frozen=True, slots=True)
class _Event:
    """One note (or drum hit) of a section, known before it is rendered.

    The same events drive the audio and the score, so what the score reports is what
    plays. ``sound`` is None for echoes, which are rendered by delaying the lead.
    """

    part: str
    at: int  # samples from the section's start
    length: int  # samples the note is held
    pitches: tuple[int, ...]
    velocity: float
    sound: tuple | None
    gain: float = 1.0


class _Renderer:
    """Renders a plan's sections, part by part, caching notes and sections that repeat."""

    def __init__(self, plan: _Plan, instrumental: bool):
        self.p = plan
        self.instrumental = instrumental
        self.tail = int(3.0 * plan.sr)
        self._notes: dict[tuple, np.ndarray] = {}
        self._backing_events: dict[str, list[_Event]] = {}
        self._vocal_events: dict[str, list[_Event]] = {}
        self._backings: dict[str, dict[str, np.ndarray]] = {}
        self._sections: dict[str, dict[str, np.ndarray]] = {}

    def bars(self, name: str) -> int:
        return 4 if name == "intro" else 8

    def at(self, step: int) -> int:
        """Sample offset of a 16th step, with swing on the off-beat 8ths."""
        return step * self.p.step + (self.p.swing if step % 4 == 2 else 0)

    def _sings(self, name: str) -> bool:
        return not self.instrumental and name in self.p.melodies

    # -- events ---------------------------------------------------------------------

    def events(self, name: str) -> list[_Event]:
        """Every note the section plays, echoes included, in no particular order."""
        out = list(self._backing_for(name))
        if self._sings(name):
            vocal = self._vocals_for(name)
            out += vocal
            delay = 3 * self.p.step
            out += [_Event("backing_vocals", e.at + k * delay, e.length, e.pitches,
                           e.velocity * g, None)
                    for e in vocal if e.part == "vocals" for k, g in _ECHO]
        return out

    def _backing_for(self, name: str) -> list[_Event]:
        key = "verse" if name.startswith("verse") else name
        if key not in self._backing_events:
            self._backing_events[key] = self._make_backing_events(key)
        return self._backing_events[key]

    def _vocals_for(self, name: str) -> list[_Event]:
        if name not in self._vocal_events:
            melody = self.p.melodies[name]
            events = self._line(melody, 0, "vocals", _LEAD_GAIN, 0.8)
            if name == "chorus":  # a third above the lead, as a backing singer would
                events += self._line(melody, 2, "backing_vocals", _HARMONY_GAIN, 0.55)
            self._vocal_events[name] = events
        return self._vocal_events[name]

    def _line(self, melody: list[_Note], shift: int, part: str, gain: float,
              velocity: float) -> list[_Event]:
        p, sr = self.p, self.p.sr
        events = []
        prev_end, prev_midi = -1, None
        for note in melody:
            midi = p.midi(note.degree + shift, p.tonic)
            legato = note.step == prev_end and prev_midi is not None
            start = self.at(note.step)
            gap = 0 if legato else int(0.03 * sr)  # a breath between detached notes
            n_on = max(1, self.at(note.step + note.length) - start - gap)
            sound = ("sing", midi, prev_midi if legato else None, n_on, note.vowel)
            events.append(_Event(part, start, n_on, (midi,), velocity, sound, gain))
            prev_end, prev_midi = note.step + note.length, midi
        return events

    def _make_backing_events(self, name: str) -> list[_Event]:
        p, style = self.p, self.p.style
        prog = p.progs["verse" if name == "intro" else name]
        vel = np.random.default_rng([p.detail_seed, zlib.crc32(name.encode())])
        hits = _CHORD_HITS.get(style.chords, ((0, 8), (8, 8)))
        keys_vel = 0.35 if name == "intro" else 0.7
        chords = CHORD_PART[style.chords]
        events = []
        for bar in range(self.bars(name)):
            base = bar * 16
            degree = prog[bar % 4]
            if style.chords == "pluck":
                for i, m in enumerate(self._arpeggio(degree)):
                    n = 4 * p.step
                    events.append(_Event(chords, self.at(base + 2 * i), n, (m,), keys_vel,
                                         ("pluck", m, n, 0.7), 0.5))
            else:
                for s, n in hits:
                    events.append(_Event(chords, self.at(base + s), n * p.step,
                                         self._chord_pitches(degree), keys_vel,
                                         ("chord", degree, n * p.step)))
            if name != "intro":
                root = p.midi(degree, p.tonic - 24)
                root += 12 if root < 33 else (-12 if root >= 45 else 0)
                for s, n, interval in _BASS[style.drums]:
                    m = root + interval
                    events.append(_Event("bass", self.at(base + s), n * p.step, (m,), 0.8,
                                         ("bass", m, n * p.step)))
            events += self._drum_bar(name, bar, vel)
        return events

    def _drum_bar(self, name, bar, vel) -> list[_Event]:
        p, kit = self.p, self.p.kit
        pattern = _DRUMS[p.style.drums]
        if not pattern:
            return []
        soft = 0.6 if p.style.drums == "soft" or p.style.lofi else 1.0
        base = bar * 16
        if name == "intro":
            parts = {"hat": pattern.get("hat", ())}
        elif name == "bridge":
            parts = {"kick": (0,), "hat": pattern.get("hat", ())}
        else:
            parts = dict(pattern)
            if bar == self.bars(name) - 1:
                parts["snare"] = tuple(sorted(set(parts["snare"]) | {13, 14, 15}))
        events = []

        def hit(drum, step, gain, velocity):
            events.append(_Event(_DRUM_PART[drum], self.at(step), len(kit[drum]),
                                 (_DRUM_PITCH[drum],), min(1.0, velocity), ("drum", drum),
                                 gain))

        if name == "chorus" and bar == 0:
            hit("crash", base, 0.22 * soft, 0.9 * soft)
        gains = {"kick": 0.45 if p.style.drums == "metal" else 0.6, "snare": 0.42,
                 "hat": 0.05 + 0.1 * p.style.bright, "open": 0.09}
        for drum, steps in parts.items():
            for s in steps:
                accent = (1.0 if s % 4 == 0 else 0.75) * (0.9 + 0.2 * vel.random())
                hit(drum, base + s, gains[drum] * soft * accent, 0.85 * soft * accent)
        return events

    # -- audio ----------------------------------------------------------------------

    def section(self, name: str) -> dict[str, np.ndarray]:
        """The section's parts, each starting at the section's first sample."""
        if name not in self._sections:
            key = "verse" if name.startswith("verse") else name
            if key not in self._backings:
                self._backings[key] = self._backing(key)
            out = dict(self._backings[key])
            if self._sings(name):
                out.update(self._vocal(name))
            body = self.bars(name) * self.p.bar
            self._sections[name] = {part: _trimmed(x, body) for part, x in out.items()}
        return self._sections[name]

    def _buffer(self, name: str) -> np.ndarray:
        return np.zeros(self.bars(name) * self.p.bar + self.tail, np.float32)

    def _render(self, events: list[_Event], parts: dict[str, np.ndarray]) -> None:
        for e in events:
            if e.sound is not None:
                _add(parts[e.part], e.at, self._sound(e.sound), e.gain)

    def _sound(self, key: tuple) -> np.ndarray:
        if not self.p.style.lofi:
            return self._dry(key)
        muffled = self._notes.get(("muffled", key))
        if muffled is None:
            muffled = self._notes[("muffled", key)] = _muffle(self._dry(key))
        return muffled

    def _dry(self, key: tuple) -> np.ndarray:
        kind = key[0]
        if kind == "chord":
            return self._chord(*key[1:])
        if kind == "pluck":
            return self._pluck(*key[1:])
        if kind == "bass":
            return self._bass(*key[1:])
        if kind == "drum":
            return self.p.kit[key[1]]
        return self._sing(*key[1:])

    def _backing(self, name: str) -> dict[str, np.ndarray]:
        p, style = self.p, self.p.style
        events = self._backing_for(name)
        parts = {part: self._buffer(name) for part in {e.part for e in events}}
        self._render(events, parts)
        drive = bool(style.drive)  # distorted guitars lead; the bass sits under them
        keys = parts[CHORD_PART[style.chords]]
        if style.pump:
            t = np.arange(4 * p.step, dtype=np.float32) / p.sr
            beat = 1.0 - 0.65 * np.exp(-t / 0.06, dtype=np.float32)
            reps = -(-len(keys) // len(beat))
            keys *= np.tile(beat, reps)[:len(keys)]
        keys *= np.float32((0.5 if drive else 0.34) * (0.5 if name == "intro" else 1.0))
        if "bass" in parts:
            parts["bass"] *= np.float32(0.2 if drive else 0.26)
        if style.riser and name in ("verse", "bridge"):
            parts["fx"] = self._riser(name)
        return parts

    def _riser(self, name: str) -> np.ndarray:
        """A noise swell over the bar before a chorus lands."""
        p = self.p
        buf = self._buffer(name)
        rng = np.random.default_rng([p.detail_seed, zlib.crc32(name.encode()), 2])
        n = p.bar
        swell = np.linspace(0.0, 1.0, n, dtype=np.float32) ** 3
        noise = np.diff(rng.standard_normal(n + 1)).astype(np.float32)
        _add(buf, (self.bars(name) - 1) * p.bar, noise * swell, 0.09)
        return buf

    def _vocal(self, name: str) -> dict[str, np.ndarray]:
        """The lead line and its backing: echoes of the lead plus any harmony line."""
        events = self._vocals_for(name)
        lead, backing = self._buffer(name), self._buffer(name)
        self._render([e for e in events if e.part == "vocals"], {"vocals": lead})
        self._render([e for e in events if e.part != "vocals"], {"backing_vocals": backing})
        delay = 3 * self.p.step
        for k, g in _ECHO:
            _add(backing, k * delay, lead, g)
        return {"vocals": lead, "backing_vocals": backing}

    # Notes are cached by everything that shapes them; sections repeat chords constantly.

    def _voicing(self, degree: int) -> tuple[int, ...]:
        p = self.p
        degrees = (0, 2, 4, 6) if p.style.sevenths else (0, 2, 4)
        notes = []
        for d in degrees:
            m = p.midi(degree + d, p.tonic)
            while m >= 66:
                m -= 12
            while m < 54:
                m += 12
            notes.append(m)
        return tuple(sorted(notes))

    def _power_root(self, degree: int) -> int:
        root = self.p.midi(degree, self.p.tonic - 12)
        while root >= 52:
            root -= 12
        return root

    def _chord_pitches(self, degree: int) -> tuple[int, ...]:
        if self.p.style.chords in ("power", "chug"):
            root = self._power_root(degree)
            return (root, root + 7, root + 12)
        return self._voicing(degree)

    def _arpeggio(self, degree: int) -> list[int]:
        v = self._voicing(degree)
        up = [v[0] - 12, *v, v[0] + 12]
        return (up + up[-2:0:-1])[:8]

    def _chord(self, degree: int, n_on: int) -> np.ndarray:
        key = ("chord", degree, n_on)
        if key not in self._notes:
            self._notes[key] = self._make_chord(degree, n_on)
        return self._notes[key]

    def _make_chord(self, degree: int, n_on: int) -> np.ndarray:
        style, sr = self.p.style, self.p.sr
        kind = style.chords
        if kind in ("power", "chug"):
            tau = 0.14 if kind == "chug" else 0.9
            n = n_on + int(0.05 * sr)
            sig = np.zeros(n, np.float32)
            for m in self._chord_pitches(degree):
                f = _hz(m)
                sig += _osc(_saw(_kmax(f, sr)), f, n, sr)
            sig[1:] += 2.0 * np.diff(sig)  # presence boost before the drive, for bite
            sig = np.tanh(style.drive * sig / 3.0) * _decay(n, tau, sr)
            return sig * _ar(n, sr, 0.004, 0.05) * 0.8
        if kind in ("piano", "skank"):
            tau = 0.9 if kind == "piano" else 0.25
            return sum(self._pluck(m, n_on, tau) for m in self._voicing(degree)) / 2.2
        attack = 0.5 if style.drums == "none" else (0.02 if kind == "saw" else 0.1)
        n = n_on + int(0.4 * sr)
        sig = np.zeros(n, np.float32)
        k = 2 + round(style.bright * 10)
        for m in self._voicing(degree):
            f = _hz(m)
            table = _saw(min(k, _kmax(f, sr)))
            sig += _osc(table, f * 1.003, n, sr) + _osc(table, f * 0.997, n, sr)
        env = _ar(n, sr, attack, 0.4)
        return sig * env * (1.2 / (2 * len(self._voicing(degree))))

    def _pluck(self, midi: int, n_on: int, tau: float) -> np.ndarray:
        """A struck string: a bright attack that dies fast over a mellow body."""
        key = ("pluck", midi, n_on, tau)
        if key not in self._notes:
            sr = self.p.sr
            n = n_on + int(0.06 * sr)
            f = _hz(midi)
            k = min(2 + round(self.p.style.bright * 10), _kmax(f, sr))
            sig = _osc(_saw(k), f, n, sr) * (0.6 * _decay(n, tau * 0.15, sr))
            sig += _osc(_mellow(min(4, _kmax(f, sr))), f, n, sr) * _decay(n, tau, sr)
            self._notes[key] = sig * _ar(n, sr, 0.003, 0.06)
        return self._notes[key]

    def _bass(self, midi: int, n_on: int) -> np.ndarray:
        key = ("bass", midi, n_on)
        if key not in self._notes:
            sr, style = self.p.sr, self.p.style
            n_on = max(1, n_on - int(0.01 * sr))
            n = n_on + int(0.03 * sr)
            f = _hz(midi)
            sig = _osc(_mellow(min(4, _kmax(f, sr))), f, n, sr)
            if style.drive:
                sig = np.tanh(style.drive * sig) / np.tanh(style.drive)
            sig = sig * (0.55 + 0.45 * _decay(n, 0.35, sr))
            self._notes[key] = sig * _ar(n, sr, 0.005, 0.03)
        return self._notes[key]

    def _sing(self, midi: int, from_midi: int | None, n_on: int, vowel: int) -> np.ndarray:
        sr = self.p.sr
        n = n_on + int(0.07 * sr)
        block = 32  # pitch moves at control rate, then steps per block of samples
        m = -(-n // block)
        t = np.arange(m) * (block / sr)
        start = from_midi if from_midi is not None else midi - 0.8
        pitch = midi + (start - midi) * np.exp(-t / (0.05 if from_midi is not None else 0.035))
        pitch += 0.35 * np.clip((t - 0.18) / 0.25, 0.0, 1.0) * np.sin(2 * np.pi * 5.4 * t)
        inc = 440.0 * 2.0 ** ((pitch - 69) / 12.0) * (_TABLE_N / sr)
        idx = np.cumsum(np.repeat(inc, block)[:n]).astype(np.int64)
        sig = _voice_table(vowel, midi, sr)[idx & _MASK]
        return sig * _ramps(n, (0.0, 0.9), round(0.04 * sr), (0.9, 0.0), n - n_on)


# What each kind of lyric section is played as: verses alternate between the two verse
# melodies, an intro or outro is the soft instrumental opening, the rest map to the
# nearest section the synthesizer has.
_PLAYED_AS = {"chorus": "chorus", "hook": "chorus", "refrain": "chorus", "drop": "chorus",
              "bridge": "bridge", "breakdown": "bridge", "pre-chorus": "verse_b",
              "intro": "intro", "outro": "intro", "interlude": "intro", "solo": "bridge"}
_USUAL = ("verse", "chorus", "verse", "chorus", "bridge", "chorus", "chorus")


def _form(duration: float, n: int, renderer: _Renderer,
          form: tuple[str, ...] = ()) -> list[str]:
    """Section order: an intro for full-length songs, then the sections the lyrics mark
    (or the usual verse–chorus cycle), repeated until the song is long enough."""
    kinds = form or _USUAL
    names = ["intro"] if duration >= 30.0 and kinds[0] not in ("intro", "outro") else []
    total = sum(renderer.bars(x) for x in names) * renderer.p.bar
    verses = 0
    i = 0
    while total < n:
        kind = kinds[i % len(kinds)]
        if kind in _PLAYED_AS:
            name = _PLAYED_AS[kind]
        else:
            name = ("verse_a", "verse_b")[verses % 2]
            verses += 1
        names.append(name)
        total += renderer.bars(name) * renderer.p.bar
        i += 1
    return names


def sections(seed: int, duration: float, tags: str = "", instrumental: bool = False,
             form: tuple[str, ...] = (),
             sample_rate: int = SAMPLE_RATE) -> list[tuple[str, float, float]]:
    """The song's sections as (name, start s, end s), cut at its end: its structure."""
    n = _check(duration, sample_rate)
    renderer = _Renderer(_plan(int(seed), tags, sample_rate), instrumental)
    out, pos = [], 0
    for name in _form(duration, n, renderer, form) if n else []:
        end = min(n, pos + renderer.bars(name) * renderer.p.bar)
        out.append((name, pos / sample_rate, end / sample_rate))
        pos = end
    return out


def _check(duration: float, sample_rate: int) -> int:
    if not math.isfinite(duration) or duration < 0:
        raise ValueError(f"duration must be finite and non-negative seconds, not {duration!r}")
    if sample_rate < 8000:
        raise ValueError(f"sample_rate too low: {sample_rate}")
    return round(duration * sample_rate)


def song_parts(tags: str, instrumental: bool) -> tuple[str, ...]:
    """The parts a song of these tags has, from its style alone, without rendering.

    A part is named when the style plays it; a song shorter than a verse can end before
    an occasional one (the riser into the first chorus) sounds.
    """
    style = _style_for(_tokens(tags))
    has = {CHORD_PART[style.chords], "bass"}
    if not instrumental:
        has |= {"vocals", "backing_vocals"}
    if _DRUMS[style.drums]:
        has |= {"drums", "percussion"}
    if style.lofi or style.riser:
        has.add("fx")
    return tuple(part for part in INSTRUMENTS if part in has)


_CHUNK = 1 << 15  # samples summed at a time: the parts' slices stay in cache


def mix_parts(parts: dict[str, np.ndarray], n: int) -> np.ndarray:
    """The parts summed in one fixed order, so every mix of the same parts is bit-identical."""
    out = np.zeros(n, np.float32)
    names = [part for part in INSTRUMENTS if part in parts]
    for lo in range(0, n, _CHUNK):
        window = out[lo:lo + _CHUNK]
        for part in names:
            window += parts[part][lo:lo + _CHUNK]
    return out


def _peak(parts: dict[str, np.ndarray], n: int) -> float:
    """The mix's peak, summed a chunk at a time instead of into a whole new array."""
    scratch = np.empty(min(n, _CHUNK), np.float32)
    peak = 0.0
    for lo in range(0, n, _CHUNK):
        window = scratch[:min(_CHUNK, n - lo)]
        window[:] = 0.0
        for x in parts.values():
            window += x[lo:lo + _CHUNK]
        peak = max(peak, float(np.abs(window).max()))
    return peak


def synthesize_parts(seed: int, duration: float, tags: str = "", instrumental: bool = False,
                     sample_rate: int = SAMPLE_RATE,
                     form: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The song separated into its parts (names from INSTRUMENTS); they sum to the mix.

    Everything after the parts are laid out is linear and shared (one gain, the same
    fades), so any subset of parts is exactly what that stem sounds like in the mix.
    """
    n = _check(duration, sample_rate)
    names = song_parts(tags, instrumental)
    parts = {part: np.zeros(n, np.float32) for part in names}
    if n == 0:
        return parts
    plan = _plan(int(seed), tags, sample_rate)
    renderer = _Renderer(plan, instrumental)
    pos = 0
    for name in _form(duration, n, renderer, form):
        for part, sig in renderer.section(name).items():
            _add(parts[part], pos, sig)
        pos += renderer.bars(name) * plan.bar
    peak = _peak(parts, n) or 1.0
    gain = np.float32(0.93 / peak)
    for x in parts.values():
        x *= gain
    if plan.style.lofi:  # vinyl crackle, after the gain: at most 0.03 on top of 0.93
        rng = np.random.default_rng([plan.detail_seed, 1])
        clicks = rng.integers(0, n, size=max(1, int(duration * 5)))
        parts["fx"][clicks] = rng.uniform(-0.03, 0.03, size=len(clicks)).astype(np.float32)
    fade_in = min(n, int(0.01 * sample_rate))
    ramp_in = np.linspace(0.0, 1.0, fade_in, endpoint=False, dtype=np.float32)
    fade_out = min(n, int(min(3.0, 0.1 * duration) * sample_rate))
    ramp_out = np.cos(np.linspace(0.0, np.pi / 2, fade_out, dtype=np.float32)) ** 2
    for x in parts.values():
        x[:fade_in] *= ramp_in
        if fade_out:
            x[n - fade_out:] *= ramp_out
    return parts


_SPOKEN_VOWELS = {"a": 0, "e": 1, "i": 2, "y": 2, "o": 3, "u": 4}


def speak(plan: tuple[tuple[float, float, str], ...], duration: float, seed: int,
          sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Voice a speech plan: each syllable a glide of the lead's voice at speaking pitch,
    falling through each phrase as speech does; the seed picks the speaker's register."""
    n = _check(duration, sample_rate)
    out = np.zeros(n, np.float32)
    rng = np.random.default_rng([seed, 7])
    base = 50 + int(rng.integers(0, 12))  # D3 to C#4
    block = 32
    phrase_start = plan[0][0] if plan else 0.0
    previous_end = phrase_start
    for start, length, vowels in plan:
        if start - previous_end > 0.2:  # a pause begins a new phrase
            phrase_start = start
        previous_end = start + length
        at, m = round(start * sample_rate), round(length * sample_rate)
        if at >= n:
            break
        m = min(m, n - at)
        vowel = _SPOKEN_VOWELS.get(vowels[0], int(rng.integers(len(_VOWELS))))
        top = base + 2.5 - 1.2 * min(2.0, start - phrase_start) + float(rng.uniform(-0.8, 0.8))
        k = -(-m // block)
        pitch = top - np.linspace(0.0, 1.5, k)
        inc = 440.0 * 2.0 ** ((pitch - 69) / 12.0) * (_TABLE_N / sample_rate)
        idx = np.cumsum(np.repeat(inc, block)[:m]).astype(np.int64)
        sig = _voice_table(vowel, int(round(top)), sample_rate)[idx & _MASK]
        ramp = min(m // 2, round(0.03 * sample_rate))
        out[at:at + m] += 0.6 * sig * _ramps(m, (0.0, 1.0), ramp, (1.0, 0.0), ramp)
    return out


def song_events(seed: int, duration: float, tags: str = "", instrumental: bool = False,
                sample_rate: int = SAMPLE_RATE,
                form: tuple[str, ...] = ()) -> list[tuple[str, int, float, float, float]]:
    """The notes synthesize_parts plays, as (part, MIDI pitch, start s, end s, velocity).

    Planned, not rendered, so it costs a fraction of the audio; notes are cut at the end.
    """
    n = _check(duration, sample_rate)
    if n == 0:
        return []
    renderer = _Renderer(_plan(int(seed), tags, sample_rate), instrumental)
    out = []
    pos = 0
    for name in _form(duration, n, renderer, form):
        for e in renderer.events(name):
            start = pos + e.at
            if start < n:
                end = min(n, start + e.length)
                out += [(e.part, pitch, start / sample_rate, end / sample_rate, e.velocity)
                        for pitch in e.pitches]
        pos += renderer.bars(name) * renderer.p.bar
    order = {part: i for i, part in enumerate(INSTRUMENTS)}
    out.sort(key=lambda x: (x[2], order[x[0]], x[1]))
    return out


def synthesize(seed: int, duration: float, tags: str = "", instrumental: bool = False,
               sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 samples in [-1, 1], exactly round(duration * sample_rate) long."""
    parts = synthesize_parts(seed, duration, tags, instrumental, sample_rate)
    return mix_parts(parts, round(duration * sample_rate))


def encode_mp3(samples: np.ndarray, sample_rate: int) -> bytes:
    """MP3 whose decoded (and mutagen-measured) length matches len(samples) / sample_rate.

    The encoder adds 1152 samples and rounds up to whole frames, and nothing in the
    stream tells a player to drop them; so the input is cut to the whole-frame count that
    lands the output nearest the true length (within half a frame, 13 ms at 22.05 kHz),
    losing at most ~65 ms of the tail, which is ramped down so the cut does not click.
    """
    if sample_rate not in _MPEG_RATES:
        raise ValueError(f"MP3 cannot carry {sample_rate} Hz; use one of {_MPEG_RATES}")
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError("encode_mp3 takes mono samples (a 1-D array)")
    frame = 1152 if sample_rate >= 32000 else 576
    keep = max(0, round(len(x) / frame) * frame - _LAME_EXTRA_SAMPLES)
    pcm = np.clip(x[:keep], -1.0, 1.0) * 32767.0
    ramp = min(keep, int(0.005 * sample_rate))
    if ramp:
        pcm[keep - ramp:] *= np.linspace(1.0, 0.0, ramp, dtype=np.float32)
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(BITRATE_KBPS)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_out_sample_rate(sample_rate)
    encoder.set_channels(1)
    encoder.set_quality(_LAME_QUALITY)
    return bytes(encoder.encode(pcm.astype("<i2").tobytes()) + encoder.flush())


def song_mp3(seed: int, duration: float, tags: str = "", instrumental: bool = False) -> bytes:
    """The song for a clip, as the bytes the media server sends."""
    return encode_mp3(synthesize(seed, duration, tags, instrumental, SAMPLE_RATE), SAMPLE_RATE)
