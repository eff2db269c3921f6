"""Media: what a clip serves while it is made (a stream once it is ``streaming``) and the
companions of a finished song: its word timeline, WAV, MP4 and MIDI."""

from __future__ import annotations

import asyncio
import time

from ...case import CREDITS, CaseFailed, Catalog, expect
from ...common import check_media
from ...dialect import Media
from .calls import act, duration, submit, until
from .driver import LYRICS, SMALL, Openaihk, clips_of
from .library import library

MP4_WAIT_S = 30.0  # the seed's "wait ~30 seconds before the URL becomes accessible"


def add_cases(catalog: Catalog, driver: Openaihk) -> None:
    @catalog.case("stream-while-streaming", "Each status shows its links; a streaming clip "
                  "plays its stream",
                  seed="seed 003: 10. C. Get Results (clips queued, then complete)",
                  area="media", needs=[CREDITS], cost=1)
    async def streaming(ctx) -> None:
        # Slowed, so the streaming window outlasts a poll on a loaded machine or a fast clock.
        _, task_id = await submit(ctx, {"prompt": LYRICS, "tags": "pop",
                                        "title": "Stream [sim:slow]",
                                        "negative_tags": ctx.marker()})
        played = False
        while True:
            answer = await ctx.poll(task_id)
            for clip in clips_of(answer.data):
                status = clip["status"]
                if status in ("submitted", "queued"):
                    expect(clip["audio_url"] == "" and clip["video_url"] == "",
                           f"a {status} clip already has links: {clip}")
                elif status == "streaming":
                    expect(clip["audio_url"] and clip["video_url"] == "",
                           f"a streaming clip's links: audio {clip['audio_url']!r} "
                           f"video {clip['video_url']!r}")
                    if not played:
                        played = await _plays(ctx, clip["audio_url"])
                elif status == "complete":
                    expect(clip["audio_url"] and clip["video_url"] and clip.get("image_url"),
                           f"a complete clip lacks links: {clip}")
                    duration(clip)
            if driver.status_of(answer.data) in driver.terminal:
                break
            await asyncio.sleep(ctx.run.poll_every)
        seen = ctx.states[task_id]
        expect(seen[-1] == "complete", f"the batch ended {seen[-1]!r}")
        expect("streaming" in seen, f"the batch was never seen streaming: {seen}")

    @catalog.case("companions", "Timing, WAV, MP4 and MIDI of a finished song",
                  seed="seed 003: 11. Timing; 12. WAV; 13. MP4; 18. Get MIDI", area="media",
                  needs=[CREDITS], cost=1 + 3 * SMALL)
    async def companions(ctx) -> None:
        await asyncio.gather(_timing(ctx), _wav(ctx), _mp4(ctx), _midi(ctx))


# --- the parts the cases above run side by side ----------------------------------------


async def _timing(ctx) -> None:
    lib = await library(ctx)
    source, key = lib.song, lib.key
    data = await act(ctx, f"/sunoapi/act/timing/{source['id']}", key=key)
    words = data["aligned_words"]
    sung = _sung_words("".join(w["word"] for w in words))
    expect(sung == _sung_words(LYRICS), f"the timeline's words are not the lyrics: {sung[:12]}")
    starts = [w["start_s"] for w in words]
    expect(starts == sorted(starts), "aligned words are not in time order")
    expect(all(w["end_s"] >= w["start_s"] for w in words), "a word ends before it starts")
    expect(words[-1]["end_s"] <= duration(source) + 1e-6,
           f"the last word ends at {words[-1]['end_s']}, after the song")
    wave = data["waveform_data"]
    expect(len(wave) > 10 and max(wave) > 0, f"waveform_data is flat ({len(wave)} points)")
    expect(data["is_streamed"] is False, f"is_streamed {data['is_streamed']!r}")
    v2 = await act(ctx, f"/suno/act/timing/{source['id']}", key=key)
    joined = [w["text"] for line in v2["aligned_lyrics"] for w in line["words"]]
    expect(_sung_words(" ".join(joined)) == sung,
           "the v2 timeline's lines do not hold the same words")

async def _wav(ctx) -> None:
    lib = await library(ctx)
    source, key = lib.song, lib.key
    ctx.spend(SMALL)
    path = f"/sunoapi/act/wav/{source['id']}"
    data = await until(ctx, path, lambda d: d.get("wav_file_url"), key=key)
    url = data["wav_file_url"]
    again = await act(ctx, path, key=key)
    expect(again["wav_file_url"] == url, f"the WAV link changed: {url} then {again}")
    await check_media(ctx, Media(url, "audio", duration(source)))
    answer = await ctx.fetch(url)
    expect(answer.header("content-type") in ("audio/wav", "audio/x-wav", "audio/wave"),
           f"the WAV link serves {answer.header('content-type')!r}")
    expect(answer.body[:4] == b"RIFF" and answer.body[8:12] == b"WAVE",
           "the WAV link does not serve a RIFF/WAVE file")

async def _mp4(ctx) -> None:
    """The seed: "wait ~30 seconds before the URL becomes accessible". The link may
    answer 404 (empty) at first, and must serve the video within a minute. The library's second
    song is used, so the first song's own video link (the same link) stays untouched for
    the cases that fetch it meanwhile."""
    lib = await library(ctx)
    source, key = lib.songs[1], lib.key
    ctx.spend(SMALL)
    data = await act(ctx, f"/sunoapi/act/mp4/{source['id']}", key=key)
    url = data["mp4"]
    deadline = time.monotonic() + max(ctx.run.timeout, 2 * MP4_WAIT_S)
    while (answer := await ctx.fetch(url)).status == 404:
        expect(not answer.body, f"the MP4 link answers 404 with a body while the video is "
                                f"made: {answer.body[:80]!r}")
        if time.monotonic() > deadline:
            raise CaseFailed(f"the MP4 link {url} still answers 404")
        await asyncio.sleep(ctx.run.poll_every)
    await check_media(ctx, Media(url, "video", duration(source)))

async def _midi(ctx) -> None:
    lib = await library(ctx)
    source, key = lib.song, lib.key
    ctx.spend(SMALL)
    path = f"/suno/act/midi/{source['id']}"
    data = await until(ctx, path, lambda d: d.get("state") == "complete", key=key)
    instruments = data["instruments"]
    expect(instruments and any(i["notes"] for i in instruments),
           f"MIDI with no notes: {instruments}")
    for instrument in instruments:
        expect(instrument["name"], "an instrument without a name")
        for note in instrument["notes"]:
            expect(0 <= note["pitch"] <= 127 and 0 <= note["velocity"] <= 1,
                   f"note out of range: {note}")
            expect(0 <= note["start"] < note["end"] <= duration(source) + 1e-6,
                   f"note outside the song: {note}")


async def _plays(ctx, url: str) -> bool:
    """A stream answers 200 with audio bytes at once (it stays open for the rest)."""
    try:
        async with ctx.run.session.get(url) as response:
            expect(response.status == 200, f"stream {url}: {response.status}")
            kind = response.headers.get("Content-Type", "")
            expect(kind.startswith("audio/"), f"stream {url} serves {kind!r}")
            head = await asyncio.wait_for(response.content.read(4096), 10)
    except asyncio.TimeoutError:
        raise CaseFailed(f"stream {url} sent nothing for 10 s")
    expect(head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0),
           f"stream {url} does not start as MP3")
    return True


def _sung_words(text: str) -> list[str]:
    """The words sung, without the section headers (``[Verse]``)."""
    return [w for w in text.split() if not w.startswith("[") and not w.endswith("]")]
