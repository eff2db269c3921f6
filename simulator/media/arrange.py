"""The arrangement: which sections play in which order, and every note each part plays.

Notes are laid out as events before anything is rendered, because the same events
drive the audio and the score (MIDI, timing): what the score reports is what plays.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from .drums import DRUM_PART, DRUM_PITCH, drum_length
from .plan import Note, Plan
from .styles import BASS, CHORD_HITS, CHORD_PART, DRUMS

LEAD_GAIN = 0.4
HARMONY_GAIN = 0.14
ECHO = ((1, 0.3), (2, 0.14), (3, 0.06))  # (repeat, gain); repeats are 3 16ths apart

# What each kind of lyric section is played as: verses alternate between the two verse
# melodies, an intro or outro is the soft instrumental opening, the rest map to the
# nearest section the synthesizer has.
_PLAYED_AS = {"chorus": "chorus", "hook": "chorus", "refrain": "chorus", "drop": "chorus",
              "bridge": "bridge", "breakdown": "bridge", "pre-chorus": "verse_b",
              "intro": "intro", "outro": "intro", "interlude": "intro", "solo": "bridge"}
_USUAL = ("verse", "chorus", "verse", "chorus", "bridge", "chorus", "chorus")


@dataclass(frozen=True, slots=True)
class Event:
    """One note (or drum hit) of a section, known before it is rendered.

    ``sound`` is what the performer renders for it, or None for echoes, which are
    rendered by delaying the lead.
    """

    part: str
    at: int  # samples from the section's start
    length: int  # samples the note is held
    pitches: tuple[int, ...]
    velocity: float
    sound: tuple | None
    gain: float = 1.0


class Arrangement:
    """A plan's sections as note events, cached per section since sections repeat."""

    def __init__(self, plan: Plan, instrumental: bool):
        self.p = plan
        self.instrumental = instrumental
        self._backing_events: dict[str, list[Event]] = {}
        self._vocal_events: dict[str, list[Event]] = {}

    def bars(self, name: str) -> int:
        return 4 if name == "intro" else 8

    def length(self, name: str) -> int:
        """Samples from the section's start to the next section's."""
        return self.bars(name) * self.p.bar

    @property
    def echo_delay(self) -> int:
        return 3 * self.p.step

    def at(self, step: int) -> int:
        """Sample offset of a 16th step, with swing on the off-beat 8ths."""
        return step * self.p.step + (self.p.swing if step % 4 == 2 else 0)

    def sings(self, name: str) -> bool:
        return not self.instrumental and name in self.p.melodies

    def order(self, duration: float, n: int, form: tuple[str, ...] = ()) -> list[str]:
        """Section order: an intro for full-length songs, then the sections the lyrics mark
        (or the usual verse–chorus cycle), repeated until the song is n samples long."""
        kinds = form or _USUAL
        names = ["intro"] if duration >= 30.0 and kinds[0] not in ("intro", "outro") else []
        total = sum(self.length(x) for x in names)
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
            total += self.length(name)
            i += 1
        return names

    def events(self, name: str) -> list[Event]:
        """Every note the section plays, echoes included, in no particular order."""
        out = list(self.backing(name))
        if self.sings(name):
            vocal = self.vocals(name)
            out += vocal
            delay = self.echo_delay
            out += [Event("backing_vocals", e.at + k * delay, e.length, e.pitches,
                          e.velocity * g, None)
                    for e in vocal if e.part == "vocals" for k, g in ECHO]
        return out

    def backing(self, name: str) -> list[Event]:
        """The band under the voice; both verses share one."""
        key = "verse" if name.startswith("verse") else name
        if key not in self._backing_events:
            self._backing_events[key] = self._make_backing(key)
        return self._backing_events[key]

    def vocals(self, name: str) -> list[Event]:
        """The lead line, and in a chorus a harmony line; echoes are left to the performer."""
        if name not in self._vocal_events:
            melody = self.p.melodies[name]
            events = self._line(melody, 0, "vocals", LEAD_GAIN, 0.8)
            if name == "chorus":  # a third above the lead, as a backing singer would
                events += self._line(melody, 2, "backing_vocals", HARMONY_GAIN, 0.55)
            self._vocal_events[name] = events
        return self._vocal_events[name]

    def _line(self, melody: list[Note], shift: int, part: str, gain: float,
              velocity: float) -> list[Event]:
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
            events.append(Event(part, start, n_on, (midi,), velocity, sound, gain))
            prev_end, prev_midi = note.step + note.length, midi
        return events

    def _make_backing(self, name: str) -> list[Event]:
        p, style = self.p, self.p.style
        prog = p.progs["verse" if name == "intro" else name]
        vel = np.random.default_rng([p.detail_seed, zlib.crc32(name.encode())])
        hits = CHORD_HITS.get(style.chords, ((0, 8), (8, 8)))
        keys_vel = 0.35 if name == "intro" else 0.7
        chords = CHORD_PART[style.chords]
        events = []
        for bar in range(self.bars(name)):
            base = bar * 16
            degree = prog[bar % 4]
            if style.chords == "pluck":
                for i, m in enumerate(p.arpeggio(degree)):
                    n = 4 * p.step
                    events.append(Event(chords, self.at(base + 2 * i), n, (m,), keys_vel,
                                        ("pluck", m, n, 0.7), 0.5))
            else:
                for s, n in hits:
                    events.append(Event(chords, self.at(base + s), n * p.step,
                                        p.chord_pitches(degree), keys_vel,
                                        ("chord", degree, n * p.step)))
            if name != "intro":
                root = p.midi(degree, p.tonic - 24)
                root += 12 if root < 33 else (-12 if root >= 45 else 0)
                for s, n, interval in BASS[style.drums]:
                    m = root + interval
                    events.append(Event("bass", self.at(base + s), n * p.step, (m,), 0.8,
                                        ("bass", m, n * p.step)))
            events += self._drum_bar(name, bar, vel)
        return events

    def _drum_bar(self, name, bar, vel) -> list[Event]:
        p = self.p
        pattern = DRUMS[p.style.drums]
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
            events.append(Event(DRUM_PART[drum], self.at(step), drum_length(drum, p.sr),
                                (DRUM_PITCH[drum],), min(1.0, velocity), ("drum", drum),
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
