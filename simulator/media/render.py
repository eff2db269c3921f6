"""Recipes to samples: every derived clip is rendered from its sources' actual parts
(new songs and speech are synthesized by audio.py and speech.py; this module builds on them).

A stem must be a part of its source, an extension must start as its source did, an
infill must leave the rest alone; rendering each recipe from its sources' separated
parts makes those claims true by construction, and keeps the parts summing to the mix
at every level. Rendered parts are memoised because derived recipes re-render their
sources and one clip is fetched in several formats.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np

from ..core.recipes import (INSTRUMENTAL, INSTRUMENTS, LEAD_VOCALS, SILENT, VOCALS, Audio,
                            Concat, Excerpt, Extension, Infill, Mashup, Overlay, Remaster,
                            Song, Speech, Stem, speech_plan)
from .audio import synthesize_parts
from .cache import ByteLRU
from .dsp import SAMPLE_RATE, mix_parts
from .speech import speak
from .styles import song_parts

Parts = dict[str, np.ndarray]

SR = SAMPLE_RATE
# Where pieces are joined (an extension's source and tail, a concat's parts) the earlier
# piece fades out over this long before the join, so the cut does not click; every
# sample before that is the piece's own. The same fade in both keeps a concat of an
# extension chain identical to the extension.
JOIN_FADE_S = 0.02
PCM_CACHE_BYTES = 192 * 1024 * 1024  # one 4-minute song in all its parts, and change
OVERLAY_PEAK = 0.98

_VOICES = ("vocals", "backing_vocals")
# Remastering: a gentle lift of the top octaves, then a shared gain envelope that pushes
# the level up by REMASTER_DRIVE_DB while holding peaks under REMASTER_CEILING.
REMASTER_DRIVE_DB = 3.0
REMASTER_CEILING = 0.97
_REMASTER_PEAK = 0.93
_REMASTER_BLOCK = 256
_REMASTER_RADIUS = 8  # blocks: the envelope eases over ~0.1 s


def samples(seconds: float) -> int:
    """Where a time falls, in samples: the one rounding every recipe length uses."""
    return round(seconds * SR)


def length(recipe: Audio) -> int:
    """How many samples the recipe renders. An excerpt runs between its bounds' samples
    and a concat is its pieces end to end, so pieces cut from one clip at the same times
    add back up to that clip's exact length (rounding each piece's duration would not)."""
    if isinstance(recipe, Excerpt):
        return max(0, samples(recipe.end) - samples(recipe.start))
    if isinstance(recipe, Concat):
        return sum(length(part) for part in recipe.parts)
    return samples(recipe.duration)


def stem_parts(part: str) -> frozenset[str]:
    """Which separated parts a stem name takes from its source."""
    if part == INSTRUMENTAL:
        return frozenset(INSTRUMENTS) - frozenset(_VOICES)
    if part == VOCALS:
        return frozenset(_VOICES)
    if part == LEAD_VOCALS:
        return frozenset(("vocals",))
    if part in INSTRUMENTS:
        return frozenset((part,))
    if part == SILENT:
        return frozenset()
    raise ValueError(f"no such stem {part!r}; use {VOCALS!r}, {INSTRUMENTAL!r} or one of "
                     f"{INSTRUMENTS}")


def _ordered(names) -> tuple[str, ...]:
    names = set(names)
    return tuple(part for part in INSTRUMENTS if part in names)


@lru_cache(maxsize=4096)
def parts_of(recipe: Audio) -> tuple[str, ...]:
    """The parts the recipe's audio has, in INSTRUMENTS order; never renders audio."""
    if isinstance(recipe, Song):
        return song_parts(recipe.tags, recipe.instrumental)
    if isinstance(recipe, Speech):
        return ("vocals",)
    if isinstance(recipe, Stem):
        return _ordered(stem_parts(recipe.part) & set(parts_of(recipe.source)))
    if isinstance(recipe, (Excerpt, Remaster)):
        return parts_of(recipe.source)
    if isinstance(recipe, (Concat, Mashup)):
        return _ordered(p for source in recipe.parts for p in parts_of(source))
    if isinstance(recipe, Extension):
        return _ordered((*parts_of(recipe.source), *parts_of(recipe.tail)))
    if isinstance(recipe, Infill):
        return _ordered((*parts_of(recipe.source), *parts_of(recipe.fill)))
    if isinstance(recipe, Overlay):
        return _ordered((*parts_of(recipe.base), *parts_of(recipe.layer)))
    raise TypeError(f"not a recipe: {recipe!r}")


