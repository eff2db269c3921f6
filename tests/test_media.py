"""The media layer: songs must be real, playable, deterministic MP3s of the advertised
length, covers real JPEGs, and the cache must hold to its byte bound."""

from __future__ import annotations

import io
import time

import mutagen.mp3
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from simulator.media import (BITRATE_KBPS, SAMPLE_RATE, ByteLRU, cover_jpeg, encode_mp3, song_mp3,
                             synthesize)
from simulator.media.perform import Performer
from simulator.media.plan import MAJOR, MINOR, plan_song

SR = SAMPLE_RATE


# --- helpers: measurements made independently of the code under test ------------------


def mp3_frames(data: bytes) -> list[tuple[int, int, int]]:
    """Walk the MPEG audio frame chain: (version bits, sample rate, samples) per frame.

    Fails unless the whole file is back-to-back Layer III frame headers and payloads.
    """
    rates = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
    v1 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
    v2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
    frames, i = [], 0
    while i < len(data):
        assert i + 4 <= len(data), f"truncated header at byte {i}"
        h = int.from_bytes(data[i:i + 4], "big")
        assert h >> 21 == 0x7FF, f"no frame sync at byte {i}"
        version, layer = (h >> 19) & 3, (h >> 17) & 3
        assert layer == 1, "not Layer III"
        rate = rates[version][(h >> 10) & 3]
        kbps = (v1 if version == 3 else v2)[(h >> 12) & 15]
        per_frame = 1152 if version == 3 else 576
        i += per_frame // 8 * kbps * 1000 // rate + ((h >> 9) & 1)
        frames.append((version, rate, per_frame))
    assert i == len(data), "file does not end on a frame boundary"
    return frames


def spectra(x: np.ndarray, width: int = 2048, hop: int = 512) -> np.ndarray:
    windows = np.lib.stride_tricks.sliding_window_view(x, width)[::hop] * np.hanning(width)
    return np.abs(np.fft.rfft(windows, axis=1)) ** 2


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def flatness(x: np.ndarray) -> float:
    """Spectral flatness of the long-term spectrum: ~1 for noise, near 0 for tonal sound."""
    p = spectra(x).mean(axis=0)[5:] + 1e-12
    return float(np.exp(np.mean(np.log(p))) / np.mean(p))


def high_share(x: np.ndarray) -> float:
    """Share of the power above 2 kHz."""
    p = spectra(x).mean(axis=0)
    return float(p[np.fft.rfftfreq(2048, 1 / SR) > 2000].sum() / p.sum())


def beat_tempo(x: np.ndarray) -> float:
    """Tempo from the autocorrelation of spectral flux (onsets), searched in 65-160 bpm."""
    log_p = np.log(spectra(x, 1024, 256) + 1e-9)
    flux = np.maximum(0.0, np.diff(log_p, axis=0)).sum(axis=1)
    flux -= flux.mean()
    ac = np.correlate(flux, flux, "full")[len(flux) - 1:]
    fps = SR / 256
    lags = np.arange(1, len(ac))
    bpm = 60 * fps / lags
    ok = (bpm >= 65) & (bpm <= 160)
    return float(60 * fps / lags[ok][np.argmax(ac[1:][ok])])


# --- audio: synthesis ------------------------------------------------------------------


@pytest.mark.parametrize("duration", [0.0, 0.3, 5.0, 91.2])
def test_synthesize_returns_exact_length_float32_in_range(duration):
    x = synthesize(1, duration)
    assert x.dtype == np.float32
    assert x.shape == (round(duration * SR),)
    if len(x):
        assert np.isfinite(x).all()
        assert np.abs(x).max() <= 1.0


def test_synthesize_honours_sample_rate():
    assert len(synthesize(1, 2.5, sample_rate=44100)) == round(2.5 * 44100)


