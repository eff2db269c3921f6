"""Derived audio must be what its recipe claims: stems are parts of their source, an
extension starts as its source did, an infill leaves the rest alone; every format holds
the rendered samples, and the facts (score, lyric timing, waveform) match the audio."""

from __future__ import annotations

import asyncio
import io
import wave

import av
import mutagen.mp3
import numpy as np
import pytest

from simulator.core.recipes import (INSTRUMENTAL, INSTRUMENTS, VOCALS, Concat, Excerpt, Extension,
                                    Infill, Mashup, Overlay, Remaster, Song, Stem)
from simulator.core import derive, songwriter
from simulator.core.engine import Engine
from simulator.media import audio, facts, formats, render
from simulator.media import files as media_files
from simulator.media.image import cover_jpeg

SR = audio.SAMPLE_RATE

POP = Song(5, 16.0, "pop", False)
POP_B = Song(6, 12.0, "pop", False)
METAL = Song(7, 10.0, "heavy metal", True)
AMBIENT = Song(8, 9.0, "ambient", True)
LOFI = Song(9, 8.0, "lo-fi piano", False)
EDM = Song(10, 20.0, "edm", False)  # long enough for the riser into the chorus

DERIVED = {
    "extension": Extension(POP, 9.5, Song(11, 6.0, "pop", False)),
    "concat": Concat((POP_B, METAL, LOFI)),
    "excerpt": Excerpt(POP, 3.25, 11.0),
    "stem_vocals": Stem(POP, VOCALS),
    "stem_instrumental": Stem(POP, INSTRUMENTAL),
    "stem_drums": Stem(METAL, "drums"),
    "infill": Infill(POP, 4.0, 8.5, Song(12, 4.5, "pop", False)),
    "overlay": Overlay(METAL, POP_B, 2.0),
    "mashup": Mashup((POP_B, AMBIENT, EDM)),
    "remaster": Remaster(POP),
    "nested": Remaster(Excerpt(Extension(Concat((POP_B, LOFI)), 15.0, Song(13, 5.0, "edm", True)),
                               1.0, 19.0)),
}
ALL = {"pop": POP, "metal": METAL, "ambient": AMBIENT, "lofi": LOFI, "edm": EDM, **DERIVED}


def n_of(recipe) -> int:
    return round(recipe.duration * SR)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def mix(recipe) -> np.ndarray:
    return render.render(recipe)


def parts(recipe) -> dict[str, np.ndarray]:
    return render.render_parts(recipe)


# --- parts and mixes -------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ALL))
def test_parts_sum_to_the_mix_at_the_exact_length(name):
    recipe = ALL[name]
    separated = parts(recipe)
    x = mix(recipe)
    assert x.dtype == np.float32 and x.shape == (n_of(recipe),)
    assert all(p.shape == (n_of(recipe),) for p in separated.values())
    total = np.zeros(n_of(recipe), np.float64)
    for p in separated.values():
        total += p
    assert np.abs(total - x).max() < 1e-4
    assert np.isfinite(x).all() and np.abs(x).max() <= 1.0


@pytest.mark.parametrize("name", list(ALL))
def test_parts_of_names_the_rendered_parts_in_order(name):
    recipe = ALL[name]
    names = render.parts_of(recipe)
    assert names == tuple(parts(recipe))
    assert list(names) == [p for p in INSTRUMENTS if p in names]


def test_synthesize_is_the_sum_of_synthesize_parts():
    separated = audio.synthesize_parts(3, 12.0, "rock")
    assert np.array_equal(audio.synthesize(3, 12.0, "rock"), audio.mix_parts(separated, 12 * SR))
    assert np.abs(sum(separated.values()) - audio.synthesize(3, 12.0, "rock")).max() < 1e-4


