"""Hearing what a link serves: decoding audio (PyAV), how long it plays, and how alike
two sounds are. Cases compare a derived song with its source this way."""

from __future__ import annotations

import asyncio
import io

import av
import numpy as np

from .case import CaseFailed, expect


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """Mono float samples in [-1, 1] and their rate; ValueError when it is not audio."""
    chunks, rate = [], 0
    try:
        with av.open(io.BytesIO(data)) as container:
            for frame in container.decode(audio=0):
                rate = frame.sample_rate
                array = frame.to_ndarray()
                if array.dtype.kind == "i":
                    array = array.astype(np.float64) / float(np.iinfo(array.dtype).max + 1)
                elif array.dtype.kind == "u":
                    info = np.iinfo(array.dtype)
                    array = (array.astype(np.float64) - (info.max + 1) / 2) / ((info.max + 1) / 2)
                else:
                    array = array.astype(np.float64)
                if frame.format.is_planar:
                    chunks.append(array.mean(axis=0))
                else:
                    chunks.append(array.reshape(-1, len(frame.layout.channels)).mean(axis=1))
    except (av.FFmpegError, OSError, IndexError) as exc:
        raise ValueError(f"not audio: {exc}") from None
    if not chunks:
        raise ValueError("no audio frames")
    return np.concatenate(chunks), rate


def seconds(data: bytes) -> float | None:
    """How long an audio or video file plays, by decoding its sound (the samples are
    counted, not converted); None when it does not decode."""
    count, rate = 0, 0
    try:
        with av.open(io.BytesIO(data)) as container:
            for frame in container.decode(audio=0):
                count, rate = count + frame.samples, frame.sample_rate
    except (av.FFmpegError, OSError, IndexError):
        return None
    return count / rate if rate else None


async def fetch_samples(ctx, url: str) -> tuple[np.ndarray, int]:
    """The audio behind a link, decoded off the event loop (other cases keep polling)."""
    answer = await ctx.fetch(url)
    expect(answer.status == 200, f"audio {url}: {answer.status}")
    try:
        return await asyncio.to_thread(decode, answer.body)
    except ValueError as exc:
        raise CaseFailed(f"{url} does not decode: {exc}")


def likeness(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised correlation over the common length: 1.0 is the same sound."""
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    scale = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b)) / scale if scale else 0.0


def window(samples: np.ndarray, rate: int, start: float, end: float | None = None) -> np.ndarray:
    """The samples between two times in seconds (to the end when ``end`` is None)."""
    return samples[int(start * rate):None if end is None else int(end * rate)]