class _Pcm:
    """Rendered parts as one cache entry, sized by the bytes they hold."""

    __slots__ = ("parts", "nbytes")

    def __init__(self, parts: Parts):
        self.parts = parts
        self.nbytes = sum(x.nbytes for x in parts.values())

    def __len__(self) -> int:
        return self.nbytes


_cache = ByteLRU(PCM_CACHE_BYTES)
_lock = threading.Lock()  # files are made on worker threads


def clear_cache() -> None:
    """Forget every rendered recipe (tests and benchmarks time cold renders)."""
    global _cache
    with _lock:
        _cache = ByteLRU(_cache.max_bytes)


def render_parts(recipe: Audio) -> Parts:
    """The recipe's audio separated into parts, each exactly length(recipe) long.

    The arrays are shared with the cache and read-only; copy before changing one.
    """
    with _lock:
        hit = _cache.get(recipe)
    if hit is not None:
        return dict(hit.parts)
    parts = _make(recipe)
    n = length(recipe)
    parts = {p: _fit(parts[p], n) for p in _ordered(parts)}
    assert tuple(parts) == parts_of(recipe), (tuple(parts), parts_of(recipe))
    for x in parts.values():
        x.flags.writeable = False
    with _lock:
        _cache.put(recipe, _Pcm(parts))
    return dict(parts)


def render(recipe: Audio) -> np.ndarray:
    """The recipe's mix: the sum of its parts, float32 mono at SAMPLE_RATE."""
    return mix_parts(render_parts(recipe), length(recipe))


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    """Exactly n samples: cut, or padded with silence (sums of rounded lengths drift)."""
    if len(x) == n:
        return x
    if len(x) > n:
        return x[:n]
    out = np.zeros(n, np.float32)
    out[:len(x)] = x
    return out


def _window(x: np.ndarray, start: int, n: int) -> np.ndarray:
    """x[start:start + n], with silence wherever that runs outside x (a view when inside)."""
    if 0 <= start and start + n <= len(x):
        return x[start:start + n]
    out = np.zeros(n, np.float32)
    _add_at(out, x, -start)
    return out


def _add_at(dst: np.ndarray, src: np.ndarray, at: int) -> None:
    """Mix src into dst from sample `at` (which may be negative), cut to dst."""
    lo, hi = max(0, at), min(len(dst), at + len(src))
    if hi > lo:
        dst[lo:hi] += src[lo - at:hi - at]


def _joined(pieces: list[tuple[Parts, int]]) -> Parts:
    """Pieces end to end, each taking its given length; parts a piece lacks are silent.

    Every piece but the last fades out over its final JOIN_FADE_S.
    """
    total = sum(n for _, n in pieces)
    out = {p: np.empty(total, np.float32)
           for p in _ordered(p for parts, _ in pieces for p in parts)}
    pos = 0
    for index, (parts, n) in enumerate(pieces):
        for p, x in out.items():
            have = min(n, len(parts[p])) if p in parts else 0
            if have:
                x[pos:pos + have] = parts[p][:have]
            x[pos + have:pos + n] = 0.0
        pos += n
        fade = min(n, samples(JOIN_FADE_S))
        if fade and index < len(pieces) - 1:
            ramp = np.cos(np.linspace(0.0, np.pi / 2, fade, dtype=np.float32)) ** 2
            for x in out.values():
                x[pos - fade:pos] *= ramp
    return out


def _make(recipe: Audio) -> Parts:
    if isinstance(recipe, Song):
        return synthesize_parts(recipe.seed, recipe.duration, recipe.tags, recipe.instrumental,
                                form=recipe.form)
    if isinstance(recipe, Speech):
        return {"vocals": speak(speech_plan(recipe.text), recipe.duration, recipe.seed)}
    if isinstance(recipe, Extension):
        return _extension(recipe)
    if isinstance(recipe, Concat):
        return _joined([(render_parts(s), length(s)) for s in recipe.parts])
    if isinstance(recipe, Excerpt):
        start, n = samples(recipe.start), length(recipe)
        return {p: _window(x, start, n) for p, x in render_parts(recipe.source).items()}
    if isinstance(recipe, Stem):
        keep = stem_parts(recipe.part)
        return {p: x for p, x in render_parts(recipe.source).items() if p in keep}
    if isinstance(recipe, Infill):
        return _infill(recipe)
    if isinstance(recipe, Overlay):
        return _overlay(recipe)
    if isinstance(recipe, Mashup):
        return _mashup(recipe)
    if isinstance(recipe, Remaster):
        return _remaster(render_parts(recipe.source))
    raise TypeError(f"not a recipe: {recipe!r}")


def _extension(recipe: Extension) -> Parts:
    cut = max(0, samples(recipe.continue_at))
    return _joined([(render_parts(recipe.source), cut),
                    (render_parts(recipe.tail), samples(recipe.tail.duration))])