def test_songs_have_the_parts_their_style_plays():
    assert render.parts_of(Song(1, 10.0, "pop", False)) == (
        "vocals", "backing_vocals", "drums", "percussion", "bass", "strings")
    assert render.parts_of(Song(1, 10.0, "pop", True)) == (
        "drums", "percussion", "bass", "strings")
    assert render.parts_of(Song(1, 10.0, "ambient", True)) == ("bass", "strings")
    # The chords are separated as the instrument that plays them.
    assert "guitar" in render.parts_of(Song(1, 10.0, "heavy metal", True))
    assert "guitar" in render.parts_of(Song(1, 10.0, "acoustic folk", True))
    assert "synth" in render.parts_of(Song(1, 10.0, "edm", True))
    assert "keys" in render.parts_of(Song(1, 10.0, "jazz piano", True))
    metal = Song(1, 10.0, "heavy metal", True)
    assert rms(render.render(Stem(metal, "guitar"))) > 0.01
    assert not render.render(Stem(metal, "keys")).any()
    assert "fx" in render.parts_of(Song(1, 10.0, "lo-fi", True))
    for recipe in (POP, METAL, AMBIENT, LOFI, EDM):  # every part named really sounds
        for name, x in parts(recipe).items():
            assert rms(x) > 1e-4, (recipe, name)


