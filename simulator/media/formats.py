"""A recipe's audio in the file formats the dialects link to: MP3, WAV and an MP4 video.

Each format holds exactly the rendered samples (MP3 to within the encoder's framing),
so a client that measures, decodes or transcodes any of them finds the same song.
"""

from __future__ import annotations

import io
import os
import tempfile
import wave
from fractions import Fraction

import av
import numpy as np
from PIL import Image

from ..core.recipes import Audio
from .dsp import SAMPLE_RATE
from .mp3 import encode_mp3
from .render import render

VIDEO_SIZE = 512  # pixels a side; the 512 px cover, unscaled
VIDEO_FPS = 1  # a still picture needs no more, and x264 skips the repeats almost for free
VIDEO_GOP = 10  # a keyframe every 10 s, so players can seek
AAC_BITRATE = 64_000
_MS = Fraction(1, 1000)


def encode_wav(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """16-bit PCM mono WAV of exactly these samples."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError("encode_wav takes mono samples (a 1-D array)")
    pcm = np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buf.getvalue()


def encode_mp4(samples: np.ndarray, cover: bytes, sample_rate: int = SAMPLE_RATE) -> bytes:
    """An MP4 music video: the cover as a still H.264 picture over the audio in AAC.

    The last video frame is cut short so the picture ends with the sound, and the
    muxer's edit list hides the AAC encoder's priming, so both streams and the file
    last as long as the samples.
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError("encode_mp4 takes mono samples (a 1-D array)")
    picture = Image.open(io.BytesIO(cover)).convert("RGB")
    if picture.size != (VIDEO_SIZE, VIDEO_SIZE):
        picture = picture.resize((VIDEO_SIZE, VIDEO_SIZE), Image.LANCZOS)
    length_ms = round(1000 * len(x) / sample_rate)
    # faststart (the index first, so players start before the download ends) makes the
    # muxer re-read its output by name, which an in-memory file does not have.
    with tempfile.TemporaryDirectory(prefix="musicsim-mp4-") as tmp:
        path = os.path.join(tmp, "video.mp4")
        _write_mp4(path, x, picture, length_ms, sample_rate)
        with open(path, "rb") as f:
            return f.read()


def encode_m4a(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """AAC audio in an MP4 (.m4a) container, as Suno hands out processed vocals."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError("encode_m4a takes mono samples (a 1-D array)")
    with tempfile.TemporaryDirectory(prefix="musicsim-m4a-") as tmp:
        path = os.path.join(tmp, "audio.m4a")
        with av.open(path, "w", format="ipod", options={"movflags": "+faststart"}) as container:
            _write_aac(container, _aac_stream(container, sample_rate), x, sample_rate)
        with open(path, "rb") as f:
            return f.read()


def _aac_stream(container, sample_rate: int):
    # FFmpeg's default AAC search is ~2.5x slower for no audible gain at this bitrate.
    audio = container.add_stream("aac", rate=sample_rate, layout="mono",
                                 options={"aac_coder": "fast"})
    audio.bit_rate = AAC_BITRATE
    return audio


def _write_aac(container, audio, x: np.ndarray, sample_rate: int) -> None:
    chunk = 1024 * 64
    for at in range(0, len(x), chunk):
        piece = av.AudioFrame.from_ndarray(x[None, at:at + chunk], format="fltp",
                                           layout="mono")
        piece.sample_rate = sample_rate
        piece.pts, piece.time_base = at, Fraction(1, sample_rate)
        container.mux(audio.encode(piece))
    container.mux(audio.encode(None))


def _write_mp4(path: str, x: np.ndarray, picture: Image.Image, length_ms: int,
               sample_rate: int) -> None:
    with av.open(path, "w", format="mp4", options={"movflags": "+faststart"}) as container:
        video = container.add_stream("libx264", rate=VIDEO_FPS, options={
            "preset": "ultrafast", "tune": "stillimage", "crf": "28", "bframes": "0",
            "g": str(VIDEO_GOP * VIDEO_FPS)})
        video.width = video.height = VIDEO_SIZE
        video.pix_fmt = "yuv420p"
        video.time_base = video.codec_context.time_base = _MS
        audio = _aac_stream(container, sample_rate)  # every stream before the first packet
        frame = av.VideoFrame.from_image(picture).reformat(format="yuv420p")
        step = 1000 // VIDEO_FPS
        for pts in range(0, max(1, length_ms), step):
            frame.pts, frame.time_base = pts, _MS
            for packet in video.encode(frame):
                _mux(container, packet, step, length_ms)
        for packet in video.encode(None):
            _mux(container, packet, step, length_ms)
        _write_aac(container, audio, x, sample_rate)


def _mux(container, packet, step_ms: int, length_ms: int) -> None:
    """Mux a video packet (in milliseconds), the last one cut to end with the audio."""
    if packet.pts is not None:
        packet.duration = max(1, min(step_ms, length_ms - packet.pts))
    container.mux(packet)


def mp3(recipe: Audio) -> bytes:
    return encode_mp3(render(recipe), SAMPLE_RATE)


def wav(recipe: Audio) -> bytes:
    return encode_wav(render(recipe), SAMPLE_RATE)


def m4a(recipe: Audio) -> bytes:
    return encode_m4a(render(recipe), SAMPLE_RATE)


def mp4(recipe: Audio, cover: bytes) -> bytes:
    return encode_mp4(render(recipe), cover, SAMPLE_RATE)
