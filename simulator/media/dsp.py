"""Signal primitives: wavetables, oscillators, envelopes, a filter and the mix.

Kept apart from anything musical so every voice (sung, spoken, struck, drummed) is
built from the same few exact operations, and a change to one shows in all of them.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..core.recipes import INSTRUMENTS

SAMPLE_RATE = 22050  # MPEG-2 rate: half the synthesis and encoding work of 44.1 kHz

TABLE_N = 4096
_MASK = TABLE_N - 1

# Vowel formants (Hz) that give the lead its sung colour.
VOWELS = ((730, 1090, 2440), (530, 1840, 2480), (300, 2200, 3000), (570, 840, 2410),
          (320, 870, 2240))

_CHUNK = 1 << 15  # samples summed at a time: the parts' slices stay in cache


def sample_count(duration: float, sample_rate: int) -> int:
    """How many samples a duration renders to, refusing what no song can last."""
    if not math.isfinite(duration) or duration < 0:
        raise ValueError(f"duration must be finite and non-negative seconds, not {duration!r}")
    if sample_rate < 8000:
        raise ValueError(f"sample_rate too low: {sample_rate}")
    return round(duration * sample_rate)


def hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12.0)


def _harmonics(amps) -> np.ndarray:
    spectrum = np.zeros(TABLE_N // 2 + 1, np.complex128)
    spectrum[1:len(amps) + 1] = -0.5j * TABLE_N * np.asarray(amps, dtype=np.float64)
    wave = np.fft.irfft(spectrum, TABLE_N)  # sum of amps[k-1] * sin(k * phase)
    return (wave / np.abs(wave).max()).astype(np.float32)


@lru_cache(maxsize=64)
def saw(k: int) -> np.ndarray:
    return _harmonics([1.0 / i for i in range(1, k + 1)])


@lru_cache(maxsize=16)
def mellow(k: int) -> np.ndarray:
    return _harmonics([1.0, 0.4, 0.15, 0.06][:k])


@lru_cache(maxsize=1024)
def voice_table(vowel: int, midi: int, sr: int) -> np.ndarray:
    f0 = hz(midi)
    k = np.arange(1, max(1, min(16, int(0.45 * sr / f0))) + 1)
    f = f0 * k
    amps = 0.3 / k
    for formant, gain in zip(VOWELS[vowel], (1.0, 0.6, 0.3)):
        amps = amps + gain / (1.0 + ((f - formant) / (80.0 + 0.08 * formant)) ** 2)
    return _harmonics(amps)


def kmax(freq: float, sr: int) -> int:
    return max(1, int(0.45 * sr / freq))


def osc(table: np.ndarray, freq: float, n: int, sr: int) -> np.ndarray:
    """Constant-pitch wavetable oscillator, starting at phase zero."""
    idx = (np.arange(n, dtype=np.float64) * (freq * TABLE_N / sr)).astype(np.int64)
    return table[idx & _MASK]


def glide(table: np.ndarray, pitch: np.ndarray, block: int, n: int, sr: int) -> np.ndarray:
    """n samples of a wavetable whose pitch (MIDI, one value per block) moves as it plays."""
    inc = 440.0 * 2.0 ** ((pitch - 69) / 12.0) * (TABLE_N / sr)
    idx = np.cumsum(np.repeat(inc, block)[:n]).astype(np.int64)
    return table[idx & _MASK]


def ar(n: int, sr: int, attack: float, release: float) -> np.ndarray:
    """Linear rise over `attack` seconds and fall to zero over the last `release` seconds."""
    return ramps(n, (0.0, 1.0), round(attack * sr), (1.0, 0.0), round(release * sr))


def ramps(n: int, rise: tuple[float, float], a: int, fall: tuple[float, float],
          r: int) -> np.ndarray:
    """Ones, except a linear ramp over the first a and the last r samples."""
    env = np.ones(n, np.float32)
    a = min(n, a)
    r = min(n - a, r)
    env[:a] = np.linspace(*rise, a, endpoint=False, dtype=np.float32)
    if r:
        env[n - r:] = np.linspace(*fall, r, dtype=np.float32)
    return env


def decay(n: int, tau: float, sr: int) -> np.ndarray:
    return np.exp(np.arange(n, dtype=np.float32) * np.float32(-1.0 / (tau * sr)))


def muffle(x: np.ndarray) -> np.ndarray:
    """A 4-sample moving average: the dull top end of a worn tape or record.

    Applied to each sound before it is mixed (the filter is linear, so that equals
    filtering the mix), which filters every cached note once instead of every section.
    """
    y = np.zeros(len(x) + 3, np.float32)
    for k in range(4):
        y[k:k + len(x)] += x
    return y * np.float32(0.25)


def add(buf: np.ndarray, at: int, sig: np.ndarray, gain: float = 1.0) -> None:
    """Mix sig into buf from sample `at`, dropping whatever runs past the end."""
    n = min(len(sig), len(buf) - at)
    if n > 0:
        buf[at:at + n] += gain * sig[:n] if gain != 1.0 else sig[:n]


def trimmed(x: np.ndarray, keep: int) -> np.ndarray:
    """x without the silence at the end of its ring-out (past `keep`), which would only be
    added as zeros."""
    loud = np.flatnonzero(x[keep:])
    return x[:keep + loud[-1] + 1] if len(loud) else x[:keep]


def mix_parts(parts: dict[str, np.ndarray], n: int) -> np.ndarray:
    """The parts summed in one fixed order, so every mix of the same parts is bit-identical."""
    out = np.zeros(n, np.float32)
    names = [part for part in INSTRUMENTS if part in parts]
    for lo in range(0, n, _CHUNK):
        window = out[lo:lo + _CHUNK]
        for part in names:
            window += parts[part][lo:lo + _CHUNK]
    return out


def peak(parts: dict[str, np.ndarray], n: int) -> float:
    """The mix's peak, summed a chunk at a time instead of into a whole new array."""
    scratch = np.empty(min(n, _CHUNK), np.float32)
    top = 0.0
    for lo in range(0, n, _CHUNK):
        window = scratch[:min(_CHUNK, n - lo)]
        window[:] = 0.0
        for x in parts.values():
            window += x[lo:lo + _CHUNK]
        top = max(top, float(np.abs(window).max()))
    return top