@pytest.mark.parametrize("tags", ["", "heavy metal", "lo-fi piano", "ambient", "edm", "jazz"])
def test_song_is_loud_tonal_and_not_a_single_tone(tags):
    x = synthesize(3, 30.0, tags)
    assert rms(x) > 0.1  # normalised mix, nowhere near silence
    assert flatness(x) < 0.1  # white noise measures ~1.0
    # The strongest pitch under 1 kHz moves around: chords and a melody, not a test tone.
    p = spectra(x, 4096, 2048)
    f = np.fft.rfftfreq(4096, 1 / SR)
    band = (f > 80) & (f < 1000)
    peaks = f[band][np.argmax(p[:, band], axis=1)]
    pitch_classes = set(np.round(12 * np.log2(peaks / 440)).astype(int) % 12)
    assert len(pitch_classes) >= 5


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("tags", ["heavy metal", "lo-fi piano", "pop"])
def test_audible_beat_matches_the_planned_tempo(seed, tags):
    bpm = plan_song(seed, tags, SR).bpm
    measured = beat_tempo(synthesize(seed, 40.0, tags)[5 * SR:])
    # Onset autocorrelation may lock onto half or double time; the beat itself must be there.
    assert min(abs(measured * k / bpm - 1) for k in (0.5, 1, 2)) < 0.03, (measured, bpm)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_tags_steer_tempo_mode_and_brightness(seed):
    metal, lofi = plan_song(seed, "heavy metal", SR), plan_song(seed, "lo-fi piano", SR)
    assert 70 <= lofi.bpm <= 100 < 125 <= metal.bpm <= 150
    assert plan_song(seed, "sad ballad", SR).scale == MINOR
    assert plan_song(seed, "happy pop", SR).scale == MAJOR
    loud = high_share(synthesize(seed, 20.0, "heavy metal", instrumental=True))
    dull = high_share(synthesize(seed, 20.0, "lo-fi piano", instrumental=True))
    assert loud > 0.01 and loud > 5 * dull


def test_piano_tag_gives_decaying_notes():
    """A struck timbre: within each chord hit the level falls, unlike a sustained pad."""
    def decay_ratio(tags):
        hit = Performer(plan_song(4, tags, SR), True)._chord(0, SR)  # held for 1 s
        return rms(hit[int(0.05 * SR):int(0.25 * SR)]) / rms(hit[int(0.6 * SR):int(0.8 * SR)])

    assert decay_ratio("piano") > 1.6
    assert decay_ratio("pop") < 1.1


def test_identical_arguments_give_identical_samples():
    a = synthesize(42, 12.0, "pop, happy")
    b = synthesize(42, 12.0, "pop, happy")
    assert np.array_equal(a, b)


def test_seed_and_tags_change_the_song():
    base = synthesize(1, 10.0, "heavy metal")
    other_seed = synthesize(2, 10.0, "heavy metal")
    other_tags = synthesize(1, 10.0, "lo-fi piano")
    assert np.mean(np.abs(base - other_seed)) > 0.05
    assert np.mean(np.abs(base - other_tags)) > 0.05


def test_tag_spelling_and_order_do_not_matter():
    assert np.array_equal(synthesize(9, 4.0, "Lo-Fi, Piano"), synthesize(9, 4.0, "piano lofi"))


def test_instrumental_drops_the_lead_line():
    vocal = synthesize(5, 20.0, "pop")
    inst = synthesize(5, 20.0, "pop", instrumental=True)
    assert np.mean(np.abs(vocal - inst)) > 0.02
    # The lead sits in the vocal range; without it that band loses energy.
    f = np.fft.rfftfreq(2048, 1 / SR)
    band = (f > 300) & (f < 3000)
    assert spectra(vocal)[:, band].sum() > 1.5 * spectra(inst)[:, band].sum()


def test_no_clicks_at_the_ends():
    x = synthesize(8, 6.0, "rock")
    assert abs(x[0]) < 1e-3 and abs(x[-1]) < 1e-3
    assert rms(x[:20]) < 0.05 and rms(x[-200:]) < 0.01


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_synthesize_rejects_bad_durations(bad):
    with pytest.raises(ValueError):
        synthesize(1, bad)


