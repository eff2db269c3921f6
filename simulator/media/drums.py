"""The drum kit: its one-shot sounds, and what the score needs to know of each drum.

The arrangement times and scores drum hits without rendering them, and the performer
plays the sounds; both read the drums' lengths, keys and parts from here so they agree.
"""

from __future__ import annotations

import numpy as np

from .dsp import ar
from .styles import Style

# Seconds each drum rings for; General MIDI percussion keys; the part each is separated into.
_SECONDS = {"kick": 0.5, "snare": 0.22, "hat": 0.06, "open": 0.3, "crash": 1.6}
DRUM_PITCH = {"kick": 36, "snare": 38, "hat": 42, "open": 46, "crash": 49}
DRUM_PART = {"kick": "drums", "snare": "drums", "hat": "percussion", "open": "percussion",
             "crash": "percussion"}


def drum_length(drum: str, sr: int) -> int:
    """Samples the drum's sound lasts."""
    return int(_SECONDS[drum] * sr)


def drum_kit(seed: np.random.SeedSequence, sr: int, style: Style) -> dict[str, np.ndarray]:
    """One-shot drum sounds, made once a song from shaped sine sweeps and noise."""
    rng = np.random.default_rng(seed)

    def times(drum):
        return np.arange(drum_length(drum, sr)) / sr

    def norm(x):
        x = x * ar(len(x), sr, 0.0, 0.01)  # no step where the sample ends
        return (x / np.abs(x).max()).astype(np.float32)

    t = times("kick")
    sweep = 46.0 + 110.0 * np.exp(-t / 0.028)
    body = 0.09 if style.drums == "metal" else 0.17
    kick = np.sin(2 * np.pi * np.cumsum(sweep) / sr) * np.exp(-t / body)
    kick = np.tanh(2.0 * kick)
    t = times("snare")
    snare = 0.5 * np.diff(rng.standard_normal(len(t) + 1)) * np.exp(-t / 0.06)
    snare += 0.9 * np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.045)
    kit = {"kick": norm(kick), "snare": norm(snare)}
    for name, tau in (("hat", 0.012), ("open", 0.09), ("crash", 0.45)):
        t = times(name)
        noise = np.diff(rng.standard_normal(len(t) + 2), n=2)
        kit[name] = norm(noise * np.exp(-t / tau))
    return kit
