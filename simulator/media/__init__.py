"""Playable, deterministic media for the songs the simulator hands out."""

from .audio import song_mp3, synthesize, synthesize_parts
from .cache import ByteLRU
from .dsp import SAMPLE_RATE
from .files import FILE_NAMES, media_path
from .image import cover_jpeg
from .mp3 import BITRATE_KBPS, encode_mp3

__all__ = ["BITRATE_KBPS", "FILE_NAMES", "SAMPLE_RATE", "ByteLRU", "cover_jpeg", "encode_mp3",
           "media_path", "song_mp3", "synthesize", "synthesize_parts"]
