"""Plays an arrangement: turns its note events into one sample buffer per part.

Apart from the arrangement so the score can be had without rendering; this is the only
place that makes sound from notes, and it caches each note and section it makes, since
a song repeats both constantly. (render.py then derives clips from the parts made here.)
"""

from __future__ import annotations

import zlib

import numpy as np

from .arrange import ECHO, Arrangement, Event
from .dsp import (add, ar, decay, glide, hz, kmax, mellow, muffle, osc, ramps, saw, trimmed,
                  voice_table)
from .drums import drum_kit
from .plan import Plan
from .styles import CHORD_PART


class Performer:
    """Renders a plan's sections, part by part, caching notes and sections that repeat."""

    def __init__(self, plan: Plan, instrumental: bool):
        self.p = plan
        self.arrangement = Arrangement(plan, instrumental)
        self.kit = drum_kit(plan.kit_seed, plan.sr, plan.style)
        self.tail = int(3.0 * plan.sr)
        self._notes: dict[tuple, np.ndarray] = {}
        self._backings: dict[str, dict[str, np.ndarray]] = {}
        self._sections: dict[str, dict[str, np.ndarray]] = {}

    def section(self, name: str) -> dict[str, np.ndarray]:
        """The section's parts, each starting at the section's first sample."""
        if name not in self._sections:
            key = "verse" if name.startswith("verse") else name
            if key not in self._backings:
                self._backings[key] = self._backing(key)
            out = dict(self._backings[key])
            if self.arrangement.sings(name):
                out.update(self._vocal(name))
            body = self.arrangement.length(name)
            self._sections[name] = {part: trimmed(x, body) for part, x in out.items()}
        return self._sections[name]

    def _buffer(self, name: str) -> np.ndarray:
        return np.zeros(self.arrangement.length(name) + self.tail, np.float32)

    def _render(self, events: list[Event], parts: dict[str, np.ndarray]) -> None:
        for e in events:
            if e.sound is not None:
                add(parts[e.part], e.at, self._sound(e.sound), e.gain)

    def _sound(self, key: tuple) -> np.ndarray:
        if not self.p.style.lofi:
            return self._dry(key)
        muffled = self._notes.get(("muffled", key))
        if muffled is None:
            muffled = self._notes[("muffled", key)] = muffle(self._dry(key))
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
            return self.kit[key[1]]
        return self._sing(*key[1:])

    def _backing(self, name: str) -> dict[str, np.ndarray]:
        p, style = self.p, self.p.style
        events = self.arrangement.backing(name)
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
        add(buf, (self.arrangement.bars(name) - 1) * p.bar, noise * swell, 0.09)
        return buf

    def _vocal(self, name: str) -> dict[str, np.ndarray]:
        """The lead line and its backing: echoes of the lead plus any harmony line."""
        events = self.arrangement.vocals(name)
        lead, backing = self._buffer(name), self._buffer(name)
        self._render([e for e in events if e.part == "vocals"], {"vocals": lead})
        self._render([e for e in events if e.part != "vocals"], {"backing_vocals": backing})
        delay = self.arrangement.echo_delay
        for k, g in ECHO:
            add(backing, k * delay, lead, g)
        return {"vocals": lead, "backing_vocals": backing}

    # Notes are cached by everything that shapes them; sections repeat chords constantly.

    def _chord(self, degree: int, n_on: int) -> np.ndarray:
        key = ("chord", degree, n_on)
        if key not in self._notes:
            self._notes[key] = self._make_chord(degree, n_on)
        return self._notes[key]

    def _make_chord(self, degree: int, n_on: int) -> np.ndarray:
        p, style, sr = self.p, self.p.style, self.p.sr
        kind = style.chords
        if kind in ("power", "chug"):
            tau = 0.14 if kind == "chug" else 0.9
            n = n_on + int(0.05 * sr)
            sig = np.zeros(n, np.float32)
            for m in p.chord_pitches(degree):
                f = hz(m)
                sig += osc(saw(kmax(f, sr)), f, n, sr)
            sig[1:] += 2.0 * np.diff(sig)  # presence boost before the drive, for bite
            sig = np.tanh(style.drive * sig / 3.0) * decay(n, tau, sr)
            return sig * ar(n, sr, 0.004, 0.05) * 0.8
        if kind in ("piano", "skank"):
            tau = 0.9 if kind == "piano" else 0.25
            return sum(self._pluck(m, n_on, tau) for m in p.voicing(degree)) / 2.2
        attack = 0.5 if style.drums == "none" else (0.02 if kind == "saw" else 0.1)
        n = n_on + int(0.4 * sr)
        sig = np.zeros(n, np.float32)
        k = 2 + round(style.bright * 10)
        for m in p.voicing(degree):
            f = hz(m)
            table = saw(min(k, kmax(f, sr)))
            sig += osc(table, f * 1.003, n, sr) + osc(table, f * 0.997, n, sr)
        env = ar(n, sr, attack, 0.4)
        return sig * env * (1.2 / (2 * len(p.voicing(degree))))

    def _pluck(self, midi: int, n_on: int, tau: float) -> np.ndarray:
        """A struck string: a bright attack that dies fast over a mellow body."""
        key = ("pluck", midi, n_on, tau)
        if key not in self._notes:
            sr = self.p.sr
            n = n_on + int(0.06 * sr)
            f = hz(midi)
            k = min(2 + round(self.p.style.bright * 10), kmax(f, sr))
            sig = osc(saw(k), f, n, sr) * (0.6 * decay(n, tau * 0.15, sr))
            sig += osc(mellow(min(4, kmax(f, sr))), f, n, sr) * decay(n, tau, sr)
            self._notes[key] = sig * ar(n, sr, 0.003, 0.06)
        return self._notes[key]

    def _bass(self, midi: int, n_on: int) -> np.ndarray:
        key = ("bass", midi, n_on)
        if key not in self._notes:
            sr, style = self.p.sr, self.p.style
            n_on = max(1, n_on - int(0.01 * sr))
            n = n_on + int(0.03 * sr)
            f = hz(midi)
            sig = osc(mellow(min(4, kmax(f, sr))), f, n, sr)
            if style.drive:
                sig = np.tanh(style.drive * sig) / np.tanh(style.drive)
            sig = sig * (0.55 + 0.45 * decay(n, 0.35, sr))
            self._notes[key] = sig * ar(n, sr, 0.005, 0.03)
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
        sig = glide(voice_table(vowel, midi, sr), pitch, block, n, sr)
        return sig * ramps(n, (0.0, 0.9), round(0.04 * sr), (0.9, 0.0), n - n_on)
