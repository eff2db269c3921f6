"""openaihk: Suno's own shapes, passed through the openai-hk gateway (seed 003).

Generation goes through ``POST /sunoapi/generate`` (the body's ``task`` picks the
scenario) and is polled with ``GET /sunoapi/feed/{ids}``; the ``act`` endpoints work on
finished songs. Errors are OpenAI-style ``{"error": {message, type, param, code}}``, as
the gateway's own clients read them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ...core import derive, exports, songwriter
from ...core.clips import ClipSpec
from ...core.magic import Steering
from ...core.models import FAILED, SUCCEEDED, Account, Clip, Persona, Task
from ...core.ratelimit import Limit
from ...media import facts
from ...media.files import AUDIO_M4A, AUDIO_WAV, VIDEO_MP4
from ..base import BadRequest, Call, Handler, Provider, media_url, off_loop
from .planner import LONGEST, MAX_SECONDS, TAKES, Planner
from .render import MAJOR_VERSION, batch, render_clip, status_of, word

VOX_MAX_WINDOW = 30.0

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               403: "insufficient_quota", 404: "invalid_request_error",
               405: "invalid_request_error", 413: "invalid_request_error",
               429: "rate_limit_error"}
ERROR_CODES = {400: "invalid_request", 401: "invalid_api_key", 403: "insufficient_user_quota",
               404: "not_found", 405: "method_not_allowed", 413: "request_too_large",
               429: "rate_limit_exceeded", 500: "upstream_error", 502: "upstream_error",
               503: "upstream_busy", 504: "upstream_timeout"}
STEM_SHOW = {"model": "", "major": "", "type": "stem", "words_given": True,
             "duration_known": True}


class Openaihk(Provider):
    id = "openaihk"

    def status_word(self, task: Task, now: float) -> str:
        return word(task, now)

    def handlers(self) -> dict[str, Handler]:
        return {
            "generate": self.generate, "concat": self.concat, "remaster": self.remaster,
            "lyricsMashup": self.lyrics_mashup, "feed": self.feed, "feedSuno": self.feed,
            "uploadAudioUrl": self.upload, "timing": self.timing, "timingV2": self.timing_v2,
            "wav": self.wav, "mp4": self.mp4, "stems": self.stems, "midi": self.midi,
            "tags": self.tags, "vox": self.vox, "createPersona": self.persona,
        }

    def error_body(self, status: int, message: str, **fields: Any) -> dict[str, Any]:
        return {"error": {"message": message,
                          "type": ERROR_TYPES.get(status, "upstream_error"),
                          "param": fields.get("param") or "",
                          "code": fields.get("type") or ERROR_CODES.get(status, "upstream_error")}}

    # -- generation ----------------------------------------------------------------------
    async def generate(self, call: Call) -> web.Response:
        body = call.body
        steering = self.steered(body.get("prompt"), body.get("tags"), body.get("title"),
                                body.get("gpt_description_prompt"))
        plan = await Planner(self, call.account, body).plan()
        task = await self._submit(call.account, "song", "generate", plan.price, body,
                                  plan.specs, shows=plan.shows, metadata=plan.metadata,
                                  steering=steering,
                                  max_duration=MAX_SECONDS.get(plan.mv, LONGEST))
        return self.json(batch(task, call.origin))

    async def concat(self, call: Call) -> web.Response:
        body = call.body
        source = await self.usable_clip(call.account, body["clip_id"], "concat",
                                        cross_account=True)
        is_infill = (source.lineage or {}).get("action") in ("infill", "fixed_infill")
        if body["is_infill"] != is_infill:
            raise BadRequest(400, f"is_infill must be {str(is_infill).lower()} for clip "
                                  f"{source.id}", param="is_infill")
        if is_infill:
            spec = derive.whole_infill(self.engine, source)
            metadata = {"history": spec.lineage["history"], "infill": True}
            price = "concat"
        else:
            spec = await derive.concat(self.engine, source)
            metadata = {"concat_history": spec.lineage["history"]}
            first = (await derive.chain(self.engine, source))[0][0]
            price = "concat-upload" if derive.is_upload(first) else "concat"
        show = {**await self._shown(source), "type": "concat", "words_given": True}
        task = await self._submit(call.account, "export", "concat", price, body, [spec],
                                  shows=[show], metadata=metadata, steering=self.steered())
        return self.json(render_clip(task, task.clips[0], call.origin))

    async def remaster(self, call: Call) -> web.Response:
        body = call.body
        model, variation = body["model_name"], body.get("variation_category")
        source = await self.usable_clip(call.account, body["clip_id"], "remaster",
                                        cross_account=False)
        spec = derive.remaster(self.engine, source, variation)
        shows = [{"model": model, "major": MAJOR_VERSION[model], "words_given": True}] * TAKES
        task = await self._submit(call.account, "song", "remaster", "remaster", body,
                                  [spec] * TAKES, shows=shows,
                                  metadata={"task": "upsample", "edited_clip_id": source.id,
                                            "variation_category": variation},
                                  steering=self.steered())
        return self.json(batch(task, call.origin))

    async def lyrics_mashup(self, call: Call) -> web.Response:
        await self.charge(call.account, "lyrics-mashup")
        text = songwriter.mash_lyrics(call.body["lyrics_a"], call.body["lyrics_b"])
        return self.json({"lyrics_request_id": self.engine.ids.uuid(),
                          "mashup_id": self.engine.ids.uuid(),
                          "response": {"error_message": "", "status": "complete", "tags": [],
                                       "text": text, "title": "Lyrics Mashup"}})

    # -- reading results -----------------------------------------------------------------
    async def feed(self, call: Call) -> web.Response:
        ids = dict.fromkeys(i.strip() for i in call.path["ids"].split(",") if i.strip())
        found = [await self._own(call.account, i) for i in ids]
        clips = [render_clip(task, clip, call.origin) for task, clip in filter(None, found)]
        if not clips:
            raise BadRequest(404, "clip not found", type="clip_not_found", param="ids")
        return self.json(clips)

    async def upload(self, call: Call) -> web.Response:
        url = call.body["url"]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise BadRequest(400, "url must be an http or https link to an audio file",
                             param="url")
        name = parts.path.rsplit("/", 1)[-1].rsplit(".", 1)[0] or "upload"
        spec = derive.upload(self.engine, url, await self.served_clip(url), title=name)
        show = {"model": "", "major": "", "type": "upload", "words_given": True,
                "duration_known": True}
        task = await self._submit(call.account, "export", "upload", "upload", call.body,
                                  [spec], shows=[show], metadata={},
                                  steering=self.steered(url))
        clip_id = task.clips[0].id
        return self.json({"clip_id": clip_id, "code": "success", "data": clip_id,
                          "message": ""})

    # -- the act endpoints: work on a finished song --------------------------------------
    async def timing(self, call: Call) -> web.Response:
        return self.json(await self._timing(call))

    async def timing_v2(self, call: Call) -> web.Response:
        answer = await self._timing(call)
        return self.json({**answer, "aligned_lyrics": facts.aligned_lines(answer["aligned_words"])})

    async def _timing(self, call: Call) -> dict[str, Any]:
        clip = await self.usable_clip(call.account, call.path["clip_id"], "timing",
                                      cross_account=True)
        timing = await off_loop(facts.timing, clip.recipe, clip.lyrics)
        return {**timing, "is_streamed": False}

    async def wav(self, call: Call) -> web.Response:
        clip = await self.usable_clip(call.account, call.path["clip_id"], "wav",
                                      cross_account=False)
        job = await self._job(call.account, "wav", clip)
        ready = job.status == SUCCEEDED
        return self.json({"wav_file_url": media_url(call.origin, clip.id, AUDIO_WAV)
                          if ready else None})

    async def mp4(self, call: Call) -> web.Response:
        """The link at once; the video behind it is made in the next 30 s ("wait ~30
        seconds before the URL becomes accessible"), and the link answers a bare 404
        until then. It is made once: asking again answers the same link, billed again
        (the gateway bills every call) but not delayed again."""
        clip = await self.usable_clip(call.account, call.path["clip_id"], "mp4",
                                      cross_account=False)
        if any(task.status != FAILED
               for task in await exports.exports_of(self.engine, clip.id, VIDEO_MP4)):
            await self.charge(call.account, "mp4")
        else:
            await self._submit(call.account, exports.VIDEO_EXPORT, "mp4", "mp4",
                               {"clip_id": clip.id}, [], shows=[], metadata={},
                               steering=self.steered(), asked_of=clip.id,
                               **exports.marker(clip.id, VIDEO_MP4))
        return self.json({"mp4": media_url(call.origin, clip.id, VIDEO_MP4)})

    async def stems(self, call: Call) -> web.Response:
        source = await self.usable_clip(call.account, call.path["clip_id"], "stems",
                                        cross_account=False)
        specs = derive.stems(self.engine, source, lambda label: f"{source.title} - {label}")
        shows = [{**STEM_SHOW, "metadata": {"stem_from_id": source.id}}] * 2
        task = await self._submit(call.account, "export", "stems", "stems", {}, specs,
                                  shows=shows, metadata={}, steering=self.steered())
        return self.json({"clip_1": render_clip(task, task.clips[0], call.origin),
                          "clip_2": render_clip(task, task.clips[1], call.origin)})

    async def midi(self, call: Call) -> web.Response:
        clip = await self.usable_clip(call.account, call.path["clip_id"], "midi",
                                      cross_account=False)
        job = await self._job(call.account, "midi", clip)
        if job.status != SUCCEEDED:
            return self.json({"state": "running"})
        return self.json({"state": "complete",
                          "instruments": await off_loop(facts.midi_instruments, clip.recipe)})

    async def tags(self, call: Call) -> web.Response:
        await self.charge(call.account, "tags")
        return self.json({"upsampled_tags": songwriter.upsample_style(
                              call.body["original_tags"], self.engine.ids.seed32()),
                          "request_id": self.engine.ids.uuid()})

    async def vox(self, call: Call) -> web.Response:
        body = call.body
        source = await self.usable_clip(call.account, call.path["clip_id"], "vox",
                                        cross_account=False)
        start, end = body["vocal_start_s"], body["vocal_end_s"]
        _check_vocal_window(start, end)
        if end > source.duration:
            raise BadRequest(400, f"vocal_end_s must be within the clip ({source.duration:g} s)",
                             param="vocal_end_s")
        wave = await off_loop(facts.waveform, derive.vocal_window(source, start, end), 64)
        show = {"model": "", "major": "", "type": "vox", "words_given": True,
                "duration_known": True}
        task = await self._submit(call.account, "export", "vox", "vox", body,
                                  [derive.vox(self.engine, source, start, end)], shows=[show],
                                  metadata={}, steering=self.steered())
        # The answer is the finished vocals (on a fast clock, already finished by its plan).
        task = await self.engine.finish_now(task.id, "succeed")
        vox = task.clips[0]
        return self.json({
            "id": vox.id, "source_clip_id": source.id, "status": "complete",
            "vocal_audio_url": media_url(call.origin, vox.id, AUDIO_M4A),
            "vocal_end_s": end, "vocal_start_s": start,
            "wave_response": {"waveform_aggregates": facts.waveform_aggregates(wave)}})

    async def persona(self, call: Call) -> web.Response:
        body, account = call.body, call.account
        root = await self.usable_clip(account, body["root_clip_id"], "persona",
                                      cross_account=False)
        if derive.is_upload(root):
            raise BadRequest(400, "root_clip_id must be a generated clip, not an upload",
                             param="root_clip_id")
        # Without `clips` (the seed's vox persona, 21C, sends none) the persona learns
        # from its root clip alone.
        members = [await self._own_or_404(account, i)
                   for i in dict.fromkeys(body.get("clips") or [root.id])]
        vox = await self._vox_clip(account, body) if body.get("persona_type") == "vox" \
            else None
        await self.charge(account, "persona")
        persona = await self.engine.create_persona(account.api_key, body["name"], root,
                                                   description=body["description"],
                                                   kind="vox" if vox else "persona", vox=vox)
        return self.json(await self._persona_body(persona, body, members, call.origin))

    async def _vox_clip(self, account: Account, body: dict[str, Any]) -> Clip:
        for field in ("vox_audio_id", "vocal_start_s", "vocal_end_s"):
            if body.get(field) is None:
                raise BadRequest(400, f"{field} is required when persona_type is vox",
                                 param=field)
        _check_vocal_window(body["vocal_start_s"], body["vocal_end_s"])
        found = await self._own(account, body["vox_audio_id"])
        if found is None or (found[1].lineage or {}).get("action") != "vox":
            raise BadRequest(400, "vox_audio_id must be an id returned by /suno/act/vox",
                             param="vox_audio_id")
        return found[1]

    async def _persona_body(self, persona: Persona, body: dict[str, Any],
                            members: list[tuple[Task, Clip]], origin: str) -> dict[str, Any]:
        task, root = await self._still_there(persona.source_clip_id)
        user = render_clip(task, root, origin)
        answer = {
            "id": persona.id, "name": persona.name, "description": persona.description,
            "root_clip_id": root.id, "clip": user, "is_public": body["is_public"],
            "persona_type": persona.kind, "user_display_name": user["display_name"],
            "user_handle": user["handle"], "user_image_url": user["avatar_image_url"],
            "persona_clips": [{"clip": render_clip(t, c, origin), "id": index + 1}
                              for index, (t, c) in enumerate(members)],
        }
        if persona.vox_clip_id:
            answer.update(vox_audio_id=persona.vox_clip_id,
                          vocal_start_s=body["vocal_start_s"], vocal_end_s=body["vocal_end_s"],
                          user_input_styles=body.get("user_input_styles") or "")
        return answer

    # -- what the planner asks of the dialect --------------------------------------------
    async def usable_clip(self, account: Account, clip_id: str, operation: str, *,
                          cross_account: bool) -> Clip:
        """A complete clip of this key that ``operation`` may use.

        An upload never crosses upstream accounts; other clips may when the operation
        can, so only those that cannot fail once the clip's account has expired.
        """
        task, clip = await self._own_or_404(account, clip_id)
        if status_of(task, task.clips.index(clip)) != "complete":
            raise BadRequest(400, f"clip {clip_id} is not complete yet", type="clip_not_ready")
        if clip.upstream_expired and (not cross_account or derive.is_upload(clip)):
            what = "an uploaded clip" if derive.is_upload(clip) else operation
            raise BadRequest(400, f"clip {clip_id} belongs to an upstream account that has "
                                  f"expired, and {what} cannot be used across accounts",
                             type="cross_account_not_supported")
        return clip

    async def persona_of(self, account: Account, persona_id: str) -> Persona:
        persona = await self.engine.persona(account.api_key, persona_id)
        if persona is None:
            raise BadRequest(404, f"persona {persona_id} not found", type="persona_not_found",
                             param="persona_id")
        return persona

    # -- the dialect's words -------------------------------------------------------------
    def refuse_missing_key(self) -> BadRequest:
        return BadRequest(401, "No API key provided; send Authorization: Bearer hk-…",
                          type="missing_api_key")

    def refuse_rate(self, wait: int, limit: Limit) -> BadRequest:
        return BadRequest(429, "Rate limit reached for this key, please retry later",
                          headers={"Retry-After": str(wait)})

    def refuse_credits(self, needed: float, available: float) -> BadRequest:
        return BadRequest(403, "Insufficient quota: your balance cannot cover this request")

    outages = {500: "upstream error: Internal Server Error",
               502: "upstream error: bad gateway",
               503: "upstream error: the Suno account pool is busy, please retry later",
               504: "upstream error: timed out waiting for Suno"}

    # -- shared steps --------------------------------------------------------------------
    async def _submit(self, account: Account, job: str, kind: str, price: str,
                      body: dict[str, Any], specs: list[ClipSpec], *,
                      shows: list[dict[str, Any]], metadata: dict[str, Any],
                      steering: Steering, max_duration: float = LONGEST,
                      asked_of: str | None = None, **meta: Any) -> Task:
        """``asked_of``: the clip this is work on (a conversion, an export), where it is
        noted so that it is found from the clip (see core/exports.py)."""
        if asked_of is not None:
            meta["clip_id"] = asked_of
        task = await self.submit(
            account, job, task_id=self.engine.ids.uuid(), params=body,
            cost=self.price(price), clips=specs, steering=steering, max_duration=max_duration,
            meta={"type": kind, "clips": shows, "metadata": metadata, **meta})
        if asked_of is not None:
            await exports.ask(self.engine, asked_of, task)
        return task

    async def _job(self, account: Account, kind: str, clip: Clip) -> Task:
        """The conversion of ``clip`` into ``kind`` this key started, or a new one: only
        the call that starts it is billed, so polling until it is ready costs nothing."""
        for task in await exports.asked_of(self.engine, clip.id):
            if task.meta.get("type") == kind and task.status != FAILED:
                return task
        return await self._submit(account, "export", kind, kind, {"clip_id": clip.id}, [],
                                  shows=[], metadata={}, steering=self.steered(),
                                  asked_of=clip.id)

    async def _own(self, account: Account, clip_id: str) -> tuple[Task, Clip] | None:
        return await self.engine.clip_of(account.api_key, clip_id, self.id)

    async def _own_or_404(self, account: Account, clip_id: str) -> tuple[Task, Clip]:
        found = await self._own(account, clip_id)
        if found is None:
            raise BadRequest(404, f"clip {clip_id} not found", type="clip_not_found")
        return found

    async def _shown(self, clip: Clip) -> dict[str, Any]:
        """How the clip's own batch shows its model, for clips made from it."""
        task, _ = await self._still_there(clip.id)
        shown = task.meta["clips"][[c.id for c in task.clips].index(clip.id)]
        return {"model": shown.get("model", ""),
                "major": MAJOR_VERSION.get(shown.get("model", ""), shown.get("major", ""))}


    async def _still_there(self, clip_id: str) -> tuple[Task, Clip]:
        """A clip read earlier in this request, again: its task may have been let go
        meanwhile (--max-tasks), and then the clip is as unknown as any."""
        found = await self.engine.find_clip(clip_id)
        if found is None:
            raise BadRequest(404, f"clip {clip_id} not found", type="clip_not_found")
        return found


def _check_vocal_window(start: float, end: float) -> None:
    if not 0 <= start < end:
        raise BadRequest(400, "vocal_start_s must be at least 0 and less than vocal_end_s",
                         param="vocal_start_s")
    if end - start >= VOX_MAX_WINDOW:
        raise BadRequest(400, "vocal_end_s - vocal_start_s must be less than 30",
                         param="vocal_end_s")
