"""Records as bytes, for stores that keep them outside this process.

Every field is written, version and ``seq`` included, so a record read back is the one
written; a clip's media recipe goes as its flat node list (see recipes.py).
"""

from __future__ import annotations

from typing import Any

import orjson

from ..models import Account, Clip, LedgerEntry, Persona, Task
from ..recipes import dump_recipe, load_recipe


def dump_account(account: Account) -> bytes:
    return orjson.dumps([account.api_key, account.available, account.held, account.spent,
                         account.granted, account.models, account.created_at,
                         account.webhook_secret])


def load_account(data: bytes) -> Account:
    return Account(*orjson.loads(data))


def dump_entry(entry: LedgerEntry) -> bytes:
    return orjson.dumps(list(entry))


def load_entry(data: bytes) -> LedgerEntry:
    return LedgerEntry(*orjson.loads(data))


def dump_persona(persona: Persona) -> bytes:
    return orjson.dumps([persona.id, persona.api_key, persona.name, persona.source_clip_id,
                         persona.created_at, persona.description, persona.kind,
                         persona.vox_clip_id])


def load_persona(data: bytes) -> Persona:
    return Persona(*orjson.loads(data))


def _clip_out(clip: Clip) -> list[Any]:
    return [clip.id, clip.seed, clip.duration, clip.instrumental, clip.description,
            clip.text_seed, clip.given_title, clip.given_tags, clip.given_lyrics,
            None if clip.derived is None else dump_recipe(clip.derived), clip.lineage,
            clip.upstream_expired]


def _clip_in(data: list[Any]) -> Clip:
    clip = Clip(*data)
    if clip.derived is not None:
        clip.derived = load_recipe(clip.derived)
    return clip


def dump_task(task: Task) -> bytes:
    return orjson.dumps({
        "id": task.id, "provider": task.provider, "kind": task.kind,
        "api_key": task.api_key, "params": task.params, "created_at": task.created_at,
        "cost": task.cost, "status": task.status, "stage": task.stage,
        "started_at": task.started_at, "finished_at": task.finished_at, "eta": task.eta,
        "clips": [_clip_out(clip) for clip in task.clips], "error": task.error,
        "callback_url": task.callback_url, "history": task.history, "plan": task.plan,
        "step": task.step, "meta": task.meta, "retention": task.retention,
        "expires_at": task.expires_at, "ttl": task.ttl, "unheard": task.unheard,
        "hearer": task.hearer,
        "version": task.version, "seq": task.seq})


def load_task(data: bytes) -> Task:
    fields = orjson.loads(data)
    fields["clips"] = [_clip_in(clip) for clip in fields["clips"]]
    fields["history"] = [tuple(event) for event in fields["history"]]
    fields["plan"] = tuple(tuple(event) for event in fields["plan"])
    fields["unheard"] = tuple(fields["unheard"])
    return Task(**fields)
