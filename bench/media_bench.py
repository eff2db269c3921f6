"""Times the media layer on a full-length song: synthesis, MP3 encoding, and both.

Prints median wall-clock seconds over a few runs; nothing is asserted.
Run: .venv/bin/python bench/media_bench.py [--duration 240] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.media import SAMPLE_RATE, cover_jpeg, encode_mp3, song_mp3, synthesize  # noqa: E402

STYLES = ("pop", "heavy metal", "lo-fi piano", "ambient")


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=240.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    cold_start = time.perf_counter()
    synthesize(0, args.duration, "pop")
    print(f"first synthesize (cold tables)    {time.perf_counter() - cold_start:7.3f} s")
    print(f"{args.duration:g} s song, median of {args.runs} runs")
    for tags in STYLES:
        samples = synthesize(1, args.duration, tags)
        synth = median_time(lambda: synthesize(1, args.duration, tags), args.runs)
        encode = median_time(lambda: encode_mp3(samples, SAMPLE_RATE), args.runs)
        total = median_time(lambda: song_mp3(1, args.duration, tags), args.runs)
        size = len(song_mp3(1, args.duration, tags))
        print(f"  {tags:<12} synthesize {synth:6.3f} s   encode {encode:6.3f} s   "
              f"song_mp3 {total:6.3f} s   {size / 1e6:5.2f} MB")
    cover = median_time(lambda: cover_jpeg(1, "Midnight Drive on the Coastal Highway"), args.runs)
    print(f"cover_jpeg 512 px                  {cover:7.3f} s")


if __name__ == "__main__":
    main()
