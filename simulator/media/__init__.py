"""Playable, deterministic media for the songs the simulator hands out."""

from .audio import BITRATE_KBPS, SAMPLE_RATE, encode_mp3, song_mp3, synthesize
from .cache import ByteLRU
from .image import cover_jpeg

__all__ = ["BITRATE_KBPS", "SAMPLE_RATE", "ByteLRU", "cover_jpeg", "encode_mp3", "song_mp3",
           "synthesize"]
