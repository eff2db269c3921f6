"""What ``POST /sunoapi/generate`` makes: which songs a body asks for, under the seed's
rules.

The body's ``task`` picks the scenario (none: a new song, or an extension when it names
``continue_clip_id``). Each task accepts only the ``mv`` values the seed lists for it,
and some cannot use a clip whose upstream account has expired (uploads never can).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Protocol

from ...core import derive
from ...core.clips import ClipSpec
from ...core.engine import Engine
from ...core.models import Account, Clip, Persona
from ..base import BadRequest
from .render import MAJOR_VERSION



class Library(Protocol):
    """What the planner asks of the dialect: its engine, and the clips and personas a key
    may build on (the dialect decides, and refuses in its own words)."""

    engine: Engine

    async def usable_clip(self, account: Account, clip_id: str, operation: str, *,
                          cross_account: bool) -> Clip: ...

    async def persona_of(self, account: Account, persona_id: str) -> Persona: ...


DEFAULT_MV = "chirp-v3-5"
SONG_MODELS = ("chirp-v3-5", "chirp-v4", "chirp-auk", "chirp-bluejay", "chirp-crow",
               "chirp-auk-turbo")
EDIT_MODELS = ("chirp-v4", "chirp-auk", "chirp-bluejay")
V45_PLUS = ("chirp-bluejay", "chirp-crow")
UPLOAD_MODELS = ("chirp-v3-5-upload", "chirp-v4-upload")
# The longest song each model writes, in seconds.
MAX_SECONDS = {"chirp-v3-5": 240.0, "chirp-v4": 240.0, "chirp-v3-5-upload": 240.0,
               "chirp-v4-upload": 240.0}
LONGEST = 480.0
TAKES = 2
STEM_GROUPS = {"two": "Two", "twelve": "Twelve"}
STEM_TYPE_ID = 91
SLIDER_TASKS = ("cover", "underpainting", "overpainting")  # the ones audio_weight fits
# Fields of the request echoed in the clips' metadata, as the seed's answers show them.
ECHOED = ("task", "persona_id", "artist_clip_id", "cover_clip_id", "mashup_clip_ids",
          "chop_sample_clip_id", "chop_sample_start_s", "chop_sample_end_s",
          "underpainting_clip_id", "underpainting_start_s", "underpainting_end_s",
          "overpainting_clip_id", "overpainting_start_s", "overpainting_end_s",
          "infill_start_s", "infill_end_s", "infill_dur_s", "infill_context_start_s",
          "infill_context_end_s", "override_fields")


@dataclass(frozen=True)
class Rule:
    models: tuple[str, ...]
    cross_account: bool = True  # may it use a clip whose upstream account expired?


RULES = {
    "generate": Rule(SONG_MODELS),
    "extend": Rule(SONG_MODELS),
    "upload_extend": Rule(EDIT_MODELS, cross_account=False),
    "upload_extend_v1": Rule(UPLOAD_MODELS, cross_account=False),  # no task, an upload
    "cover": Rule(EDIT_MODELS),
    "infill": Rule(EDIT_MODELS),
    "fixed_infill": Rule(("chirp-carp",)),
    "artist_consistency": Rule(EDIT_MODELS),
    "vox": Rule(("chirp-crow",)),
    "gen_stem": Rule(("chirp-auk",)),
    "underpainting": Rule(V45_PLUS, cross_account=False),
    "overpainting": Rule(V45_PLUS, cross_account=False),
    "mashup_condition": Rule(SONG_MODELS),
    "chop_sample_condition": Rule(SONG_MODELS),
}


@dataclass
class Plan:
    """What a generate request makes: the songs and how each clip is shown."""

    mv: str
    specs: list[ClipSpec]
    shows: list[dict[str, Any]]
    metadata: dict[str, Any]
    price: str = "song"


def task_of(body: dict[str, Any]) -> str:
    if body.get("task"):
        return body["task"]
    if body.get("continue_clip_id"):
        return "upload_extend_v1" if body.get("mv") in UPLOAD_MODELS else "extend"
    return "generate"


class Planner:
    """Turns one generate body into a :class:`Plan`, refusing what the seed forbids."""

    def __init__(self, provider: Library, account: Account, body: dict[str, Any]):
        self.p, self.engine, self.account, self.body = provider, provider.engine, account, body
        self.task = task_of(body)
        self.mv = body.get("mv") or DEFAULT_MV
        self.rule = RULES[self.task]
        self.meta = body.get("metadata") or {}

    async def plan(self) -> Plan:
        if self.mv not in self.rule.models:
            raise BadRequest(400, f"mv {self.mv!r} cannot be used with task {self.task!r}; "
                                  f"use one of {', '.join(self.rule.models)}", param="mv")
        sliders = self.meta.get("control_sliders") or {}
        if "audio_weight" in sliders and self.task not in SLIDER_TASKS:
            raise BadRequest(400, "audio_weight applies only to cover, underpainting and "
                                  "overpainting", param="metadata.control_sliders")
        plan = await PLANS[self.task](self)
        metadata = {k: self.body[k] for k in ECHOED if self.body.get(k) is not None}
        metadata.update({k: v for k, v in self.meta.items() if v is not None})
        if self.task in ("extend", "upload_extend", "upload_extend_v1"):
            metadata["history"] = [{"id": self.body["continue_clip_id"], "type": "gen",
                                    "source": "web", "infill": False,
                                    "continue_at": self.body["continue_at"]}]
        plan.metadata = {**metadata, **plan.metadata}
        return plan

    # -- helpers -------------------------------------------------------------------------
    async def _clip(self, field: str) -> Clip:
        clip_id = self.body.get(field)
        if not clip_id:
            raise BadRequest(400, f"{field} is required when task is {self.task}", param=field)
        return await self.p.usable_clip(self.account, clip_id, self.task,
                                        cross_account=self.rule.cross_account)

    async def _upload(self, field: str) -> Clip:
        clip = await self._clip(field)
        if not derive.is_upload(clip):
            raise BadRequest(400, f"{field} must be the clip_id of an upload "
                                  "(POST /suno/uploads/audio-url)", param=field)
        return clip

    def _shows(self, count: int, **show: Any) -> list[dict[str, Any]]:
        base = {"model": self.mv, "major": MAJOR_VERSION.get(self.mv, ""),
                "words_given": self._custom()}
        return [{**base, **show} for _ in range(count)]

    def _custom(self) -> bool:
        return not self.body.get("gpt_description_prompt")

    def _instrumental(self) -> bool:
        if self.body.get("make_instrumental") is True:
            return True
        return self._custom() and not (self.body.get("prompt") or "").strip()

    def _lyrics(self) -> str | None:
        """The caller's lyrics, or None to have them written (inspiration mode)."""
        if self._instrumental() or not self._custom():
            return None
        return self.body.get("prompt") or None

    def _named(self) -> dict[str, str | None]:
        tags = self.body.get("tags")
        return {"title": self.body.get("title") or None,
                "tags": tags if tags and tags.strip() else None}

    def _window(self, source: Clip, start_field: str, end_field: str,
                start_default: float | None = None) -> tuple[float, float]:
        start = self.body.get(start_field, start_default)
        end = self.body.get(end_field)
        for field, value in ((start_field, start), (end_field, end)):
            if value is None:
                raise BadRequest(400, f"{field} is required when task is {self.task}",
                                 param=field)
        if not 0 <= start < end:
            raise BadRequest(400, f"{start_field} must be at least 0 and less than {end_field}",
                             param=start_field)
        if end > source.duration:
            raise BadRequest(400, f"{end_field} must not exceed the clip's duration "
                                  f"({source.duration:g} s)", param=end_field)
        return float(start), float(end)

    def _songs(self, spec: ClipSpec, **show: Any) -> Plan:
        return Plan(self.mv, [spec] * TAKES, self._shows(TAKES, **show), {})

    # -- new songs -------------------------------------------------------------------------
    async def _generate(self, tags: str | None = None, lineage: dict | None = None) -> Plan:
        body = self.body
        named = self._named()
        if self._custom():
            description = named["title"] or named["tags"] or tags or ""
        else:
            description = body["gpt_description_prompt"]
        spec = self.engine.compose(description, title=named["title"],
                                   tags=named["tags"] or tags, lyrics=self._lyrics(),
                                   instrumental=self._instrumental(), lineage=lineage)
        return self._songs(spec)

    async def _persona(self, vox: bool) -> Plan:
        persona = await self.p.persona_of(self.account, self.body["persona_id"])
        if vox and persona.kind != "vox":
            raise BadRequest(400, "task vox needs a persona created with persona_type vox",
                             param="persona_id")
        await self._clip("artist_clip_id")
        found = await self.engine.find_clip(persona.source_clip_id)
        return await self._generate(found[1].tags if found else None,
                                    {"action": self.task, "persona_id": persona.id})

    async def _artist_consistency(self) -> Plan:
        return await self._persona(vox=False)

    async def _vox(self) -> Plan:
        return await self._persona(vox=True)

    # -- songs made from another -----------------------------------------------------------
    async def _extension(self, uploaded: bool) -> Plan:
        source = await self._clip("continue_clip_id")
        if uploaded != derive.is_upload(source):
            hint = ("task upload_extend (or mv chirp-v3-5-upload / chirp-v4-upload)"
                    if derive.is_upload(source) else "task extend")
            raise BadRequest(400, f"continue_clip_id {source.id} must be extended with {hint}",
                             param="continue_clip_id")
        at = self.body.get("continue_at")
        if at is None:
            raise BadRequest(400, "continue_at is required to extend a clip", param="continue_at")
        if not 0 < at <= source.duration:
            raise BadRequest(400, f"continue_at must be above 0 and at most the clip's "
                                  f"duration ({source.duration:g} s)", param="continue_at")
        action = "upload_extend" if uploaded else "extend"
        return self._songs(derive.extension(
            self.engine, source, float(at), action=action, lyrics=self._lyrics(),
            instrumental=self._instrumental(), **self._named()))

    async def _extend(self) -> Plan:
        return await self._extension(uploaded=False)

    async def _upload_extend(self) -> Plan:
        return await self._extension(uploaded=True)

    async def _cover(self) -> Plan:
        source = await self._clip("cover_clip_id")
        return self._songs(derive.cover(self.engine, source, lyrics=self._lyrics(),
                                        instrumental=self.body.get("make_instrumental") is True,
                                        **self._named()))

    async def _infill(self) -> Plan:
        source = await self._clip("continue_clip_id")
        start, end = self._window(source, "infill_start_s", "infill_end_s")
        given = self.body.get("infill_dur_s")
        if given is not None and abs(given - (end - start)) > 0.01:
            raise BadRequest(400, f"infill_dur_s must equal infill_end_s - infill_start_s "
                                  f"({end - start:.3f})", param="infill_dur_s")
        context = None
        lo, hi = self.body.get("infill_context_start_s"), self.body.get("infill_context_end_s")
        if lo is not None or hi is not None:
            lo, hi = float(lo if lo is not None else 0.0), float(hi if hi is not None
                                                                 else source.duration)
            if not 0 <= lo <= start or not end <= hi <= source.duration:
                raise BadRequest(400, "the infill context must hold the infill window and lie "
                                      f"within the clip (0 to {source.duration:g} s)",
                                 param="infill_context_start_s")
            context = (lo, hi)
        lyrics = self.body.get("prompt") or source.lyrics or None
        spec = derive.infill(self.engine, source, start, end, action=self.task, lyrics=lyrics,
                             context=context, **self._named())
        return self._songs(spec, metadata={"infill": True, "history": spec.lineage["history"]})

    async def _gen_stem(self) -> Plan:
        stem_task = self.body.get("stem_task")
        group = self.body.get("stem_type_group_name")
        if stem_task not in STEM_GROUPS:
            raise BadRequest(400, "stem_task must be two or twelve", param="stem_task")
        if group != STEM_GROUPS[stem_task]:
            raise BadRequest(400, f"stem_type_group_name must be {STEM_GROUPS[stem_task]!r} "
                                  f"when stem_task is {stem_task!r}",
                             param="stem_type_group_name")
        source = await self._clip("continue_clip_id")
        title = self.body.get("title") or source.title
        if stem_task == "two":
            specs = derive.stems(self.engine, source, lambda label: f"{title} - {label}",
                                 action="gen_stem")
            shows = [{"model": "", "major": "", "type": "stem", "words_given": True,
                      "duration_known": True, "metadata": {"stem_from_id": source.id}}
                     for _ in specs]
            return Plan(self.mv, specs, shows, {"stem_from_id": source.id})
        history = [{"id": source.id, "type": "gen", "source": "web", "infill": False,
                    "stem_type_id": STEM_TYPE_ID, "stem_type_group_name": "Twelve",
                    "stem_task": "twelve", "stem_from_id": source.id}]
        common = {"history": history, "stem_from_id": source.id, "stem_task": "twelve",
                  "stem_type_id": STEM_TYPE_ID, "edited_clip_id": source.id, "task": "gen_stem",
                  "can_remix": True, "is_remix": False, "priority": 10}
        stems = derive.instrument_stems(
            self.engine, source,
            [(part, f"{title} ({label})") for label, part in derive.TWELVE_STEMS],
            action="gen_stem")
        shows = [{"model": "chirp-stem", "major": "", "words_given": True,
                  "duration_known": True, "metadata": {**common, "stem_type_group_name": label}}
                 for label, _ in derive.TWELVE_STEMS]
        # Two takes of each stem, as every Suno generation answers two; separation is
        # deterministic, so both takes hold the same audio.
        return Plan(self.mv, stems * TAKES, shows * TAKES,
                    {**common, "stem_type_group_name": "Twelve"}, price="gen_stem_twelve")

    async def _painting(self, field: str, adds: str) -> Plan:
        source = await self._upload(f"{field}_clip_id")
        start, end = self._window(source, f"{field}_start_s", f"{field}_end_s",
                                  start_default=0.0)
        return self._songs(derive.overlay(self.engine, source, start, end, adds,
                                          action=self.task, lyrics=self._lyrics(),
                                          **self._named()))

    async def _underpainting(self) -> Plan:
        return await self._painting("underpainting", derive.ADD_INSTRUMENTAL)

    async def _overpainting(self) -> Plan:
        return await self._painting("overpainting", derive.ADD_VOCALS)

    async def _mashup_condition(self) -> Plan:
        ids = self.body.get("mashup_clip_ids") or []
        if len(ids) != 2 or ids[0] == ids[1]:
            raise BadRequest(400, "mashup_clip_ids must name two different clips",
                             param="mashup_clip_ids")
        sources = [await self.p.usable_clip(self.account, i, self.task, cross_account=True)
                   for i in ids]
        named = self._named()
        return self._songs(derive.mashup(self.engine, sources, action=self.task,
                                         title=named["title"], tags=named["tags"],
                                         lyrics=self._lyrics()))

    async def _chop_sample_condition(self) -> Plan:
        source = await self._clip("chop_sample_clip_id")
        start, end = self._window(source, "chop_sample_start_s", "chop_sample_end_s")
        return self._songs(derive.sampled(self.engine, source, start, end, action=self.task,
                                          lyrics=self._lyrics(),
                                          instrumental=self._instrumental(), **self._named()))


PLANS: dict[str, Callable[[Planner], Awaitable[Plan]]] = {
    "generate": Planner._generate, "extend": Planner._extend,
    "upload_extend": Planner._upload_extend, "upload_extend_v1": Planner._upload_extend,
    "cover": Planner._cover, "infill": Planner._infill, "fixed_infill": Planner._infill,
    "artist_consistency": Planner._artist_consistency, "vox": Planner._vox,
    "gen_stem": Planner._gen_stem, "underpainting": Planner._underpainting,
    "overpainting": Planner._overpainting, "mashup_condition": Planner._mashup_condition,
    "chop_sample_condition": Planner._chop_sample_condition,
}