def test_long_song_renders_quickly():
    synthesize(1, 240.0, "pop")  # warm caches
    times = []
    for seed in (2, 3, 4):  # best of three, so a busy machine does not fail the test
        start = time.perf_counter()
        synthesize(seed, 240.0, "rock")
        times.append(time.perf_counter() - start)
    assert min(times) < 0.5


# --- audio: MP3 ----------------------------------------------------------------------


@pytest.mark.parametrize("duration", [0.5, 5.0, 31.7, 91.2, 240.0])
def test_song_mp3_is_mono_mpeg2_layer3_of_the_requested_length(duration):
    data = song_mp3(7, duration, "rock")
    info = mutagen.mp3.MP3(io.BytesIO(data)).info
    assert info.sample_rate == SR
    assert info.channels == 1
    assert info.bitrate == BITRATE_KBPS * 1000
    assert abs(info.length - duration) < 0.05, info.length
    frames = mp3_frames(data)
    assert {(v, r) for v, r, _ in frames} == {(2, SR)}  # MPEG-2, every frame
    assert abs(sum(n for _, _, n in frames) / SR - duration) < 0.05


@pytest.mark.parametrize("rate", [8000, 16000, 24000, 32000, 44100, 48000])
@pytest.mark.parametrize("duration", [1.0, 7.77, 20.0])
def test_encode_mp3_length_matches_the_input_at_any_mpeg_rate(rate, duration):
    n = round(duration * rate)
    tone = (0.3 * np.sin(2 * np.pi * 330 * np.arange(n) / rate)).astype(np.float32)
    info = mutagen.mp3.MP3(io.BytesIO(encode_mp3(tone, rate))).info
    assert info.sample_rate == rate
    assert abs(info.length - n / rate) < 0.05


def test_encode_mp3_rejects_non_mpeg_rates_and_stereo():
    with pytest.raises(ValueError):
        encode_mp3(np.zeros(1000, np.float32), 22000)
    with pytest.raises(ValueError):
        encode_mp3(np.zeros((1000, 2), np.float32), SR)


def test_song_mp3_is_deterministic_and_varies_with_inputs():
    a = song_mp3(11, 8.0, "edm")
    assert a == song_mp3(11, 8.0, "edm")
    assert a != song_mp3(12, 8.0, "edm")
    assert a != song_mp3(11, 8.0, "ambient")
    assert a != song_mp3(11, 8.0, "edm", instrumental=True)


# --- image ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [64, 300, 512])
def test_cover_is_a_square_jpeg_of_the_requested_size(size):
    img = Image.open(io.BytesIO(cover_jpeg(1, "Midnight Drive", size)))
    assert img.format == "JPEG"
    assert img.size == (size, size)
    assert img.mode == "RGB"


def test_cover_is_deterministic_and_varies_with_seed_and_title():
    a = cover_jpeg(5, "Same Title")
    assert a == cover_jpeg(5, "Same Title")
    assert a != cover_jpeg(6, "Same Title")
    assert a != cover_jpeg(5, "Other Title")


def test_cover_shows_the_title():
    blank = np.asarray(Image.open(io.BytesIO(cover_jpeg(3, ""))), dtype=np.int16)
    titled = np.asarray(Image.open(io.BytesIO(cover_jpeg(3, "Hello World"))), dtype=np.int16)
    changed = np.abs(titled - blank).max(axis=2) > 60
    assert changed.mean() > 0.005
    rows = np.nonzero(changed.any(axis=1))[0]
    assert rows.min() > 512 // 2  # drawn across the lower part


def _ink(title: str) -> np.ndarray:
    """Where the title's pixels are: what differs from the same cover with no title."""
    blank = np.asarray(Image.open(io.BytesIO(cover_jpeg(3, ""))), dtype=np.int16)
    titled = np.asarray(Image.open(io.BytesIO(cover_jpeg(3, title))), dtype=np.int16)
    return np.abs(titled - blank).max(axis=2) > 60


