"""MP3 encoding whose measured length is the samples' length.

Players and mutagen size a stream by its frames, and LAME pads; the framing arithmetic
that undoes that lives here, apart from the WAV and MP4 writers in formats.py, because
a bare song's MP3 (audio.song_mp3) needs it without the recipe machinery.
"""

from __future__ import annotations

import lameenc
import numpy as np

BITRATE_KBPS = 64  # mono at 22.05 kHz keeps a ~10 kHz band clean; 0.48 MB a minute
_LAME_QUALITY = 7  # LAME's "fast" setting: ~4x quicker than 2, inaudible at this rate

# lameenc writes no Xing/LAME tag, so a decoder (and mutagen, which sizes the stream
# from its byte count) sees every frame it emits. Measured for every MPEG rate and
# several bitrates: n input samples come out as ceil(n / F) * F + 1152 samples, F the
# samples per frame (576 below 32 kHz, 1152 from 32 kHz up).
_LAME_EXTRA_SAMPLES = 1152
_MPEG_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def encode_mp3(samples: np.ndarray, sample_rate: int) -> bytes:
    """MP3 whose decoded (and mutagen-measured) length matches len(samples) / sample_rate.

    The encoder adds 1152 samples and rounds up to whole frames, and nothing in the
    stream tells a player to drop them; so the input is cut to the whole-frame count that
    lands the output nearest the true length (within half a frame, 13 ms at 22.05 kHz),
    losing at most ~65 ms of the tail, which is ramped down so the cut does not click.
    """
    if sample_rate not in _MPEG_RATES:
        raise ValueError(f"MP3 cannot carry {sample_rate} Hz; use one of {_MPEG_RATES}")
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError("encode_mp3 takes mono samples (a 1-D array)")
    frame = 1152 if sample_rate >= 32000 else 576
    keep = max(0, round(len(x) / frame) * frame - _LAME_EXTRA_SAMPLES)
    pcm = np.clip(x[:keep], -1.0, 1.0) * 32767.0
    ramp = min(keep, int(0.005 * sample_rate))
    if ramp:
        pcm[keep - ramp:] *= np.linspace(1.0, 0.0, ramp, dtype=np.float32)
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(BITRATE_KBPS)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_out_sample_rate(sample_rate)
    encoder.set_channels(1)
    encoder.set_quality(_LAME_QUALITY)
    return bytes(encoder.encode(pcm.astype("<i2").tobytes()) + encoder.flush())
