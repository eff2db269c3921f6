"""The ways to ask for songs: custom lyrics and instrumental, waiting for the songs,
streaming snapshots as NDJSON, and a waiting request whose task fails."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import orjson

from ...case import CREDITS, SIMULATOR, Catalog, CaseFailed, expect
from .calls import LYRIC, SOURCE, error_code, made, real, source
from .driver import AUDIOS, NDJSON, Acedata

if TYPE_CHECKING:
    from ...context import Context


def add_scenario_cases(catalog: Catalog, driver: Acedata) -> None:
    """Custom modes and the three ways a request answers (waited, streamed, failed)."""
    seed = driver.seed

    @catalog.case("custom-modes", "custom sings the given lyrics, title and style; "
                  "instrumental drops the lyrics; lyric_prompt writes them",
                  seed=f"{seed}: request body (custom, lyric, instrumental, lyric_prompt, "
                  "title, style)", area="scenarios", needs=[CREDITS], cost=3)
    async def custom_modes(ctx: "Context") -> None:
        (_, plain), (_, written), made_source = await asyncio.gather(
            made(ctx, {"action": "generate", "custom": True, "instrumental": True,
                       "lyric": LYRIC, "style": "ambient, piano"}),
            made(ctx, {"action": "generate", "custom": True,
                       "lyric_prompt": ctx.marker("a song about a lighthouse keeper"),
                       "style": "folk"}),
            source(ctx))
        for song in made_source["songs"]:
            expect(song["lyric"] == LYRIC, f"custom mode did not sing the lyrics: "
                                           f"{song['lyric']!r}")
            expect(song["title"] == SOURCE["title"] and song["style"] == SOURCE["style"],
                   f"custom mode lost the title or style: {song['title']!r}, {song['style']!r}")
            expect("prompt" not in song, f"a custom song carries a prompt: {song.get('prompt')!r}")
        for song in plain:
            expect(song["lyric"] == "", f"instrumental kept the lyrics: {song['lyric']!r}")
            expect(song["style"] == "ambient, piano", f"style {song['style']!r}")
        for song in written:
            expect(song["lyric"].strip() and song["lyric"] != LYRIC,
                   f"lyric_prompt wrote no lyrics: {song['lyric']!r}")
        await asyncio.gather(real(ctx, plain[0]), real(ctx, written[0]))

    @catalog.case("waits", "Without async the request waits and answers the two songs",
                  seed=f"{seed}: request body (async), response", area="scenarios",
                  needs=[CREDITS], cost=1)
    async def waits(ctx: "Context") -> None:
        ctx.spend()
        body = {"action": "generate", "prompt": ctx.marker("a waltz for a rainy day")}
        answer = await ctx.call("POST", AUDIOS, json=body)
        expect(answer.status == 200, f"a request waiting for its songs: {answer}")
        data = answer.data
        expect(data.get("success") is True and data.get("task_id") and data.get("trace_id"),
               f"the answer lacks success, task_id or trace_id: {answer}")
        songs = driver.songs_of(data)
        expect(len(songs) == 2, f"one request made {len(songs)} songs, the seed says 2")
        expect(len({s["id"] for s in songs}) == 2, f"the two songs share an id: {songs}")
        for song in songs:
            expect(song["state"] == "succeeded" and song["audio_url"],
                   f"a waiting request answered before its song was done: {song}")
            expect(song.get("prompt") == body["prompt"],
                   f"the song does not carry its prompt: {song.get('prompt')!r}")
        record = await ctx.poll(data["task_id"])
        expect(driver.status_of(record.data) == driver.succeeded,
               f"the waited-for task retrieves as {driver.status_of(record.data)!r}")
        expect([s["id"] for s in driver.songs_of(record.data)] == [s["id"] for s in songs],
               "the task record shows other songs than the answer")

    @catalog.case("ndjson", "accept: application/x-ndjson streams snapshots of the task, "
                  "the last one its result", seed=f"{seed}: request headers (accept)",
                  area="scenarios", needs=[CREDITS], cost=1)
    async def ndjson(ctx: "Context") -> None:
        ctx.spend()
        body = {"action": "generate", "prompt": ctx.marker("a shanty streamed line by line")}
        # Read with the session: the context would parse the whole body as one JSON.
        headers = {**driver.auth(ctx.api_key), "Accept": NDJSON}
        lines, times = [], []
        started = time.monotonic()
        async with ctx.run.session.post(ctx.run.base_url + AUDIOS, json=body,
                                        headers=headers) as response:
            if response.status != 200:
                raise CaseFailed(f"a streamed request: {response.status} "
                                 f"{(await response.read())[:300]!r}")
            kind = response.headers.get("Content-Type", "")
            expect(kind.startswith(NDJSON), f"a streamed answer of type {kind!r}")
            async for raw in response.content:
                if raw.strip():
                    try:
                        lines.append(orjson.loads(raw))
                    except orjson.JSONDecodeError:
                        raise CaseFailed(f"a stream line is not JSON: {raw[:200]!r}")
                    times.append(time.monotonic() - started)
        expect(len(lines) >= 2, f"the stream sent {len(lines)} line(s), not snapshots")
        task_id = lines[0].get("task_id")
        expect(task_id and all(line.get("task_id") == task_id for line in lines),
               "the stream's lines name different tasks")
        for line in lines:
            ctx.observe(task_id, driver.status_of(line))
        expect(times[-1] - times[0] > 0.1, "every line arrived at once: the answer was not "
                                            "streamed as the task moved")
        final = lines[-1]
        expect(final.get("success") is True and final.get("trace_id"),
               f"the last line is not the result: {final}")
        problems = ctx.run.spec.check_component("AudiosResponse", final)
        expect(not problems, f"the last line breaks AudiosResponse: {problems}")
        order = {"pending": 0, "running": 1, "succeeded": 2}
        states = [[s.get("state") for s in driver.songs_of(line)] for line in lines]
        for earlier, later in zip(states, states[1:]):
            expect(len(earlier) == len(later) and all(order.get(a, 9) <= order.get(b, -1)
                                                      for a, b in zip(earlier, later)),
                   f"song states went back in the stream: {states}")
        expect(states[-1] == ["succeeded", "succeeded"], f"the stream ended with {states[-1]}")
        expect(any(s != "succeeded" for s in states[0]),
               f"the first line already had every song: {states[0]}")

    @catalog.case("waiting-failure", "A failed task answers a waiting request with the "
                  "task's error", seed=f"{seed}: response", area="states",
                  needs=[CREDITS, SIMULATOR], cost=1)
    async def waiting_failure(ctx: "Context") -> None:
        ctx.spend()
        body = {"action": "generate", "prompt": ctx.marker("[sim:fail] a song that fails")}
        answer = await ctx.call("POST", AUDIOS, json=body)
        expect(answer.status >= 500, f"a failed task answered {answer}")
        data = answer.data if isinstance(answer.data, dict) else {}
        expect(data.get("success") is False and data.get("task_id") and error_code(answer),
               f"a failed task's error names no task: {answer}")
        record = await ctx.poll(data["task_id"])
        expect(driver.status_of(record.data) == "failed",
               f"the failed task retrieves as {driver.status_of(record.data)!r}")
        expect(record.data["response"].get("error", {}).get("code") == error_code(answer),
               f"the record's error differs from the answer's: {record.data['response']}")
