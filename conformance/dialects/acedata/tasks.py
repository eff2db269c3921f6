"""The task record and its ids: what an asynchronous request answers and its record
shows as the task runs, batches, actions on songs a key does not have, and the shape of
the dialect's errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...case import CREDITS, SECOND_KEY, Catalog, expect
from .calls import accepted, refused, source
from .driver import AUDIOS, TASKS, UNKNOWN_AUDIO, Acedata

if TYPE_CHECKING:
    from ...context import Context


def add_task_cases(catalog: Catalog, driver: Acedata) -> None:
    """What a task record and the ids of tasks and songs show; the dialect's error shape."""
    seed = driver.seed

    @catalog.case("async-record", "async answers the task id at once; the task record "
                  "echoes the request and fills in as the task runs",
                  seed=f"{seed}: request body (async)", area="scenarios", needs=[CREDITS],
                  cost=1)
    async def async_record(ctx: "Context") -> None:
        made_source = await source(ctx)
        task_id, records = made_source["task_id"], made_source["records"]
        expect(len(records) >= 2, f"task {task_id} was seen {len(records)} time(s)")
        for record in records:
            expect(record.get("id") == task_id and record.get("type") == "audios",
                   f"retrieving {task_id} shows {record.get('id')!r} of type "
                   f"{record.get('type')!r}")
            expect(record.get("request") == made_source["request"],
                   f"the record's request is not what was sent: {record.get('request')}")
            if driver.status_of(record) == "running":
                for song in driver.songs_of(record):
                    expect(song["state"] in ("pending", "running", "succeeded"),
                           f"a running task shows a song {song['state']!r}")
                    expect(song["state"] != "succeeded" or song["audio_url"],
                           f"a succeeded song without audio: {song}")
            elif driver.status_of(record) == "pending":
                expect("finished_at" not in record, f"a pending task has ended: {record}")
        final = records[-1]
        expect("finished_at" in final and "elapsed" in final,
               f"a finished record lacks finished_at or elapsed: {sorted(final)}")
        expect(final["created_at"] <= final.get("started_at", final["created_at"])
               <= final["finished_at"], f"the record's times are out of order: {final}")
        expect(abs(final["finished_at"] - final["created_at"] - final["elapsed"]) < 0.01,
               f"elapsed {final['elapsed']} is not finished_at - created_at")
        response = final["response"]
        expect(response.get("task_id") == task_id and response.get("trace_id"),
               f"the final response names another task or no trace: {response}")
        expect([s["state"] for s in driver.songs_of(final)] == ["succeeded", "succeeded"],
               f"the final response's songs: {driver.songs_of(final)}")

    @catalog.case("batch", "retrieve_batch shows the key's tasks and leaves out unknown ids",
                  seed=f"{seed}: task query", area="ids", needs=[CREDITS], cost=1)
    async def batch(ctx: "Context") -> None:
        ctx.spend()
        mine = (await accepted(ctx, driver.song_request(ctx.marker("batch"))[2]))["task_id"]
        answer = await ctx.call("POST", TASKS, json={"action": "retrieve_batch",
                                                     "ids": [driver.unknown_id, mine]})
        expect(answer.status == 200, f"a batch retrieve: {answer}")
        expect(answer.data.get("count") == 1 and [t.get("id") for t in answer.data["items"]]
               == [mine], f"a batch of one known and one unknown id: {answer}")

    @catalog.case("foreign-batch", "retrieve_batch never shows another key's task",
                  seed=f"{seed}: task query", area="ids", needs=[CREDITS, SECOND_KEY], cost=1)
    async def foreign_batch(ctx: "Context") -> None:
        ctx.spend()
        mine = (await accepted(ctx, driver.song_request(ctx.marker("batch"))[2]))["task_id"]
        answer = await ctx.call("POST", TASKS, key=ctx.run.second_key,
                                json={"action": "retrieve_batch", "ids": [mine]})
        expect(answer.status == 200, f"a batch retrieve: {answer}")
        expect(answer.data.get("count") == 0 and answer.data.get("items") == [],
               f"another key's batch showed task {mine}: {answer}")

    @catalog.case("unknown-audio", "An action on an audio_id that does not exist is refused",
                  seed=f"{seed}: request body (audio_id)", area="ids")
    async def unknown_audio(ctx: "Context") -> None:
        for action, extra in (("extend", {"continue_at": 10}), ("cover", {}), ("stems", {})):
            answer = await ctx.call("POST", AUDIOS, json={"action": action, "async": True,
                                                          "audio_id": UNKNOWN_AUDIO, **extra})
            refused(answer, 400, "bad_request", f"{action} of an unknown audio_id")
            expect("success" not in answer.data, f"a refused request made a task: {answer}")

    @catalog.case("foreign-audio", "Another key cannot act on a key's song",
                  seed=f"{seed}: request body (audio_id)", area="ids",
                  needs=[CREDITS, SECOND_KEY], cost=1)
    async def foreign_audio(ctx: "Context") -> None:
        song = (await source(ctx))["song"]
        for action, extra in (("extend", {"continue_at": 10}), ("cover", {})):
            answer = await ctx.call("POST", AUDIOS, key=ctx.run.second_key,
                                    json={"action": action, "async": True,
                                          "audio_id": song["id"], **extra})
            refused(answer, 400, "bad_request", f"another key's {action} of {song['id']}")

    @catalog.case("error-shape", "Errors are {error: {code, message}, trace_id} with the "
                  "dialect's codes", seed=f"{seed}: request headers (authorization)",
                  area="auth")
    async def error_shape(ctx: "Context") -> None:
        method, path, body = driver.song_request(ctx.marker())
        wrong = await ctx.call(method, path, json=body, key="sk-acedata-conformance-wrong")
        refused(wrong, 401, "invalid_token", "a wrong token")
        unknown = await driver.poll(ctx, driver.unknown_id)
        refused(unknown, 404, "not_found", "an unknown task")
        bad = await ctx.call(method, path, json={**body, "prompt": "x" * 201})
        refused(bad, 400, "bad_request", "a prompt over 200 characters")
        for answer in (wrong, unknown, bad):
            expect("success" not in answer.data and answer.data["error"].get("message"),
                   f"a platform error is not a task's and says why: {answer}")
        nothing = await ctx.call("POST", "/suno/nothing", json={})
        refused(nothing, 404, "no_api", "an endpoint that does not exist")
