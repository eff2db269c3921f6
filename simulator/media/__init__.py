"""Playable, deterministic media for the songs the simulator hands out."""

from .audio import (BITRATE_KBPS, SAMPLE_RATE, encode_mp3, song_mp3, synthesize,
                    synthesize_parts)
from .cache import ByteLRU
from .files import FILE_NAMES, media_path
from .image import cover_jpeg

__all__ = ["BITRATE_KBPS", "FILE_NAMES", "SAMPLE_RATE", "ByteLRU", "cover_jpeg", "encode_mp3",
           "media_path", "song_mp3", "synthesize", "synthesize_parts"]