def test_parts_of_does_not_render(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("parts_of rendered audio")

    monkeypatch.setattr(render, "synthesize_parts", refuse)
    fresh = Stem(Extension(Song(99, 200.0, "jazz", False), 100.0, Song(98, 60.0, "jazz", False)),
                 INSTRUMENTAL)
    assert render.parts_of(fresh) == ("drums", "percussion", "bass", "keys")  # jazz: piano


def test_rendered_parts_are_cached_and_read_only():
    first = parts(POP)
    again = parts(POP)
    assert all(first[p] is again[p] for p in first)
    with pytest.raises(ValueError):
        first["vocals"][0] = 1.0


# --- derived recipes are what they claim ----------------------------------------------------


def test_extension_keeps_its_source_then_plays_the_tail():
    ext = DERIVED["extension"]
    cut = round(ext.continue_at * SR)
    fade = round(render.JOIN_FADE_S * SR)
    x, source, tail = mix(ext), mix(ext.source), mix(ext.tail)
    assert len(x) == round((ext.continue_at + ext.tail.duration) * SR)
    assert np.array_equal(x[:cut - fade], source[:cut - fade])
    assert np.abs(x[cut - fade:cut]).max() <= np.abs(source[cut - fade:cut]).max() + 1e-6
    assert np.allclose(x[cut:], tail, atol=1e-6)
    for name, p in parts(ext).items():  # part by part too
        assert np.array_equal(p[:cut - fade], parts(ext.source)[name][:cut - fade])


def test_concat_is_its_parts_joined():
    recipe = DERIVED["concat"]
    fade = round(render.JOIN_FADE_S * SR)
    pieces = [mix(p) for p in recipe.parts]
    x = mix(recipe)
    pos = 0
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        keep = len(piece) if last else len(piece) - fade  # the join fade, as an extension's
        assert np.array_equal(x[pos:pos + keep], piece[:keep])
        if not last:
            assert np.all(np.abs(x[pos + keep:pos + len(piece)])
                          <= np.abs(piece[keep:]) + 1e-7)
        pos += len(piece)
    assert pos == len(x)


def test_concat_of_an_extension_chain_is_the_extension():
    ext = DERIVED["extension"]
    chain = Concat((Excerpt(ext.source, 0.0, ext.continue_at),
                    Excerpt(ext, ext.continue_at, ext.duration)))
    assert np.array_equal(mix(chain), mix(ext))


def test_excerpt_is_a_slice_and_pads_past_the_end():
    recipe = DERIVED["excerpt"]
    start = round(recipe.start * SR)
    assert np.array_equal(mix(recipe), mix(POP)[start:start + n_of(recipe)])
    past = Excerpt(POP, 14.0, 18.0)
    x = mix(past)
    assert len(x) == 4 * SR
    assert np.array_equal(x[:2 * SR], mix(POP)[14 * SR:])
    assert not x[2 * SR:].any()


def test_infill_leaves_everything_outside_the_window_alone():
    recipe = DERIVED["infill"]
    lo, hi = round(recipe.start * SR), round(recipe.end * SR)
    x, source = mix(recipe), mix(recipe.source)
    assert len(x) == len(source)
    assert np.array_equal(x[:lo], source[:lo])
    assert np.array_equal(x[hi:], source[hi:])
    assert np.allclose(x[lo:hi], mix(recipe.fill)[:hi - lo], atol=1e-6)
    assert np.mean(np.abs(x[lo:hi] - source[lo:hi])) > 0.02


@pytest.mark.parametrize("recipe", [Overlay(Stem(POP, INSTRUMENTAL), Stem(POP_B, VOCALS), 2.0),
                                    DERIVED["overlay"]])
def test_overlay_adds_the_layer_from_its_offset(recipe):
    at = round(recipe.at * SR)
    expected = mix(recipe.base).astype(np.float64)
    layer = mix(recipe.layer)
    layer = layer[:len(expected) - at]
    expected[at:at + len(layer)] += layer
    x = mix(recipe)
    assert len(x) == n_of(recipe.base)
    # Plain addition, scaled back only when the sum would pass full scale.
    gain = min(1.0, render.OVERLAY_PEAK / np.abs(expected).max())
    assert np.abs(x - gain * expected).max() < 1e-4
    assert np.abs(x).max() <= 1.0


def test_mashup_averages_its_sources_padded_to_the_longest():
    recipe = DERIVED["mashup"]
    expected = np.zeros(n_of(recipe))
    for source in recipe.parts:
        x = mix(source)
        expected[:len(x)] += x
    assert np.abs(mix(recipe) - expected / 3).max() < 1e-4


def test_stems_separate_the_voice_from_the_band():
    vocal, inst = mix(Stem(POP, VOCALS)), mix(Stem(POP, INSTRUMENTAL))
    assert rms(vocal) > 0.02 and rms(inst) > 0.05
    assert np.abs(vocal + inst - mix(POP)).max() < 1e-4
    assert set(parts(Stem(POP, VOCALS))) == {"vocals", "backing_vocals"}
    silent = Stem(METAL, VOCALS)  # an instrumental has no voice to separate
    assert render.parts_of(silent) == ()
    assert len(mix(silent)) == n_of(METAL) and not mix(silent).any()
    drums = parts(Stem(METAL, "drums"))
    assert list(drums) == ["drums"] and drums["drums"] is parts(METAL)["drums"]
    with pytest.raises(ValueError):
        render.parts_of(Stem(POP, "kazoo"))


def test_remaster_is_louder_and_brighter_without_clipping():
    x, source = mix(DERIVED["remaster"]), mix(POP)
    assert np.abs(x).max() <= render.REMASTER_CEILING + 1e-6
    assert rms(x) > 1.15 * rms(source)

    def top(y):
        p = np.abs(np.fft.rfft(y)) ** 2
        return p[np.fft.rfftfreq(len(y), 1 / SR) > 5000].sum() / p.sum()

    assert top(x) > top(source)
    assert np.corrcoef(x, source)[0, 1] > 0.95  # the same music


# --- formats -------------------------------------------------------------------------


def test_wav_holds_the_rendered_samples():
    recipe = DERIVED["excerpt"]
    with wave.open(io.BytesIO(formats.wav(recipe))) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (1, 2, SR)
        assert f.getnframes() == n_of(recipe)
        pcm = np.frombuffer(f.readframes(f.getnframes()), "<i2") / 32767.0
    assert np.abs(pcm - mix(recipe)).max() < 1e-4


def test_mp3_has_the_recipes_length():
    recipe = DERIVED["extension"]
    info = mutagen.mp3.MP3(io.BytesIO(formats.mp3(recipe))).info
    assert abs(info.length - recipe.duration) < 0.05


@pytest.mark.parametrize("duration", [2.5, 7.3])
def test_mp4_is_a_video_of_the_cover_over_the_song(duration):
    recipe = Song(21, duration, "pop", False)
    data = formats.mp4(recipe, cover_jpeg(21, "Title", formats.VIDEO_SIZE))
    with av.open(io.BytesIO(data)) as container:
        assert abs(container.duration / 1e6 - duration) < 0.1
        (video,), (sound,) = container.streams.video, container.streams.audio
        assert video.codec_context.name == "h264" and sound.codec_context.name == "aac"
        assert (video.width, video.height) == (formats.VIDEO_SIZE, formats.VIDEO_SIZE)
        assert sound.rate == SR
        assert abs(float(video.duration * video.time_base) - duration) < 0.1
        assert abs(float(sound.duration * sound.time_base) - duration) < 0.1
        frames = list(container.decode(video=0))
        assert len(frames) == int(np.ceil(duration * formats.VIDEO_FPS))
        picture = frames[0].to_ndarray(format="rgb24")
        assert picture.std() > 5  # the cover, not a blank frame
    with av.open(io.BytesIO(data)) as container:
        decoded = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    assert abs(len(decoded) - n_of(recipe)) <= 2048  # AAC priming and framing
    assert rms(decoded) > 0.5 * rms(mix(recipe))


def test_every_format_is_deterministic_and_follows_the_seed():
    a, b = Song(31, 3.0, "rock", False), Song(32, 3.0, "rock", False)
    for make in (formats.mp3, formats.wav):
        first = make(a)
        render.clear_cache()
        assert make(a) == first
        assert make(b) != first
    assert formats.mp3(Extension(a, 1.0, b)) != formats.mp3(Extension(b, 1.0, a))


def test_media_files_and_content_types():
    assert media_files.FILE_NAMES == ("audio.mp3", "stream.mp3", "audio.wav", "audio.m4a",
                                      "cover.jpeg", "cover-large.jpeg", "video.mp4")
    assert media_files.CONTENT_TYPES["audio.wav"] == "audio/wav"
    assert media_files.CONTENT_TYPES["audio.m4a"] == "audio/mp4"
    assert media_files.CONTENT_TYPES["video.mp4"] == "video/mp4"
    assert media_files.media_path("abc", "cover-large.jpeg") == "/media/abc/cover-large.jpeg"
    with pytest.raises(ValueError):
        media_files.media_path("abc", "secret.txt")


# --- facts ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ALL))
def test_score_notes_lie_inside_the_audio(name):
    recipe = ALL[name]
    notes = facts.score(recipe)
    assert notes
    assert {n.instrument for n in notes} <= set(render.parts_of(recipe))
    for note in notes:
        assert 0.0 <= note.start < note.end <= recipe.duration + 1e-9
        assert 0.0 < note.velocity <= 1.0 and 0 <= note.pitch <= 127
    assert [n.start for n in notes] == sorted(n.start for n in notes)


def _sounding(notes, instrument, n, pad_after=0.0):
    mask = np.zeros(n, bool)
    for note in notes:
        if note.instrument == instrument:
            mask[int(note.start * SR):int((note.end + pad_after) * SR)] = True
    return mask


@pytest.mark.parametrize("recipe", [POP, DERIVED["extension"], DERIVED["excerpt"]])
def test_vocal_notes_are_where_the_vocals_sound(recipe):
    notes = facts.score(recipe)
    voice = parts(recipe)["vocals"]
    sung = _sounding(notes, "vocals", len(voice))
    ringing = _sounding(notes, "vocals", len(voice), pad_after=0.1)
    assert sung.mean() > 0.2
    assert rms(voice[sung]) > 5 * rms(voice[~ringing])
    # Each sung note carries energy: none is a ghost.
    for note in (n for n in notes if n.instrument == "vocals" and n.end - n.start > 0.15):
        assert rms(voice[int(note.start * SR):int(note.end * SR)]) > 0.02


def test_bass_notes_sound_at_their_pitch():
    recipe = Song(4, 12.0, "pop", True)
    bass = parts(recipe)["bass"]
    checked = 0
    for note in facts.score(recipe):
        if note.instrument != "bass" or note.end - note.start < 0.25:
            continue
        a = int(note.start * SR) + 200
        seg = bass[a:a + 4096] * np.hanning(4096)
        freqs = np.fft.rfftfreq(16384, 1 / SR)
        power = np.abs(np.fft.rfft(seg, 16384)) * (freqs < 400)
        f = freqs[np.argmax(power)]
        assert abs(12 * np.log2(f / (440 * 2 ** ((note.pitch - 69) / 12)))) < 0.6
        checked += 1
    assert checked >= 4


def test_derived_scores_follow_their_sources():
    ext = DERIVED["extension"]
    tail_notes = facts.score(ext.tail)
    moved = [n for n in facts.score(ext) if n.start >= ext.continue_at]
    assert len(moved) == len(tail_notes)
    assert all(abs(m.start - (t.start + ext.continue_at)) < 1e-6 for m, t in zip(
        sorted(moved, key=lambda n: (n.start, n.instrument, n.pitch)),
        sorted(tail_notes, key=lambda n: (n.start, n.instrument, n.pitch))))
    stem = facts.score(Stem(POP, "drums"))
    assert stem and {n.instrument for n in stem} == {"drums"}
    assert {n.pitch for n in stem} <= {35, 36, 38, 40}
    assert not [n for n in facts.score(Stem(POP, INSTRUMENTAL))
                if n.instrument in ("vocals", "backing_vocals")]
    mash = facts.score(Mashup((POP_B, POP_B)))
    assert len(mash) == 2 * len(facts.score(POP_B))


LYRICS = """[Verse]
Snowflakes falling on the quiet town
Every window glowing gold

[Chorus]
Hold me close, the night is long
Sing it softly, sing along"""


@pytest.mark.parametrize("recipe", [POP, DERIVED["extension"], Song(40, 45.0, "rock", False)])
def test_aligned_words_follow_the_lyrics_where_the_voice_sings(recipe):
    words = facts.aligned_words(recipe, LYRICS)
    assert [w["word"] for w in words][:2] == ["[Verse]\nSnowflakes ", "falling "]
    assert "".join(w["word"] for w in words).split() == LYRICS.split()
    assert words[5]["word"] == "town\n"
    assert any(w["word"] == "[Chorus]\nHold " for w in words)
    vocal = [n for n in facts.score(recipe) if n.instrument == "vocals"]
    prev_end = 0.0
    for w in words:
        assert set(w) == {"word", "start_s", "end_s", "success", "p_align"}
        assert w["success"] is True and 0.0 <= w["p_align"] <= 1.0
        assert prev_end <= w["start_s"] < w["end_s"] <= recipe.duration
        prev_end = w["end_s"]
        # Each word starts while a vocal note sounds.
        assert any(n.start - 1e-3 <= w["start_s"] < n.end for n in vocal), w


def test_aligned_words_empty_without_a_voice_or_words():
    assert facts.aligned_words(METAL, LYRICS) == []
    assert facts.aligned_words(POP, "") == []
    assert facts.aligned_words(POP, "[Instrumental]") == []


def test_lyric_words_keep_spacing_and_markers():
    assert facts.lyric_words("[Verse 1]\nWinter winds\ncut deep\n\n[Outro]") == [
        "[Verse 1]\nWinter ", "winds\n", "cut ", "deep\n\n[Outro]"]


def test_waveform_measures_the_audio():
    silent = facts.waveform(Stem(METAL, VOCALS))
    assert silent == [0.0] * 200
    loud = facts.waveform(POP, 50)
    half = facts.waveform(Mashup((POP, Stem(Song(5, 16.0, "pop", True), VOCALS))), 50)
    assert len(loud) == 50 and all(0.0 <= v <= 1.0 for v in loud)
    assert max(loud) > 0.5
    assert np.allclose(np.array(half) * 2, loud, atol=1e-3)
    assert facts.waveform(POP) == facts.waveform(POP)
    assert facts.waveform(Song(1, 0.0, "pop", False), 8) == [0.0] * 8


# --- the music follows the lyrics' sections ---------------------------------------------

FORM_LYRICS = ("[Verse]\nOne line here\nTwo lines here\n[Chorus]\nSing it out\n"
               "[Verse 2]\nThree lines here\n[Bridge]\nSomething new\n[Chorus]\nSing it out")


def _vocal_shape(events, start: float, end: float) -> list[tuple[int, float]]:
    """The lead's notes in one section: pitch and onset from the section's start."""
    return [(pitch, round(at - start, 3)) for part, pitch, at, _, _ in events
            if part == "vocals" and start <= at < end]


def test_sections_follow_the_lyrics_markers():
    form = songwriter.form_of(FORM_LYRICS)
    assert form == ("verse", "chorus", "verse", "bridge", "chorus")
    names = [name for name, _, _ in audio.sections(11, 150.0, "pop", False, form)]
    assert names[:6] == ["intro", "verse_a", "chorus", "verse_b", "bridge", "chorus"]
    usual = [name for name, _, _ in audio.sections(11, 150.0, "pop", False)]
    assert usual[:6] == ["intro", "verse_a", "chorus", "verse_b", "chorus", "bridge"]
    first = songwriter.form_of("[Chorus]\nHey\n[Outro]\nBye")
    assert first == ("chorus", "outro")
    assert [n for n, _, _ in audio.sections(11, 60.0, "pop", False, first)][:3] == \
        ["intro", "chorus", "intro"]


def test_a_repeated_section_repeats_its_melody_and_others_differ():
    form = ("verse", "chorus", "verse", "bridge", "chorus")
    events = audio.song_events(11, 150.0, "pop", False, form=form)
    spans = {}
    for name, start, end in audio.sections(11, 150.0, "pop", False, form):
        spans.setdefault(name, []).append((start, end))
    chorus_a, chorus_b = (_vocal_shape(events, *span) for span in spans["chorus"][:2])
    assert chorus_a and chorus_a == chorus_b
    assert _vocal_shape(events, *spans["bridge"][0]) != chorus_a
    assert _vocal_shape(events, *spans["verse_a"][0]) != chorus_a


def submitted(engine: Engine, task_id: str, specs, **work):
    """A task of ``specs`` started on an engine driven from a loop of the test's own."""
    async def submit():
        if await engine.account(engine.demo_key) is None:
            await engine.start()
        return await engine.submit("evolink", engine.demo_key, "song", task_id=task_id,
                                   params={}, cost=0, clips=specs, **work)
    return asyncio.new_event_loop().run_until_complete(submit())


def test_a_clips_song_takes_its_form_from_its_lyrics():
    engine = Engine(seed=2, clock_mode="manual")
    lyrics = "[Chorus]\nSing it out\nSing it loud\n[Verse]\nOne line here\nTwo lines here"
    made = submitted(engine, "t", [engine.compose("x", title="t", tags="pop", lyrics=lyrics)])
    recipe = made.clips[0].recipe
    assert recipe.form == ("chorus", "verse")
    # The audio follows it: the same song with the usual form sounds different.
    usual = Song(recipe.seed, recipe.duration, recipe.tags, recipe.instrumental)
    assert render.render(recipe).tobytes() != render.render(usual).tobytes()


@pytest.mark.parametrize("at, seconds", [(3.0, 7.715), (2.5, 4.705), (1.23, 5.005)])
def test_concat_of_a_clips_extension_chain_has_the_extensions_samples(at, seconds):
    """A clip's duration is stated to 10 ms; the concat must still end where the
    extension's audio does, not a sample of silence past it."""
    engine = Engine(seed=4, clock_mode="manual")
    made = submitted(engine, "s", [engine.compose("x", title="t", tags="pop", lyrics=None,
                                                  instrumental=True)], max_duration=12.0)
    source = made.clips[0]
    extended = submitted(engine, "e", [derive.extension(engine, source, at,
                                                        seconds=seconds)]).clips[0]
    joined = asyncio.new_event_loop().run_until_complete(derive.concat(engine, extended))
    whole = submitted(engine, "c", [joined]).clips[0]
    assert extended.duration != extended.recipe.duration  # the stated figure is rounded
    assert np.array_equal(mix(whole.recipe), mix(extended.recipe))