def _infill(recipe: Infill) -> Parts:
    source = render_parts(recipe.source)
    n = samples(recipe.duration)
    lo = min(n, max(0, samples(recipe.start)))
    hi = min(n, max(lo, samples(recipe.end)))
    fill = render_parts(recipe.fill)
    out = {}
    for p in _ordered((*source, *fill)):
        x = np.array(source[p]) if p in source else np.zeros(n, np.float32)
        x[lo:hi] = _window(fill[p], 0, hi - lo) if p in fill else 0.0
        out[p] = x
    return out


def _overlay(recipe: Overlay) -> Parts:
    """Base plus layer; if the sum would pass full scale, one gain on every part brings
    it back (layering two full mixes otherwise clips in every file format)."""
    base = render_parts(recipe.base)
    layer = render_parts(recipe.layer)
    n = samples(recipe.duration)
    at = samples(recipe.at)
    out = {}
    for p in _ordered((*base, *layer)):
        x = np.array(base[p]) if p in base else np.zeros(n, np.float32)
        if p in layer:
            _add_at(x, layer[p], at)
        out[p] = x
    peak = float(np.abs(mix_parts(out, n)).max()) if n else 0.0
    if peak > OVERLAY_PEAK:
        gain = np.float32(OVERLAY_PEAK / peak)
        for x in out.values():
            x *= gain
    return out


def _mashup(recipe: Mashup) -> Parts:
    n = samples(recipe.duration)
    scale = np.float32(1.0 / len(recipe.parts))
    out: Parts = {}
    for source in recipe.parts:
        for p, x in render_parts(source).items():
            if p not in out:
                out[p] = np.zeros(n, np.float32)
            _add_at(out[p], x, 0)
    for x in out.values():
        x *= scale
    return out


def _brighten(x: np.ndarray) -> np.ndarray:
    """A zero-phase 3-tap shelf: unity at low frequencies, +2.3 dB at the top.

    y = x + 0.3 (x − (x[n−1] + 2 x[n] + x[n+1]) / 4), written to make one new array.
    """
    y = x * np.float32(1.15)
    side = np.float32(0.075)
    y[1:] -= side * x[:-1]
    y[:-1] -= side * x[1:]
    return y


def _remaster(parts: Parts) -> Parts:
    """Brighter, then louder through one gain envelope shared by every part.

    The same envelope on every part keeps them summing to the mix; see _limiter.
    """
    bright = {p: _brighten(x) for p, x in parts.items()}
    if not bright:
        return bright
    n = len(next(iter(bright.values())))
    env = _limiter(mix_parts(bright, n))
    if env is not None:
        for x in bright.values():
            x *= env
    return bright


def _limiter(mix: np.ndarray) -> np.ndarray | None:
    """A gain envelope that lifts the mix by REMASTER_DRIVE_DB without passing the ceiling.

    Per block, the most gain that keeps the block's peak under the ceiling; then a
    minimum over the blocks around each one and an average over fewer of them, so the
    gain eases down ahead of a peak and back up after it. Both steps only ever give a
    block a gain at or below its own limit, and the envelope runs linearly between the
    smaller gains of neighbouring blocks, so no sample passes the ceiling.
    """
    peak = float(np.abs(mix).max()) if len(mix) else 0.0
    if peak == 0.0:
        return None
    n, block, radius = len(mix), _REMASTER_BLOCK, _REMASTER_RADIUS
    drive = _REMASTER_PEAK / peak * 10 ** (REMASTER_DRIVE_DB / 20)
    blocks = -(-n // block)
    padded = np.zeros(blocks * block, np.float32)
    padded[:n] = np.abs(mix)
    limit = np.minimum(drive, REMASTER_CEILING / np.maximum(padded.reshape(blocks, block)
                                                            .max(axis=1), 1e-9))
    wide = np.pad(limit, radius, constant_values=drive)
    held = np.lib.stride_tricks.sliding_window_view(wide, 2 * radius + 1).min(axis=1)
    half = radius // 2
    sums = np.cumsum(np.pad(held, half, mode="edge"))
    sums = np.concatenate(([0.0], sums))
    gain = (sums[2 * half + 1:] - sums[:-2 * half - 1]) / (2 * half + 1)
    gain = np.minimum(gain, limit)  # guards the average against rounding
    edges = np.minimum(np.concatenate(([gain[0]], gain)), np.concatenate((gain, [gain[-1]])))
    edges = edges.astype(np.float32)
    ramp = np.arange(block, dtype=np.float32) / np.float32(block)
    env = edges[:-1, None] + (edges[1:] - edges[:-1])[:, None] * ramp[None, :]
    return env.reshape(-1)[:n]
