"""Songs as playable audio, regenerated from (seed, tags) instead of stored.

Clients and gateways download, sniff, transcode and measure the files a provider links
to, so they must be real music of the advertised length; keeping none of them on disk
means every byte has to come back identical from the same arguments. This is the one
entry point for a song: it takes the plan (plan.py), its arrangement (arrange.py) and
its performance (perform.py) through to the finished parts, the mix and the MP3. The
song is a few distinct 4- or 8-bar sections, each rendered once and laid end to end,
which keeps a four-minute song far below a second of CPU.
"""

from __future__ import annotations

import numpy as np

from ..core.recipes import INSTRUMENTS
from .arrange import Arrangement
from .dsp import SAMPLE_RATE, add, mix_parts, peak, sample_count
from .mp3 import encode_mp3
from .perform import Performer
from .plan import Plan, plan_song
from .styles import song_parts


def sections(seed: int, duration: float, tags: str = "", instrumental: bool = False,
             form: tuple[str, ...] = (),
             sample_rate: int = SAMPLE_RATE) -> list[tuple[str, float, float]]:
    """The song's sections as (name, start s, end s), cut at its end: its structure."""
    n = sample_count(duration, sample_rate)
    arrangement = Arrangement(plan_song(int(seed), tags, sample_rate), instrumental)
    out, pos = [], 0
    for name in arrangement.order(duration, n, form) if n else []:
        end = min(n, pos + arrangement.length(name))
        out.append((name, pos / sample_rate, end / sample_rate))
        pos = end
    return out


def song_events(seed: int, duration: float, tags: str = "", instrumental: bool = False,
                sample_rate: int = SAMPLE_RATE,
                form: tuple[str, ...] = ()) -> list[tuple[str, int, float, float, float]]:
    """The notes synthesize_parts plays, as (part, MIDI pitch, start s, end s, velocity).

    Planned, not rendered, so it costs a fraction of the audio; notes are cut at the end.
    """
    n = sample_count(duration, sample_rate)
    if n == 0:
        return []
    arrangement = Arrangement(plan_song(int(seed), tags, sample_rate), instrumental)
    out = []
    pos = 0
    for name in arrangement.order(duration, n, form):
        for e in arrangement.events(name):
            start = pos + e.at
            if start < n:
                end = min(n, start + e.length)
                out += [(e.part, pitch, start / sample_rate, end / sample_rate, e.velocity)
                        for pitch in e.pitches]
        pos += arrangement.length(name)
    order = {part: i for i, part in enumerate(INSTRUMENTS)}
    out.sort(key=lambda x: (x[2], order[x[0]], x[1]))
    return out


def synthesize_parts(seed: int, duration: float, tags: str = "", instrumental: bool = False,
                     sample_rate: int = SAMPLE_RATE,
                     form: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The song separated into its parts (names from INSTRUMENTS); they sum to the mix.

    Everything after the parts are laid out is linear and shared (one gain, the same
    fades), so any subset of parts is exactly what that stem sounds like in the mix.
    """
    n = sample_count(duration, sample_rate)
    names = song_parts(tags, instrumental)
    parts = {part: np.zeros(n, np.float32) for part in names}
    if n == 0:
        return parts
    plan = plan_song(int(seed), tags, sample_rate)
    performer = Performer(plan, instrumental)
    pos = 0
    for name in performer.arrangement.order(duration, n, form):
        for part, sig in performer.section(name).items():
            add(parts[part], pos, sig)
        pos += performer.arrangement.length(name)
    _master(parts, plan, duration, n)
    return parts


def _master(parts: dict[str, np.ndarray], plan: Plan, duration: float, n: int) -> None:
    """Normalise, add the vinyl crackle and fade, the same on every part."""
    gain = np.float32(0.93 / (peak(parts, n) or 1.0))
    for x in parts.values():
        x *= gain
    if plan.style.lofi:  # vinyl crackle, after the gain: at most 0.03 on top of 0.93
        rng = np.random.default_rng([plan.detail_seed, 1])
        clicks = rng.integers(0, n, size=max(1, int(duration * 5)))
        parts["fx"][clicks] = rng.uniform(-0.03, 0.03, size=len(clicks)).astype(np.float32)
    fade_in = min(n, int(0.01 * plan.sr))
    ramp_in = np.linspace(0.0, 1.0, fade_in, endpoint=False, dtype=np.float32)
    fade_out = min(n, int(min(3.0, 0.1 * duration) * plan.sr))
    ramp_out = np.cos(np.linspace(0.0, np.pi / 2, fade_out, dtype=np.float32)) ** 2
    for x in parts.values():
        x[:fade_in] *= ramp_in
        if fade_out:
            x[n - fade_out:] *= ramp_out


def synthesize(seed: int, duration: float, tags: str = "", instrumental: bool = False,
               sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 samples in [-1, 1], exactly round(duration * sample_rate) long."""
    parts = synthesize_parts(seed, duration, tags, instrumental, sample_rate)
    return mix_parts(parts, round(duration * sample_rate))


def song_mp3(seed: int, duration: float, tags: str = "", instrumental: bool = False) -> bytes:
    """The song for a clip, as the bytes the media server sends."""
    return encode_mp3(synthesize(seed, duration, tags, instrumental, SAMPLE_RATE), SAMPLE_RATE)