def test_a_mixed_script_title_is_drawn_whole():
    from simulator.media import image
    faces = image._faces()
    if not any(image._covers(face, "夏") for face in faces):
        pytest.skip("no CJK face installed (make test installs fonts-droid-fallback)")
    latin, mixed = _ink("Summer"), _ink("夏の歌 Summer")
    # The CJK words take a line of their own above "Summer": more ink, higher up.
    assert mixed.sum() > latin.sum() * 1.3
    assert np.nonzero(mixed.any(axis=1))[0].min() < np.nonzero(latin.any(axis=1))[0].min()


@pytest.mark.parametrize("title", ["Été — 夏の歌", "夏の歌", "x" * 500, "word " * 300,
                                   "😀🎵", "\ud800 lone surrogate", "tab\there\x00nul", "   "])
def test_awkward_titles_still_give_a_cover(title):
    img = Image.open(io.BytesIO(cover_jpeg(2, title, 256)))
    assert img.format == "JPEG" and img.size == (256, 256)


def test_cover_rejects_silly_sizes():
    with pytest.raises(ValueError):
        cover_jpeg(1, "x", 0)


# --- cache ---------------------------------------------------------------------------


def test_lru_evicts_least_recently_used_by_bytes():
    cache = ByteLRU(10)
    cache.put("a", b"aaaa")
    cache.put("b", b"bbbb")
    assert cache.size == 8 and len(cache) == 2
    cache.put("c", b"cccc")  # 12 > 10: "a" goes
    assert cache.get("a") is None
    assert cache.get("b") == b"bbbb" and cache.get("c") == b"cccc"
    assert cache.size == 8


def test_lru_get_refreshes_recency():
    cache = ByteLRU(10)
    cache.put("a", b"aaaa")
    cache.put("b", b"bbbb")
    assert cache.get("a") == b"aaaa"
    cache.put("c", b"cccc")  # "b" is now the least recent
    assert cache.get("b") is None
    assert cache.get("a") == b"aaaa"


def test_lru_replacing_a_key_updates_the_size():
    cache = ByteLRU(10)
    cache.put("a", b"aaaa")
    cache.put("a", b"aa")
    assert cache.size == 2 and len(cache) == 1 and cache.get("a") == b"aa"


def test_lru_oversized_values_are_returned_but_not_kept():
    cache = ByteLRU(10)
    cache.put("small", b"12345")
    calls = []

    def make():
        calls.append(1)
        return b"x" * 11

    assert cache.get_or_make("big", make) == b"x" * 11
    assert cache.get_or_make("big", make) == b"x" * 11
    assert len(calls) == 2  # never cached, so made every time
    assert "big" not in cache
    assert cache.get("small") == b"12345" and cache.size == 5
    cache.put("small", b"y" * 11)  # an oversized replacement drops the stale value too
    assert cache.get("small") is None and cache.size == 0


def test_lru_get_or_make_makes_once():
    cache = ByteLRU(100)
    calls = []
    for _ in range(3):
        assert cache.get_or_make("k", lambda: calls.append(1) or b"value") == b"value"
    assert len(calls) == 1


ops = st.lists(st.one_of(
    st.tuples(st.just("put"), st.integers(0, 7), st.integers(0, 40)),
    st.tuples(st.just("get"), st.integers(0, 7), st.just(0)),
    st.tuples(st.just("make"), st.integers(0, 7), st.integers(0, 40)),
), max_size=80)


@settings(max_examples=300, deadline=None)
@given(max_bytes=st.integers(0, 64), operations=ops)
def test_lru_size_invariant(max_bytes, operations):
    cache = ByteLRU(max_bytes)
    for op, key, length in operations:
        value = bytes([key]) * length
        if op == "put":
            cache.put(key, value)
            assert (cache.get(key) == value) == (length <= max_bytes)  # newest always fits
        elif op == "make":
            assert cache.get_or_make(key, lambda: value) is not None
        else:
            cache.get(key)
        held = [cache._items[k] for k in cache._items]
        assert cache.size <= max_bytes
        assert cache.size == sum(map(len, held))
        assert len(cache) == len(held)
