"""Text-to-speech: a syllable plan voiced with the singer's formant wavetables.

Speech clips need a real voice but no song around it; reusing the lead's vowels keeps
the spoken and the sung voice alike and needs no speech model.
"""

from __future__ import annotations

import numpy as np

from .dsp import SAMPLE_RATE, VOWELS, glide, ramps, sample_count, voice_table

_SPOKEN_VOWELS = {"a": 0, "e": 1, "i": 2, "y": 2, "o": 3, "u": 4}


def speak(plan: tuple[tuple[float, float, str], ...], duration: float, seed: int,
          sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Voice a speech plan: each syllable a glide of the lead's voice at speaking pitch,
    falling through each phrase as speech does; the seed picks the speaker's register."""
    n = sample_count(duration, sample_rate)
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
        vowel = _SPOKEN_VOWELS.get(vowels[0], int(rng.integers(len(VOWELS))))
        top = base + 2.5 - 1.2 * min(2.0, start - phrase_start) + float(rng.uniform(-0.8, 0.8))
        k = -(-m // block)
        pitch = top - np.linspace(0.0, 1.5, k)
        sig = glide(voice_table(vowel, int(round(top)), sample_rate), pitch, block, m,
                    sample_rate)
        ramp = min(m // 2, round(0.03 * sample_rate))
        out[at:at + m] += 0.6 * sig * ramps(m, (0.0, 1.0), ramp, (1.0, 0.0), ramp)
    return out
