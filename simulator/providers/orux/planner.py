"""What an orux request makes: for each model (and each Suno ``action``), the job it
runs, the clips it produces, what its result shows and what it costs.

Suno actions chain: every action but ``generate`` (and ``upload-extend``, which starts
from the caller's own audio) works on the first song of ``parent_task_id``, a finished
suno-v5 task of the same key. The chain's root is remembered, so its cost is attributed
to the original song.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from ...core import derive
from ...core.clips import ClipSpec
from ...core.models import SUCCEEDED, Account, Clip, Task
from ...core.recipes import Extension, Speech
from ...media import facts
from ...media.render import parts_of
from ..base import BadRequest, Provider, off_loop

SUNO = "suno-v5"
ACTIONS = ("generate", "extend", "cover", "lyrics", "add-vocals", "instrumental", "mashup",
           "stem", "mv", "wav", "cover-img", "replace", "persona", "upload-extend")
# "Multi-step flows like Suno extend / cover are also reachable through dedicated model
# ids": suno-extend is suno-v5 with action extend, and so on for every action.
ALIASES = {f"suno-{action}": action for action in ACTIONS if action != "generate"}
# Actions that start from a parent song; the others start from the request alone.
CHAINED = frozenset(ACTIONS) - {"generate", "upload-extend"}
TAKES = 2  # a Suno generation makes two songs
# What the result of each kind of work shows (see render.result).
SONGS, STEMS, LYRICS, WAV, VIDEO, IMAGE, SPEECH, MUSIC = (
    "songs", "stems", "lyrics", "wav", "video", "image", "speech", "music")
TTS_DEFAULTS = {"model_id": "eleven_v3", "stability": 0.5, "style": 0.3,
                "use_speaker_boost": True}
# Stand-in lengths for media the simulator is pointed at but never fetches.
UPLOAD_SECONDS = 60.0
ACT_TWO_SECONDS = 10.0


@dataclass
class Plan:
    """A request, understood: the job to run and what it will show."""

    job: str  # the lifecycle profile
    output: str
    price: str
    clips: list[ClipSpec] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    max_duration: float = 240.0


class Planner:
    def __init__(self, provider: Provider, account: Account, body: dict[str, Any]):
        self.p, self.engine, self.account, self.body = provider, provider.engine, account, body

    async def plan(self) -> Plan:
        model = self.body["model"]
        if model == SUNO or model in ALIASES:
            return await self._suno(model)
        return await MODELS[model](self)

    # -- Suno ----------------------------------------------------------------------------
    async def _suno(self, model: str) -> Plan:
        action = self.body.get("action")
        if model in ALIASES:
            if action not in (None, ALIASES[model]):
                raise BadRequest(400, f"model {model} runs action {ALIASES[model]}; "
                                      f"action {action} contradicts it", param="action")
            action = ALIASES[model]
        action = action or "generate"
        parent: Task | None = None
        source: Clip | None = None
        if action in CHAINED:
            parent, source = await self._parent(action)
        elif self.body.get("parent_task_id"):
            raise BadRequest(400, f"action {action} does not take parent_task_id",
                             param="parent_task_id")
        plan = await ACTIONS_PLANNED[action](self, source)
        root = parent.meta.get("root_task_id") or parent.id if parent else None
        plan.meta.update(model=SUNO, action=action, output=plan.output,
                         parent_task_id=parent.id if parent else None,
                         root_task_id=root, source_clip_id=source.id if source else None)
        return plan

    async def _parent(self, action: str) -> tuple[Task, Clip]:
        task_id = self.body.get("parent_task_id")
        if not task_id:
            raise BadRequest(400, f"parent_task_id is required for action {action}",
                             param="parent_task_id")
        task = await self.engine.own_task(self.account.api_key, task_id, self.p.id)
        if task is None:
            raise BadRequest(404, f"parent task {task_id} not found", param="parent_task_id",
                             type="task_not_found")
        if task.meta.get("model") != SUNO or task.meta.get("output") != SONGS:
            raise BadRequest(400, f"parent task {task_id} is not a Suno song; chain "
                                  f"{action} onto a suno-v5 task that made songs",
                             param="parent_task_id")
        state = task.state(self.engine.now())
        if state != SUCCEEDED:  # the dialect's word for any other state is the core's
            raise BadRequest(409 if not task.terminal else 400,
                             f"parent task {task_id} is {state.upper()}; chain onto a task "
                             f"that has succeeded", param="parent_task_id",
                             type="parent_not_ready")
        return task, task.clips[0]

    def _duration(self) -> float:
        return float(self.body.get("duration", 60))

    def _song(self, *, lineage: dict[str, Any] | None = None, tags: str | None = None) -> ClipSpec:
        body, seconds = self.body, self._duration()
        instrumental = body.get("instrumental") is True
        lyrics = None if instrumental else body.get("lyrics") or None
        return self.engine.compose(body["prompt"], tags=tags, lyrics=lyrics,
                                   instrumental=instrumental,
                                   derive=lambda song: derive.fitted(song, seconds),
                                   lineage=lineage)

    def _songs(self, spec: ClipSpec, price: str, takes: int = TAKES) -> Plan:
        return Plan("song", SONGS, price, [spec] * takes)

    async def _generate(self, source: None) -> Plan:
        return self._songs(self._song(), "generate")

    async def _extend(self, source: Clip) -> Plan:
        return self._songs(self._extension(source, "extend"), "extend")

    def _extension(self, source: Clip, action: str) -> ClipSpec:
        body = self.body
        instrumental = body.get("instrumental") is True
        return derive.extension(self.engine, source, source.duration, action=action,
                                lyrics=None if instrumental else body.get("lyrics") or None,
                                instrumental=instrumental, tags=body["prompt"],
                                seconds=self._duration())

    async def _upload_extend(self, source: None) -> Plan:
        url = self.body.get("audio_url")
        if not url:
            raise BadRequest(400, "audio_url is required for action upload-extend",
                             param="audio_url")
        body = self.body
        instrumental = body.get("instrumental") is True
        spec = derive.extended_upload(
            self.engine, url, await self.p.served_clip(url), seconds=self._duration(),
            lyrics=None if instrumental else body.get("lyrics") or None,
            instrumental=instrumental, tags=body["prompt"], stand_in=UPLOAD_SECONDS)
        return self._songs(spec, "upload-extend")

    async def _cover(self, source: Clip) -> Plan:
        body = self.body
        return self._songs(derive.cover(self.engine, source, lyrics=body.get("lyrics") or None,
                                        instrumental=body.get("instrumental") is True,
                                        tags=body["prompt"]), "cover")

    async def _add_vocals(self, source: Clip) -> Plan:
        if not source.instrumental:
            raise BadRequest(400, "add-vocals needs an instrumental parent song; this one "
                                  "already has vocals", param="parent_task_id")
        return self._songs(derive.overlay(self.engine, source, 0.0, source.duration,
                                          derive.ADD_VOCALS, action="add-vocals",
                                          lyrics=self.body.get("lyrics") or None,
                                          tags=self.body["prompt"]), "add-vocals", takes=1)

    async def _instrumental(self, source: Clip) -> Plan:
        spec = derive.stems(self.engine, source, lambda label: f"{source.title} (Instrumental)",
                            action="instrumental")[1]
        return self._songs(spec, "instrumental", takes=1)

    async def _mashup(self, source: Clip) -> Plan:
        other_id = self.body.get("mashup_task_id")
        if not other_id:
            raise BadRequest(400, "mashup_task_id (the second song's task) is required for "
                                  "action mashup", param="mashup_task_id")
        other = await self.engine.own_task(self.account.api_key, other_id, self.p.id)
        if (other is None or other.meta.get("output") != SONGS
                or other.state(self.engine.now()) != SUCCEEDED):
            raise BadRequest(400, f"mashup_task_id {other_id} is not a finished Suno song of "
                                  "this key", param="mashup_task_id")
        spec = derive.mashup(self.engine, [source, other.clips[0]], tags=self.body["prompt"],
                             lyrics=self.body.get("lyrics") or None)
        return self._songs(spec, "mashup")

    async def _replace(self, source: Clip) -> Plan:
        body = self.body
        start = float(body.get("replace_start", round(source.duration / 3, 2)))
        end = float(body.get("replace_end", round(source.duration * 2 / 3, 2)))
        if not start < end <= source.duration:
            raise BadRequest(400, f"replace_start must be less than replace_end, and "
                                  f"replace_end at most the song's {source.duration:g} s",
                             param="replace_end")
        return self._songs(derive.infill(self.engine, source, start, end, action="replace",
                                         lyrics=body.get("lyrics") or source.lyrics or None,
                                         instrumental=body.get("instrumental") is True,
                                         tags=body["prompt"]), "replace")

    async def _persona(self, source: Clip) -> Plan:
        if source.instrumental:
            raise BadRequest(400, "persona needs a parent song with a singer; this one is "
                                  "instrumental", param="parent_task_id")
        return self._songs(self._song(lineage={"action": "persona", "source": source.id},
                                      tags=f"{source.tags}, {self.body['prompt']}"), "persona")

    async def _stem(self, source: Clip) -> Plan:
        titled = [(part, f"{source.title} ({part.replace('_', ' ')})")
                  for part in parts_of(source.recipe)]
        return Plan("export", STEMS, "stem",
                    derive.instrument_stems(self.engine, source, titled, action="stem"))

    async def _lyrics(self, source: Clip) -> Plan:
        if source.instrumental:
            raise BadRequest(400, "the parent song is instrumental; it has no lyrics",
                             param="parent_task_id")
        links = await derive.chain(self.engine, source)
        pieces = []
        for index, (clip, start) in enumerate(links):
            end = links[index + 1][1] if index + 1 < len(links) else clip.duration
            recipe = clip.recipe
            # An extension's own words are sung in its new part, which starts at `start`.
            sung, offset = (recipe.tail, start) if index and isinstance(recipe, Extension) \
                else (recipe, 0.0)
            pieces.append((sung, clip.lyrics, offset, end))
        text = await off_loop(facts.lrc, pieces)
        return Plan("text", LYRICS, "lyrics", meta={"lrc": text})

    async def _mv(self, source: Clip) -> Plan:
        return Plan("video", VIDEO, "mv")

    async def _wav(self, source: Clip) -> Plan:
        return Plan("export", WAV, "wav")

    async def _cover_img(self, source: Clip) -> Plan:
        # A clip of the song's own audio whose fresh seed draws a new cover.
        recipe = source.recipe
        spec = self.engine.compose(source.title, title=source.title, tags=source.tags,
                                   lyrics=source.lyrics or None,
                                   instrumental=source.instrumental, derive=lambda _: recipe,
                                   lineage={"action": "cover-img", "source": source.id})
        return Plan("export", IMAGE, "cover-img", [spec])

    # -- the other models -------------------------------------------------------------------
    async def _elevenlabs_v3(self) -> Plan:
        body = self.body
        text = body["text"]
        settings = {name: body.get(name, default) for name, default in TTS_DEFAULTS.items()}
        voice = zlib.crc32(body["voice_id"].encode())  # the same voice always sounds the same
        speech = Speech(text, voice)
        spec = self.engine.compose(text, title=_headline(text), tags="speech",
                                   lyrics=text, derive=lambda _: speech,
                                   lineage={"action": "tts", "voice_id": body["voice_id"]})
        return Plan("text", SPEECH, "elevenlabs-v3", [spec],
                    meta={"model": body["model"], "voice_id": body["voice_id"],
                          "settings": settings})

    async def _elevenlabs_music(self) -> Plan:
        body = self.body
        seconds = float(body.get("duration", 30))
        spec = self.engine.compose(body["prompt"], instrumental=True,
                                   derive=lambda song: derive.fitted(song, seconds))
        return Plan("short", MUSIC, "elevenlabs-music", [spec], meta={"model": body["model"]},
                    max_duration=120.0)

    async def _runway_act_two(self) -> Plan:
        body = self.body
        driver = body["driver_video_url"]
        performance = derive.upload(self.engine, driver, None, purpose="act-two",
                                    title="Act-Two", seconds=ACT_TWO_SECONDS)
        return Plan("video", VIDEO, "runway-act-two", [performance],
                    meta={"model": body["model"],
                          "character_video_url": body["character_video_url"],
                          "driver_video_url": driver})


def _headline(text: str, limit: int = 40) -> str:
    words = " ".join(text.split())
    return words if len(words) <= limit else words[:limit].rsplit(" ", 1)[0] + "…"


ACTIONS_PLANNED: dict[str, Callable[[Planner, Clip | None], Awaitable[Plan]]] = {
    "generate": Planner._generate, "extend": Planner._extend, "cover": Planner._cover,
    "lyrics": Planner._lyrics, "add-vocals": Planner._add_vocals,
    "instrumental": Planner._instrumental, "mashup": Planner._mashup, "stem": Planner._stem,
    "mv": Planner._mv, "wav": Planner._wav, "cover-img": Planner._cover_img,
    "replace": Planner._replace, "persona": Planner._persona,
    "upload-extend": Planner._upload_extend,
}
MODELS: dict[str, Callable[[Planner], Awaitable[Plan]]] = {
    "elevenlabs-v3": Planner._elevenlabs_v3, "elevenlabs-music": Planner._elevenlabs_music,
    "runway-act-two": Planner._runway_act_two,
}
