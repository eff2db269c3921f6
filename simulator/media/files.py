"""The files every clip has under /media/{clip_id}/, so dialects can link to them by name."""

from __future__ import annotations

import re

AUDIO_MP3 = "audio.mp3"
STREAM_MP3 = "stream.mp3"  # the same bytes as audio.mp3, under the name streams use
AUDIO_WAV = "audio.wav"
AUDIO_M4A = "audio.m4a"
COVER = "cover.jpeg"  # 512 px
COVER_LARGE = "cover-large.jpeg"  # 1024 px
VIDEO_MP4 = "video.mp4"

CONTENT_TYPES = {
    AUDIO_MP3: "audio/mpeg",
    STREAM_MP3: "audio/mpeg",
    AUDIO_WAV: "audio/wav",
    AUDIO_M4A: "audio/mp4",
    COVER: "image/jpeg",
    COVER_LARGE: "image/jpeg",
    VIDEO_MP4: "video/mp4",
}
FILE_NAMES = tuple(CONTENT_TYPES)
COVER_SIZES = {COVER: 512, COVER_LARGE: 1024}
# Each part of a song (vocals, drums, bass, …) alone, as MP3: ``stem-vocals.mp3``. Only
# the parts the clip's audio has are served.
_STEM = re.compile(r"^stem-([a-z_]+)\.mp3$")


def stem_file(part: str) -> str:
    """The name of a clip's file holding one part of its audio alone."""
    return f"stem-{part}.mp3"


def stem_part(name: str) -> str | None:
    """The part a stem file's name holds; None for any other name."""
    match = _STEM.fullmatch(name)
    return match.group(1) if match else None


def content_type(name: str) -> str | None:
    """What a clip's file of that name holds; None for a name no clip has."""
    return CONTENT_TYPES.get(name) or ("audio/mpeg" if stem_part(name) else None)


# The name media downloads go by where requests are journaled and faults are matched,
# and the prefix they are served under; ROUTE is the path inside it.
MEDIA = "media"
ROUTE = "/{clip_id}/{name}"
_PATH = re.compile(r"^/media/([^/]+)/([^/]+)$")


def media_path(clip_id: str, name: str) -> str:
    """The path a clip's file is served at; prefix it with the origin the client used."""
    if content_type(name) is None:
        raise ValueError(f"no media file {name!r}; one of {FILE_NAMES}")
    return f"/media/{clip_id}/{name}"


def clip_id_in(path: str) -> str | None:
    """The clip a media path (as media_path builds it) belongs to; None for other paths."""
    match = _PATH.fullmatch(path)
    return match.group(1) if match and content_type(match.group(2)) else None
