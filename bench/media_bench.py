"""Times the media layer on a full-length song: synthesis, MP3 encoding, derived recipes
(an extension and its full separation) and the MP4 video.

Prints median wall-clock seconds over a few runs; nothing is asserted. Derived recipes
are timed from a cold render cache, so each run renders its sources too.
Run: .venv/bin/python bench/media_bench.py [--duration 240] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.core.recipes import Extension, Song, Stem  # noqa: E402
from simulator.media import (SAMPLE_RATE, cover_jpeg, encode_mp3, song_mp3,  # noqa: E402
                             synthesize)
from simulator.media import formats, render  # noqa: E402

STYLES = ("pop", "heavy metal", "lo-fi piano", "ambient")


def median_time(fn, runs: int, cold: bool = False) -> float:
    times = []
    for _ in range(runs):
        if cold:
            render.clear_cache()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=240.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    d, runs = args.duration, args.runs

    cold_start = time.perf_counter()
    synthesize(0, d, "pop")
    print(f"first synthesize (cold tables)    {time.perf_counter() - cold_start:7.3f} s")
    print(f"{d:g} s song, median of {runs} runs")
    for tags in STYLES:
        samples = synthesize(1, d, tags)
        synth = median_time(lambda: synthesize(1, d, tags), runs)
        encode = median_time(lambda: encode_mp3(samples, SAMPLE_RATE), runs)
        total = median_time(lambda: song_mp3(1, d, tags), runs)
        size = len(song_mp3(1, d, tags))
        print(f"  {tags:<12} synthesize {synth:6.3f} s   encode {encode:6.3f} s   "
              f"song_mp3 {total:6.3f} s   {size / 1e6:5.2f} MB")

    song = Song(1, d, "pop", False)
    extension = Extension(song, 0.75 * d, Song(2, 0.25 * d, "pop", False))
    stems = [Stem(extension, part) for part in render.parts_of(extension)]
    print("recipes, cold render cache (sources rendered each run)")
    print(f"  Song {d:g} s render + MP3          "
          f"{median_time(lambda: formats.mp3(song), runs, cold=True):7.3f} s")
    print(f"  Extension to {extension.duration:g} s render + MP3 "
          f"{median_time(lambda: formats.mp3(extension), runs, cold=True):7.3f} s")

    def separate():
        for stem in stems:
            render.render(stem)

    print(f"  Extension, all {len(stems)} parts separated "
          f"{median_time(separate, runs, cold=True):7.3f} s")
    samples = render.render(song)
    cover = cover_jpeg(1, "Midnight Drive", formats.VIDEO_SIZE)
    mp4 = median_time(lambda: formats.encode_mp4(samples, cover), max(1, runs // 2))
    size = len(formats.encode_mp4(samples, cover))
    print(f"  MP4 encode of the {d:g} s song        {mp4:7.3f} s   {size / 1e6:5.2f} MB")
    print(f"  MP4 render + encode (cold)       "
          f"{median_time(lambda: formats.mp4(song, cover), max(1, runs // 2), cold=True):7.3f} s")
    wav = median_time(lambda: formats.wav(song), runs)
    print(f"  WAV of the {d:g} s song (render cached) {wav:7.3f} s")
    cover_time = median_time(lambda: cover_jpeg(1, "Midnight Drive on the Coastal Highway"), runs)
    print(f"cover_jpeg 512 px                  {cover_time:7.3f} s")
    large = median_time(lambda: cover_jpeg(1, "Midnight Drive on the Coastal Highway", 1024), runs)
    print(f"cover_jpeg 1024 px                 {large:7.3f} s")


if __name__ == "__main__":
    main()
