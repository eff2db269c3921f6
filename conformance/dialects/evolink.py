"""evolink (seed 004): the unified task API."""

from __future__ import annotations

import json
from typing import Any

from simulator.resources import resource_dir
from ..case import CREDITS, Catalog, expect
from ..common import check_media
from ..dialect import Driver, Invalid, Media

GENERATE = "/v1/audios/generations"
MOST_PER_REQUEST = 30.0  # the dearest model's price (suno-v5), for the budget


class Evolink(Driver):
    provider = "evolink"
    seed = "seed 004"
    ranks = {"pending": 0, "processing": 1, "completed": 2, "failed": 2}
    succeeded = "completed"
    failed = frozenset({"failed"})
    price = 20.0  # suno-v4, per request of two songs
    callback_stages = ("text", "first", "complete")
    optional_stages = frozenset({"text", "first"})
    unknown_id = "task-unified-1700000000-zzzzzzzz"
    expires = True  # audio links are valid for 72 hours
    callback_schema = "TaskCallback"
    # {"error": {"code": <the status>, "type", "message", …}} (specs/evolink.yaml)
    error_words = {status: {"code": status, "type": kind} for status, kind in (
        (400, "invalid_request_error"), (401, "authentication_error"),
        (402, "insufficient_quota_error"), (403, "permission_error"), (404, "not_found_error"),
        (413, "request_too_large_error"), (429, "rate_limit_error"))}

    def song_request(self, prompt: str, callback_url: str | None = None):
        body: dict[str, Any] = {"model": "suno-v4", "custom_mode": False, "instrumental": False,
                                "prompt": prompt[:500]}
        if callback_url:
            body["callback_url"] = callback_url
        return "POST", GENERATE, body

    def poll_request(self, task_id: str):
        return "GET", f"/v1/tasks/{task_id}", None

    def task_id_of(self, data: Any) -> str:
        return data.get("id") if isinstance(data, dict) else None

    def status_of(self, data: Any) -> str:
        return data.get("status") if isinstance(data, dict) else None

    def media_of(self, data: Any) -> list[Media]:
        media = []
        for item in data.get("result_data") or ():
            duration = item.get("duration")
            media += [Media(item["audio_url"], "audio", duration),
                      Media(item["image_url"], "image")]
        return media

    def callback_stage(self, payload: Any) -> str:
        return payload.get("callback_type") if isinstance(payload, dict) else None

    def invalid_requests(self) -> list[Invalid]:
        """The seed's validation rules, as the request fixtures spell them out."""
        folder = resource_dir("fixtures") / "evolink" / "requests" / "invalid"
        cases = []
        for path in sorted(folder.glob("*.json")):
            example = json.loads(path.read_text(encoding="utf-8"))
            param = example.get("param")
            rule = (f"{param} breaking its rule is refused with {example['status']}" if param
                    else f"a body that is not an object is refused with {example['status']}")
            cases.append(Invalid(path.stem.replace("_", "-").replace(".", "-").lower(),
                                 example["body"], example["status"], rule))
        return cases


DRIVER = Evolink()


def add_cases(catalog: Catalog, driver: Evolink) -> None:
    @catalog.case("two-variations", "One request makes two songs, each with its own links",
                  seed="seed 004: response results", area="scenarios", needs=[CREDITS], cost=1)
    async def two_variations(ctx) -> None:
        answer = await ctx.song("two takes of one song")
        items = answer.data.get("result_data") or []
        expect(len(items) == 2, f"expected 2 results, got {len(items)}")
        expect(len({i["result_id"] for i in items}) == 2, "the two results share an id")
        expect(answer.data.get("progress") == 100, f"progress {answer.data.get('progress')}")
        expect(answer.data.get("results") == [i["audio_url"] for i in items],
               "results does not list each result's audio_url")

    @catalog.case("task-id-format", "A malformed task id is refused with 400",
                  seed="seed 004: task query", area="validation")
    async def task_id_format(ctx) -> None:
        answer = await ctx.call("GET", "/v1/tasks/not-a-task-id")
        expect(answer.status == 400, f"a malformed task id: {answer}")

    # The seed's own examples of its two other modes, as printed there.
    lyrics = ("[Verse 1]\nDriving down the highway, windows down\nThe sun is shining on this "
              "little town\nRadio playing our favorite song\nNothing could ever go wrong\n"
              "[Chorus]\nSummer dreams, summer nights\nChasing stars and city lights\n"
              "With you by my side\nI feel so alive")
    modes = {
        "custom-lyrics": ("Custom mode: the given lyrics, style and title make the songs",
                          {"model": "suno-v4.5", "custom_mode": True, "instrumental": False,
                           "style": "pop, electronic, upbeat, female vocals, 120bpm",
                           "title": "Summer Dreams", "prompt": lyrics,
                           "negative_tags": "heavy metal, screaming, sad", "vocal_gender": "f"}),
        "instrumental": ("Instrumental mode: style and title alone make songs without words",
                         {"model": "suno-v4.5plus", "custom_mode": True, "instrumental": True,
                          "style": "lo-fi, chill, ambient, piano, soft drums",
                          "title": "Rainy Afternoon"}),
    }
    for name, (title, body) in modes.items():
        _mode_case(catalog, driver, name, title, body)


def _mode_case(catalog: Catalog, driver: Evolink, name: str, title: str,
               body: dict[str, Any]) -> None:
    @catalog.case(name, title, seed="seed 004: request examples", area="scenarios",
                  needs=[CREDITS], cost=MOST_PER_REQUEST / driver.price)
    async def mode(ctx) -> None:
        ctx.spend(MOST_PER_REQUEST / driver.price)
        sent = {**body, "negative_tags": ctx.marker(body.get("negative_tags", ""))}
        answer = await ctx.call("POST", GENERATE, json=sent)
        expect(answer.status == 200, f"the seed's {name} example: {answer}")
        expect(answer.data.get("model") == body["model"],
               f"the task names model {answer.data.get('model')!r}, not {body['model']!r}")
        final = await ctx.settle(driver.task_id_of(answer.data))
        expect(driver.status_of(final.data) == driver.succeeded, f"ended {final}")
        items = final.data.get("result_data") or []
        expect(len(items) == 2, f"expected 2 results, got {len(items)}")
        for item in items:
            expect(item.get("title") == body["title"],
                   f"a result titled {item.get('title')!r}, not {body['title']!r}")
            expect(item.get("tags") == body["style"],
                   f"a result styled {item.get('tags')!r}, not {body['style']!r}")
        await check_media(ctx, driver.media_of(final.data)[0])
